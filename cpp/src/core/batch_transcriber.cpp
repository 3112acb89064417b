#include "parakeet_trt/batch_transcriber.hpp"

#include <algorithm>
#include <atomic>
#include <functional>
#include <cstring>
#include <numeric>
#include <thread>

#include "core/encoder_runner.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

struct BatchTranscriber::Batch {
  std::vector<size_t> items;       // utterance indices, shortest first
  int64_t max_frames = 0;          // T_max: feature frames of the longest
  std::vector<float> features;     // [B][n_mels][T_max], pad value past each utterance's frames
  std::vector<int64_t> lengths;    // valid feature frames per utterance
  std::exception_ptr error;        // the feature thread's failure
};

struct BatchTranscriber::Worker {
  explicit Worker(const Model& model)
      : features(model.meta().features),
        step(std::make_unique<NativeDecoderStep>(model.native_decoder_weights())),
        decoder(model.meta().decoding, *step) {}
  FeatureExtractor features;            // prepare(): the feature thread's when pipelined
  std::vector<float> feature_scratch;   // prepare()
  std::unique_ptr<DecoderStep> step;    // encode_and_decode() from here on
  TdtGreedyDecoder decoder;
  std::vector<float> encoded, projected;
};

void BatchTranscribeOptions::validate() const {
  if (batch_size < 1 || batch_size > kMaxBatchSize)
    throw Error(ErrorCode::kInvalidArgument, "BatchTranscribeOptions.batch_size must be in 1.." +
                                                 std::to_string(kMaxBatchSize) + ", got " + std::to_string(batch_size));
  if (workers < 1 || workers > kMaxWorkers)
    throw Error(ErrorCode::kInvalidArgument, "BatchTranscribeOptions.workers must be in 1.." +
                                                 std::to_string(kMaxWorkers) + ", got " + std::to_string(workers));
}

BatchTranscriber::BatchTranscriber(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                                   const BatchTranscribeOptions& options)
    : model_(std::move(model)), encoder_(std::move(encoder)), options_(options), features_(model_->meta().features) {
  options_.validate();
  if (!encoder_) throw Error(ErrorCode::kInvalidArgument, "an encoder engine is required");
  for (int32_t w = 0; w < options_.workers; ++w) workers_.push_back(std::make_unique<Worker>(*model_));
  const EngineContract& g = model_->contract().engine("encoder");
  g.input("audio_signal");
  g.input("length");
  g.output("outputs");
  g.output("encoded_lengths");
}

BatchTranscriber::~BatchTranscriber() = default;

void BatchTranscriber::prepare(Worker& worker, Batch& batch, const std::vector<AudioSpan>& utterances) {
  const int64_t n_mels = model_->meta().features.n_mels;
  const float pad = model_->meta().features.pad_value;
  const int64_t count = static_cast<int64_t>(batch.items.size());
  batch.max_frames = 0;
  for (size_t index : batch.items)
    batch.max_frames = std::max(batch.max_frames, worker.features.num_frames(utterances[index].num_samples));
  batch.features.assign(static_cast<size_t>(count * n_mels * batch.max_frames), pad);
  batch.lengths.resize(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    const AudioSpan& audio = utterances[batch.items[static_cast<size_t>(b)]];
    const int64_t frames = worker.features.num_frames(audio.num_samples);
    worker.feature_scratch.resize(static_cast<size_t>(n_mels * frames));
    worker.features.compute(audio.samples, audio.num_samples, worker.feature_scratch.data());
    float* rows = batch.features.data() + b * n_mels * batch.max_frames;
    for (int64_t m = 0; m < n_mels; ++m)
      std::memcpy(rows + m * batch.max_frames, worker.feature_scratch.data() + m * frames,
                  static_cast<size_t>(frames) * sizeof(float));
    batch.lengths[static_cast<size_t>(b)] = worker.features.num_valid_frames(audio.num_samples);
  }
}

void BatchTranscriber::encode_and_decode(Worker& worker, Batch& batch, std::vector<BatchItem>& items) {
  const ModelMeta& meta = model_->meta();
  const int64_t count = static_cast<int64_t>(batch.items.size());
  const int64_t n_mels = meta.features.n_mels, d_model = meta.encoder.d_model;
  const int64_t out_frames = meta.encoder.encoded_length(batch.max_frames);
  std::vector<float>& encoded = worker.encoded;
  encoded.resize(static_cast<size_t>(count * d_model * out_frames));
  std::vector<int64_t> encoded_lengths(static_cast<size_t>(count), -1);
  TensorView inputs[2] = {
      {"audio_signal", DType::kFloat32, 3, {count, n_mels, batch.max_frames}, batch.features.data()},
      {"length", DType::kInt64, 1, {count}, batch.lengths.data()},
  };
  TensorView outputs[2] = {
      {"outputs", DType::kFloat32, 3, {count, d_model, out_frames}, encoded.data()},
      {"encoded_lengths", DType::kInt64, 1, {count}, encoded_lengths.data()},
  };
  run_encoder_engine(*encoder_, inputs, 2, outputs, 2);
  ++encoder_calls_;
  check_encoder_output_finite(*encoder_, encoded.data(), encoded.size());

  worker.projected.resize(static_cast<size_t>(out_frames * worker.step->joint_hidden()));
  for (int64_t b = 0; b < count; ++b) {
    const int64_t expected = meta.encoder.encoded_length(batch.lengths[static_cast<size_t>(b)]);
    // CONTRACT: encoded_lengths == calc_length(length), per utterance of the batch (encoder_runner.cpp).
    if (encoded_lengths[static_cast<size_t>(b)] != expected)
      throw ContractViolation("encoder.encoded_lengths[" + std::to_string(b) + "]", std::to_string(expected),
                              std::to_string(encoded_lengths[static_cast<size_t>(b)]));
    Transcript& result = items[batch.items[static_cast<size_t>(b)]].transcript;
    worker.step->project_encoder(encoded.data() + b * d_model * out_frames, out_frames, worker.projected.data());
    DecoderCarry carry = worker.decoder.make_carry();
    worker.decoder.decode(worker.projected.data(), expected, carry, result.tokens);
    result.num_encoder_frames = expected;
    result.text = model_->vocabulary().detokenize(result.tokens);
    result.words = model_->vocabulary().words(result.tokens, meta.encoder.frame_stride_s);
  }
}

