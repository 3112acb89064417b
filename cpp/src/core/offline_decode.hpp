// The offline decode of one utterance on components a caller already owns (internal): the
// OfflineRecognizer's, or a streaming session's for a re-decode, so a re-decode costs no second
// recognizer (no second decoder step, feature extractor or encoder runner) and nothing until used.
#pragma once

#include <cstdint>
#include <vector>

#include "core/encoder_runner.hpp"
#include "parakeet_trt/recognizer.hpp"

namespace parakeet_trt {

// features -> encoder -> projection: fills `projected` with the encoder's frames projected for the
// joint and returns how many are valid (0 for audio shorter than one hop); sets
// result.audio_duration_s and result.num_encoder_frames. Validates the audio (InvalidAudio).
int64_t encode_offline(const Model& model, FeatureExtractor& features, EncoderRunner& encoder, DecoderStep& step,
                       const float* samples, int64_t num_samples, std::vector<float>& feature_buffer,
                       std::vector<float>& projected, Transcript& result);

// encode_offline -> TDT greedy -> text and words. Allocates (resizes the two
// buffers to the utterance). Throws as OfflineRecognizer::transcribe.
Transcript recognize_offline(const Model& model, FeatureExtractor& features, EncoderRunner& encoder, DecoderStep& step,
                              TdtGreedyDecoder& decoder, const float* samples, int64_t num_samples,
                              std::vector<float>& feature_buffer, std::vector<float>& projected);

}  // namespace parakeet_trt
