#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include "parakeet_trt/tdt_decoder.hpp"

namespace parakeet_trt {
namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& expected, const std::string& actual) {
  throw std::invalid_argument(field + ": expected " + expected + ", got " + actual);
}

// torch.max(dim) / argmax on CPU: the first maximal index; a NaN counts as the maximum (the first
// NaN wins).
int argmax(const float* values, int count) {
  int best = 0;
  float best_value = values[0];
  if (std::isnan(best_value)) return 0;
  for (int i = 1; i < count; ++i) {
    const float v = values[i];
    if (!(v <= best_value)) {  // v > best_value, or v is NaN
      best = i;
      best_value = v;
      if (std::isnan(v)) break;
    }
  }
  return best;
}

}  // namespace

void TdtDecodingConfig::validate() const {
  if (vocab_size <= 0) invalid("TdtDecodingConfig.vocab_size", "> 0", std::to_string(vocab_size));
  if (blank_id != vocab_size) {
    invalid("TdtDecodingConfig.blank_id", std::to_string(vocab_size) + " (vocab_size; TDT blank is the last token)",
            std::to_string(blank_id));
  }
  if (durations.empty()) invalid("TdtDecodingConfig.durations", "a non-empty list", "an empty list");
  for (size_t i = 0; i < durations.size(); ++i) {
    if (durations[i] < 0) {
      invalid("TdtDecodingConfig.durations[" + std::to_string(i) + "]", ">= 0", std::to_string(durations[i]));
    }
  }
  if (max_symbols <= 0) {
    invalid("TdtDecodingConfig.max_symbols", "> 0 (NeMo's unbounded None is not supported)",
            std::to_string(max_symbols));
  }
}

TdtGreedyDecoder::TdtGreedyDecoder(TdtDecodingConfig config, DecoderStep& step)
    : config_(std::move(config)), step_(step) {
  config_.validate();
  const int64_t expected =
      static_cast<int64_t>(config_.vocab_size) + 1 + static_cast<int64_t>(config_.durations.size());
  if (step_.num_outputs() != expected) {
    invalid("TdtGreedyDecoder: step.num_outputs()",
            std::to_string(expected) + " (vocab_size + 1 + " + std::to_string(config_.durations.size()) + " durations)",
            std::to_string(step_.num_outputs()));
  }
  joint_hidden_ = step_.joint_hidden();
  logits_.assign(static_cast<size_t>(expected), 0.0f);
  next_state_ = step_.make_state();
}

DecoderCarry TdtGreedyDecoder::make_carry() const {
  DecoderCarry carry;
  carry.predictor = step_.make_state();
  return carry;
}

int64_t TdtGreedyDecoder::max_emissions(int64_t num_frames) const {
  return std::max<int64_t>(num_frames, 0) * config_.max_symbols;
}

void TdtGreedyDecoder::decode(const float* projected, int64_t num_frames, DecoderCarry& carry,
                              std::vector<TokenEmission>& out) {
  if (num_frames < 0) invalid("TdtGreedyDecoder::decode: num_frames", ">= 0", std::to_string(num_frames));
  if (num_frames > 0 && projected == nullptr) {
    invalid("TdtGreedyDecoder::decode: projected", "non-null for num_frames = " + std::to_string(num_frames), "null");
  }
  const int blank = config_.blank_id;
  const int num_tokens = config_.vocab_size + 1;  // token slice, blank included
  const int num_durations = static_cast<int>(config_.durations.size());

  if (!carry.primed) {
    // NeMo prev_state=None: zero LSTM state, then predict(SOS = blank), whose embedding is zero.
    const PredictorState zero = step_.make_state();  // allocation: once per stream
    carry.predictor = zero;
    step_.predict(blank, zero, next_state_);
    std::swap(carry.predictor, next_state_);
    carry.last_label = blank;
    carry.time_jump = 0;
    carry.decoded_frames = 0;
    carry.primed = true;
  } else {
    const PredictorState& shape = next_state_;
    if (carry.predictor.h.size() != shape.h.size() || carry.predictor.c.size() != shape.c.size() ||
        carry.predictor.projected.size() != shape.projected.size()) {
      invalid("TdtGreedyDecoder::decode: carry.predictor",
              "h/c of " + std::to_string(shape.h.size()) + " and projected of " +
                  std::to_string(shape.projected.size()) + " floats",
              std::to_string(carry.predictor.h.size()) + "/" + std::to_string(carry.predictor.c.size()) + " and " +
                  std::to_string(carry.predictor.projected.size()));
    }
    if (carry.time_jump < 0)
      invalid("TdtGreedyDecoder::decode: carry.time_jump", ">= 0", std::to_string(carry.time_jump));
    if (carry.decoded_frames < 0) {
      invalid("TdtGreedyDecoder::decode: carry.decoded_frames", ">= 0", std::to_string(carry.decoded_frames));
    }
  }

  const int64_t frame_offset = carry.decoded_frames;
  int64_t t = carry.time_jump;
  // NeMo's BatchedHyps is created per call, so the max_symbols bookkeeping restarts here:
  // last_nb_timestamp (frame of the last non-blank emission) and last_nb_timestamp_lasts (how
  // many non-blank emissions that frame has had).
  int64_t last_emission_frame = -1;
  int emissions_at_frame = 0;
  float* logits = logits_.data();
  const float* duration_logits = logits + num_tokens;

  while (t < num_frames) {
    // Stage 1: joint at t; then, while blank and still inside, jump and re-evaluate (same G).
    int64_t t_emit = t;
    step_.joint(projected + t * joint_hidden_, carry.predictor, logits);
    int label = argmax(logits, num_tokens);
    float score = logits[label];
    int duration = config_.durations[static_cast<size_t>(argmax(duration_logits, num_durations))];
    if (label == blank && duration == 0) duration = 1;
    t += duration;
    while (label == blank && t < num_frames) {
      t_emit = t;
      step_.joint(projected + t * joint_hidden_, carry.predictor, logits);
      label = argmax(logits, num_tokens);
      score = logits[label];
      duration = config_.durations[static_cast<size_t>(argmax(duration_logits, num_durations))];
      if (label == blank && duration == 0) duration = 1;
      t += duration;
    }
    if (label == blank) break;  // ran past the end on blanks: nothing found, state unchanged

    // Stage 2: the token is found (even if t now lies past the end): emit it, count it.
    out.push_back(TokenEmission{label, t_emit + frame_offset, duration, score});
    emissions_at_frame = (last_emission_frame == t_emit) ? emissions_at_frame + 1 : 1;
    last_emission_frame = t_emit;
    carry.last_label = label;

    // Stage 3: advance the prediction network with the found token only.
    step_.predict(label, carry.predictor, next_state_);
    std::swap(carry.predictor, next_state_);

    // Stage 4: max_symbols guard, only while still at the emission frame (duration 0).
    if (t < num_frames && emissions_at_frame >= config_.max_symbols && last_emission_frame == t) t += 1;
  }

  carry.time_jump = t - num_frames;
  carry.decoded_frames = frame_offset + num_frames;
}

}  // namespace parakeet_trt
