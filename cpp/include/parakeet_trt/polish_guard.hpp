// The LLM lane's guardrails (docs/PATCH_PROTOCOL.md, "polish"): whatever a language model answers,
// only two kinds of change reach the polished view.
//   - punctuation and casing: the polished words, lower-cased and stripped of punctuation, equal the
//     words the engine heard, one for one;
//   - choices: inside a candidate window (a time span of the revision window or of the segment just
//     finalized), the words of one of that window's alternatives (n-best entries, other lanes'
//     hypotheses) may stand instead of the heard ones; every such word comes from an alternative
//     that covers the same time span.
// Anything else (a new word, a dropped word, reordered words, a word from a window outside the
// editable span) rejects the whole answer: the result names the first offending word and the raw
// text stands.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parakeet_trt {

// A word with its stream time (seconds).
struct GuardWord {
  std::string text;
  double start_s = 0.0;
  double end_s = 0.0;
};

// One alternative for a candidate window: its words (each inside the window's span), the lane or
// decoder it came from ("greedy", "beam:2", "lane:accurate", ...) and that source's score.
struct CandidateAlternative {
  std::vector<GuardWord> words;
  std::string source;
  double score = 0.0;
};

// Competing hypotheses for one time span [start_s, end_s). The heard words whose midpoint lies in the
// span are what an alternative replaces.
struct CandidateWindow {
  double start_s = 0.0;
  double end_s = 0.0;
  std::vector<CandidateAlternative> alternatives;
};

struct PolishRequest {
  std::vector<GuardWord> heard;              // the words the engine committed (the segment, in order)
  std::vector<CandidateWindow> candidates;   // sorted by start, non-overlapping
  double editable_start_s = 0.0;             // choices only for windows inside [start, end]
  double editable_end_s = 0.0;
};

enum class PolishEditKind { kCasing, kPunctuation, kChoice };

struct PolishEdit {
  PolishEditKind kind = PolishEditKind::kCasing;
  int64_t word = 0;          // index of the (first) polished word it touches
  std::string before;        // the heard word(s)
  std::string after;         // the polished word(s)
  int64_t window = -1;       // choice: index of the candidate window
  int64_t alternative = -1;  // choice: index of the chosen alternative in it
  std::string source;        // choice: the alternative's source
};

enum class PolishRejection {
  kNone = 0,
  kWordMismatch,   // a word that is neither heard nor a candidate of that span, or words missing/extra
  kEmpty,          // no words where words were heard
  kInvalidText,    // not valid UTF-8
};

struct PolishResult {
  bool accepted = false;
  PolishRejection rejection = PolishRejection::kNone;
  std::string reason;            // why rejected, naming the first offending word; empty when accepted
  std::string text;              // accepted: the polished text; rejected: the heard words joined
  std::vector<GuardWord> words;  // the words of `text`, each with the time of the word it stands for
  std::vector<PolishEdit> edits;
};

// A word as the guard compares it: punctuation removed, lower-cased (ASCII, Latin-1, Latin
// Extended-A, Greek, Cyrillic); invalid UTF-8 bytes become U+FFFD.
std::string normalize_word(std::string_view word);

// Throws Error(kInvalidArgument) naming the problem when the candidates break the format: a window
// with end before start, windows unsorted or overlapping, an alternative's word outside its window
// (20 ms tolerance) or with end before start, a heard word with end before start.
void validate_polish_request(const PolishRequest& request);

// The heard words as the guard reads them, in order: each candidate window with alternatives that lies
// inside the editable span takes the heard words whose midpoint it covers (perhaps none: its
// alternatives may add words there); every other heard word is a slot of its own (window -1). The LLM
// lane's prompt and grammar mark the same spans.
struct PolishSlot {
  int64_t window = -1;     // index into request.candidates, or -1
  size_t heard_begin = 0;  // the heard words [heard_begin, heard_end) it covers
  size_t heard_end = 0;
};
std::vector<PolishSlot> polish_slots(const PolishRequest& request);

// Checks `polished` (the model's text for the heard words) against the request. Never throws for
// anything the model wrote; throws only where validate_polish_request does.
PolishResult check_polish(const PolishRequest& request, std::string_view polished);

const char* polish_edit_kind_name(PolishEditKind kind);
const char* polish_rejection_name(PolishRejection rejection);

}  // namespace parakeet_trt
