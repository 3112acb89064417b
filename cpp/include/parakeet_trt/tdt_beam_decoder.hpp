// TDT beam search with an n-best list: NeMo 3.0.0's `BeamTDTInfer.default_beam_search`, batch 1, on
// the projected encoder frames and a DecoderStep (the same inputs as TdtGreedyDecoder::decode).
//
// What NeMo runs. `RNNTDecodingConfig(strategy="beam", beam=BeamRNNTInferConfig(beam_size=N))` on a
// TDT model builds `BeamTDTInfer(search_type='default', score_norm=beam.score_norm (default True),
// return_best_hypothesis=beam.return_best_hypothesis (default True; False gives the n-best list),
// softmax_temperature=beam.softmax_temperature (default 1.0))` (nemo/collections/asr/parts/submodules/
// rnnt_decoding.py:530-540). It gets no max_symbols: the TDT beam has no per-frame symbol limit
// (tdt_beam_decoding.py:235 only warns when one is passed). All references below are to
// nemo/collections/asr/parts/submodules/tdt_beam_decoding.py unless named.
//
// The algorithm (default_beam_search, :346-475), V = vocab_size (tokens without blank), D = durations:
//   beam = min(beam_size, V); beam_k = min(beam, V - 1); dbeam_k = min(beam, |D|)           (:365-367)
//   start: one hypothesis, score 0, sequence [blank] (SOS), last_frame 0                      (:375)
//   for t in 0 .. T-1:                                                                          (:380)
//     hyps = kept hypotheses with last_frame == t (in list order); kept = those with last_frame > t
//     while hyps is not empty:
//       max_hyp = the FIRST hypothesis of maximal score in hyps; remove it                     (:387)
//       g = prediction net after the whole sequence (RNNTDecoder.score_hypothesis, rnnt.py:897: the
//           LSTM state before the last token, fed the last token; the SOS sequence feeds zeros from
//           a zero state; cached by sequence, which only saves work)
//       z = joint(F[t], g) / softmax_temperature
//       logp = log_softmax(z[0..V]) (tokens and blank); dlogp = log_softmax(z[V+1..])         (:396-397)
//       top tokens: topk(logp[0..V-1], beam_k) (blank excluded); top durations: topk(dlogp, dbeam_k)
//       pair (i, j) scores dlogp_top[i] + logp_top[j] (float32), flattened i-major; topk(pairs, beam_k)
//       for each chosen pair, best first (:410-431):
//         new hypothesis: sequence + [token], score = float32(max_hyp.score + pair score),
//         last_frame = t + duration; NeMo's timestamp for it is t + duration (TokenEmission-style
//         frame here: t, the frame it was emitted at, with its duration);
//         duration 0 -> appended to hyps (same frame), else appended to kept
//       for each top duration d in topk order (:434-451), a blank hypothesis: same sequence,
//         score = float32(float32(max_hyp.score + logp[blank]) + dlogp[d]), last_frame = t + D[d];
//         a duration-0 entry is skipped, unless it is the only top duration (dbeam_k == 1): then
//         the smallest non-zero duration is used instead (with its own dlogp); appended to kept
//       merge_duplicate_hypotheses(kept) (:693): stable sort by score, descending; hypotheses with
//         the same (sequence, last_frame) merge into the first (highest) one, whose score becomes
//         float32 logaddexp of the two (its tokens, frames and state stay); first-occurrence order
//       if hyps is not empty (:459-470): hyps_max = max score in hyps; best = kept hypotheses with
//         score > hyps_max, stable-sorted ASCENDING; if |best| >= beam: kept = best (not truncated),
//         and the frame ends (the rest of hyps is dropped)
//       else (:471-474): kept = the beam best of kept (stable sort descending, truncate)
//   n-best = sort_nbest(kept) (:812): stable sort descending by score / (tokens + 1) with score_norm
//     (the +1 is the SOS blank still in y_sequence), by score without; ALL kept hypotheses are
//     returned (NBestHypotheses; the list may be longer than beam after a break at the last frame).
//     The reported score is the sum itself: score_norm orders, it does not rescale.
//   pack_hypotheses (rnnt_beam_decoding.py:64) strips the SOS from the sequence.
//
// Beam size 1 (NeMo: "defaults to stateful greedy search", :201) compares the best non-blank token
// with blank, each paired with the best duration, so it equals TdtGreedyDecoder (label looping)
// whenever the best duration is never 0 (cpp/tests/test_tdt_beam_decoder.cpp checks 40 random
// models). Where duration 0 wins, the token pays log p(d=0) but blank the smallest non-zero
// duration's log-prob, and the choice may differ from greedy's plain argmax; there is no
// max_symbols guard either.
//
// Where this differs from NeMo, all in cases NeMo leaves unspecified or cannot finish:
//  - Exact ties in topk: torch's CPU topk orders equal values in an unspecified way; here the lower
//    index wins. (A tie in max / sort keeps list order, as Python's max and stable sorted do.)
//  - max_expansions_per_frame (below, default 100): NeMo's frame loop has no bound; a model whose
//    zero-duration tokens (nearly) never lose score expands one frame for a very long time, or
//    forever. Past the bound the frame ends (the rest of hyps is dropped, kept stays as the last
//    expansion left it) and expansion_bound_reached() says so. Measured peaks: the demo model needs
//    at most 7 expansions per frame at beam 4 and 13 at beam 8 (30 held-out utterances); the tiny
//    random-weight model needs 817 at beam 1 on 1 s of noise (NeMo takes 32 s there) and more at
//    larger beams.
//  - log_softmax is computed in double and rounded to float (torch: float); the joint is the
//    DecoderStep's. Measured against NeMo (tests/test_beam_search.py, same encoder output): every
//    n-best identical in ids and timestamps; scores within 7.6e-6 on the demo model (10 held-out
//    utterances, beams 1, 2, 4, 8) and 9.2e-5 on the tiny random model, whose shaped joint (logits
//    to +-38) already differs from torch by up to 8e-5 per logit (float summation order).
//
// Per-token confidence: the probability of the emitted token under the token distribution
// (exp of logp[token], blank included in the softmax, duration excluded), i.e. NeMo's `max_prob`
// confidence method (asr_confidence_utils.py, ConfidenceMethodConfig name="max_prob",
// alpha = 1, linear) evaluated at the chosen token instead of the argmax (they coincide where the
// beam picks the argmax). Per-word confidence: the MIN over the word's tokens, NeMo's default
// word aggregation (ConfidenceConfig.aggregation = "min"). Words as Vocabulary::words splits them.
// (NeMo itself computes no confidence for strategy "beam": rnnt_decoding.py:345-351 refuses it; its
// default method, Tsallis entropy, describes the distribution rather than the chosen token.)
//
// Allocation: decode() allocates while its internal pools grow (predictor states: at most the
// number of hypotheses alive in one frame plus that frame's expansions; token nodes: one per token
// expansion over the utterance, 40 bytes each; hypothesis lists) and for the returned n-best
// vectors. A second decode() of a similar utterance reuses the pools: no allocation per token
// once they are warm, except node-arena growth on a longer utterance.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

