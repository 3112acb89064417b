// Runs the cache-aware streaming encoder engine (`encoder_streaming.onnx`) with caches the runner
// owns, and asserts the contract at every call.
//
// Everything is sized at construction from the model's contract (streaming section); run() does
// not allocate. The caches ping-pong between two buffers: the engine reads one and writes the
// other, which becomes the next call's input.
//
//   StreamingEncoderRunner runner(model, engine);    // model must hold an encoder_streaming export
//   for each window:                                 // [n_mels][window_frames] feature frames:
//     auto out = runner.run(window, n_mels, window_frames, length);  // pre-encode cache + new frames
//     use out.data[0 .. d_model * out.num_frames)   // channels-first [d_model][num_frames]
//   runner.reset();                                  // a new stream: caches and lengths back to zero
//
// Per call it checks (ContractViolation names the field, the expected and the actual value):
//   - the window is [n_mels][window_frames] (feature count and time size of the contract);
//   - encoded_lengths == clamp(calc_length(length) - drop_extra_pre_encoded, 0, valid_out_len);
//   - the engine filled `outputs` [1, d_model, output_frames_per_call] with finite values;
//   - cache_last_channel_next_len == min(cache_len + cache_keep_per_call, cache_size)
//     (chunk_isolated: always 0; cache_aware: grows by `shift` frames per call up to the cap);
//   - the next caches are finite.
// `length` outside [min_length, window_frames] is the caller's error (Error kInvalidArgument).
// After a violation the runner refuses further calls until reset(): the pipeline stops.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {

struct StreamingEncoderOutput {
  const float* data = nullptr;  // [d_model][num_frames], channels-first; valid until the next run/reset
  int64_t num_frames = 0;       // output_frames_per_call
  int64_t num_valid_frames = 0; // encoded_lengths
  int64_t cache_len = 0;        // cache_last_channel_next_len after this call
};

class StreamingEncoderRunner {
 public:
  // Throws ContractViolation if the model has no encoder_streaming engine in its contract.
  StreamingEncoderRunner(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine);

  StreamingEncoderOutput run(const float* features, int64_t num_mel_bins, int64_t num_frames, int64_t length);
  void reset();

  const StreamingContract& profile() const { return streaming_; }
  int64_t calls() const { return calls_; }
  int64_t cache_len() const { return cache_len_in_; }
  Engine& engine() { return *engine_; }

 private:
  std::shared_ptr<const Model> model_;
  std::shared_ptr<Engine> engine_;
  StreamingContract streaming_;
  int64_t n_mels_ = 0;
  std::vector<float> outputs_;
  std::vector<float> cache_channel_[2];
  std::vector<float> cache_time_[2];
  int current_ = 0;  // which cache buffer is this call's input
  int64_t length_ = 0;
  int64_t cache_len_in_ = 0;
  int64_t encoded_length_ = 0;
  int64_t cache_len_out_ = 0;
  int64_t calls_ = 0;
  bool failed_ = false;
};

}  // namespace parakeet_trt
