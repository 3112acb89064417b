// Candidate windows for the LLM lane (docs/PATCH_PROTOCOL.md, "Candidate input"): where other decodes
// of a finalized segment (the other lanes' whole-segment passes, a beam lane's n-best) disagree with
// the words the transcript finalized, the time span of the disagreement and each decode's words there.
//
// Each decode is aligned to the heard words (word-level edit distance on normalize_word forms);
// runs of substituted, inserted or deleted words are the disagreements. Runs of different decodes that
// touch the same heard words (or the same gap between two) merge into one window, so windows never
// overlap. A window's span covers its heard words and its alternatives' words, clipped so that no
// neighbouring heard word's midpoint falls inside (a window replaces exactly the heard words whose
// midpoint it holds); an alternative whose words then stick out (20 ms tolerance) is left out, and so
// is one equal to the heard words or to an earlier alternative. The result always passes
// validate_polish_request.
#pragma once

#include <string>
#include <vector>

#include "parakeet_trt/polish_guard.hpp"

namespace parakeet_trt {

// heard: the final's words in order; decodes: whole-segment word sequences of the same audio (their
// source and score are copied to the alternatives they give), best first; scores are log-probabilities
// relative to their lane's best (caption_aggregator.hpp). At most max_alternatives alternatives per
// window (1..16); decodes scoring below -max_score_gap give none (on the joined held-out streams those
// more than 2 below never helped even an oracle chooser, while a real one went wrong on them:
// docs/POLISH_REPORT.md).
constexpr double kDefaultMaxScoreGap = 3.0;
std::vector<CandidateWindow> candidate_windows(const std::vector<GuardWord>& heard,
                                               const std::vector<CandidateAlternative>& decodes,
                                               int max_alternatives = 4, double max_score_gap = kDefaultMaxScoreGap);

// The windows as the protocol's JSON array (the final event's "candidates"; "[]" when none): what the
// C ABI hands out (ptrt_live_event.candidates_json).
std::string candidate_windows_json(const std::vector<CandidateWindow>& windows);

}  // namespace parakeet_trt
