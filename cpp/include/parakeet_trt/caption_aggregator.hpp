// The aggregator (issue 14): turns the lanes' hypotheses of the open segment (caption_lanes.hpp)
// into decisions for the transcript (TranscriptState::apply_decision): which words to commit, which
// to show as partial text, and when the segment is final. It runs on the live stream's bus thread.
//
// Strategies (AggregatorOptions.strategy):
//   v1  pass-through: one lane's steps go through the transcript's own commit policy (LiveStream runs
//       it without lanes or an aggregator: the allocation-free path).
//   v2  fast drives the display, the accurate lane commits (LocalAgreementAggregator): the partial
//       text is the fast lane's words after the committed ones; a word commits when the committing
//       lane's last `agreement_passes` passes agree on it and everything before it (local agreement)
//       and it ends at least commit_lag_ms behind that pass' live edge; at the segment's end the
//       committing lane's whole-segment pass commits everything after the committed words and the
//       segment becomes final.
//   v3  N-lane arbitration (RoverAggregator): each pass of the committing lane (the clock) combines
//       the newest hypothesis of every live lane by time-aligned word voting (ROVER-style: each word
//       of every lane votes for the slot of the reference lane's word it overlaps most, or opens a
//       slot of its own; a lane that covers a slot's time without a word there votes for deleting
//       it; a vote weighs lane weight x word confidence (beam lanes: min token probability; others 1));
//       the combined hypothesis is the partial text and commits by the same local agreement.
// Whatever the strategy: committed text is never revised; a word is committed only from a pass that
// decoded audio past it by commit_lag_ms (no speculative tail commits); corrections touch only the
// words after the committed ones (the revision window).
//
// Words after the commit point: a hypothesis' word is new when it starts at or after the end of the
// last committed word minus one frame, unless it is that same word re-decoded (same text, start within
// two frames): re-decodes shift times by a frame or two.
//
// Lane faults: a failed lane is reported once (LaneNotice "failed") and ignored after; a lane whose
// newest audio lags the freshest lane by more than stall_ms while it has delivered nothing for
// stall_ms of wall time (a slower lane that keeps delivering is not stalled), or that has not delivered its final
// when final_timeout_ms have passed since the segment ended, is reported once ("stalled") and the
// others carry the captions (the partial text comes from the freshest live lane; the final from
// the best pass available). If every lane failed, the stream fails. These deadlines apply to input
// that arrives in real time (set_realtime).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/caption_lanes.hpp"
#include "parakeet_trt/polish_guard.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

struct AggregatorOptions {
  std::string strategy = "v1";       // "v1" | "v2" | "v3" (captions_options(): "v2")
  int fast_lane = 0;                 // v2: the lane whose words are the partial text
  int commit_lane = -1;              // v2, v3: the lane whose passes commit (v3: the clock); -1: the last lane
  int agreement_passes = 2;          // consecutive passes that must agree on a word (1..8)
  int64_t commit_lag_ms = 900;       // a word commits once it ends this far behind its pass' live edge (0..10000)
  int64_t final_timeout_ms = 1500;   // a segment's end waits this long for the committing lane (100..60000)
  int64_t stall_ms = 1200;           // a lane this far behind the freshest lane is stalled (200..60000)
  // Throws std::invalid_argument naming the field; num_lanes checks the lane indices.
  void validate(int num_lanes) const;
};

// What the transcript should do now: append `commit` to the committed text, show `window` after it;
// with `endpoint` the segment is final (the transcript commits the window too and emits the final).
struct AggregatorDecision {
  int64_t segment = 0;
  std::vector<TokenEmission> commit;
  std::vector<TokenEmission> window;
  int64_t audio_end_sample = 0;
  bool endpoint = false;
  // endpoint: every whole-segment decode of the segment (each lane's final pass, its n-best entries;
  // the committing lane first), for the LLM lane's candidate windows (candidate_windows.hpp).
  // Sources: "lane:NAME", "beam:NAME:K" (K-th n-best entry, 2 = the runner-up); scores: log-probability
  // relative to the lane's best (its 1-best 0, n-best entries the gap in summed token log-probabilities).
  std::vector<CandidateAlternative> decodes;
};

struct LaneNotice {
  std::string lane;
  std::string kind;     // "failed" | "stalled"
  std::string message;
};

class CaptionAggregator {
 public:
  CaptionAggregator(std::shared_ptr<const Vocabulary> vocabulary, std::vector<LaneOptions> lanes,
                    AggregatorOptions options, int64_t frame_samples, int sample_rate_hz);
  virtual ~CaptionAggregator() = default;

