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
// With workers > 1, that many threads each take the next batch (features, encoder call, decodes)
// and call the shared encoder engine concurrently. On CPU give them an engine with one intra-op
// thread and one worker per core: ONNX Runtime splits the ops of these short utterances poorly over
// threads, and concurrent single-threaded calls keep every core busy (docs/BENCH_BATCH_TRANSCRIBE.md).
//
// Results equal batch-1 transcription (OfflineRecognizer) token for token on the demo model's
// held-out files (tests/test_batch_transcribe.py); the encoder's outputs differ from batch 1 by float
// rounding of the batched kernels only.
//
// Threads: one transcribe() at a time per BatchTranscriber; the model and engine may be shared (the
// engine must allow concurrent run() calls when workers > 1, as the ONNX Runtime engine does).
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <memory>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"

namespace parakeet_trt {

struct BatchTranscribeOptions {
  static constexpr int32_t kMaxBatchSize = 256;
  static constexpr int32_t kMaxWorkers = 64;
  int32_t batch_size = 8;  // utterances per encoder call (1..kMaxBatchSize)
  int32_t workers = 1;     // threads taking batches, each calling the encoder engine (1..kMaxWorkers)

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
  int64_t encoder_calls() const { return encoder_calls_.load(); }  // batched encoder calls so far

 private:
  struct Batch;
  struct Worker;  // one worker's feature extractor, decoder and buffers
  void run_pipelined(Worker& worker, const std::vector<AudioSpan>& utterances, const std::vector<size_t>& order,
                     std::vector<BatchItem>& items);
  void run_workers(const std::vector<AudioSpan>& utterances, const std::vector<size_t>& order,
                   std::vector<BatchItem>& items);
  void fill(Worker& worker, Batch& batch, const std::vector<AudioSpan>& utterances, const std::vector<size_t>& order,
            size_t k);
  void prepare(Worker& worker, Batch& batch, const std::vector<AudioSpan>& utterances);
  void encode_and_decode(Worker& worker, Batch& batch, std::vector<BatchItem>& items);

  std::shared_ptr<const Model> model_;
  std::shared_ptr<Engine> encoder_;
  BatchTranscribeOptions options_;
  FeatureExtractor features_;  // validation and frame counts on the calling thread
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int64_t> encoder_calls_{0};
};

}  // namespace parakeet_trt
