// Tests of NativeDecoderStep against a naive double-precision implementation of NeMo's
// RNNTDecoder (embedding + PyTorch nn.LSTM) and RNNTJoint on random weights, plus validation
// errors and the no-allocation guarantee of predict/joint/project_encoder.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "test_support.hpp"

using parakeet_trt::DecoderStepWeights;
using parakeet_trt::NativeDecoderStep;
using parakeet_trt::PredictorState;

namespace {

constexpr int kVocab = 7, kH = 5, kLayers = 2, kD = 6, kJ = 4, kDurations = 3;
constexpr int kC = kVocab + 1 + kDurations;

std::vector<float> random_vector(std::mt19937& rng, size_t n, float scale = 0.5f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

DecoderStepWeights random_weights(uint32_t seed) {
  std::mt19937 rng(seed);
  DecoderStepWeights w;
  w.vocab_size = kVocab;
  w.pred_hidden = kH;
  w.pred_rnn_layers = kLayers;
  w.encoder_dim = kD;
  w.joint_hidden = kJ;
  w.num_outputs = kC;
  w.embedding = random_vector(rng, (kVocab + 1) * kH);
  std::fill(w.embedding.begin() + kVocab * kH, w.embedding.end(), 0.0f);  // blank_as_pad: zero row
  for (int l = 0; l < kLayers; ++l) {
    DecoderStepWeights::LstmLayer layer;
    layer.w_ih = random_vector(rng, 4 * kH * kH);
    layer.w_hh = random_vector(rng, 4 * kH * kH);
    layer.b_ih = random_vector(rng, 4 * kH);
    layer.b_hh = random_vector(rng, 4 * kH);
    w.lstm.push_back(layer);
  }
  w.enc_weight = random_vector(rng, kJ * kD);
  w.enc_bias = random_vector(rng, kJ);
  w.pred_weight = random_vector(rng, kJ * kH);
  w.pred_bias = random_vector(rng, kJ);
  w.out_weight = random_vector(rng, kC * kJ);
  w.out_bias = random_vector(rng, kC);
  return w;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// y = W x + b, W [out][in] row-major, in double.
std::vector<double> linear(const std::vector<float>& w, const std::vector<float>& b, const std::vector<double>& x) {
  const size_t out = b.size(), in = x.size();
  std::vector<double> y(out);
  for (size_t o = 0; o < out; ++o) {
    double acc = b[o];
    for (size_t i = 0; i < in; ++i) acc += static_cast<double>(w[o * in + i]) * x[i];
    y[o] = acc;
  }
  return y;
}

struct RefState {
  std::vector<std::vector<double>> h, c;  // [layers][H]
  std::vector<double> projected;          // [J]
};

// torch.nn.LSTM, one time step, gate order i, f, g, o; then G = joint.pred(top h).
RefState reference_predict(const DecoderStepWeights& w, int token, const RefState& s) {
  RefState next = s;
  std::vector<double> x(w.embedding.begin() + token * kH, w.embedding.begin() + (token + 1) * kH);
  for (int l = 0; l < kLayers; ++l) {
    const auto gi = linear(w.lstm[l].w_ih, w.lstm[l].b_ih, x);
    const auto gh = linear(w.lstm[l].w_hh, w.lstm[l].b_hh, s.h[l]);
    for (int j = 0; j < kH; ++j) {
      const double i = sigmoid(gi[j] + gh[j]);
      const double f = sigmoid(gi[kH + j] + gh[kH + j]);
      const double g = std::tanh(gi[2 * kH + j] + gh[2 * kH + j]);
      const double o = sigmoid(gi[3 * kH + j] + gh[3 * kH + j]);
      next.c[l][j] = f * s.c[l][j] + i * g;
      next.h[l][j] = o * std::tanh(next.c[l][j]);
    }
    x = next.h[l];
  }
  next.projected = linear(w.pred_weight, w.pred_bias, x);
  return next;
}

RefState zero_ref_state() {
  RefState s;
  s.h.assign(kLayers, std::vector<double>(kH, 0.0));
  s.c = s.h;
  s.projected.assign(kJ, 0.0);
  return s;
}

double max_state_diff(const PredictorState& a, const RefState& b) {
  double worst = 0;
  for (int l = 0; l < kLayers; ++l) {
    for (int j = 0; j < kH; ++j) {
      worst = std::max(worst, std::fabs(a.h[static_cast<size_t>(l * kH + j)] - b.h[l][j]));
      worst = std::max(worst, std::fabs(a.c[static_cast<size_t>(l * kH + j)] - b.c[l][j]));
    }
  }
  for (int j = 0; j < kJ; ++j) worst = std::max(worst, std::fabs(a.projected[static_cast<size_t>(j)] - b.projected[j]));
  return worst;
}

void test_lstm_steps_match_reference() {
  const DecoderStepWeights w = random_weights(1);
  NativeDecoderStep step(w);
  PTRT_CHECK_EQ(step.joint_hidden(), kJ);
  PTRT_CHECK_EQ(step.num_outputs(), kC);
  PTRT_CHECK_EQ(step.encoder_dim(), kD);
  PredictorState state = step.make_state(), next = step.make_state();
  PTRT_CHECK(std::all_of(state.h.begin(), state.h.end(), [](float v) { return v == 0.0f; }));
  RefState ref = zero_ref_state();
  // SOS (blank from zero state), then a token sequence.
  const int tokens[] = {kVocab, 3, 0, 6, 6, 1, kVocab, 2};
  double worst = 0;
  for (int token : tokens) {
    step.predict(token, state, next);
    ref = reference_predict(w, token, ref);
    worst = std::max(worst, max_state_diff(next, ref));
    std::swap(state, next);
  }
  std::printf("    max |native - reference| over %zu steps: %.3g\n", sizeof(tokens) / sizeof(tokens[0]), worst);
  PTRT_CHECK(worst < 1e-5);
  // predict() does not modify its input state.
  const PredictorState before = state;
  step.predict(4, state, next);
  PTRT_CHECK(state.h == before.h && state.c == before.c && state.projected == before.projected);
}

void test_projection_and_joint_match_reference() {
  const DecoderStepWeights w = random_weights(2);
  NativeDecoderStep step(w);
  std::mt19937 rng(3);
  const int frames = 9;
  std::vector<float> encoder_out = random_vector(rng, kD * frames, 2.0f);  // [D][T]
  encoder_out[3 * frames + 4] = 0.0f;                                      // exercise the zero skip
  std::vector<float> projected(static_cast<size_t>(frames * kJ));
  step.project_encoder(encoder_out.data(), frames, projected.data());
  double worst_projection = 0;
  for (int t = 0; t < frames; ++t) {
    std::vector<double> x(kD);
    for (int d = 0; d < kD; ++d) x[d] = encoder_out[static_cast<size_t>(d * frames + t)];
    const auto ref = linear(w.enc_weight, w.enc_bias, x);
    for (int j = 0; j < kJ; ++j) {
      worst_projection = std::max(worst_projection, std::fabs(projected[static_cast<size_t>(t * kJ + j)] - ref[j]));
    }
  }
  std::printf("    projection: max |native - reference| = %.3g\n", worst_projection);
  PTRT_CHECK(worst_projection < 1e-5);

  PredictorState state = step.make_state(), next = step.make_state();
  step.predict(kVocab, state, next);  // SOS
  double worst_joint = 0;
  int relu_zeros = 0;
  std::vector<float> logits(kC);
  for (int t = 0; t < frames; ++t) {
    step.joint(projected.data() + t * kJ, next, logits.data());
    std::vector<double> hidden(kJ);
    for (int j = 0; j < kJ; ++j) {
      const double v =
          static_cast<double>(projected[static_cast<size_t>(t * kJ + j)]) + next.projected[static_cast<size_t>(j)];
      hidden[j] = std::max(0.0, v);
      relu_zeros += hidden[j] == 0.0;
    }
    const auto ref = linear(w.out_weight, w.out_bias, hidden);
    for (int c = 0; c < kC; ++c)
      worst_joint = std::max(worst_joint, std::fabs(logits[static_cast<size_t>(c)] - ref[c]));
  }
  std::printf("    joint: max |native - reference| = %.3g (%d ReLU zeros skipped)\n", worst_joint, relu_zeros);
  PTRT_CHECK(worst_joint < 1e-5);
  PTRT_CHECK(relu_zeros > 0);                 // the test covers the skip path
  step.project_encoder(nullptr, 0, nullptr);  // zero frames: no-op
  PTRT_CHECK(true);
}

void test_larger_sizes_match_reference() {
  // Sizes that exercise the four-rows-at-a-time path and remainders (H = 13, J = 11, D = 9).
  std::mt19937 rng(4);
  DecoderStepWeights w;
  const int V = 20, H = 13, D = 9, J = 11, C = V + 1 + 5;
  w.vocab_size = V;
  w.pred_hidden = H;
  w.pred_rnn_layers = 1;
  w.encoder_dim = D;
  w.joint_hidden = J;
  w.num_outputs = C;
  w.embedding = random_vector(rng, static_cast<size_t>((V + 1) * H));
  DecoderStepWeights::LstmLayer layer;
  layer.w_ih = random_vector(rng, 4 * H * H);
  layer.w_hh = random_vector(rng, 4 * H * H);
  layer.b_ih = random_vector(rng, 4 * H);
  layer.b_hh = random_vector(rng, 4 * H);
  w.lstm.push_back(layer);
  w.enc_weight = random_vector(rng, J * D);
  w.enc_bias = random_vector(rng, J);
  w.pred_weight = random_vector(rng, J * H);
  w.pred_bias = random_vector(rng, J);
  w.out_weight = random_vector(rng, C * J);
  w.out_bias = random_vector(rng, C);
  NativeDecoderStep step(w);
  PredictorState s = step.make_state(), n = step.make_state();
  step.predict(5, s, n);
  // Reference for one layer.
  std::vector<double> x(w.embedding.begin() + 5 * H, w.embedding.begin() + 6 * H), zero(H, 0.0);
  const auto gi = linear(w.lstm[0].w_ih, w.lstm[0].b_ih, x);
  const auto gh = linear(w.lstm[0].w_hh, w.lstm[0].b_hh, zero);
  std::vector<double> h(H);
  double worst = 0;
  for (int j = 0; j < H; ++j) {
    const double c =
        sigmoid(gi[H + j] + gh[H + j]) * 0.0 + sigmoid(gi[j] + gh[j]) * std::tanh(gi[2 * H + j] + gh[2 * H + j]);
    h[j] = sigmoid(gi[3 * H + j] + gh[3 * H + j]) * std::tanh(c);
    worst = std::max(worst, std::fabs(n.c[static_cast<size_t>(j)] - c));
    worst = std::max(worst, std::fabs(n.h[static_cast<size_t>(j)] - h[j]));
  }
  const auto g = linear(w.pred_weight, w.pred_bias, h);
  for (int j = 0; j < J; ++j) worst = std::max(worst, std::fabs(n.projected[static_cast<size_t>(j)] - g[j]));
  std::vector<float> enc = random_vector(rng, static_cast<size_t>(D * 3)), proj(static_cast<size_t>(3 * J)), logits(C);
  step.project_encoder(enc.data(), 3, proj.data());
  step.joint(proj.data() + J, n, logits.data());
  std::vector<double> hidden(J);
  for (int j = 0; j < J; ++j) {
    std::vector<double> e(D);
    for (int d = 0; d < D; ++d) e[d] = enc[static_cast<size_t>(d * 3 + 1)];
    const double f = linear(w.enc_weight, w.enc_bias, e)[j];
    hidden[j] = std::max(0.0, f + static_cast<double>(n.projected[static_cast<size_t>(j)]));
  }
  const auto ref = linear(w.out_weight, w.out_bias, hidden);
  for (int c = 0; c < C; ++c) worst = std::max(worst, std::fabs(logits[static_cast<size_t>(c)] - ref[c]));
  std::printf("    H=13 J=11 D=9: max |native - reference| = %.3g\n", worst);
  PTRT_CHECK(worst < 1e-5);
}

// y = b + sum_k W[:, k] x[k], summed in float in input order: the documented order of every native
// matrix-vector product (whatever SIMD build runs), so the results must be bit-identical.
std::vector<float> float_linear(const std::vector<float>& w, const std::vector<float>& b, const float* x, size_t in) {
  const size_t out = b.size();
  std::vector<float> y(b);
  for (size_t k = 0; k < in; ++k) {
    for (size_t o = 0; o < out; ++o) y[o] = y[o] + w[o * in + k] * x[k];
  }
  return y;
}

void test_float_order_is_sequential() {
  const DecoderStepWeights w = random_weights(9);
  NativeDecoderStep step(w);
  std::mt19937 rng(10);
  const int frames = 11;
  std::vector<float> encoder_out = random_vector(rng, kD * frames, 2.0f), projected(static_cast<size_t>(frames * kJ));
  step.project_encoder(encoder_out.data(), frames, projected.data());
  bool projection_exact = true;
  for (int t = 0; t < frames; ++t) {
    std::vector<float> x(kD);
    for (int d = 0; d < kD; ++d) x[static_cast<size_t>(d)] = encoder_out[static_cast<size_t>(d * frames + t)];
    const auto y = float_linear(w.enc_weight, w.enc_bias, x.data(), kD);
    for (int j = 0; j < kJ; ++j)
      projection_exact = projection_exact && projected[static_cast<size_t>(t * kJ + j)] == y[j];
  }
  PTRT_CHECK(projection_exact);
  // A window of frames inside the tensor (the streaming chunk) projects to the same bits.
  std::vector<float> window(static_cast<size_t>(5 * kJ));
  step.project_encoder_strided(encoder_out.data() + 3, frames, 5, window.data());
  PTRT_CHECK(std::equal(window.begin(), window.end(), projected.begin() + 3 * kJ));
  PTRT_CHECK_THROWS(step.project_encoder_strided(encoder_out.data(), 4, 5, window.data()), std::invalid_argument,
                    "row_stride");
  PredictorState s = step.make_state(), n = step.make_state();
  step.predict(kVocab, s, n);
  step.predict(3, n, s);
  // G = joint.pred(top-layer h).
  const auto g = float_linear(w.pred_weight, w.pred_bias, s.h.data() + (kLayers - 1) * kH, kH);
  PTRT_CHECK(std::equal(g.begin(), g.end(), s.projected.begin()));
  bool joint_exact = true;
  std::vector<float> logits(kC), hidden(kJ);
  for (int t = 0; t < frames; ++t) {
    step.joint(projected.data() + t * kJ, s, logits.data());
    for (int j = 0; j < kJ; ++j) {
      hidden[static_cast<size_t>(j)] =
          std::max(0.0f, projected[static_cast<size_t>(t * kJ + j)] + s.projected[static_cast<size_t>(j)]);
    }
    const auto y = float_linear(w.out_weight, w.out_bias, hidden.data(), kJ);
    joint_exact = joint_exact && std::equal(y.begin(), y.end(), logits.begin());
  }
  PTRT_CHECK(joint_exact);
}

void test_validate_errors() {
  auto broken = [](auto mutate) {
    DecoderStepWeights w = random_weights(5);
    mutate(w);
    return w;
  };
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.lstm[1].w_hh.resize(12); })),
                    std::invalid_argument, "DecoderStepWeights.lstm[1].w_hh: expected 100 floats ([20][5]), got 12");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.embedding.pop_back(); })),
                    std::invalid_argument, "DecoderStepWeights.embedding: expected 40 floats ([8][5]), got 39");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.out_bias.push_back(0.0f); })),
                    std::invalid_argument, "DecoderStepWeights.out_bias: expected 11 floats ([11]), got 12");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.enc_weight.clear(); })),
                    std::invalid_argument, "DecoderStepWeights.enc_weight: expected 24 floats ([4][6]), got 0");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.lstm.pop_back(); })), std::invalid_argument,
                    "DecoderStepWeights.lstm: expected 2 layers (pred_rnn_layers), got 1");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.num_outputs = kVocab + 1; })),
                    std::invalid_argument, "DecoderStepWeights.num_outputs: expected >= vocab_size + 2 = 9");
  PTRT_CHECK_THROWS(NativeDecoderStep(broken([](DecoderStepWeights& w) { w.pred_hidden = 0; })), std::invalid_argument,
                    "DecoderStepWeights.pred_hidden: expected > 0, got 0");
  bool valid = true;
  try {
    random_weights(5).validate();
  } catch (const std::exception&) {
    valid = false;
  }
  PTRT_CHECK(valid);
}

