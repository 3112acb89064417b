// Streaming sessions: the interface every mode shares (StreamingSession: push/finish/steps) and
// buffered streaming (NeMo's chunked inference with left, chunk and right context), batch 1. The
// cache-aware mode is in cache_aware_streaming.hpp.
//
// Mirrors NeMo 3.0.0's examples/asr/asr_chunked_inference/rnnt/speech_to_text_streaming_infer_rnnt.py
// (the loop over `buffer`, `buffer_size` and `decoding_computer(..., prev_batched_state=state)`):
//
//   Contexts are whole encoder frames: L, C, R frames of E = hop * subsampling samples (1280 at
//   16 kHz: 80 ms). Steps consume audio: the first step adds C + R samples, every other step C,
//   the last step whatever remains. Per step the buffer's (left, chunk, right) sizes in samples move
//   as NeMo's do: left += chunk; right += added; then chunk = C and right -= C, or, on the last
//   step, chunk = right and right = 0; the buffer keeps at most L + C + R samples (the excess
//   leaves on the left). Features (with per-feature normalization) and the encoder run over the
//   whole buffer; the chunk's frames [left / E, left / E + chunk / E) are decoded with the TDT
//   carry (predictor state, last label, time jump, decoded frames); the right-context frames are
//   decoded from a copy of the carry to give a speculative tail that the next step replaces.
//   Integer division everywhere, as NeMo's ContextSize.subsample: a last chunk that is not a
//   whole number of frames loses its partial frame, exactly as in NeMo.
//
// When the stream's length is unknown (live audio), a step that adds exactly the remaining
// samples must still be treated as the last one to match NeMo's file loop; the session therefore
// runs a regular step only once MORE samples than it needs have arrived, and finish() runs the last
// step. The result is independent of how the audio is split into push() calls.
//
// Features: the log-mel of frames whose samples are unchanged since the previous step is reused
// (only the new audio's frames and the buffer edges are computed; frames live in a mirrored ring,
// so nothing is copied to reuse them); normalization runs over the whole buffer as NeMo's does,
// in PyTorch's summation order, and writes the encoder input directly. The result is
// bit-identical to computing the buffer from scratch. Audio lives in a mirrored ring too: a step
// never moves the retained samples.
//
// Allocation: everything is sized in the constructor (audio window, features, encoder output,
// projections, token buffers, decoder carries). push() and finish() allocate nothing on the heap
// in the core (the C++ engine path); an engine implemented in Python allocates in Python.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/features.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "parakeet_trt/tdt_decoder.hpp"

namespace parakeet_trt {

class EncoderRunner;

// What one step produced. Views into the session's buffers, valid until its next push()/finish().
struct StreamingStep {
  const TokenEmission* committed = nullptr;  // tokens committed by this step (never revised)
  int64_t num_committed = 0;
  const TokenEmission* tail = nullptr;       // speculative tokens from the right context (replaced
  int64_t num_tail = 0;                      // by the next step; empty after the last step)
  int64_t audio_end_sample = 0;              // stream samples consumed so far (NeMo's right_sample)
  int64_t decoded_frames = 0;                // encoder frames committed so far (global frame index)
  bool is_last = false;
};

// A borrowed callable `void(const StreamingStep&)`: lets the virtual step loop call the caller's
// lambda without a std::function (no allocation). Valid while the callable it refers to lives.
class StepSink {
 public:
  template <typename F>
  explicit StepSink(F& f)
      : context_(static_cast<void*>(&f)), call_([](void* c, const StreamingStep& s) { (*static_cast<F*>(c))(s); }) {}
  void operator()(const StreamingStep& step) const { call_(context_, step); }

