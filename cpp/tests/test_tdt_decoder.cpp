// Tests of the TDT greedy decoder (NeMo 3.0.0 label-looping semantics) with a scripted fake
// DecoderStep whose joint output is a table keyed by (frame, tokens emitted so far): every branch
// of the loop is driven explicitly and the exact emissions, joint evaluations and prediction-net
// calls are asserted. A randomized cross-check compares against a literal batch-1 transcription of
// GreedyBatchedTDTLabelLoopingComputer.torch_impl, over random chunkings.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "test_support.hpp"

using parakeet_trt::DecoderCarry;
using parakeet_trt::DecoderStep;
using parakeet_trt::PredictorState;
using parakeet_trt::TdtDecodingConfig;
using parakeet_trt::TdtGreedyDecoder;
using parakeet_trt::TokenEmission;

namespace {

constexpr int kVocab = 10;
constexpr int kBlank = kVocab;
const std::vector<int> kDurations = {0, 1, 2, 3, 4};
constexpr int kOutputs = kVocab + 1 + 5;

using Key = std::pair<int, int>;  // (global frame, tokens emitted so far)

// The projected frame row is {global frame, 0}; the predictor state carries in projected[0] the
// number of non-blank tokens fed so far and in projected[1] whether the SOS step happened.
class ScriptedStep final : public DecoderStep {
 public:
  struct Entry {
    int label;
    int duration_index;
  };
  std::map<Key, Entry> script;               // unscripted evaluations: blank, duration 1
  std::map<Key, std::vector<float>> custom;  // full logits for special cases
  std::vector<Key> joint_calls;
  std::vector<int> predict_tokens;
  int unprimed_joints = 0;
  int (*logit_source)(int frame, int emitted, int output, uint32_t seed) = nullptr;  // random mode
  uint32_t seed = 0;

