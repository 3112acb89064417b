#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "parakeet_trt/decoder_step.hpp"

// The row-update loops get an AVX2 clone next to the baseline build, chosen at load time. Each
// output element is updated by the same scalar operations in the same order in both clones (the
// loops are element-wise across outputs), and "avx2" does not enable FMA, so both clones give
// bit-identical results.
// Sanitizer builds keep the baseline only: an ifunc resolver runs during relocation, before the
// sanitizer runtime is initialised, and crashes instrumented binaries.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__) && \
    !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
#define PTRT_DECODER_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PTRT_DECODER_CLONES
#endif

namespace parakeet_trt {
namespace {

std::string shape_text(int64_t rows, int64_t cols) {
  return "[" + std::to_string(rows) + "][" + std::to_string(cols) + "]";
}

void check_size(const std::vector<float>& tensor, const std::string& name, int64_t rows, int64_t cols) {
  const int64_t expected = rows * cols;
  if (static_cast<int64_t>(tensor.size()) != expected) {
    throw std::invalid_argument("DecoderStepWeights." + name + ": expected " + std::to_string(expected) + " floats (" +
                                shape_text(rows, cols) + "), got " + std::to_string(tensor.size()));
  }
}

void check_size(const std::vector<float>& tensor, const std::string& name, int64_t count) {
  if (static_cast<int64_t>(tensor.size()) != count) {
    throw std::invalid_argument("DecoderStepWeights." + name + ": expected " + std::to_string(count) + " floats ([" +
                                std::to_string(count) + "]), got " + std::to_string(tensor.size()));
  }
}

void check_positive(int value, const std::string& name) {
  if (value <= 0) {
    throw std::invalid_argument("DecoderStepWeights." + name + ": expected > 0, got " + std::to_string(value));
  }
}

// [rows][cols] -> [cols][rows].
std::vector<float> transpose(const std::vector<float>& m, int rows, int cols) {
  std::vector<float> t(m.size());
  for (int r = 0; r < rows; ++r) {
    const float* src = m.data() + static_cast<size_t>(r) * static_cast<size_t>(cols);
    for (int c = 0; c < cols; ++c)
      t[static_cast<size_t>(c) * static_cast<size_t>(rows) + static_cast<size_t>(r)] = src[c];
  }
  return t;
}

// y[0, n) = (((y + a[0] * rows[0]) + a[1] * rows[1]) + ...) over count rows, each product and sum
// rounded to float: exactly the sequential dot-product order for every output element. Rows go
// four at a time so y is loaded and stored once per four updates (same arithmetic, less traffic).
PTRT_DECODER_CLONES
void accumulate_rows(float* __restrict y, int n, const float* const* rows, const float* coeffs, int count) {
  int r = 0;
  for (; r + 4 <= count; r += 4) {
    const float* __restrict w0 = rows[r];
    const float* __restrict w1 = rows[r + 1];
    const float* __restrict w2 = rows[r + 2];
    const float* __restrict w3 = rows[r + 3];
    const float a0 = coeffs[r], a1 = coeffs[r + 1], a2 = coeffs[r + 2], a3 = coeffs[r + 3];
    for (int j = 0; j < n; ++j) {
      float v = y[j];
      v = v + a0 * w0[j];
      v = v + a1 * w1[j];
      v = v + a2 * w2[j];
      v = v + a3 * w3[j];
      y[j] = v;
    }
  }
  for (; r < count; ++r) {
    const float* __restrict w = rows[r];
    const float a = coeffs[r];
    for (int j = 0; j < n; ++j) y[j] = y[j] + a * w[j];
  }
}

// The encoder projection for nb frames at once: y[b][0, n) = (((bias + x[0][b] * w[0]) + x[1][b] *
// w[1]) + ...) over the num_rows rows of w, in row order (the same per-element arithmetic as
// accumulate_rows). Each group of four weight rows is reused across the nb frames while it is in
// L1, instead of streaming the whole matrix once per frame. x is [num_rows][x_stride].
PTRT_DECODER_CLONES
void accumulate_rows_block(float* y, int n, int nb, const float* w, int num_rows, const float* x, int64_t x_stride) {
  int d = 0;
  for (; d + 4 <= num_rows; d += 4) {
    const float* __restrict w0 = w + static_cast<size_t>(d) * static_cast<size_t>(n);
    const float* __restrict w1 = w0 + n;
    const float* __restrict w2 = w1 + n;
    const float* __restrict w3 = w2 + n;
    for (int b = 0; b < nb; ++b) {
      const float a0 = x[d * x_stride + b], a1 = x[(d + 1) * x_stride + b];
      const float a2 = x[(d + 2) * x_stride + b], a3 = x[(d + 3) * x_stride + b];
      float* __restrict yb = y + static_cast<size_t>(b) * static_cast<size_t>(n);
      for (int j = 0; j < n; ++j) {
        float v = yb[j];
        v = v + a0 * w0[j];
        v = v + a1 * w1[j];
        v = v + a2 * w2[j];
        v = v + a3 * w3[j];
        yb[j] = v;
      }
    }
  }
  for (; d < num_rows; ++d) {
    const float* __restrict wd = w + static_cast<size_t>(d) * static_cast<size_t>(n);
    for (int b = 0; b < nb; ++b) {
      const float a = x[d * x_stride + b];
      float* __restrict yb = y + static_cast<size_t>(b) * static_cast<size_t>(n);
      for (int j = 0; j < n; ++j) yb[j] = yb[j] + a * wd[j];
    }
  }
}

// y[j] = bias[j] + sum_k x[k] * w_t[k][j], skipping x[k] == 0 (no effect on finite sums; the ReLU
// zeroes about half of the joint's hidden units). rows/coeffs are scratch of at least `in` entries.
void gemv_t(const float* w_t, const float* bias, const float* x, int in, int out, float* y, const float** rows,
            float* coeffs) {
  std::memcpy(y, bias, static_cast<size_t>(out) * sizeof(float));
  int count = 0;
  for (int k = 0; k < in; ++k) {
    if (x[k] == 0.0f) continue;
    rows[count] = w_t + static_cast<size_t>(k) * static_cast<size_t>(out);
    coeffs[count] = x[k];
    ++count;
  }
  accumulate_rows(y, out, rows, coeffs, count);
}

float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }

}  // namespace

