// Transcript state for live captions: a committed prefix that never changes and a partial suffix
// (the revision window) that later audio may revise, turned into patches (docs/PATCH_PROTOCOL.md).
//
// Input: the engine's hypothesis after each update, either as a step (tokens the engine itself
// will never revise, appended, plus its speculative tail: what BufferedStreamingSession produces)
// or as a whole hypothesis (any engine that may revise anything). The state aligns the hypothesis
// with its committed tokens, keeps the rest as the window, and commits from the window's front:
//
//   a token is ready when it has been unchanged (with everything before it) for `stable_updates`
//   consecutive updates, or when it ends more than `max_lag_ms` behind the live edge (the stream
//   time of the last audio sample the update reflects); the ready prefix is committed; then, when
//   the window still holds more than `max_window_tokens`, the oldest tokens are committed too.
//   With `commit_whole_words`, a commit ends only where the next token opens a word, so committed
//   text never ends inside a word (and never inside a multi-byte character).
//   At an endpoint (a blank run, i.e. no token, for `endpoint_blank_ms` before the live edge, and/or
//   VAD silence for `endpoint_vad_ms`) or at finish(), the whole window is committed and the
//   segment since the previous endpoint becomes a `final` event.
//
// When the engine's hypothesis disagrees with what is already committed (a commit taken from a
// speculative tail, e.g. at an endpoint, that the engine later decoded differently), committed text
// stays as it is and the window becomes the hypothesis' tokens after the last committed token's
// frame (time alignment); such updates are counted (alignment_conflicts()). In step mode the state
// re-anchors on the stable tokens, so one disagreement costs one conflict.
//
// Texts are UTF-8; character counts and offsets (committed_len, replace_from) are Unicode code
// points. Patches use the token-level longest common prefix of the old and the new window (never
// below the previous committed length), so a patch usually rewrites only the tail.
//
// Not thread-safe: one thread drives a state at a time. It allocates (events carry strings).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

struct TranscriptOptions {
  int stable_updates = 2;           // K: ready after this many updates unchanged (0: rule off)
  int64_t max_lag_ms = 1200;        // W: ready when ending this far behind the live edge (0: rule off)
  int max_window_tokens = 32;       // N: commit the oldest beyond this many window tokens (0: rule off)
  int64_t endpoint_blank_ms = 800;  // endpoint after this long without a token at the live edge (0: off)
  int64_t endpoint_vad_ms = 0;      // endpoint after this much VAD silence (0: off)
  bool endpoint_require_both = false;  // with both endpoint rules on: require both (else either)
  bool commit_whole_words = true;

  // Throws std::invalid_argument naming the field and the rule it breaks.
  void validate() const;
};

enum class TranscriptEventType : int { kPatch = 1, kFinal = 2, kSnapshot = 3 };

struct TranscriptWord {
  std::string text;
  double start_s = 0.0;
  double end_s = 0.0;
  bool committed = false;
};

// One protocol event (docs/PATCH_PROTOCOL.md). Fields a type does not use are zero / empty.
struct TranscriptEvent {
  TranscriptEventType type = TranscriptEventType::kPatch;
  int64_t seq = 0;             // strictly increasing per state (a snapshot repeats the last seq)
  int64_t committed_len = 0;   // patch, snapshot: committed characters after the event; never decreases
  int64_t replace_from = 0;    // patch: character offset where `text` replaces the displayed text
  std::string text;            // patch: displayed text from replace_from; final: the segment; snapshot: all
  double audio_end_s = 0.0;    // stream time of the last audio sample the event reflects
  int64_t segment = 0;         // final: segment index; snapshot: index of the next final
  double start_s = 0.0;        // final: first token's start
  double end_s = 0.0;          // final: last token's end
  // patch: the words after the previous committed_len (newly committed and partial ones);
  // final: the segment's words; snapshot: every word.
  std::vector<TranscriptWord> words;
};

class TranscriptState {
 public:
  // frame_stride_s: seconds per encoder frame (token times = frame * stride). Validates options.
  TranscriptState(Vocabulary vocabulary, double frame_stride_s, TranscriptOptions options = {});
  // Shares the vocabulary (e.g. a model's, through shared_ptr's aliasing constructor): no copy per stream.
  TranscriptState(std::shared_ptr<const Vocabulary> vocabulary, double frame_stride_s, TranscriptOptions options = {});

