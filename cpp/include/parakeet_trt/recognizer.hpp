// Offline recognition: features → encoder engine → native TDT decoding (greedy or beam search,
// DecodingOptions) → text, tokens, words, and the n-best list with beam search.
#pragma once

#include <memory>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/decoding.hpp"
#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/features.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

class EncoderRunner;

struct Transcript {
  std::string text;
  std::vector<TokenEmission> tokens;  // frames are encoder frames (frame_stride_s each)
  std::vector<Word> words;
  int64_t num_encoder_frames = 0;
  double audio_duration_s = 0.0;
  NBest nbest;  // beam search: up to DecodingOptions::nbest hypotheses, best first (text etc. = the
                // first's); greedy: empty
};

class OfflineRecognizer {
 public:
  OfflineRecognizer(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder);
  ~OfflineRecognizer();

  // samples: mono float32 at the model's sample rate (16 kHz). Throws InvalidAudio for empty
  // input or non-finite samples (naming the first bad index), EngineError / ContractViolation
  // when the encoder misbehaves. `decoding` picks greedy (default) or beam search on the same
  // encoder output; a bad option is std::invalid_argument naming it (checked before any work).
  Transcript transcribe(const float* samples, int64_t num_samples, const DecodingOptions& decoding = {});

  const Model& model() const { return *model_; }
  FeatureExtractor& feature_extractor() { return features_; }
  DecoderStep& decoder_step() { return *step_; }

 private:
  std::shared_ptr<const Model> model_;
  FeatureExtractor features_;
  std::unique_ptr<EncoderRunner> encoder_;
  std::unique_ptr<DecoderStep> step_;
  TdtGreedyDecoder decoder_;
  std::unique_ptr<BeamSearch> beam_;  // made on the first beam request, remade when its options change
  std::vector<float> feature_buffer_;
  std::vector<float> projected_;
};

// Throws InvalidAudio when num_samples <= 0 or a sample is NaN/Inf.
void validate_audio(const float* samples, int64_t num_samples);

}  // namespace parakeet_trt