void DecoderStepWeights::validate() const {
  check_positive(vocab_size, "vocab_size");
  check_positive(pred_hidden, "pred_hidden");
  check_positive(pred_rnn_layers, "pred_rnn_layers");
  check_positive(encoder_dim, "encoder_dim");
  check_positive(joint_hidden, "joint_hidden");
  if (num_outputs < vocab_size + 2) {
    throw std::invalid_argument(
        "DecoderStepWeights.num_outputs: expected >= vocab_size + 2 = " + std::to_string(vocab_size + 2) +
        " (tokens, blank and at least one duration), got " + std::to_string(num_outputs));
  }
  const int64_t H = pred_hidden, J = joint_hidden, D = encoder_dim, C = num_outputs;
  check_size(embedding, "embedding", static_cast<int64_t>(vocab_size) + 1, H);
  if (static_cast<int>(lstm.size()) != pred_rnn_layers) {
    throw std::invalid_argument("DecoderStepWeights.lstm: expected " + std::to_string(pred_rnn_layers) +
                                " layers (pred_rnn_layers), got " + std::to_string(lstm.size()));
  }
  for (size_t l = 0; l < lstm.size(); ++l) {
    const std::string p = "lstm[" + std::to_string(l) + "].";
    check_size(lstm[l].w_ih, p + "w_ih", 4 * H, H);
    check_size(lstm[l].w_hh, p + "w_hh", 4 * H, H);
    check_size(lstm[l].b_ih, p + "b_ih", 4 * H);
    check_size(lstm[l].b_hh, p + "b_hh", 4 * H);
  }
  check_size(enc_weight, "enc_weight", J, D);
  check_size(enc_bias, "enc_bias", J);
  check_size(pred_weight, "pred_weight", J, H);
  check_size(pred_bias, "pred_bias", J);
  check_size(out_weight, "out_weight", C, J);
  check_size(out_bias, "out_bias", C);
}

