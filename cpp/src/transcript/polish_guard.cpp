// The LLM lane's guardrails (polish_guard.hpp). The model's answer is split into words; the guard
// searches for a reading of the heard words in which each candidate window keeps its heard words or
// takes one of its alternatives, and whose words, normalized, equal the answer's words one for one
// (a dynamic program over (slot, answer word)). Found: the answer is accepted and its edits are
// classified; not found: rejected, naming the furthest word that could not be explained.
#include "parakeet_trt/polish_guard.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <sstream>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

constexpr double kTimeToleranceS = 0.02;
constexpr char32_t kReplacement = 0xFFFD;

// UTF-8 -> code points; invalid bytes become U+FFFD and set *invalid.
std::u32string decode_utf8(std::string_view text, bool* invalid) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      if (invalid) *invalid = true;
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    bool ok = true;
    for (int k = 1; ok && k <= extra; ++k) {
      if (i + k >= text.size()) {
        ok = false;
        break;
      }
      const unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong = (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000);
    if (!ok || overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      if (invalid) *invalid = true;
      out.push_back(kReplacement);
      ++i;
      continue;
    }
    out.push_back(cp);
    i += static_cast<size_t>(extra) + 1;
  }
  return out;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Sentence punctuation only: symbols such as $ % & + = are words' content, not punctuation, so a
// model cannot slip them in as "punctuation".
bool is_punctuation(char32_t cp) {
  switch (cp) {
    case '.': case ',': case '?': case '!': case ';': case ':': case '\'': case '"': case '-': case '(': case ')':
    case 0x00A1: case 0x00AB: case 0x00BB: case 0x00BF:  // ¡ « » ¿
    case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2015:  // hyphens, dashes
    case 0x2018: case 0x2019: case 0x201C: case 0x201D: case 0x2026:  // quotes, ellipsis
      return true;
    default:
      return false;
  }
}

bool is_space(char32_t cp) {
  return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F ||
         cp == 0x3000;
}

char32_t to_lower(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + 32;
  if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
  if (cp == 0x0130) return 'i';
  if (cp == 0x0178) return 0xFF;
  if (((cp >= 0x0100 && cp <= 0x0137) || (cp >= 0x014A && cp <= 0x0177)) && cp % 2 == 0) return cp + 1;
  if (((cp >= 0x0139 && cp <= 0x0148) || (cp >= 0x0179 && cp <= 0x017E)) && cp % 2 == 1) return cp + 1;
  if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2) return cp + 32;
  if (cp >= 0x0410 && cp <= 0x042F) return cp + 32;
  if (cp >= 0x0400 && cp <= 0x040F) return cp + 80;
  return cp;
}

std::string encode(const std::u32string& cps) {
  std::string out;
  for (char32_t cp : cps) append_utf8(out, cp);
  return out;
}

std::u32string without_punctuation(const std::u32string& word) {
  std::u32string out;
  for (char32_t cp : word)
    if (!is_punctuation(cp)) out.push_back(cp);
  return out;
}

std::u32string punctuation_of(const std::u32string& word) {
  std::u32string out;
  for (char32_t cp : word)
    if (is_punctuation(cp)) out.push_back(cp);
  return out;
}

std::string normalized(const std::u32string& word) {
  std::u32string out;
  for (char32_t cp : word)
    if (!is_punctuation(cp)) out.push_back(to_lower(cp));
  return encode(out);
}

