// Cache-aware streaming over a streaming encoder export (`--component encoder_streaming`), batch 1,
// for both contract profiles (`cache_aware`, `chunk_isolated`).
//
// Mirrors NeMo 3.0.0's cache-aware streaming loop (examples/asr/asr_cache_aware_streaming/
// speech_to_text_cache_aware_streaming_infer.py: CacheAwareStreamingAudioBuffer with
// online_normalization=True and pad_and_drop_preencoded=True, then conformer_stream_step with
// previous_hypotheses), in feature frames (10 ms):
//
//   The stream's log-mel (NeMo's preprocessor with normalize None, dither 0, pad_to 0) has
//   T = 1 + n / hop frames for n samples; the last one is masked to pad_value. Window k covers new
//   frames [b, b + N) with b = k * A (N = new_frames_per_call, A = advance_frames_per_call of the
//   contract) preceded by P = pre_encode_cache_size frames: zeros at b = 0 (normalized with the
//   window), else frames [max(0, b - P), b) with zeros prepended after normalization when b < P.
//   Each window is normalized per feature over its own frames (NeMo's online_normalization: the
//   statistics a live stream can know), zero-padded to the graph's static window, and run with
//   length = P + frames of the chunk. Windows run while b < T; past the first, a chunk shorter
//   than one encoder frame (subsampling_factor frames) ends the stream, as NeMo's iterator does.
//   The encoder's valid outputs (encoded_lengths, at most valid_out_len frames) are decoded with the
//   TDT carry (predictor state, last label, time jump, decoded frames) across windows.
//
// Deviation from NeMo's buffer, on purpose: the exported graph has a static time size (NeMo derives
// cache_keep_size from it), so the last windows of a stream are zero-padded with `length` marking
// the valid frames, where NeMo's buffer cuts the tensor short. The reference used by the tests
// (parakeet_trt.testing.nemo_cache_aware) feeds NeMo's conformer_stream_step the same padded
// windows; DECISION_LOG "Cache-aware streaming" records what the cut tensor changes.
//
// Live audio: frame t's log-mel is final once its STFT window is complete (t * hop + n_fft / 2
// samples received); it is computed once, from the audio as it arrives (never recomputed). A
// window runs as soon as all its frames are final, so the result does not depend on how the audio
// is split into push() calls; finish() computes the last frames (zero padding at the end of the
// stream, the masked last frame) and runs the remaining windows, the last with is_last.
//
// Steps: one per window; the committed tokens are that window's decoded frames; there is no
// speculative tail (the graph emits no right-context frames). audio_end_sample is the sample count
// the window waited for; samples_consumed() that of the last window run.
//
// Allocation: everything is sized in the constructor (audio, frame store, window, encoder caches
// and outputs in the StreamingEncoderRunner, projections, tokens, decoder carry). push() and
// finish() allocate nothing on the heap in the core; an engine implemented in Python allocates in
// Python. The contract is asserted at every engine call by the StreamingEncoderRunner.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/streaming.hpp"

namespace parakeet_trt {

class StreamingEncoderRunner;

struct CacheAwareStreamingConfig {
  // "" accepts the export's profile; otherwise it must equal it ("cache_aware" | "chunk_isolated"),
  // else ContractViolation naming streaming.profile.
  std::string profile;
};

class CacheAwareStreamingSession final : public StreamingSession {
 public:
  // encoder: the engine of the model's encoder_streaming graph. Throws ContractViolation when the
  // model has no streaming encoder (or another profile than config.profile).
  CacheAwareStreamingSession(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                             const CacheAwareStreamingConfig& config = {});
  ~CacheAwareStreamingSession() override;
  CacheAwareStreamingSession(const CacheAwareStreamingSession&) = delete;
  CacheAwareStreamingSession& operator=(const CacheAwareStreamingSession&) = delete;

  // Keeps no audio history: Error(kState) (final re-decode needs the buffered mode or the offline
  // encoder).
  Transcript redecode(int64_t begin_sample, int64_t end_sample) override;
  int64_t samples_needed() const override;
  int64_t max_tokens_per_step() const override { return static_cast<int64_t>(committed_.capacity()); }

  const std::string& profile() const;
  int64_t window_frames() const { return window_frames_; }
  int64_t advance_frames() const { return advance_; }
  int64_t encoder_calls() const;

 private:
  void push_steps(const float* samples, int64_t num_samples, StepSink on_step) override;
  void finish_steps(StepSink on_step) override;

  // Appends up to the free audio space (compacting first); returns how many samples were taken.
  int64_t append(const float* samples, int64_t num_samples);
  // Log-mel of frames [frames_end_, end_frame) from the retained audio into the frame store;
  // at_end: the stream is complete (zero padding at its end, the last frame masked).
  void compute_frames(int64_t end_frame, bool at_end);
  // Sample count after which frame t's log-mel is final.
  int64_t samples_for_frame(int64_t t) const;
  // Builds window k (frames of the chunk: chunk_frames), runs the encoder, decodes; one step.
  StreamingStep run_window(int64_t chunk_frames, bool is_last);

  CacheAwareStreamingConfig config_;
  FeatureExtractor features_;
  std::unique_ptr<StreamingEncoderRunner> encoder_;
  std::unique_ptr<DecoderStep> step_;
  TdtGreedyDecoder decoder_;
  int64_t n_mels_ = 0, hop_ = 0, half_fft_ = 0;
  int64_t window_frames_ = 0, new_frames_ = 0, advance_ = 0, pre_frames_ = 0, min_chunk_frames_ = 0;
  bool normalize_ = true;

  // Audio: audio_[0] is stream sample audio_base_ (a multiple of hop), audio_size_ samples.
  std::vector<float> audio_;
  int64_t audio_base_ = 0, audio_size_ = 0;
  std::vector<float> log_mel_scratch_;  // [n_mels][num_frames(audio_.size())]
  // Frame store, time-major: frames_[(t - store_base_) * n_mels + m] is frame t, for t in
  // [store_base_, frames_end_).
  std::vector<float> frames_;
  int64_t store_base_ = 0, frames_end_ = 0, store_capacity_ = 0;
  int64_t next_window_start_ = 0;  // b of the next window (feature frames)
  std::vector<float> normalized_;  // [n_mels][P + N] scratch (compact, normalized in place)
  std::vector<float> window_;      // [n_mels][window_frames] fed to the engine
  std::vector<float> projected_;
  DecoderCarry carry_;
  std::vector<TokenEmission> committed_, tail_;
};

}  // namespace parakeet_trt