NativeDecoderWeights::NativeDecoderWeights(DecoderStepWeights w) {
  w.validate();
  vocab_size = w.vocab_size;
  pred_hidden = w.pred_hidden;
  pred_rnn_layers = w.pred_rnn_layers;
  encoder_dim = w.encoder_dim;
  joint_hidden = w.joint_hidden;
  num_outputs = w.num_outputs;
  const int H = pred_hidden, J = joint_hidden, D = encoder_dim, C = num_outputs;
  embedding = std::move(w.embedding);
  for (auto& layer : w.lstm) {
    LstmLayerT t;
    t.w_ih_t = transpose(layer.w_ih, 4 * H, H);
    t.w_hh_t = transpose(layer.w_hh, 4 * H, H);
    t.bias_ih = std::move(layer.b_ih);
    t.bias_hh = std::move(layer.b_hh);
    lstm_t.push_back(std::move(t));
    std::vector<float>().swap(layer.w_ih);
    std::vector<float>().swap(layer.w_hh);
  }
  enc_t = transpose(w.enc_weight, J, D);
  pred_t = transpose(w.pred_weight, J, H);
  out_t = transpose(w.out_weight, C, J);
  enc_bias = std::move(w.enc_bias);
  pred_bias = std::move(w.pred_bias);
  out_bias = std::move(w.out_bias);
}

size_t NativeDecoderWeights::bytes() const {
  size_t floats = embedding.size() + enc_t.size() + enc_bias.size() + pred_t.size() + pred_bias.size() +
                  out_t.size() + out_bias.size();
  for (const LstmLayerT& l : lstm_t) floats += l.w_ih_t.size() + l.w_hh_t.size() + l.bias_ih.size() + l.bias_hh.size();
  return floats * sizeof(float);
}

NativeDecoderStep::NativeDecoderStep(DecoderStepWeights weights)
    : NativeDecoderStep(std::make_shared<const NativeDecoderWeights>(std::move(weights))) {}

NativeDecoderStep::NativeDecoderStep(std::shared_ptr<const NativeDecoderWeights> weights) : w_(std::move(weights)) {
  if (!w_) throw std::invalid_argument("NativeDecoderStep: weights: expected non-null");
  const int H = w_->pred_hidden, J = w_->joint_hidden, D = w_->encoder_dim;
  gates_ih_.assign(static_cast<size_t>(4 * H), 0.0f);
  gates_hh_.assign(static_cast<size_t>(4 * H), 0.0f);
  hidden_.assign(static_cast<size_t>(J), 0.0f);
  const size_t max_in = static_cast<size_t>(std::max({H, J, D}));
  rows_.assign(max_in, nullptr);
  coeffs_.assign(max_in, 0.0f);
}

PredictorState NativeDecoderStep::make_state() const {
  PredictorState s;
  s.h.assign(static_cast<size_t>(w_->pred_rnn_layers) * static_cast<size_t>(w_->pred_hidden), 0.0f);
  s.c.assign(s.h.size(), 0.0f);
  s.projected.assign(static_cast<size_t>(w_->joint_hidden), 0.0f);
  return s;
}

void NativeDecoderStep::check_state(const PredictorState& state, const char* name) const {
  const size_t hc = static_cast<size_t>(w_->pred_rnn_layers) * static_cast<size_t>(w_->pred_hidden);
  if (state.h.size() != hc || state.c.size() != hc || state.projected.size() != static_cast<size_t>(w_->joint_hidden)) {
    throw std::invalid_argument(std::string("NativeDecoderStep: ") + name + ": expected h/c of " + std::to_string(hc) +
                                " and projected of " + std::to_string(w_->joint_hidden) + " floats, got " +
                                std::to_string(state.h.size()) + "/" + std::to_string(state.c.size()) + " and " +
                                std::to_string(state.projected.size()));
  }
}

void NativeDecoderStep::project_encoder_strided(const float* encoder_out, int64_t row_stride, int64_t num_frames,
                                                float* projected_out) {
  if (num_frames < 0) {
    throw std::invalid_argument("NativeDecoderStep::project_encoder: num_frames: expected >= 0, got " +
                                std::to_string(num_frames));
  }
  if (row_stride < num_frames) {
    throw std::invalid_argument("NativeDecoderStep::project_encoder: row_stride: expected >= num_frames (" +
                                std::to_string(num_frames) + "), got " + std::to_string(row_stride));
  }
  if (num_frames == 0) return;
  if (encoder_out == nullptr || projected_out == nullptr) {
    throw std::invalid_argument("NativeDecoderStep::project_encoder: encoder_out/projected_out: expected non-null");
  }
  const int D = w_->encoder_dim, J = w_->joint_hidden;
  // Blocks of 8 frames: 8 output rows of J floats plus 4 weight rows stay in L1 (J = 640: 30 KB).
  constexpr int kBlock = 8;
  for (int64_t t0 = 0; t0 < num_frames; t0 += kBlock) {
    const int nb = static_cast<int>(std::min<int64_t>(kBlock, num_frames - t0));
    float* y = projected_out + t0 * J;
    for (int b = 0; b < nb; ++b) std::memcpy(y + b * J, w_->enc_bias.data(), static_cast<size_t>(J) * sizeof(float));
    accumulate_rows_block(y, J, nb, w_->enc_t.data(), D, encoder_out + t0, row_stride);
  }
}

