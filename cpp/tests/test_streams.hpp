// Shared by the streaming session tests: a deterministic C++ encoder (FormulaEncoder), a deterministic, speech-like test signal (a wobbling tone
// with a slow envelope, plus seeded noise) that makes the decoders emit tokens, and a loop that
// streams it through any session in fixed blocks and records what the steps committed.
#pragma once

#include <algorithm>
#include <atomic>
#include <string>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/streaming.hpp"

namespace ptrt_test {

// outputs[d][t] = 3 * sin(0.7 d + mean over mels of features at frame 8 t) -- allocation-free,
// depends on the audio (so decoding varies), and reports NeMo's encoded length.
class FormulaEncoder final : public parakeet_trt::Engine {
 public:
  explicit FormulaEncoder(const parakeet_trt::Model& model) : spec_(model.meta().encoder), n_mels_(model.meta().features.n_mels) {}
  void run(const parakeet_trt::TensorView* inputs, size_t, parakeet_trt::TensorView* outputs, size_t) override {
    const float* features = static_cast<const float*>(inputs[0].data);
    const int64_t frames = inputs[0].shape[2];
    const int64_t length = *static_cast<const int64_t*>(inputs[1].data);
    float* out = static_cast<float*>(outputs[0].data);
    const int64_t d_model = outputs[0].shape[1], t_out = outputs[0].shape[2];
    for (int64_t t = 0; t < t_out; ++t) {
      const int64_t f = std::min<int64_t>(t * 8, frames - 1);
      float mean = 0.f;
      for (int m = 0; m < n_mels_; ++m) mean += features[m * frames + f];
      mean /= static_cast<float>(n_mels_);
      for (int64_t d = 0; d < d_model; ++d) out[d * t_out + t] = 3.f * std::sin(0.7f * static_cast<float>(d) + mean);
    }
    *static_cast<int64_t*>(outputs[1].data) = spec_.encoded_length(length);
    ++calls;
  }
  std::string description() const override { return "formula encoder (test)"; }
  std::atomic<int64_t> calls{0};

 private:
  parakeet_trt::EncoderSpec spec_;
  int n_mels_;
};


inline std::vector<float> test_audio(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 0.05f);
  std::vector<float> a(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    a[static_cast<size_t>(i)] = static_cast<float>(0.3 * std::sin(2 * M_PI * (200 + 150 * std::sin(t * 1.3)) * t) *
                                                   (0.5 + 0.5 * std::sin(t * 5.0))) + noise(rng);
  }
  return a;
}

inline parakeet_trt::LiveStreamOptions live_options(int64_t ring_ms, int32_t event_slots) {
  parakeet_trt::LiveStreamOptions o;
  o.ring_ms = ring_ms;
  o.event_slots = event_slots;
  return o;
}

struct StreamRun {
  std::vector<int> ids;
  std::vector<int64_t> frames, step_ends, step_tokens, step_tails;
};

// Pushes `audio` in blocks of `block` samples, then finishes.
inline StreamRun stream_through(parakeet_trt::StreamingSession& session, const std::vector<float>& audio,
                                int64_t block) {
  StreamRun run;
  auto on_step = [&](const parakeet_trt::StreamingStep& st) {
    for (int64_t i = 0; i < st.num_committed; ++i) {
      run.ids.push_back(st.committed[i].token_id);
      run.frames.push_back(st.committed[i].frame);
    }
    run.step_ends.push_back(st.audio_end_sample);
    run.step_tokens.push_back(st.num_committed);
    run.step_tails.push_back(st.num_tail);
  };
  for (size_t i = 0; i < audio.size(); i += static_cast<size_t>(block)) {
    session.push(audio.data() + i, std::min<int64_t>(block, static_cast<int64_t>(audio.size() - i)), on_step);
  }
  session.finish(on_step);
  return run;
}

}  // namespace ptrt_test