// The answer's words; a token of punctuation alone ("hello , world") joins the word before it (or,
// first in the text, the word after it).
std::vector<std::u32string> answer_words(const std::u32string& text) {
  std::vector<std::u32string> tokens;
  std::u32string current;
  for (char32_t cp : text) {
    if (is_space(cp)) {
      if (!current.empty()) tokens.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(cp);
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  std::vector<std::u32string> words;
  std::u32string pending_prefix;
  for (std::u32string& token : tokens) {
    if (without_punctuation(token).empty()) {
      if (words.empty()) pending_prefix += token;
      else words.back() += token;
      continue;
    }
    words.push_back(pending_prefix + token);
    pending_prefix.clear();
  }
  if (!pending_prefix.empty()) {
    if (words.empty()) words.push_back(pending_prefix);  // punctuation only: a word no one heard
    else words.back() += pending_prefix;
  }
  return words;
}

std::string join_words(const std::vector<GuardWord>& words, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += ' ';
    out += words[i].text;
  }
  return out;
}

std::string quoted(const std::string& text) { return "'" + text + "'"; }

double midpoint(const GuardWord& w) { return 0.5 * (w.start_s + w.end_s); }

std::string time_text(double t) {
  std::ostringstream os;
  os.precision(6);
  os << t;
  return os.str();
}

}  // namespace

std::string normalize_word(std::string_view word) { return normalized(decode_utf8(word, nullptr)); }

std::vector<PolishSlot> polish_slots(const PolishRequest& request) {
  const std::vector<GuardWord>& heard = request.heard;
  std::vector<PolishSlot> slots;
  size_t i = 0;
  for (size_t k = 0; k < request.candidates.size(); ++k) {
    const CandidateWindow& window = request.candidates[k];
    if (window.alternatives.empty() || window.start_s < request.editable_start_s - kTimeToleranceS ||
        window.end_s > request.editable_end_s + kTimeToleranceS)
      continue;  // outside the editable span: its alternatives cannot be chosen
    while (i < heard.size() && midpoint(heard[i]) < window.start_s) slots.push_back({-1, i, i + 1}), ++i;
    const size_t begin = i;
    while (i < heard.size() && midpoint(heard[i]) < window.end_s) ++i;
    slots.push_back({static_cast<int64_t>(k), begin, i});
  }
  for (; i < heard.size(); ++i) slots.push_back({-1, i, i + 1});
  return slots;
}

const char* polish_edit_kind_name(PolishEditKind kind) {
  switch (kind) {
    case PolishEditKind::kCasing: return "casing";
    case PolishEditKind::kPunctuation: return "punctuation";
    case PolishEditKind::kChoice: return "choice";
  }
  return "unknown";
}

const char* polish_rejection_name(PolishRejection rejection) {
  switch (rejection) {
    case PolishRejection::kNone: return "none";
    case PolishRejection::kWordMismatch: return "word_mismatch";
    case PolishRejection::kEmpty: return "empty";
    case PolishRejection::kInvalidText: return "invalid_text";
  }
  return "unknown";
}

void validate_polish_request(const PolishRequest& request) {
  auto fail = [](const std::string& message) { throw Error(ErrorCode::kInvalidArgument, message); };
  auto finite = [](double t) { return std::isfinite(t); };
  for (size_t i = 0; i < request.heard.size(); ++i) {
    const GuardWord& w = request.heard[i];
    if (!finite(w.start_s) || !finite(w.end_s) || w.end_s < w.start_s)
      fail("heard word " + std::to_string(i) + " " + quoted(w.text) + " ends (" + time_text(w.end_s) +
           " s) before it starts (" + time_text(w.start_s) + " s) or has a non-finite time");
    if (i > 0 && w.start_s < request.heard[i - 1].start_s)
      fail("heard word " + std::to_string(i) + " " + quoted(w.text) + " starts before the word before it");
  }
  for (size_t k = 0; k < request.candidates.size(); ++k) {
    const CandidateWindow& window = request.candidates[k];
    const std::string name = "candidate window " + std::to_string(k);
    if (!finite(window.start_s) || !finite(window.end_s) || window.end_s < window.start_s)
      fail(name + " ends (" + time_text(window.end_s) + " s) before it starts (" + time_text(window.start_s) + " s)");
    if (k > 0 && window.start_s < request.candidates[k - 1].end_s)
      fail(name + " starts (" + time_text(window.start_s) + " s) before window " + std::to_string(k - 1) + " ends (" +
           time_text(request.candidates[k - 1].end_s) + " s): windows must be sorted and must not overlap");
    for (size_t a = 0; a < window.alternatives.size(); ++a) {
      for (const GuardWord& w : window.alternatives[a].words) {
        if (!finite(w.start_s) || !finite(w.end_s) || w.end_s < w.start_s)
          fail(name + " alternative " + std::to_string(a) + ": word " + quoted(w.text) + " ends before it starts");
        if (w.start_s < window.start_s - kTimeToleranceS || w.end_s > window.end_s + kTimeToleranceS)
          fail(name + " alternative " + std::to_string(a) + ": word " + quoted(w.text) + " [" + time_text(w.start_s) +
               ", " + time_text(w.end_s) + "] s lies outside the window [" + time_text(window.start_s) + ", " +
               time_text(window.end_s) + "] s");
        if (normalize_word(w.text).empty())
          fail(name + " alternative " + std::to_string(a) + ": word " + quoted(w.text) + " has no letters");
      }
    }
  }
  if (request.editable_end_s < request.editable_start_s)
    fail("the editable span ends (" + time_text(request.editable_end_s) + " s) before it starts (" +
         time_text(request.editable_start_s) + " s)");
}