void NativeDecoderStep::predict(int token, const PredictorState& state, PredictorState& next) {
  if (token < 0 || token > w_->vocab_size) {
    throw std::invalid_argument("NativeDecoderStep::predict: token: expected in [0, " + std::to_string(w_->vocab_size) +
                                "] (blank_id = " + std::to_string(w_->vocab_size) + "), got " + std::to_string(token));
  }
  if (&state == &next) {
    throw std::invalid_argument(
        "NativeDecoderStep::predict: next: expected a different object than state, got the same");
  }
  check_state(state, "state");
  check_state(next, "next");
  const int H = w_->pred_hidden;
  const float* x = w_->embedding.data() + static_cast<size_t>(token) * static_cast<size_t>(H);
  for (int l = 0; l < w_->pred_rnn_layers; ++l) {
    const NativeDecoderWeights::LstmLayerT& layer = w_->lstm_t[static_cast<size_t>(l)];
    const float* h = state.h.data() + static_cast<size_t>(l) * static_cast<size_t>(H);
    const float* c = state.c.data() + static_cast<size_t>(l) * static_cast<size_t>(H);
    // PyTorch: gates = linear(x, W_ih, b_ih) + linear(h, W_hh, b_hh), chunks i, f, g, o.
    gemv_t(layer.w_ih_t.data(), layer.bias_ih.data(), x, H, 4 * H, gates_ih_.data(), rows_.data(), coeffs_.data());
    gemv_t(layer.w_hh_t.data(), layer.bias_hh.data(), h, H, 4 * H, gates_hh_.data(), rows_.data(), coeffs_.data());
    float* h_next = next.h.data() + static_cast<size_t>(l) * static_cast<size_t>(H);
    float* c_next = next.c.data() + static_cast<size_t>(l) * static_cast<size_t>(H);
    for (int j = 0; j < H; ++j) {
      const float gi = gates_ih_[static_cast<size_t>(j)] + gates_hh_[static_cast<size_t>(j)];
      const float gf = gates_ih_[static_cast<size_t>(H + j)] + gates_hh_[static_cast<size_t>(H + j)];
      const float gg = gates_ih_[static_cast<size_t>(2 * H + j)] + gates_hh_[static_cast<size_t>(2 * H + j)];
      const float go = gates_ih_[static_cast<size_t>(3 * H + j)] + gates_hh_[static_cast<size_t>(3 * H + j)];
      const float c_new = sigmoid(gf) * c[j] + sigmoid(gi) * std::tanh(gg);
      c_next[j] = c_new;
      h_next[j] = sigmoid(go) * std::tanh(c_new);
    }
    x = h_next;  // next layer's input (inter-layer dropout is training-only)
  }
  // G = joint.pred(g), g = the top layer's new h.
  gemv_t(w_->pred_t.data(), w_->pred_bias.data(), x, H, w_->joint_hidden, next.projected.data(), rows_.data(),
         coeffs_.data());
}

void NativeDecoderStep::joint(const float* projected_frame, const PredictorState& state, float* logits) {
  if (projected_frame == nullptr || logits == nullptr) {
    throw std::invalid_argument("NativeDecoderStep::joint: projected_frame/logits: expected non-null");
  }
  if (state.projected.size() != static_cast<size_t>(w_->joint_hidden)) {
    throw std::invalid_argument("NativeDecoderStep::joint: state.projected: expected " +
                                std::to_string(w_->joint_hidden) + " floats, got " +
                                std::to_string(state.projected.size()));
  }
  const int J = w_->joint_hidden;
  for (int j = 0; j < J; ++j) {
    const float v = projected_frame[j] + state.projected[static_cast<size_t>(j)];
    hidden_[static_cast<size_t>(j)] = v < 0.0f ? 0.0f : v;  // ReLU; NaN propagates like torch.relu
  }
  gemv_t(w_->out_t.data(), w_->out_bias.data(), hidden_.data(), J, w_->num_outputs, logits, rows_.data(), coeffs_.data());
}

}  // namespace parakeet_trt
