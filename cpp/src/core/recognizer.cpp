#include "parakeet_trt/recognizer.hpp"

#include <cmath>

#include "core/encoder_runner.hpp"
#include "core/offline_decode.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

// DECISION: samples beyond +-2^24 are invalid audio, not something to compute with.
// WHY: float audio is nominally in [-1, 1]; 2^24 still admits PCM of up to 24 bits passed unscaled,
// and keeps every later sum finite (|x| <= 2^24 with pre-emphasis and a 65536-point window squares
// to < 1e25, far below FLT_MAX), so a sample of 1e19 is "invalid audio" (exit 4) instead of an
// infinite feature that the encoder check reports as an engine failure. docs/RELIABILITY.md.
constexpr float kMaxAbsSample = 16777216.0f;

void validate_audio(const float* samples, int64_t num_samples) {
  if (num_samples <= 0 || samples == nullptr) throw InvalidAudio("audio is empty (0 samples)");
  for (int64_t i = 0; i < num_samples; ++i) {
    if (!std::isfinite(samples[i])) {
      throw InvalidAudio(std::string("audio sample ") + std::to_string(i) + " is " +
                         (std::isnan(samples[i]) ? "NaN" : "infinite") + "; samples must be finite");
    }
    if (std::fabs(samples[i]) > kMaxAbsSample) {
      throw InvalidAudio("audio sample " + std::to_string(i) + " is " + std::to_string(samples[i]) +
                         "; samples must lie within +-16777216 (2^24; float audio is nominally in [-1, 1])");
    }
  }
}

OfflineRecognizer::OfflineRecognizer(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder)
    : model_(std::move(model)),
      features_(model_->meta().features),
      encoder_(std::make_unique<EncoderRunner>(model_, std::move(encoder))),
      step_(std::make_unique<NativeDecoderStep>(model_->native_decoder_weights())),
      decoder_(model_->meta().decoding, *step_) {}

OfflineRecognizer::~OfflineRecognizer() = default;

int64_t encode_offline(const Model& model, FeatureExtractor& features, EncoderRunner& encoder, DecoderStep& step,
                       const float* samples, int64_t num_samples, std::vector<float>& feature_buffer,
                       std::vector<float>& projected, Transcript& result) {
  validate_audio(samples, num_samples);
  const ModelMeta& meta = model.meta();
  result.audio_duration_s = static_cast<double>(num_samples) / meta.features.sample_rate_hz;

  const int64_t num_frames = features.num_frames(num_samples);
  const int64_t num_valid = features.num_valid_frames(num_samples);
  if (num_valid == 0) return 0;  // shorter than one hop: NeMo's encoder sees length 0 and emits nothing
  feature_buffer.resize(static_cast<size_t>(meta.features.n_mels * num_frames));
  features.compute(samples, num_samples, feature_buffer.data());

  EncoderOutput encoded = encoder.run(feature_buffer.data(), num_frames, num_valid);
  projected.resize(static_cast<size_t>(encoded.num_frames_allocated * step.joint_hidden()));
  step.project_encoder(encoded.data, encoded.num_frames_allocated, projected.data());
  result.num_encoder_frames = encoded.num_valid_frames;
  return encoded.num_valid_frames;
}

Transcript recognize_offline(const Model& model, FeatureExtractor& features, EncoderRunner& encoder, DecoderStep& step,
                              TdtGreedyDecoder& decoder, const float* samples, int64_t num_samples,
                              std::vector<float>& feature_buffer, std::vector<float>& projected) {
  Transcript result;
  const int64_t num_valid =
      encode_offline(model, features, encoder, step, samples, num_samples, feature_buffer, projected, result);
  if (num_valid == 0) return result;
  DecoderCarry carry = decoder.make_carry();
  decoder.decode(projected.data(), num_valid, carry, result.tokens);
  result.text = model.vocabulary().detokenize(result.tokens);
  result.words = model.vocabulary().words(result.tokens, model.meta().encoder.frame_stride_s);
  return result;
}

Transcript OfflineRecognizer::transcribe(const float* samples, int64_t num_samples, const DecodingOptions& decoding) {
  decoding.validate();
  if (!decoding.is_beam()) {
    return recognize_offline(*model_, features_, *encoder_, *step_, decoder_, samples, num_samples, feature_buffer_,
                             projected_);
  }
  const DecodingOptions* current = beam_ ? &beam_->options() : nullptr;
  if (!current || current->beam_size != decoding.beam_size || current->nbest != decoding.nbest) {
    beam_ = std::make_unique<BeamSearch>(*model_, *step_, decoding);
  }
  Transcript result;
  const int64_t num_valid =
      encode_offline(*model_, features_, *encoder_, *step_, samples, num_samples, feature_buffer_, projected_, result);
  result.nbest = beam_->decode(projected_.data(), num_valid);  // one empty hypothesis when num_valid == 0
  const Hypothesis& best = result.nbest.front();
  result.text = best.text;
  result.tokens = best.tokens;
  result.words = best.words;
  return result;
}

}  // namespace parakeet_trt