struct TdtBeamConfig {
  int beam_size = 4;                 // >= 1 (NeMo BeamRNNTInferConfig.beam_size)
  bool score_norm = true;            // n-best order by score / (tokens + 1) (NeMo default True)
  float softmax_temperature = 1.0f;  // > 0: logits are divided by it (NeMo default 1.0)
  int max_expansions_per_frame = 100;  // > 0: bound on expansions (joint calls) at one frame (NeMo: none)

  // Throws std::invalid_argument naming the field, the expected and the actual value.
  void validate() const;
};

// One token of a hypothesis.
struct BeamToken {
  int token_id;            // in [0, vocab_size)
  int64_t frame;           // encoder frame it was emitted at (NeMo's beam timestamp is frame + duration)
  int duration;            // its duration in frames
  float token_logprob;     // log_softmax over tokens + blank, at the emitted token
  float duration_logprob;  // log_softmax over the durations, at its duration
};

struct BeamHypothesis {
  std::vector<BeamToken> tokens;
  float score = 0.0f;       // NeMo's Hypothesis.score: the float32 sum of the path's log-probs
                            // (tokens, their durations, blanks and theirs; merged paths logaddexp'd)
  double sort_key = 0.0;    // what the n-best is sorted by: score / (tokens + 1) with score_norm, else score
  int64_t last_frame = 0;   // NeMo's last_frame: where the hypothesis would continue (>= num_frames)
};