 private:
  void* context_;
  void (*call_)(void*, const StreamingStep&);
};

// What every streaming mode shares (buffered, cache-aware): the push/finish/error semantics, the
// step type and the counters. The worker, the C ABI and the bindings drive any mode through it.
//
//   push(samples, n, on_step): appends mono float32 samples at the model rate and runs every step
//     they complete; on_step is called once per step, in order. The whole block is validated
//     before anything is appended (InvalidAudio for NaN/Inf, naming the index), so a bad block
//     changes nothing and what was committed stays committed. A zero-length push is allowed and
//     does nothing. Throws Error(kState) after finish().
//   finish(on_step): runs the remaining step(s) over the audio received (the last one has
//     is_last) and closes the stream. Throws Error(kState) when already finished.
class StreamingSession {
 public:
  virtual ~StreamingSession() = default;

  template <typename OnStep>
  void push(const float* samples, int64_t num_samples, OnStep&& on_step) {
    if (finished_) throw Error(ErrorCode::kState, "push() after finish(): the stream is closed");
    if (num_samples < 0) throw Error(ErrorCode::kInvalidArgument, "push(): negative sample count");
    if (num_samples == 0) return;
    if (samples == nullptr) throw Error(ErrorCode::kInvalidArgument, "push(): null samples");
    validate_audio(samples, num_samples);
    push_steps(samples, num_samples, StepSink(on_step));
  }
  template <typename OnStep>
  void finish(OnStep&& on_step) {
    if (finished_) throw Error(ErrorCode::kState, "finish() called twice: the stream is already closed");
    finish_steps(StepSink(on_step));
    finished_ = true;
  }

  // Offline transcription of stream samples [begin, end) (absolute indices) from the retained
  // history, e.g. the final re-decode of an utterance at an endpoint. Throws InvalidAudio when the
  // range is empty or no longer retained, Error(kState) when the mode keeps no history.
  virtual Transcript redecode(int64_t begin_sample, int64_t end_sample) = 0;
  // Samples the next regular step waits for beyond samples_consumed().
  virtual int64_t samples_needed() const = 0;
  // Most tokens one step can commit (or put in its tail): the capacity of the session's buffers.
  virtual int64_t max_tokens_per_step() const = 0;

  bool finished() const { return finished_; }
  int64_t samples_received() const { return received_; }
  int64_t samples_consumed() const { return consumed_; }
  int64_t steps() const { return steps_; }
  int64_t encoder_frame_samples() const { return frame_samples_; }
  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& shared_model() const { return model_; }

 protected:
  explicit StreamingSession(std::shared_ptr<const Model> model) : model_(std::move(model)) {}
  // Called with a validated, non-empty block.
  virtual void push_steps(const float* samples, int64_t num_samples, StepSink on_step) = 0;
  virtual void finish_steps(StepSink on_step) = 0;

  std::shared_ptr<const Model> model_;
  int64_t frame_samples_ = 0;  // one encoder frame in samples (hop * subsampling: 1280 at 16 kHz)
  int64_t received_ = 0, consumed_ = 0, steps_ = 0;
  bool finished_ = false;
};


struct BufferedStreamingConfig {
  // Documented maxima (checked as integers before any arithmetic; issue 18 item 5): they bound what a
  // stream allocates at creation (history: 2 x 600 s of float samples = 77 MB at 16 kHz, mirrored).
  static constexpr int64_t kMaxChunkOrRightMs = 60000;
  static constexpr int64_t kMaxLeftMs = 600000;
  static constexpr int64_t kMaxHistoryMs = 600000;

  int64_t chunk_ms = 560;   // (0, 60000], a multiple of the encoder frame (80 ms for Parakeet)
  int64_t left_ms = 10000;  // [0, 600000], multiple of the encoder frame
  int64_t right_ms = 560;   // [0, 60000], multiple of the encoder frame
  // Audio kept for redecode(): the most recent history_ms of the stream (0 disables redecode); [0, 600000].
  int64_t history_ms = 30000;