std::vector<BatchItem> BatchTranscriber::transcribe(const std::vector<AudioSpan>& utterances) {
  const ModelMeta& meta = model_->meta();
  std::vector<BatchItem> items(utterances.size());
  std::vector<size_t> order;
  for (size_t i = 0; i < utterances.size(); ++i) {
    const AudioSpan& audio = utterances[i];
    items[i].transcript.audio_duration_s = static_cast<double>(audio.num_samples) / meta.features.sample_rate_hz;
    try {
      validate_audio(audio.samples, audio.num_samples);
      check_encoder_frames_fit(meta, meta.encoder.encoded_length(features_.num_frames(audio.num_samples)));
    } catch (...) {
      items[i].error = std::current_exception();
      continue;
    }
    // Shorter than one hop: the encoder sees length 0 and emits nothing (as OfflineRecognizer).
    if (features_.num_valid_frames(audio.num_samples) > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&utterances](size_t a, size_t b) {
    return utterances[a].num_samples < utterances[b].num_samples;
  });
  if (!order.empty()) {
    if (workers_.size() == 1)
      run_pipelined(*workers_.front(), utterances, order, items);
    else
      run_workers(utterances, order, items);
  }
  return items;
}

void BatchTranscriber::fill(Worker& worker, Batch& batch, const std::vector<AudioSpan>& utterances,
                            const std::vector<size_t>& order, size_t k) {
  const size_t size = static_cast<size_t>(options_.batch_size);
  batch.error = nullptr;
  try {  // never throws: a failure (allocation included) becomes the batch's error
    batch.items.assign(order.begin() + static_cast<std::ptrdiff_t>(k * size),
                       order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), (k + 1) * size)));
    prepare(worker, batch, utterances);
  } catch (...) {
    batch.error = std::current_exception();
  }
}

namespace {
// Runs batch's encoder call and decodes, or records its error (or the feature thread's) on its items.
template <typename EncodeAndDecode>
void run_batch_or_record(const std::exception_ptr& feature_error, const std::vector<size_t>& batch_items,
                         std::vector<BatchItem>& items, EncodeAndDecode&& encode_and_decode) {
  try {
    if (feature_error) std::rethrow_exception(feature_error);
    encode_and_decode();
  } catch (...) {
    for (size_t index : batch_items) items[index].error = std::current_exception();
  }
}
}  // namespace

void BatchTranscriber::run_pipelined(Worker& worker, const std::vector<AudioSpan>& utterances,
                                     const std::vector<size_t>& order, std::vector<BatchItem>& items) {
  const size_t size = static_cast<size_t>(options_.batch_size);
  const size_t num_batches = (order.size() + size - 1) / size;
  Batch current, next;
  fill(worker, current, utterances, order, 0);
  for (size_t k = 0; k < num_batches; ++k) {
    // The next batch's features are computed while this batch's encoder call and decodes run (the
    // feature thread touches only the worker's extractor and scratch, this thread only the rest).
    std::thread feature_thread;
    bool fill_here = false;
    if (k + 1 < num_batches) {
      try {
        feature_thread = std::thread([&, k] { fill(worker, next, utterances, order, k + 1); });
      } catch (...) {  // no thread to be had: the features are computed after the encoder call instead
        fill_here = true;
      }
    }
    run_batch_or_record(current.error, current.items, items, [&] { encode_and_decode(worker, current, items); });
    if (feature_thread.joinable()) feature_thread.join();
    if (fill_here) fill(worker, next, utterances, order, k + 1);
    std::swap(current, next);
  }
}

void BatchTranscriber::run_workers(const std::vector<AudioSpan>& utterances, const std::vector<size_t>& order,
                                   std::vector<BatchItem>& items) {
  const size_t size = static_cast<size_t>(options_.batch_size);
  const size_t num_batches = (order.size() + size - 1) / size;
  std::atomic<size_t> next_batch{0};
  auto work = [&](Worker& worker) {  // never throws (fill and run_batch_or_record record every failure)
    Batch batch;
    for (size_t k = next_batch.fetch_add(1); k < num_batches; k = next_batch.fetch_add(1)) {
      fill(worker, batch, utterances, order, k);
      // Each batch writes only its own items' slots.
      run_batch_or_record(batch.error, batch.items, items, [&] { encode_and_decode(worker, batch, items); });
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(workers_.size() - 1);  // before any thread starts: nothing to join if this throws
  for (size_t w = 1; w < workers_.size(); ++w) {
    try {
      threads.emplace_back(work, std::ref(*workers_[w]));
    } catch (...) {  // no more threads: those running (and this one) take every batch
      break;
    }
  }
  work(*workers_.front());
  for (std::thread& t : threads) t.join();
}

}  // namespace parakeet_trt
