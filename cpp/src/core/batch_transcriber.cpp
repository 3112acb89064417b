#include "parakeet_trt/batch_transcriber.hpp"

#include <algorithm>
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

void BatchTranscribeOptions::validate() const {
  if (batch_size < 1 || batch_size > 256)
    throw Error(ErrorCode::kInvalidArgument,
                "BatchTranscribeOptions.batch_size must be in 1..256, got " + std::to_string(batch_size));
}

BatchTranscriber::BatchTranscriber(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                                   const BatchTranscribeOptions& options)
    : model_(std::move(model)),
      encoder_(std::move(encoder)),
      options_(options),
      features_(model_->meta().features),
      step_(std::make_unique<NativeDecoderStep>(model_->native_decoder_weights())),
      decoder_(model_->meta().decoding, *step_) {
  options_.validate();
  if (!encoder_) throw Error(ErrorCode::kInvalidArgument, "an encoder engine is required");
  const EngineContract& g = model_->contract().engine("encoder");
  g.input("audio_signal");
  g.input("length");
  g.output("outputs");
  g.output("encoded_lengths");
}

BatchTranscriber::~BatchTranscriber() = default;

void BatchTranscriber::prepare(Batch& batch, const std::vector<AudioSpan>& utterances) {
  const int64_t n_mels = model_->meta().features.n_mels;
  const float pad = model_->meta().features.pad_value;
  const int64_t count = static_cast<int64_t>(batch.items.size());
  batch.max_frames = 0;
  for (size_t index : batch.items)
    batch.max_frames = std::max(batch.max_frames, features_.num_frames(utterances[index].num_samples));
  batch.features.assign(static_cast<size_t>(count * n_mels * batch.max_frames), pad);
  batch.lengths.resize(static_cast<size_t>(count));
  for (int64_t b = 0; b < count; ++b) {
    const AudioSpan& audio = utterances[batch.items[static_cast<size_t>(b)]];
    const int64_t frames = features_.num_frames(audio.num_samples);
    feature_scratch_.resize(static_cast<size_t>(n_mels * frames));
    features_.compute(audio.samples, audio.num_samples, feature_scratch_.data());
    float* rows = batch.features.data() + b * n_mels * batch.max_frames;
    for (int64_t m = 0; m < n_mels; ++m)
      std::memcpy(rows + m * batch.max_frames, feature_scratch_.data() + m * frames,
                  static_cast<size_t>(frames) * sizeof(float));
    batch.lengths[static_cast<size_t>(b)] = features_.num_valid_frames(audio.num_samples);
  }
}

void BatchTranscriber::encode_and_decode(Batch& batch, std::vector<BatchItem>& items) {
  const ModelMeta& meta = model_->meta();
  const int64_t count = static_cast<int64_t>(batch.items.size());
  const int64_t n_mels = meta.features.n_mels, d_model = meta.encoder.d_model;
  const int64_t out_frames = meta.encoder.encoded_length(batch.max_frames);
  encoded_.resize(static_cast<size_t>(count * d_model * out_frames));
  std::vector<int64_t> encoded_lengths(static_cast<size_t>(count), -1);
  TensorView inputs[2] = {
      {"audio_signal", DType::kFloat32, 3, {count, n_mels, batch.max_frames}, batch.features.data()},
      {"length", DType::kInt64, 1, {count}, batch.lengths.data()},
  };
  TensorView outputs[2] = {
      {"outputs", DType::kFloat32, 3, {count, d_model, out_frames}, encoded_.data()},
      {"encoded_lengths", DType::kInt64, 1, {count}, encoded_lengths.data()},
  };
  run_encoder_engine(*encoder_, inputs, 2, outputs, 2);
  ++encoder_calls_;
  check_encoder_output_finite(*encoder_, encoded_.data(), encoded_.size());

  projected_.resize(static_cast<size_t>(out_frames * step_->joint_hidden()));
  for (int64_t b = 0; b < count; ++b) {
    const int64_t expected = meta.encoder.encoded_length(batch.lengths[static_cast<size_t>(b)]);
    // CONTRACT: encoded_lengths == calc_length(length), per utterance of the batch (encoder_runner.cpp).
    if (encoded_lengths[static_cast<size_t>(b)] != expected)
      throw ContractViolation("encoder.encoded_lengths[" + std::to_string(b) + "]", std::to_string(expected),
                              std::to_string(encoded_lengths[static_cast<size_t>(b)]));
    Transcript& result = items[batch.items[static_cast<size_t>(b)]].transcript;
    step_->project_encoder(encoded_.data() + b * d_model * out_frames, out_frames, projected_.data());
    DecoderCarry carry = decoder_.make_carry();
    decoder_.decode(projected_.data(), expected, carry, result.tokens);
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
  const size_t size = static_cast<size_t>(options_.batch_size);
  const size_t num_batches = (order.size() + size - 1) / size;
  auto fill = [&](Batch& batch, size_t k) {
    batch.items.assign(order.begin() + static_cast<std::ptrdiff_t>(k * size),
                       order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), (k + 1) * size)));
    try {
      prepare(batch, utterances);
    } catch (...) {
      batch.error = std::current_exception();
    }
  };
  Batch current, next;
  if (num_batches > 0) fill(current, 0);
  for (size_t k = 0; k < num_batches; ++k) {
    // The next batch's features are computed while this batch's encoder call and decodes run.
    std::thread feature_thread;
    if (k + 1 < num_batches) feature_thread = std::thread([&fill, &next, k] { fill(next, k + 1); });
    try {
      if (current.error) std::rethrow_exception(current.error);
      encode_and_decode(current, items);
    } catch (...) {
      for (size_t index : current.items) items[index].error = std::current_exception();
    }
    if (feature_thread.joinable()) feature_thread.join();
    std::swap(current, next);
    next.error = nullptr;
  }
  return items;
}

}  // namespace parakeet_trt