  // One engine step: `stable` tokens are appended to the engine's never-revised hypothesis, `tail`
  // replaces its speculative tail. audio_end_s: stream time of the last sample the step consumed.
  // vad_silence_ms: trailing VAD silence at audio_end_s (< 0: unknown). Returns this update's
  // events (a patch when the display or the committed length changed, then a final at an
  // endpoint), valid until the next call. Throws Error(kState) after finish(), InvalidArgument for a
  // token id outside the vocabulary or a live edge that goes back in time.
  const std::vector<TranscriptEvent>& apply_step(const TokenEmission* stable, int64_t num_stable,
                                                 const TokenEmission* tail, int64_t num_tail, double audio_end_s,
                                                 double vad_silence_ms = -1.0);
  // The whole hypothesis at once (replaces everything the engine said before).
  const std::vector<TranscriptEvent>& apply_hypothesis(const TokenEmission* tokens, int64_t num_tokens,
                                                       double audio_end_s, double vad_silence_ms = -1.0);
  // An aggregator's decision (caption_aggregator.hpp), which applies its own commit rule: `commit`
  // is appended to the committed text, `window` becomes the partial text; with `endpoint` the window
  // is committed too and the segment becomes a final. The transcript's own rules (K, W, N,
  // endpoints) are not applied. A state is driven either by decisions or by steps/hypotheses.
  const std::vector<TranscriptEvent>& apply_decision(const TokenEmission* commit, int64_t num_commit,
                                                     const TokenEmission* window, int64_t num_window,
                                                     double audio_end_s, bool endpoint);
  // Caller-detected endpoint (e.g. VAD silence between engine steps): commits the window, emits the final.
  const std::vector<TranscriptEvent>& endpoint(double audio_end_s);
  // End of input: everything is committed and the last segment becomes a final. Further calls throw.
  const std::vector<TranscriptEvent>& finish(double audio_end_s);

  // A snapshot of the state as of the last event (for a client that resyncs).
  TranscriptEvent snapshot() const;

  const std::string& committed_text() const { return committed_text_; }
  const std::string& partial_text() const { return partial_text_; }
  std::string display_text() const { return committed_text_ + partial_text_; }
  int64_t committed_chars() const { return committed_chars_; }
  int64_t num_committed_tokens() const { return static_cast<int64_t>(committed_.size()); }
  int64_t num_window_tokens() const { return static_cast<int64_t>(window_.size()); }
  const std::vector<TokenEmission>& committed_tokens() const { return committed_; }
  const std::vector<TokenEmission>& window_tokens() const { return window_; }
  std::vector<TranscriptWord> words() const;  // committed words, then partial ones
  int64_t last_seq() const { return seq_; }
  int64_t segments() const { return segment_; }
  int64_t alignment_conflicts() const { return conflicts_; }
  double live_edge_s() const { return live_edge_s_; }
  bool finished() const { return finished_; }
  const TranscriptOptions& options() const { return options_; }

 private:
  enum class Endpoint { kNone, kDetected, kForced };
  void check_open(const char* what, double audio_end_s);
  void check_tokens(const TokenEmission* tokens, int64_t n, const char* what) const;
  // Window after the committed tokens: stable_[stable_anchor_:] then the tail (token alignment),
  // or only tokens after the last committed frame (time alignment, after a conflict).
  const std::vector<TranscriptEvent>& align_and_update(double vad_silence_ms);
  void skip_stable_before_committed_end();
  static constexpr size_t kByRules = static_cast<size_t>(-1);
  // decided_commit: how many window tokens to commit (kByRules: the options' rules decide).
  const std::vector<TranscriptEvent>& update(std::vector<TokenEmission> new_window, std::vector<char> from_stable,
                                             double vad_silence_ms, Endpoint endpoint, size_t decided_commit = kByRules);
  size_t ready_prefix(const std::vector<TokenEmission>& window) const;
  size_t snap_to_word(const std::vector<TokenEmission>& window, size_t count) const;
  bool endpoint_detected(double vad_silence_ms) const;
  double token_end_s(const TokenEmission& t) const { return (t.frame + t.duration) * frame_stride_s_; }
  std::vector<TranscriptWord> words_of(const std::vector<TokenEmission>& tokens, bool committed) const;
  void emit_final();

  std::shared_ptr<const Vocabulary> vocabulary_;
  double frame_stride_s_;
  TranscriptOptions options_;

  // The engine's hypothesis: tokens it will never revise, then its speculative tail. The committed
  // text accounts for stable_[0, stable_anchor_) and for `unconfirmed_`: tokens committed from a tail
  // (or at an endpoint) that no stable token has confirmed yet.
  std::vector<TokenEmission> stable_, tail_;
  size_t stable_anchor_ = 0;
  std::deque<TokenEmission> unconfirmed_;
  std::vector<TokenEmission> committed_, window_;
  std::vector<char> window_from_stable_;         // per window token: taken from stable_ (else from the tail)
  std::vector<int> window_age_;                  // updates each window token has been unchanged
  std::string committed_text_, partial_text_;
  int64_t committed_chars_ = 0;
  double live_edge_s_ = 0.0;
  double last_token_end_s_ = 0.0;                // end of the newest token seen (blank-run start)
  int64_t seq_ = 0, segment_ = 0, conflicts_ = 0;
  size_t segment_first_token_ = 0;               // committed_ index where the open segment starts
  size_t segment_first_byte_ = 0;                // committed_text_ byte where it starts
  bool finished_ = false;
  std::vector<TranscriptEvent> events_;
};

// Code points in a UTF-8 string (continuation bytes are not counted).
int64_t utf8_length(const std::string& text);

}  // namespace parakeet_trt