  int joint_hidden() const override { return 2; }
  int num_outputs() const override { return kOutputs; }
  int encoder_dim() const override { return 1; }
  PredictorState make_state() const override {
    PredictorState s;
    s.h.assign(1, 0.0f);
    s.c.assign(1, 0.0f);
    s.projected.assign(2, 0.0f);
    return s;
  }
  void project_encoder_strided(const float* encoder_out, int64_t, int64_t num_frames, float* projected_out) override {
    for (int64_t t = 0; t < num_frames; ++t) {
      projected_out[2 * t] = encoder_out[t];
      projected_out[2 * t + 1] = 0.0f;
    }
  }
  void predict(int token, const PredictorState& state, PredictorState& next) override {
    predict_tokens.push_back(token);
    next.h = state.h;
    next.c = state.c;
    next.projected[0] = token == kBlank ? 0.0f : state.projected[0] + 1.0f;
    next.projected[1] = 1.0f;
  }
  void joint(const float* projected_frame, const PredictorState& state, float* logits) override {
    const int frame = static_cast<int>(projected_frame[0]);
    const int emitted = static_cast<int>(state.projected[0]);
    if (state.projected[1] != 1.0f) ++unprimed_joints;
    joint_calls.push_back({frame, emitted});
    if (logit_source != nullptr) {
      for (int i = 0; i < kOutputs; ++i) logits[i] = static_cast<float>(logit_source(frame, emitted, i, seed));
      return;
    }
    const auto c = custom.find({frame, emitted});
    if (c != custom.end()) {
      std::copy(c->second.begin(), c->second.end(), logits);
      return;
    }
    std::fill(logits, logits + kOutputs, 0.0f);
    Entry e{kBlank, 1};
    const auto s = script.find({frame, emitted});
    if (s != script.end()) e = s->second;
    logits[e.label] = 1.0f;
    logits[kVocab + 1 + e.duration_index] = 1.0f;
  }
};

TdtDecodingConfig config(int max_symbols) {
  TdtDecodingConfig c;
  c.vocab_size = kVocab;
  c.blank_id = kBlank;
  c.durations = kDurations;
  c.max_symbols = max_symbols;
  return c;
}

// Projected rows for global frames [first, first + count).
std::vector<float> frames(int first, int count) {
  std::vector<float> p(static_cast<size_t>(2 * std::max(count, 1)), 0.0f);
  for (int t = 0; t < count; ++t) p[static_cast<size_t>(2 * t)] = static_cast<float>(first + t);
  return p;
}

struct E {
  int token;
  int64_t frame;
  int duration;
};

bool same_emissions(const std::vector<TokenEmission>& actual, const std::vector<E>& expected) {
  bool ok = actual.size() == expected.size();
  for (size_t i = 0; ok && i < actual.size(); ++i) {
    ok = actual[i].token_id == expected[i].token && actual[i].frame == expected[i].frame &&
         actual[i].duration == expected[i].duration;
  }
  if (!ok) {
    std::printf("    actual emissions:");
    for (const auto& a : actual) std::printf(" (%d,%lld,%d)", a.token_id, static_cast<long long>(a.frame), a.duration);
    std::printf("\n");
  }
  return ok;
}

// The main scenario: 12 frames, max_symbols 3 (see the comments for each branch).
void script_main(ScriptedStep& step) {
  step.script[{0, 0}] = {kBlank, 0};  // blank with duration 0: forced to 1
  step.script[{1, 0}] = {kBlank, 3};  // blank with duration 3: frames 2, 3 skipped, no LSTM update
  step.script[{4, 0}] = {7, 0};       // token with duration 0: stays at frame 4
  step.script[{4, 1}] = {8, 2};       // token with duration 2: frame 4 -> 6
  step.script[{6, 2}] = {1, 0};       // three duration-0 tokens at frame 6 ...
  step.script[{6, 3}] = {2, 0};
  step.script[{6, 4}] = {3, 0};   // ... the third fires the max_symbols guard: t -> 7
  step.script[{8, 5}] = {5, 1};   // token with duration 1
  step.script[{11, 6}] = {4, 3};  // last frame, duration 3: emitted, time_jump = 2
  // Second chunk (global frames 12..16), entered at local frame 2 (global 14).
  step.script[{14, 7}] = {9, 0};
}

const std::vector<E> kMainEmissions = {{7, 4, 0}, {8, 4, 2}, {1, 6, 0}, {2, 6, 0}, {3, 6, 0}, {5, 8, 1}, {4, 11, 3}};

void test_scripted_branches() {
  ScriptedStep step;
  script_main(step);
  TdtGreedyDecoder decoder(config(3), step);
  DecoderCarry carry = decoder.make_carry();
  PTRT_CHECK(!carry.primed);
  std::vector<TokenEmission> out;
  const std::vector<float> p = frames(0, 12);
  decoder.decode(p.data(), 12, carry, out);
  PTRT_CHECK(same_emissions(out, kMainEmissions));
  const std::vector<Key> expected_joints = {{0, 0}, {1, 0}, {4, 0}, {4, 1}, {6, 2},  {6, 3},
                                            {6, 4}, {7, 5}, {8, 5}, {9, 6}, {10, 6}, {11, 6}};
  PTRT_CHECK(step.joint_calls == expected_joints);
  // The prediction network runs once for SOS (blank) and then only for emitted tokens, in order.
  const std::vector<int> expected_predicts = {kBlank, 7, 8, 1, 2, 3, 5, 4};
  PTRT_CHECK(step.predict_tokens == expected_predicts);
  PTRT_CHECK_EQ(step.unprimed_joints, 0);
  PTRT_CHECK(carry.primed);
  PTRT_CHECK_EQ(carry.time_jump, 2);
  PTRT_CHECK_EQ(carry.decoded_frames, 12);
  PTRT_CHECK_EQ(carry.last_label, 4);
  PTRT_CHECK_EQ(out[0].score, 1.0f);  // the raw logit of the chosen token

  // Continue: the carried jump skips global frames 12 and 13; frame numbers stay global.
  step.joint_calls.clear();
  const std::vector<float> p2 = frames(12, 5);
  decoder.decode(p2.data(), 5, carry, out);
  PTRT_CHECK(same_emissions(std::vector<TokenEmission>(out.begin() + 7, out.end()), {{9, 14, 0}}));
  const std::vector<Key> expected_joints2 = {{14, 0 + 7}, {14, 8}, {15, 8}, {16, 8}};
  PTRT_CHECK(step.joint_calls == expected_joints2);
  PTRT_CHECK_EQ(carry.time_jump, 0);
  PTRT_CHECK_EQ(carry.decoded_frames, 17);
  PTRT_CHECK_EQ(carry.last_label, 9);
}

// Decoding in chunks with the carry equals decoding the concatenation in one call.
void test_chunking_equals_one_call() {
  std::vector<TokenEmission> whole;
  std::vector<Key> whole_joints;
  std::vector<int> whole_predicts;
  DecoderCarry whole_carry;
  {
    ScriptedStep step;
    script_main(step);
    TdtGreedyDecoder decoder(config(3), step);
    whole_carry = decoder.make_carry();
    const std::vector<float> p = frames(0, 17);
    decoder.decode(p.data(), 17, whole_carry, whole);
    whole_joints = step.joint_calls;
    whole_predicts = step.predict_tokens;
  }
  bool all_same = true;
  int cases = 0;
  for (int a = 0; a <= 17; ++a) {
    for (int b = a; b <= 17; ++b) {
      ScriptedStep step;
      script_main(step);
      TdtGreedyDecoder decoder(config(3), step);
      DecoderCarry carry = decoder.make_carry();
      std::vector<TokenEmission> out;
      const int bounds[] = {0, a, b, 17};
      for (int i = 0; i < 3; ++i) {
        const std::vector<float> p = frames(bounds[i], bounds[i + 1] - bounds[i]);
        decoder.decode(p.data(), bounds[i + 1] - bounds[i], carry, out);
      }
      bool same = out.size() == whole.size() && step.joint_calls == whole_joints &&
                  step.predict_tokens == whole_predicts && carry.time_jump == whole_carry.time_jump &&
                  carry.decoded_frames == whole_carry.decoded_frames && carry.last_label == whole_carry.last_label;
      for (size_t i = 0; same && i < out.size(); ++i) {
        same = out[i].token_id == whole[i].token_id && out[i].frame == whole[i].frame &&
               out[i].duration == whole[i].duration && out[i].score == whole[i].score;
      }
      if (!same) std::printf("    chunks [0,%d) [%d,%d) [%d,17) differ from one call\n", a, a, b, b);
      all_same = all_same && same;
      ++cases;
    }
  }
  std::printf("    %d three-way chunkings compared\n", cases);
  PTRT_CHECK(all_same);
}

void test_guard_at_last_frame_and_duration_past_guard() {
  {
    // Two duration-0 tokens at the last frame with max_symbols 2: the guard moves t to the end.
    ScriptedStep step;
    step.script[{2, 0}] = {1, 0};
    step.script[{2, 1}] = {2, 0};
    step.script[{2, 2}] = {3, 0};  // never reached
    TdtGreedyDecoder decoder(config(2), step);
    DecoderCarry carry = decoder.make_carry();
    std::vector<TokenEmission> out;
    const std::vector<float> p = frames(0, 3);
    decoder.decode(p.data(), 3, carry, out);
    PTRT_CHECK(same_emissions(out, {{1, 2, 0}, {2, 2, 0}}));
    PTRT_CHECK(step.joint_calls == (std::vector<Key>{{0, 0}, {1, 0}, {2, 0}, {2, 1}}));
    PTRT_CHECK_EQ(carry.time_jump, 0);
  }
  {
    // Same frame, max_symbols 3: the third token is emitted, then the guard fires.
    ScriptedStep step;
    step.script[{2, 0}] = {1, 0};
    step.script[{2, 1}] = {2, 0};
    step.script[{2, 2}] = {3, 0};
    TdtGreedyDecoder decoder(config(3), step);
    DecoderCarry carry = decoder.make_carry();
    std::vector<TokenEmission> out;
    const std::vector<float> p = frames(0, 3);
    decoder.decode(p.data(), 3, carry, out);
    PTRT_CHECK(same_emissions(out, {{1, 2, 0}, {2, 2, 0}, {3, 2, 0}}));
    PTRT_CHECK_EQ(carry.time_jump, 0);
  }
  {
    // The max_symbols-th token at a frame has duration 1: it moves on by itself, no extra +1.
    ScriptedStep step;
    step.script[{0, 0}] = {1, 0};
    step.script[{0, 1}] = {2, 1};
    step.script[{1, 2}] = {3, 0};
    step.script[{1, 3}] = {4, 2};
    TdtGreedyDecoder decoder(config(2), step);
    DecoderCarry carry = decoder.make_carry();
    std::vector<TokenEmission> out;
    const std::vector<float> p = frames(0, 4);
    decoder.decode(p.data(), 4, carry, out);
    PTRT_CHECK(same_emissions(out, {{1, 0, 0}, {2, 0, 1}, {3, 1, 0}, {4, 1, 2}}));
    PTRT_CHECK(step.joint_calls == (std::vector<Key>{{0, 0}, {0, 1}, {1, 2}, {1, 3}, {3, 4}}));
  }
  {
    // Emissions at different frames do not add up: max_symbols 2 with one token per frame.
    ScriptedStep step;
    for (int f = 0; f < 4; ++f) step.script[{f, f}] = {f + 1, 1};
    TdtGreedyDecoder decoder(config(2), step);
    DecoderCarry carry = decoder.make_carry();
    std::vector<TokenEmission> out;
    const std::vector<float> p = frames(0, 4);
    decoder.decode(p.data(), 4, carry, out);
    PTRT_CHECK(same_emissions(out, {{1, 0, 1}, {2, 1, 1}, {3, 2, 1}, {4, 3, 1}}));
  }
}

void test_blank_at_last_frame_and_long_jumps() {
  ScriptedStep step;
  step.script[{1, 0}] = {kBlank, 4};  // blank at the last frame of chunk 1, jumps 4: time_jump 3
  step.script[{5, 0}] = {6, 0};
  TdtGreedyDecoder decoder(config(10), step);
  DecoderCarry carry = decoder.make_carry();
  std::vector<TokenEmission> out;
  std::vector<float> p = frames(0, 2);
  decoder.decode(p.data(), 2, carry, out);
  PTRT_CHECK(out.empty());
  PTRT_CHECK_EQ(carry.time_jump, 3);
  PTRT_CHECK_EQ(carry.last_label, kBlank);  // nothing emitted yet: SOS
  // A chunk shorter than the jump is skipped entirely.
  step.joint_calls.clear();
  p = frames(2, 2);
  decoder.decode(p.data(), 2, carry, out);
  PTRT_CHECK(step.joint_calls.empty());
  PTRT_CHECK_EQ(carry.time_jump, 1);
  PTRT_CHECK_EQ(carry.decoded_frames, 4);
  p = frames(4, 3);
  decoder.decode(p.data(), 3, carry, out);
  PTRT_CHECK(same_emissions(out, {{6, 5, 0}}));
  PTRT_CHECK(step.joint_calls == (std::vector<Key>{{5, 0}, {5, 1}, {6, 1}}));
  PTRT_CHECK_EQ(carry.time_jump, 0);
  PTRT_CHECK_EQ(carry.decoded_frames, 7);
  // Only SOS and the one token went through the prediction network.
  PTRT_CHECK(step.predict_tokens == (std::vector<int>{kBlank, 6}));
}

void test_zero_frames() {
  ScriptedStep step;
  TdtGreedyDecoder decoder(config(10), step);
  DecoderCarry carry = decoder.make_carry();
  std::vector<TokenEmission> out;
  decoder.decode(nullptr, 0, carry, out);  // primes (NeMo: SOS step even with no frames)
  PTRT_CHECK(carry.primed);
  PTRT_CHECK(out.empty());
  PTRT_CHECK(step.joint_calls.empty());
  PTRT_CHECK(step.predict_tokens == std::vector<int>{kBlank});
  PTRT_CHECK_EQ(carry.time_jump, 0);
  PTRT_CHECK_EQ(carry.decoded_frames, 0);
  PTRT_CHECK_EQ(carry.last_label, kBlank);
  carry.time_jump = 2;  // a pending jump survives an empty chunk
  decoder.decode(nullptr, 0, carry, out);
  PTRT_CHECK_EQ(carry.time_jump, 2);
  PTRT_CHECK(step.predict_tokens.size() == 1);
  // A default-constructed (unsized) carry works too: priming sizes it.
  DecoderCarry bare;
  const std::vector<float> p = frames(0, 1);
  decoder.decode(p.data(), 1, bare, out);
  PTRT_CHECK(bare.primed);
  PTRT_CHECK_EQ(bare.predictor.projected.size(), static_cast<size_t>(2));
}

void test_argmax_ties_and_nan() {
  ScriptedStep step;
  std::vector<float> tie(kOutputs, 0.0f);
  tie[3] = 2.0f;
  tie[5] = 2.0f;               // token tie: the first index (3) wins, like torch.max on CPU
  tie[kVocab + 1 + 1] = 1.0f;  // duration tie between indices 1 and 3: index 1 (duration 1)
  tie[kVocab + 1 + 3] = 1.0f;
  step.custom[{0, 0}] = tie;
  std::vector<float> blank_tie(kOutputs, 0.0f);
  blank_tie[kBlank] = 3.0f;
  blank_tie[2] = 3.0f;  // token 2 ties with blank (index 10): token 2 wins
  blank_tie[kVocab + 1 + 2] = 5.0f;
  step.custom[{1, 1}] = blank_tie;
  std::vector<float> with_nan(kOutputs, 0.0f);
  with_nan[1] = 9.0f;
  with_nan[4] = std::numeric_limits<float>::quiet_NaN();  // NaN is the maximum, like torch.max
  with_nan[kVocab + 1 + 1] = 1.0f;
  step.custom[{3, 2}] = with_nan;
  TdtGreedyDecoder decoder(config(10), step);
  DecoderCarry carry = decoder.make_carry();
  std::vector<TokenEmission> out;
  const std::vector<float> p = frames(0, 4);
  decoder.decode(p.data(), 4, carry, out);
  PTRT_CHECK(same_emissions(out, {{3, 0, 1}, {2, 1, 2}, {4, 3, 1}}));
  PTRT_CHECK(out.size() == 3 && out[0].score == 2.0f && out[1].score == 3.0f && std::isnan(out[2].score));
}

// ---- randomized cross-check against a literal transcription of NeMo's torch_impl (batch 1) ----

uint32_t mix(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

// Integer logits (exact in float, so ties happen and follow the first-index rule): blank favored,
// short durations favored, duration 0 common enough to exercise the guard.
int random_logit(int frame, int emitted, int output, uint32_t seed) {
  const uint32_t h =
      mix(seed * 0x9e3779b9u ^ mix(static_cast<uint32_t>(frame) * 7919u + static_cast<uint32_t>(emitted) * 104729u +
                                   static_cast<uint32_t>(output)));
  if (output == kBlank) return static_cast<int>(h % 12);
  if (output < kVocab) return static_cast<int>(h % 10);
  const int d = output - kVocab - 1;
  return static_cast<int>(h % 6) + (d == 0 ? 2 : 0) - d;
}

struct NemoResult {
  std::vector<TokenEmission> hyps;
  int64_t time_jump;
  int64_t decoded;
  int last_label;
};

// GreedyBatchedTDTLabelLoopingComputer.torch_impl for batch size 1 (no fusion models, no
// record_all_steps), variable by variable. `logits_at(t, emitted)` stands for
// joint_after_projection(encoder_output_projected[safe_t], decoder_output). BatchedHyps is per call.
NemoResult nemo_torch_impl(int64_t encoder_output_length, int64_t prev_time_jumps, int64_t prev_decoded, int prev_label,
                           bool has_prev, int& emitted, int max_symbols, uint32_t seed, int64_t global_offset) {
  NemoResult r;
  const int num_durations = static_cast<int>(kDurations.size());
  auto logits_at = [&](int64_t safe_t) {
    std::vector<float> z(kOutputs);
    for (int i = 0; i < kOutputs; ++i)
      z[i] = static_cast<float>(random_logit(static_cast<int>(global_offset + safe_t), emitted, i, seed));
    return z;
  };
  auto max_of = [](const std::vector<float>& z, int begin, int end, float& value) {
    int idx = begin;
    value = z[begin];
    for (int i = begin + 1; i < end; ++i) {
      if (z[i] > value) {
        value = z[i];
        idx = i;
      }
    }
    return idx;
  };
  const int64_t last_timestamps = std::max<int64_t>(encoder_output_length - 1, 0);
  int64_t time_indices = has_prev ? prev_time_jumps : 0;
  int64_t safe_time_indices = std::min(time_indices, last_timestamps);
  int64_t time_indices_current_labels = 0;
  bool active_mask = time_indices < encoder_output_length;
  bool active_mask_prev = active_mask;
  bool advance_mask = false;
  // BatchedHyps state
  int64_t last_nb_timestamp = -1, last_nb_timestamp_lasts = 0;
  int last_nb_labels = -1;
  int labels = 0;
  float scores = 0;
  while (active_mask) {
    active_mask_prev = active_mask;
    std::vector<float> logits = logits_at(safe_time_indices);
    labels = max_of(logits, 0, kOutputs - num_durations, scores);
    float unused;
    int durations = kDurations[static_cast<size_t>(max_of(logits, kOutputs - num_durations, kOutputs, unused) -
                                                   (kOutputs - num_durations))];
    bool blank_mask = labels == kBlank;
    if (durations == 0 && blank_mask) durations = 1;
    time_indices_current_labels = time_indices;
    time_indices += durations * (active_mask ? 1 : 0);
    safe_time_indices = std::min(time_indices, last_timestamps);
    active_mask = time_indices < encoder_output_length;
    advance_mask = active_mask && blank_mask;
    while (advance_mask) {
      time_indices_current_labels = advance_mask ? time_indices : time_indices_current_labels;
      logits = logits_at(safe_time_indices);
      float more_scores;
      const int more_labels = max_of(logits, 0, kOutputs - num_durations, more_scores);
      labels = advance_mask ? more_labels : labels;
      scores = advance_mask ? more_scores : scores;
      durations = kDurations[static_cast<size_t>(max_of(logits, kOutputs - num_durations, kOutputs, unused) -
                                                 (kOutputs - num_durations))];
      blank_mask = labels == kBlank;
      if (durations == 0 && blank_mask) durations = 1;
      time_indices = advance_mask ? time_indices + durations : time_indices;
      safe_time_indices = std::min(time_indices, last_timestamps);
      active_mask = time_indices < encoder_output_length;
      advance_mask = active_mask && blank_mask;
    }
    const bool found_labels_mask = active_mask_prev && labels != kBlank;
    if (found_labels_mask) {  // add_results_masked_(active_mask=found_labels_mask, ...)
      r.hyps.push_back(TokenEmission{labels, time_indices_current_labels, durations, scores});
      if (last_nb_timestamp == time_indices_current_labels) {
        last_nb_timestamp_lasts += 1;
      } else {
        last_nb_timestamp_lasts = 1;
      }
      last_nb_timestamp = time_indices_current_labels;
      last_nb_labels = labels;
      ++emitted;  // decoder.predict with the found label (state replaced only where found)
    }
    if (max_symbols > 0) {
      const bool force_blank_mask = active_mask && labels != kBlank && last_nb_timestamp_lasts >= max_symbols &&
                                    last_nb_timestamp == time_indices;
      time_indices += force_blank_mask ? 1 : 0;
      safe_time_indices = std::min(time_indices, last_timestamps);
      active_mask = time_indices < encoder_output_length;
    }
  }
  if (has_prev) {
    for (auto& h : r.hyps) h.frame += prev_decoded;
  }
  const int last_labels = last_nb_labels != -1 ? last_nb_labels : kBlank;
  r.last_label = has_prev ? (last_labels == kBlank ? prev_label : last_labels) : last_labels;
  r.decoded = has_prev ? encoder_output_length + prev_decoded : encoder_output_length;
  r.time_jump = time_indices - encoder_output_length;
  return r;
}

int random_step_logit(int frame, int emitted, int output, uint32_t seed) {
  return random_logit(frame, emitted, output, seed);
}

void test_random_against_nemo_transcription() {
  int compared = 0, total_tokens = 0, mismatches = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    const int total = static_cast<int>(rng() % 40);
    const int max_symbols = 1 + static_cast<int>(rng() % 4);
    // Random chunk sizes (0 allowed).
    std::vector<int> chunks;
    for (int left = total; left > 0;) {
      const int c = std::min(left, static_cast<int>(rng() % 9));
      chunks.push_back(c);
      left -= c;
    }
    if (rng() % 2) chunks.insert(chunks.begin() + static_cast<long>(rng() % (chunks.size() + 1)), 0);

    ScriptedStep step;
    step.logit_source = &random_step_logit;
    step.seed = seed;
    TdtGreedyDecoder decoder(config(max_symbols), step);
    DecoderCarry carry = decoder.make_carry();
    std::vector<TokenEmission> ours;

    std::vector<TokenEmission> reference;
    int emitted = 0;
    int64_t time_jump = 0, decoded = 0;
    int last_label = kBlank;
    bool has_prev = false;
    int first = 0;
    for (int c : chunks) {
      const std::vector<float> p = frames(first, c);
      decoder.decode(p.data(), c, carry, ours);
      NemoResult r = nemo_torch_impl(c, time_jump, decoded, last_label, has_prev, emitted, max_symbols, seed, first);
      reference.insert(reference.end(), r.hyps.begin(), r.hyps.end());
      time_jump = r.time_jump;
      decoded = r.decoded;
      last_label = r.last_label;
      has_prev = true;
      first += c;
      if (carry.time_jump != time_jump || carry.decoded_frames != decoded || carry.last_label != last_label)
        ++mismatches;
    }
    bool same = ours.size() == reference.size();
    for (size_t i = 0; same && i < ours.size(); ++i) {
      same = ours[i].token_id == reference[i].token_id && ours[i].frame == reference[i].frame &&
             ours[i].duration == reference[i].duration && ours[i].score == reference[i].score;
    }
    if (!same) {
      ++mismatches;
      std::printf("    seed %u: %zu tokens vs %zu in the transcription\n", seed, ours.size(), reference.size());
    }
    ++compared;
    total_tokens += static_cast<int>(ours.size());
  }
  std::printf("    %d random streams, %d tokens, %d mismatches\n", compared, total_tokens, mismatches);
  PTRT_CHECK_EQ(mismatches, 0);
  PTRT_CHECK(total_tokens > 500);  // the check exercises real emissions
}

void test_validation_errors() {
  ScriptedStep step;
  auto make = [&](auto mutate) {
    TdtDecodingConfig c = config(10);
    mutate(c);
    return c;
  };
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.blank_id = 0; }), step), std::invalid_argument,
                    "TdtDecodingConfig.blank_id: expected 10 (vocab_size; TDT blank is the last token), got 0");
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.durations.clear(); }), step),
                    std::invalid_argument, "TdtDecodingConfig.durations: expected a non-empty list");
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.durations[2] = -1; }), step),
                    std::invalid_argument, "TdtDecodingConfig.durations[2]: expected >= 0, got -1");
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.max_symbols = 0; }), step),
                    std::invalid_argument, "TdtDecodingConfig.max_symbols: expected > 0");
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.vocab_size = 0; }), step), std::invalid_argument,
                    "TdtDecodingConfig.vocab_size: expected > 0, got 0");
  PTRT_CHECK_THROWS(TdtGreedyDecoder(make([](TdtDecodingConfig& c) { c.durations.push_back(5); }), step),
                    std::invalid_argument, "step.num_outputs(): expected 17 (vocab_size + 1 + 6 durations), got 16");
  TdtGreedyDecoder decoder(config(10), step);
  DecoderCarry carry = decoder.make_carry();
  std::vector<TokenEmission> out;
  PTRT_CHECK_THROWS(decoder.decode(nullptr, -1, carry, out), std::invalid_argument,
                    "num_frames: expected >= 0, got -1");
  PTRT_CHECK_THROWS(decoder.decode(nullptr, 3, carry, out), std::invalid_argument, "projected: expected non-null");
  decoder.decode(nullptr, 0, carry, out);
  DecoderCarry bad = carry;
  bad.predictor.projected.resize(5);
  PTRT_CHECK_THROWS(decoder.decode(nullptr, 0, bad, out), std::invalid_argument,
                    "carry.predictor: expected h/c of 1 and projected of 2 floats, got 1/1 and 5");
  bad = carry;
  bad.time_jump = -1;
  PTRT_CHECK_THROWS(decoder.decode(nullptr, 0, bad, out), std::invalid_argument,
                    "carry.time_jump: expected >= 0, got -1");
  PTRT_CHECK_EQ(decoder.max_emissions(7), 70);
}

