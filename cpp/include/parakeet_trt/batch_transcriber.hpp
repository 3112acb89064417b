// Offline transcription of many utterances with batched encoder calls (`parakeet-trt transcribe
// --batch-size N`).
//
// The utterances are sorted by length and cut into batches of batch_size neighbours, so little of
// each batch is padding. A batch's features are stacked into one [B, n_mels, T_max] tensor padded with
// the feature pad value (0, as NeMo pads a batch), with each utterance's valid frame count in the
// encoder's `length` input, and the encoder runs once per batch. The decoder (projection + TDT greedy)
// then runs per utterance on its slice of the output, up to its encoded length, as for batch 1.
// While the encoder runs one batch, a second thread computes the next batch's features.
//
// Results equal batch-1 transcription (OfflineRecognizer) token for token on the demo model's
// held-out files (tests/test_batch_transcribe.py); the encoder's outputs differ from batch 1 by float
// rounding of the batched kernels only.
//
// Threads: one transcribe() at a time per BatchTranscriber; the model and engine may be shared.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"

namespace parakeet_trt {

struct BatchTranscribeOptions {
  int32_t batch_size = 8;  // utterances per encoder call (1..256)

  // Error(kInvalidArgument) naming the field and its range.
  void validate() const;
};

struct AudioSpan {
  const float* samples = nullptr;  // mono float32 at the model's sample rate
  int64_t num_samples = 0;
};

// One utterance's outcome: its transcript, or the error it got (InvalidAudio for empty, non-finite or
// too long audio: only that utterance; an engine failure: every utterance of its batch).
struct BatchItem {
  Transcript transcript;
  std::exception_ptr error;
};

class BatchTranscriber {
 public:
  BatchTranscriber(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                   const BatchTranscribeOptions& options);
  ~BatchTranscriber();
  BatchTranscriber(const BatchTranscriber&) = delete;
  BatchTranscriber& operator=(const BatchTranscriber&) = delete;

  // One item per utterance, in the order given. The spans must stay valid during the call.
  std::vector<BatchItem> transcribe(const std::vector<AudioSpan>& utterances);

  const BatchTranscribeOptions& options() const { return options_; }
  int64_t encoder_calls() const { return encoder_calls_; }  // batched encoder calls so far

 private:
  struct Batch;
  void prepare(Batch& batch, const std::vector<AudioSpan>& utterances);
  void encode_and_decode(Batch& batch, std::vector<BatchItem>& items);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<Engine> encoder_;
  BatchTranscribeOptions options_;
  FeatureExtractor features_;  // the feature thread's (one batch at a time)
  std::unique_ptr<DecoderStep> step_;
  TdtGreedyDecoder decoder_;
  std::vector<float> feature_scratch_;  // feature thread
  std::vector<float> encoded_, projected_;
  int64_t encoder_calls_ = 0;
};

}  // namespace parakeet_trt