void test_call_errors() {
  NativeDecoderStep step(random_weights(6));
  PredictorState s = step.make_state(), n = step.make_state();
  PTRT_CHECK_THROWS(step.predict(kVocab + 1, s, n), std::invalid_argument,
                    "token: expected in [0, 7] (blank_id = 7), got 8");
  PTRT_CHECK_THROWS(step.predict(-1, s, n), std::invalid_argument, "got -1");
  PTRT_CHECK_THROWS(step.predict(1, s, s), std::invalid_argument, "next: expected a different object");
  PredictorState small;
  PTRT_CHECK_THROWS(step.predict(1, small, n), std::invalid_argument, "state: expected h/c of 10");
  PTRT_CHECK_THROWS(step.project_encoder(nullptr, -1, nullptr), std::invalid_argument,
                    "num_frames: expected >= 0, got -1");
  std::vector<float> frame(kJ), logits(kC);
  PTRT_CHECK_THROWS(step.joint(frame.data(), small, logits.data()), std::invalid_argument,
                    "state.projected: expected 4 floats, got 0");
}

void test_steps_allocate_nothing() {
  NativeDecoderStep step(random_weights(7));
  PredictorState s = step.make_state(), n = step.make_state();
  std::mt19937 rng(8);
  std::vector<float> enc = random_vector(rng, kD * 5), proj(5 * kJ), logits(kC);
  int64_t allocations = 0;
  {
    ptrt_test::AllocationCounter counter;
    step.project_encoder(enc.data(), 5, proj.data());
    step.predict(kVocab, s, n);
    step.predict(2, n, s);
    step.joint(proj.data(), s, logits.data());
    allocations = counter.count();
  }
  PTRT_CHECK_EQ(allocations, 0);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"lstm_steps_match_reference", &test_lstm_steps_match_reference},
      {"projection_and_joint_match_reference", &test_projection_and_joint_match_reference},
      {"larger_sizes_match_reference", &test_larger_sizes_match_reference},
      {"float_order_is_sequential", &test_float_order_is_sequential},
      {"validate_errors", &test_validate_errors},
      {"call_errors", &test_call_errors},
      {"steps_allocate_nothing", &test_steps_allocate_nothing},
  });
}
