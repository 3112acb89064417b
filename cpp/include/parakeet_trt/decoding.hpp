// The decoding choice of offline recognition (greedy or beam search), its n-best result, and beam
// search on projected encoder frames as one call: what OfflineRecognizer, the C ABI, Python and any
// lane that re-decodes audio use. The search itself is TdtBeamDecoder (tdt_beam_decoder.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/tdt_beam_decoder.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

// Every decoding option, defined here once (Python reads the defaults through option_defaults()).
struct DecodingOptions {
  // DECISION: beam_size and nbest are bounded at 64.
  // WHY: each expansion of a frame costs one joint call per hypothesis alive and the pools grow with
  // the beam; past beam 4 the demo model's WER does not improve (docs/BEAM_SEARCH.md: beam 4 10.46%,
  // beam 8 10.82%, greedy 11.82%), so 64 leaves room to experiment at bounded cost. NeMo sets no bound.
  static constexpr int kMaxBeamSize = 64;
  static constexpr int kMaxNBest = 64;

  // "greedy": TDT greedy (NeMo's label looping, TdtGreedyDecoder); "beam": NeMo's TDT beam search
  // (strategy "beam", search_type "default", TdtBeamDecoder), the best hypothesis is the transcript.
  std::string strategy = "greedy";
  int beam_size = 4;  // beam: [1, 64]; NeMo BeamRNNTInferConfig.beam_size's default (4)
  int nbest = 1;      // beam: how many hypotheses the result lists, best first, [1, 64]; greedy: 1

  bool is_beam() const { return strategy == "beam"; }
  // Throws std::invalid_argument naming the field, its allowed values and the value given.
  void validate() const;
};

// One entry of an n-best list, best first.
struct Hypothesis {
  std::string text;
  std::vector<TokenEmission> tokens;     // frame, duration; score = the token's log-probability
  std::vector<Word> words;               // as Vocabulary::words splits them (start_s, end_s)
  std::vector<double> word_confidences;  // one per word: min over its tokens of exp(log-probability)
  float score = 0.0f;                    // NeMo's Hypothesis.score: the path's summed log-probability
};

using NBest = std::vector<Hypothesis>;

// Beam search with the n-best conversion, on a model and a DecoderStep it borrows (both must
// outlive it). Not thread-safe: one per thread or lane; it keeps the search's pools warm.
class BeamSearch {
 public:
  // options.validate() (std::invalid_argument) and TdtBeamDecoder's own checks.
  BeamSearch(const Model& model, DecoderStep& step, const DecodingOptions& options);

  // Projected encoder frames [0, num_frames) (DecoderStep::project_encoder rows) -> the n-best
  // list, at most options.nbest entries, best first (NeMo's order). num_frames == 0: one empty
  // hypothesis of score 0. Allocates the result.
  NBest decode(const float* projected, int64_t num_frames);

  const DecodingOptions& options() const { return options_; }
  // Of the last decode(): whether the per-frame expansion bound cut the search (see tdt_beam_decoder.hpp).
  bool expansion_bound_reached() const { return decoder_.expansion_bound_reached(); }

 private:
  const Model& model_;
  DecodingOptions options_;
  TdtBeamDecoder decoder_;
  std::vector<BeamHypothesis> raw_;
};

// One call for a caller without a decoder step of its own (a re-decode lane): makes a
// NativeDecoderStep on the model's shared weights and a BeamSearch, decodes, and drops both.
// `projected` as BeamSearch::decode takes it (any DecoderStep of this model projects the same).
// Thread-safe (it shares only the immutable model). Allocates per call (states and pools); keep a
// BeamSearch to decode many times. Throws std::invalid_argument for bad options.
NBest decode_beam(const Model& model, const float* projected, int64_t num_frames, const DecodingOptions& options);

}  // namespace parakeet_trt