PolishResult check_polish(const PolishRequest& request, std::string_view polished) {
  validate_polish_request(request);
  const std::vector<GuardWord>& heard = request.heard;

  PolishResult result;
  auto reject = [&](PolishRejection why, const std::string& reason) {
    result.accepted = false;
    result.rejection = why;
    result.reason = reason;
    result.text = join_words(heard, 0, heard.size());
    result.words = heard;
    result.edits.clear();
    return result;
  };

  bool invalid = false;
  const std::u32string answer = decode_utf8(polished, &invalid);
  if (invalid) return reject(PolishRejection::kInvalidText, "the answer is not valid UTF-8");
  const std::vector<std::u32string> words = answer_words(answer);
  if (words.empty() && !heard.empty()) return reject(PolishRejection::kEmpty, "the answer has no words");

  const std::vector<PolishSlot> slots = polish_slots(request);

  std::vector<std::string> heard_norm(heard.size());
  for (size_t i = 0; i < heard.size(); ++i) heard_norm[i] = normalize_word(heard[i].text);
  std::vector<std::string> answer_norm(words.size());
  for (size_t i = 0; i < words.size(); ++i) answer_norm[i] = normalized(words[i]);

  // Options of a slot: 0 = the heard words, a + 1 = alternative a.
  auto option_words = [&](const PolishSlot& slot, size_t option, std::vector<std::string>& out) {
    out.clear();
    if (option == 0) {
      for (size_t i = slot.heard_begin; i < slot.heard_end; ++i) out.push_back(heard_norm[i]);
      return;
    }
    for (const GuardWord& w : request.candidates[slot.window].alternatives[option - 1].words)
      out.push_back(normalize_word(w.text));
  };
  auto option_count = [&](const PolishSlot& slot) {
    return slot.window < 0 ? size_t{1} : request.candidates[slot.window].alternatives.size() + 1;
  };

  const size_t S = slots.size(), T = words.size();
  // parent[s][p]: how state (s slots read, p answer words matched) was first reached, or -1.
  struct Parent {
    int64_t p = -1;
    int64_t option = -1;
  };
  std::vector<std::vector<Parent>> parent(S + 1, std::vector<Parent>(T + 1));
  std::vector<std::vector<char>> reached(S + 1, std::vector<char>(T + 1, 0));
  reached[0][0] = 1;
  size_t furthest_p = 0, furthest_s = 0;
  std::vector<std::string> option;
  for (size_t s = 0; s < S; ++s) {
    for (size_t p = 0; p <= T; ++p) {
      if (!reached[s][p]) continue;
      if (p > furthest_p || (p == furthest_p && s > furthest_s)) furthest_p = p, furthest_s = s;
      for (size_t o = 0; o < option_count(slots[s]); ++o) {
        option_words(slots[s], o, option);
        if (p + option.size() > T) continue;
        if (!std::equal(option.begin(), option.end(), answer_norm.begin() + static_cast<std::ptrdiff_t>(p))) continue;
        const size_t q = p + option.size();
        if (!reached[s + 1][q]) {
          reached[s + 1][q] = 1;
          parent[s + 1][q] = {static_cast<int64_t>(p), static_cast<int64_t>(o)};
        }
      }
    }
  }
  for (size_t p = 0; p <= T; ++p)
    if (reached[S][p] && (p > furthest_p || (p == furthest_p && S > furthest_s))) furthest_p = p, furthest_s = S;

  if (!reached[S][T]) {
    auto utf8 = [](const std::u32string& w) { return encode(w); };
    if (furthest_p == T) {
      const size_t next = std::min(slots[furthest_s].heard_begin, heard.size() - 1);  // heard is not empty here
      return reject(PolishRejection::kWordMismatch, "the answer ends after " + std::to_string(T) +
                                                        " words; the heard words go on with " + quoted(heard[next].text));
    }
    if (furthest_s == S)
      return reject(PolishRejection::kWordMismatch, "extra word " + std::to_string(furthest_p + 1) + " " +
                                                        quoted(utf8(words[furthest_p])) + " after all the heard words");
    const PolishSlot& slot = slots[furthest_s];
    const std::string expected =
        slot.heard_begin < slot.heard_end ? quoted(heard[slot.heard_begin].text) : std::string("nothing");
    return reject(PolishRejection::kWordMismatch,
                  "word " + std::to_string(furthest_p + 1) + " " + quoted(utf8(words[furthest_p])) +
                      " is neither the heard word (" + expected + ") nor a candidate for that time span");
  }

  // Accepted: walk back to the chosen options, then classify the edits front to back.
  std::vector<std::pair<size_t, int64_t>> chosen(S);  // (first answer word, option) per slot
  for (size_t s = S, p = T; s > 0; --s) {
    const Parent& from = parent[s][p];
    chosen[s - 1] = {static_cast<size_t>(from.p), from.option};
    p = static_cast<size_t>(from.p);
  }
  result.accepted = true;
  auto word_edits = [&](size_t answer_index, const GuardWord& source) {
    const std::u32string& said = words[answer_index];
    const std::u32string original = decode_utf8(source.text, nullptr);
    const std::string after = encode(said);
    if (without_punctuation(said) != without_punctuation(original))
      result.edits.push_back({PolishEditKind::kCasing, static_cast<int64_t>(answer_index), source.text, after, -1, -1, ""});
    if (punctuation_of(said) != punctuation_of(original))
      result.edits.push_back({PolishEditKind::kPunctuation, static_cast<int64_t>(answer_index), source.text, after, -1, -1, ""});
    result.words.push_back({after, source.start_s, source.end_s});
  };
  for (size_t s = 0; s < S; ++s) {
    const PolishSlot& slot = slots[s];
    const size_t first = chosen[s].first;
    const int64_t o = chosen[s].second;
    if (o == 0) {
      for (size_t i = slot.heard_begin; i < slot.heard_end; ++i) word_edits(first + (i - slot.heard_begin), heard[i]);
      continue;
    }
    const CandidateAlternative& alternative = request.candidates[slot.window].alternatives[o - 1];
    std::string after;
    for (size_t j = 0; j < alternative.words.size(); ++j) after += (j ? " " : "") + encode(words[first + j]);
    result.edits.push_back({PolishEditKind::kChoice, static_cast<int64_t>(first),
                            join_words(heard, slot.heard_begin, slot.heard_end), after, slot.window, o - 1,
                            alternative.source});
    for (size_t j = 0; j < alternative.words.size(); ++j) word_edits(first + j, alternative.words[j]);
  }
  for (size_t i = 0; i < result.words.size(); ++i) result.text += (i ? " " : "") + result.words[i].text;
  return result;
}

}  // namespace parakeet_trt
