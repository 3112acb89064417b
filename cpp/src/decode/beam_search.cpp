#include <algorithm>
#include <stdexcept>
#include <string>

#include "parakeet_trt/decoding.hpp"
#include "core/option_range.hpp"

namespace parakeet_trt {
namespace {

TdtBeamConfig beam_config(const DecodingOptions& options) {
  options.validate();
  TdtBeamConfig config;  // NeMo's defaults for everything but the beam size
  config.beam_size = options.beam_size;
  return config;
}

}  // namespace

void DecodingOptions::validate() const {
  if (strategy != "greedy" && strategy != "beam") {
    throw std::invalid_argument("decoding option strategy must be 'greedy' or 'beam', got '" + strategy + "'");
  }
  check_option_range("decoding option beam_size", beam_size, 1, kMaxBeamSize);
  check_option_range("decoding option nbest", nbest, 1, kMaxNBest);
  if (!is_beam() && nbest != 1) {
    throw std::invalid_argument("decoding option nbest is " + std::to_string(nbest) +
                                ", but an n-best list needs strategy 'beam' (greedy decoding gives one hypothesis)");
  }
}

BeamSearch::BeamSearch(const Model& model, DecoderStep& step, const DecodingOptions& options)
    : model_(model), options_(options), decoder_(model.meta().decoding, beam_config(options), step) {}

NBest BeamSearch::decode(const float* projected, int64_t num_frames) {
  decoder_.decode(projected, num_frames, raw_);
  const Vocabulary& vocabulary = model_.vocabulary();
  const double frame_stride_s = model_.meta().encoder.frame_stride_s;
  const size_t count = std::min(raw_.size(), static_cast<size_t>(options_.nbest));
  NBest out(count);
  for (size_t i = 0; i < count; ++i) {
    const BeamHypothesis& raw = raw_[i];
    Hypothesis& h = out[i];
    h.score = raw.score;
    h.tokens.reserve(raw.tokens.size());
    for (const BeamToken& t : raw.tokens) h.tokens.push_back({t.token_id, t.frame, t.duration, t.token_logprob});
    h.text = vocabulary.detokenize(h.tokens);
    h.words = vocabulary.words(h.tokens, frame_stride_s);
    for (const WordConfidence& w : word_confidences(vocabulary, raw)) h.word_confidences.push_back(w.confidence);
  }
  return out;
}

NBest decode_beam(const Model& model, const float* projected, int64_t num_frames, const DecodingOptions& options) {
  NativeDecoderStep step(model.native_decoder_weights());
  BeamSearch search(model, step, options);
  return search.decode(projected, num_frames);
}

}  // namespace parakeet_trt