  // Throws std::invalid_argument naming the field and the rule it breaks.
  void validate(double frame_ms) const;
};

class BufferedStreamingSession final : public StreamingSession {
 public:
  BufferedStreamingSession(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                           const BufferedStreamingConfig& config);
  ~BufferedStreamingSession() override;
  BufferedStreamingSession(const BufferedStreamingSession&) = delete;
  BufferedStreamingSession& operator=(const BufferedStreamingSession&) = delete;

  // push(): see StreamingSession. finish(): runs the last step over the remaining audio (also when
  // none remains, to flush the right context): exactly one step.
  // redecode(): allocates (it is the offline path); needs history_ms > 0.
  Transcript redecode(int64_t begin_sample, int64_t end_sample) override;
  // Samples the next regular step waits for beyond samples_consumed() (it runs once more arrive).
  int64_t samples_needed() const override { return steps_ == 0 ? chunk_ + right_ : chunk_; }
  int64_t max_tokens_per_step() const override { return static_cast<int64_t>(committed_.capacity()); }
  const BufferedStreamingConfig& config() const { return config_; }

 private:
  void push_steps(const float* samples, int64_t num_samples, StepSink on_step) override;
  void finish_steps(StepSink on_step) override { on_step(step(true)); }
  // Appends up to the free space; returns how many samples were taken.
  int64_t append(const float* samples, int64_t num_samples);
  StreamingStep step(bool is_last);
  // features_.compute(buffer, total) into feature_buffer_, reusing the log-mel kept in the ring.
  void compute_features(const float* buffer, int64_t buffer_start, int64_t total);
  // Log-mel of the buffer's frames [begin_frame, end_frame) into ring positions base + t (both halves).
  void compute_log_mel_columns(const float* buffer, int64_t total, int64_t base, int64_t begin_frame,
                               int64_t end_frame);
  // Stream samples [s, s + n), n <= audio_capacity_, are contiguous from here (mirrored ring).
  const float* audio_at(int64_t stream_sample) const { return audio_ring_.data() + stream_sample % audio_capacity_; }

  BufferedStreamingConfig config_;
  int64_t left_ = 0, chunk_ = 0, right_ = 0;  // L, C, R in samples
  FeatureExtractor features_;
  std::unique_ptr<EncoderRunner> encoder_;
  std::unique_ptr<DecoderStep> step_;
  TdtGreedyDecoder decoder_;
  int64_t history_samples_ = 0;  // redecode() range limit (0: no redecode)

  // Audio: a mirrored ring. Stream sample s lives at s % audio_capacity_ and again audio_capacity_
  // later, so any audio_capacity_ consecutive samples are contiguous (the buffer, a redecode
  // range) and nothing is ever moved: a step costs the copy of the pushed samples (twice).
  std::vector<float> audio_ring_;
  int64_t audio_capacity_ = 0, keep_behind_ = 0;
  int64_t buf_left_ = 0, buf_chunk_ = 0, buf_right_ = 0;  // NeMo's buffer_size, in samples

  // Log-mel frames kept across steps, [n_mels][2 * mel_capacity_], mirrored like the audio: frame
  // position p (hops since mel_origin_) at column p % mel_capacity_ and mel_capacity_ later, so the
  // current buffer's frames are one contiguous [n_mels][frames] view with row stride
  // 2 * mel_capacity_. Positions [mel_valid_begin_, mel_valid_end_) hold interior frames
  // (FeatureExtractor::interior_frames), which any later buffer covering their samples reuses
  // unchanged: bit-identical to computing the buffer from scratch.
  std::vector<float> log_mel_ring_;
  int64_t mel_capacity_ = 0;
  int64_t mel_origin_ = -1;  // stream sample of position 0; -1 before the first step
  int64_t mel_valid_begin_ = 0, mel_valid_end_ = 0;
  std::vector<float> feature_buffer_;
  std::vector<float> projected_;
  DecoderCarry carry_, tail_carry_;
  std::vector<TokenEmission> committed_, tail_;
};

}  // namespace parakeet_trt