struct WordConfidence {
  std::string word;
  double confidence;  // min over the word's tokens of exp(token_logprob)
  size_t first_token, num_tokens;
};

// Per-word confidence of a hypothesis (definition above); words as Vocabulary::words splits them.
std::vector<WordConfidence> word_confidences(const Vocabulary& vocabulary, const BeamHypothesis& hypothesis);

// Decodes one utterance at a time with a DecoderStep it borrows. Not thread-safe (it keeps pools).
class TdtBeamDecoder {
 public:
  // Validates both configs, that step.num_outputs() == vocab_size + 1 + durations.size() and that
  // some duration is > 0 (std::invalid_argument otherwise). `step` must outlive the decoder.
  TdtBeamDecoder(TdtDecodingConfig decoding, TdtBeamConfig beam, DecoderStep& step);

  const TdtDecodingConfig& decoding() const { return decoding_; }
  const TdtBeamConfig& beam() const { return beam_; }
  int joint_hidden() const { return joint_hidden_; }

  // Decodes projected encoder frames [0, num_frames) (from DecoderStep::project_encoder, rows of
  // joint_hidden() floats) and replaces `nbest` with the n-best list, best first (NeMo's order).
  // num_frames == 0 gives one empty hypothesis of score 0 (as NeMo). Throws std::invalid_argument
  // for num_frames < 0 or a null `projected` with num_frames > 0.
  void decode(const float* projected, int64_t num_frames, std::vector<BeamHypothesis>& nbest);

  // Of the last decode(): the most expansions (joint evaluations) one frame needed, and whether
  // max_expansions_per_frame cut a frame short (then the result may differ from NeMo's).
  int peak_expansions_per_frame() const { return peak_expansions_; }
  bool expansion_bound_reached() const { return bound_reached_; }

 private:
  struct Node {  // one token expansion; hypotheses share prefixes through `parent`
    int parent;
    int token;
    int64_t frame;
    int duration;
    float token_logprob, duration_logprob;
  };
  struct Hyp {
    float score;
    int64_t last_frame;
    int node;         // last token's node, -1 for the SOS-only hypothesis
    int length;       // tokens
    uint64_t hash;    // of the token sequence
    int state_in;     // pool slot: prediction-net state before the last token (NeMo dec_state)
    int state_out;    // pool slot: after the last token (score_hypothesis' result), -1 = not yet
  };

  int new_state_slot();
  void collect_states();
  bool same_sequence(const Hyp& a, const Hyp& b) const;
  void expand(const Hyp& max_hyp, const float* frame, int64_t t);
  void merge_kept();
  void top_k(const float* values, int count, int k, int* indices) const;

  TdtDecodingConfig decoding_;
  TdtBeamConfig beam_;
  DecoderStep& step_;
  int joint_hidden_;
  int zero_duration_index_ = -1;  // index of duration 0, -1 if none
  int min_nonzero_duration_index_ = 0;
  int peak_expansions_ = 0;
  bool bound_reached_ = false;

  std::vector<PredictorState> states_;  // pool; slot 0 is the zero state
  std::vector<char> state_live_;
  std::vector<int> free_states_;
  std::vector<Node> nodes_;
  std::vector<Hyp> hyps_, kept_, scratch_;
  std::vector<float> logits_, logp_, dlogp_, pair_scores_;
  std::vector<int> top_tokens_, top_durations_, top_pairs_, order_;
};

}  // namespace parakeet_trt