void test_decode_allocates_nothing_in_steady_state() {
  ScriptedStep step;
  step.logit_source = &random_step_logit;
  step.seed = 77;
  step.joint_calls.reserve(10000);
  step.predict_tokens.reserve(10000);
  TdtGreedyDecoder decoder(config(3), step);
  DecoderCarry carry = decoder.make_carry();
  std::vector<TokenEmission> out;
  const std::vector<float> p = frames(0, 40);
  decoder.decode(p.data(), 10, carry, out);  // primes
  out.clear();
  out.reserve(static_cast<size_t>(decoder.max_emissions(30)));
  int64_t allocations = 0;
  {
    ptrt_test::AllocationCounter counter;
    decoder.decode(p.data() + 20, 30, carry, out);
    allocations = counter.count();
  }
  PTRT_CHECK(!out.empty());
  PTRT_CHECK_EQ(allocations, 0);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"scripted_branches", &test_scripted_branches},
      {"chunking_equals_one_call", &test_chunking_equals_one_call},
      {"guard_at_last_frame_and_duration_past_guard", &test_guard_at_last_frame_and_duration_past_guard},
      {"blank_at_last_frame_and_long_jumps", &test_blank_at_last_frame_and_long_jumps},
      {"zero_frames", &test_zero_frames},
      {"argmax_ties_and_nan", &test_argmax_ties_and_nan},
      {"random_against_nemo_transcription", &test_random_against_nemo_transcription},
      {"validation_errors", &test_validation_errors},
      {"decode_allocates_nothing_in_steady_state", &test_decode_allocates_nothing_in_steady_state},
  });
}