  // The bus opened segment `segment` at stream sample `origin` (frame-aligned).
  void segment_started(int64_t segment, int64_t origin);
  // The bus ended the segment (VAD endpoint or end of stream) at `now_s` (any monotonic clock).
  void segment_ended(int64_t segment, double now_s, std::vector<AggregatorDecision>& out);
  // A lane's hypothesis arrived at now_s. Appends the decisions it causes.
  void on_hypothesis(const LaneHypothesis& h, double now_s, std::vector<AggregatorDecision>& out);
  // Deadlines (call often): a segment whose lanes are late is finalized from what they gave.
  void poll(double now_s, std::vector<AggregatorDecision>& out);
  // Whether audio arrives in real time (the default). Faster input (a file decoded as fast as it
  // goes) has no wall-clock deadlines (lanes are waited for, never reported stalled) and commits only
  // from whole-segment passes: which intermediate passes run depends on timing, the result must not.
  void set_realtime(bool realtime) { realtime_ = realtime; }
  bool realtime() const { return realtime_; }
  // Lane notices since the last call (each lane's failure or stall once).
  std::vector<LaneNotice> take_notices();

  int64_t open_segment() const { return segment_; }
  bool all_lanes_failed() const;
  // No segment is waiting for its final.
  bool idle() const { return !open_ || finalized_; }
  const AggregatorOptions& options() const { return options_; }

 protected:
  struct WordSpan {
    std::string text;
    size_t first = 0, count = 0;  // tokens [first, first + count) of the hypothesis
    int64_t start_frame = 0, end_frame = 0;
    double confidence = 1.0;
  };
  // The committing pass' tokens from the newest hypotheses (latest_[lane], nullptr-free for live lanes).
  virtual std::vector<TokenEmission> combine() const = 0;
  // The partial text's tokens (defaults to combine()).
  virtual std::vector<TokenEmission> partial() const { return combine(); }

  std::vector<WordSpan> words_of(const std::vector<TokenEmission>& tokens, const std::vector<float>& confidence) const;
  // The tokens of the words after the commit point.
  std::vector<TokenEmission> after_commit(const std::vector<TokenEmission>& tokens) const;
  const LaneHypothesis* latest(int lane) const;
  // The committing lane; when it failed or lags (stall_ms behind), the freshest live lane.
  int commit_lane() const;
  bool lagging(int lane) const;
  int freshest_lane() const;
  // Whose hypothesis the committing pass is: the committing lane, or at a segment's end without its
  // final, a lane that finished the segment, else the freshest live lane.
  int source_lane() const;

  std::shared_ptr<const Vocabulary> vocabulary_;
  std::vector<LaneOptions> lanes_;
  AggregatorOptions options_;
  int64_t frame_samples_;
  int sample_rate_hz_;
  std::vector<char> failed_;
  std::vector<LaneHypothesis> latest_;  // per lane, for segment_ (segment < 0: none yet)
  std::vector<char> final_seen_;        // per lane: its whole-segment pass (or a later segment) arrived
  bool open_ = false, ended_ = false;   // a segment is open; the bus ended it

 private:
  void commit_from_pass(double now_s, std::vector<AggregatorDecision>& out);
  void finalize(std::vector<AggregatorDecision>& out);
  void maybe_finalize(double now_s, std::vector<AggregatorDecision>& out);
  void notice(int lane, const std::string& kind, const std::string& message);
  void note_committed(const std::vector<TokenEmission>& tokens);
  // The segment's whole-segment decodes, `source` lane first (decision.decodes).
  std::vector<CandidateAlternative> segment_decodes(int source) const;

  int64_t segment_ = -1, origin_ = 0;
  bool finalized_ = false;
  double ended_at_s_ = 0.0;
  std::vector<char> stall_reported_, fail_reported_;
  std::vector<int64_t> heard_until_;  // per lane: the newest audio_end_sample of any of its hypotheses
  std::vector<double> heard_at_s_;    // per lane: when its last hypothesis arrived
  double now_s_ = 0.0;                // the newest clock reading seen
  bool realtime_ = true;
  std::vector<std::vector<std::string>> passes_;  // the last passes' words after the commit point
  // The last committed word of the open segment (start, end frames, text); end_frame = origin frame before any.
  int64_t committed_start_frame_ = -1, committed_end_frame_ = 0;
  std::string committed_word_;
  struct QueuedSegment {
    int64_t id = 0, origin = 0;
    bool ended = false;
    double ended_at_s = 0.0;
  };
  std::vector<QueuedSegment> queued_;  // segments the bus opened while this one waited for its final
  std::vector<LaneHypothesis> future_;  // hypotheses of later segments, in arrival order
  std::vector<LaneNotice> notices_;
};

// v2: the fast lane shows, the committing lane commits.
class LocalAgreementAggregator final : public CaptionAggregator {
 public:
  using CaptionAggregator::CaptionAggregator;

 protected:
  std::vector<TokenEmission> combine() const override;
  std::vector<TokenEmission> partial() const override;
};

// v3: time-aligned word voting over the live lanes.
class RoverAggregator final : public CaptionAggregator {
 public:
  using CaptionAggregator::CaptionAggregator;

 protected:
  std::vector<TokenEmission> combine() const override;
};

// v2 or v3 as options.strategy names (v1 has no aggregator object: std::invalid_argument).
std::unique_ptr<CaptionAggregator> make_aggregator(std::shared_ptr<const Vocabulary> vocabulary,
                                                   std::vector<LaneOptions> lanes, const AggregatorOptions& options,
                                                   int64_t frame_samples, int sample_rate_hz);

}  // namespace parakeet_trt
