// The LLM lane's guardrails: punctuation/casing accepted and classified, choices among candidates of
// the same time span accepted, everything else (new, extra, missing, reordered words, choices outside
// the editable span, symbols passed off as punctuation, invalid UTF-8) rejected with the raw text
// standing; bad candidate input named. The property check compares the guard with a brute-force
// oracle (every reading of the heard words and the windows' alternatives) on thousands of random
// requests and hostile answers: accepted exactly when the answer, normalized, is one of those readings.
#include "test_support.hpp"
#include "guard_words.hpp"

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"

using namespace parakeet_trt;

namespace {

PolishRequest request_of(const std::vector<std::string>& texts) {
  PolishRequest r;
  r.heard = ptrt_test::spaced_words(texts);
  r.editable_start_s = 0.0;
  r.editable_end_s = 0.5 * texts.size();
  return r;
}

int count_kind(const PolishResult& r, PolishEditKind kind) {
  int n = 0;
  for (const PolishEdit& e : r.edits) n += e.kind == kind;
  return n;
}

void test_punctuation_and_casing() {
  const PolishRequest r = request_of({"hello", "world", "how", "are", "you"});
  const PolishResult ok = check_polish(r, "Hello, world! How are you?");
  PTRT_CHECK(ok.accepted);
  PTRT_CHECK_EQ(ok.text, std::string("Hello, world! How are you?"));
  PTRT_CHECK_EQ(ok.words.size(), size_t{5});
  PTRT_CHECK_NEAR(ok.words[2].start_s, 1.0, 1e-9);
  PTRT_CHECK_EQ(count_kind(ok, PolishEditKind::kCasing), 2);       // Hello, How
  PTRT_CHECK_EQ(count_kind(ok, PolishEditKind::kPunctuation), 3);  // "," "!" "?"
  PTRT_CHECK_EQ(count_kind(ok, PolishEditKind::kChoice), 0);
  // Punctuation standing alone joins the word before it; extra spaces are fine.
  const PolishResult spaced = check_polish(r, "  hello ,  world   how are you ? ");
  PTRT_CHECK(spaced.accepted);
  PTRT_CHECK_EQ(spaced.text, std::string("hello, world how are you?"));
  // The unchanged text: accepted, no edits.
  const PolishResult same = check_polish(r, "hello world how are you");
  PTRT_CHECK(same.accepted);
  PTRT_CHECK(same.edits.empty());
  // Apostrophes are punctuation on both sides; non-ASCII letters lower-case.
  PolishRequest accents = request_of({"don't", "café", "über"});
  PTRT_CHECK(check_polish(accents, "Don't café, Über.").accepted);
  PTRT_CHECK_EQ(normalize_word("ÜBER-Café!"), std::string("übercafé"));
}

void test_hostile_answers_rejected() {
  const PolishRequest r = request_of({"the", "cat", "sat"});
  const char* hostile[] = {"The dog sat.",          // a new word
                           "The cat sat down.",     // an extra word
                           "The cat.",              // a missing word
                           "Sat the cat.",          // reordered
                           "The cat sat $",         // a symbol is not punctuation
                           "thecat sat",            // merged words
                           "",                      // nothing
                           "...",                   // punctuation only
                           "The cat sat. The cat sat."};
  for (const char* answer : hostile) {
    const PolishResult res = check_polish(r, answer);
    PTRT_CHECK(!res.accepted);
    PTRT_CHECK_EQ(res.text, std::string("the cat sat"));  // the raw text stands
    PTRT_CHECK(res.edits.empty());
    PTRT_CHECK(!res.reason.empty());
  }
  const PolishResult dog = check_polish(r, "The dog sat.");
  PTRT_CHECK(dog.rejection == PolishRejection::kWordMismatch);
  PTRT_CHECK(dog.reason.find("'dog'") != std::string::npos);
  PTRT_CHECK(dog.reason.find("'cat'") != std::string::npos);
  PTRT_CHECK(check_polish(r, "").rejection == PolishRejection::kEmpty);
  PTRT_CHECK(check_polish(r, "The cat sat down.").reason.find("extra word 4 'down.'") != std::string::npos);
  PTRT_CHECK(check_polish(r, "The cat.").reason.find("go on with 'sat'") != std::string::npos);
  const PolishResult bad_utf8 = check_polish(r, std::string("the cat s\xC3t"));
  PTRT_CHECK(bad_utf8.rejection == PolishRejection::kInvalidText);
}

void test_choices_from_candidates() {
  PolishRequest r = request_of({"i", "red", "the", "book"});  // "red" heard at [0.5, 0.9]
  CandidateWindow w;
  w.start_s = 0.45;
  w.end_s = 1.0;
  w.alternatives.push_back({{{"read", 0.5, 0.9}}, "beam:1", -1.5});
  w.alternatives.push_back({{{"wed", 0.5, 0.7}, {"dread", 0.7, 0.95}}, "lane:accurate", -3.0});
  r.candidates.push_back(w);
  const PolishResult res = check_polish(r, "I read the book.");
  PTRT_CHECK(res.accepted);
  PTRT_CHECK_EQ(count_kind(res, PolishEditKind::kChoice), 1);
  for (const PolishEdit& e : res.edits) {
    if (e.kind != PolishEditKind::kChoice) continue;
    PTRT_CHECK_EQ(e.before, std::string("red"));
    PTRT_CHECK_EQ(e.after, std::string("read"));
    PTRT_CHECK_EQ(e.window, int64_t{0});
    PTRT_CHECK_EQ(e.alternative, int64_t{0});
    PTRT_CHECK_EQ(e.source, std::string("beam:1"));
    PTRT_CHECK_EQ(e.word, int64_t{1});
  }
  // An alternative with a different word count: the words take the alternative's times.
  const PolishResult two = check_polish(r, "I wed dread the book");
  PTRT_CHECK(two.accepted);
  PTRT_CHECK_EQ(two.words.size(), size_t{5});
  PTRT_CHECK_NEAR(two.words[2].start_s, 0.7, 1e-9);
  // The heard words stay a valid reading of the window.
  PTRT_CHECK(check_polish(r, "I red the book").accepted);
  // A candidate word in another span is not a choice there.
  PTRT_CHECK(!check_polish(r, "I red the read").accepted);
  PTRT_CHECK(!check_polish(r, "read red the book").accepted);
  // Mixing two alternatives of one window is no alternative.
  PTRT_CHECK(!check_polish(r, "I read dread the book").accepted);
  // Outside the editable span (an older segment), the window's alternatives cannot be chosen.
  PolishRequest late = r;
  late.editable_start_s = 1.0;
  PTRT_CHECK(!check_polish(late, "I read the book").accepted);
  PTRT_CHECK(check_polish(late, "I red the book.").accepted);
}

void test_insertion_window() {
  // A window over a gap (no heard word's midpoint in it): an alternative may add its words there.
  PolishRequest r = request_of({"go", "home"});
  r.candidates.push_back({0.42, 0.5, {{{{"now", 0.43, 0.49}}, "lane:fast", 0.0}}});
  PTRT_CHECK(check_polish(r, "Go now home.").accepted);
  PTRT_CHECK(check_polish(r, "Go home.").accepted);
  PTRT_CHECK(!check_polish(r, "Go home now.").accepted);
}

void test_bad_candidates_named() {
  PolishRequest r = request_of({"a", "b"});
  r.candidates.push_back({0.0, 0.6, {{{{"x", 0.0, 0.3}}, "beam:1", 0.0}}});
  r.candidates.push_back({0.5, 1.0, {{{{"y", 0.5, 0.9}}, "beam:1", 0.0}}});
  PTRT_CHECK_THROWS(check_polish(r, "a b"), Error, "must not overlap");
  r.candidates.pop_back();
  r.candidates[0].alternatives[0].words[0].end_s = 0.9;
  PTRT_CHECK_THROWS(check_polish(r, "a b"), Error, "lies outside the window");
  r.candidates[0].alternatives[0].words[0] = {"...", 0.0, 0.3};
  PTRT_CHECK_THROWS(check_polish(r, "a b"), Error, "has no letters");
  PolishRequest backwards = request_of({"a"});
  backwards.heard[0].end_s = -1.0;
  PTRT_CHECK_THROWS(validate_polish_request(backwards), Error, "heard word 0 'a' ends");
  PolishRequest span = request_of({"a"});
  span.editable_end_s = -1.0;
  PTRT_CHECK_THROWS(validate_polish_request(span), Error, "editable span");
}

// --- property check against a brute-force oracle ---------------------------------------------------

const std::vector<std::string> kVocabulary = {"the", "cat", "sat", "on", "a", "mat", "red", "read", "dog", "ran"};

std::string decorate(const std::string& word, std::mt19937& rng) {
  std::string out = word;
  if (rng() % 3 == 0) out[0] = static_cast<char>(out[0] - 32);
  if (rng() % 4 == 0) out = std::string(rng() % 2 ? "\"" : "(") + out;
  static const char* marks[] = {".", ",", "?", "!", ";", ":", "...", "\"", ")", "-"};
  if (rng() % 3 == 0) out += marks[rng() % 10];
  return out;
}

void readings(const PolishRequest& r, const std::vector<std::pair<int, std::pair<size_t, size_t>>>& slots, size_t s,
              std::vector<std::string>& current, std::set<std::vector<std::string>>& out) {
  if (s == slots.size()) {
    out.insert(current);
    return;
  }
  const auto& [window, range] = slots[s];
  const size_t mark = current.size();
  for (size_t i = range.first; i < range.second; ++i) current.push_back(r.heard[i].text);
  readings(r, slots, s + 1, current, out);
  current.resize(mark);
  if (window < 0) return;
  for (const CandidateAlternative& a : r.candidates[window].alternatives) {
    for (const GuardWord& w : a.words) current.push_back(w.text);
    readings(r, slots, s + 1, current, out);
    current.resize(mark);
  }
}

void test_property_against_oracle() {
  std::mt19937 rng(1234);
  int accepted = 0, rejected = 0, wrong = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::string> texts(1 + rng() % 7);
    for (std::string& t : texts) t = kVocabulary[rng() % kVocabulary.size()];
    PolishRequest r = request_of(texts);
    // Windows over random runs of words (each covering whole words, 0.5 s per word), some outside the
    // editable span.
    std::vector<std::pair<int, std::pair<size_t, size_t>>> slots;
    r.editable_start_s = 0.5 * (rng() % 2);
    size_t i = 0;
    while (i < texts.size()) {
      const bool windowed = rng() % 3 == 0;
      const size_t len = std::min<size_t>(texts.size() - i, 1 + rng() % 2);
      if (!windowed) {
        slots.push_back({-1, {i, i + 1}});
        ++i;
        continue;
      }
      CandidateWindow w{0.5 * i, 0.5 * (i + len), {}};
      for (size_t a = 0, n = 1 + rng() % 3; a < n; ++a) {
        CandidateAlternative alt{{}, "beam:" + std::to_string(a + 1), -1.0 * a};
        for (size_t k = 0, m = rng() % 3; k < m; ++k)
          alt.words.push_back({kVocabulary[rng() % kVocabulary.size()], w.start_s + 0.1 * k, w.start_s + 0.1 * k + 0.1});
        w.alternatives.push_back(alt);
      }
      const bool editable = w.start_s >= r.editable_start_s;
      r.candidates.push_back(w);
      if (editable) slots.push_back({static_cast<int>(r.candidates.size() - 1), {i, i + len}});
      else
        for (size_t k = i; k < i + len; ++k) slots.push_back({-1, {k, k + 1}});
      i += len;
    }
    // The grouping the guard reads (and the LLM lane's prompt marks) is the one built here.
    const std::vector<PolishSlot> got_slots = polish_slots(r);
    bool same_slots = got_slots.size() == slots.size();
    for (size_t s = 0; same_slots && s < slots.size(); ++s)
      same_slots = got_slots[s].window == slots[s].first && got_slots[s].heard_begin == slots[s].second.first &&
                   got_slots[s].heard_end == slots[s].second.second;
    if (!same_slots && ++wrong <= 5) std::printf("    polish_slots differ from the expected grouping\n");
    std::set<std::vector<std::string>> valid;
    std::vector<std::string> current;
    readings(r, slots, 0, current, valid);
    // An answer: a valid reading, decorated, or a hostile mutation of one.
    std::vector<std::string> words = *std::next(valid.begin(), static_cast<long>(rng() % valid.size()));
    switch (rng() % 6) {
      case 0: break;
      case 1: words.insert(words.begin() + static_cast<long>(rng() % (words.size() + 1)), kVocabulary[rng() % 10]); break;
      case 2: if (!words.empty()) words.erase(words.begin() + static_cast<long>(rng() % words.size())); break;
      case 3: std::shuffle(words.begin(), words.end(), rng); break;
      case 4: if (!words.empty()) words[rng() % words.size()] = kVocabulary[rng() % 10]; break;
      case 5: words.push_back("zebra"); break;
    }
    std::string answer;
    for (const std::string& w : words) answer += decorate(w, rng) + " ";
    const PolishResult res = check_polish(r, answer);
    std::vector<std::string> norm;
    for (const std::string& w : words) norm.push_back(normalize_word(w));
    const bool expected = valid.count(norm) > 0 && !(norm.empty() && !texts.empty());
    bool right = res.accepted == expected;
    if (res.accepted) {
      ++accepted;
      std::vector<std::string> got;
      for (const GuardWord& w : res.words) got.push_back(normalize_word(w.text));
      right = right && valid.count(got) > 0;  // only words of a reading reach the polished view
    } else {
      ++rejected;
      right = right && res.words.size() == r.heard.size();  // the raw words stand
      for (size_t k = 0; right && k < res.words.size(); ++k) right = res.words[k].text == r.heard[k].text;
    }
    if (!right && ++wrong <= 5)
      std::printf("    wrong verdict (accepted %d, expected %d): %s\n", res.accepted, expected, answer.c_str());
  }
  std::printf("  property: %d accepted, %d rejected\n", accepted, rejected);
  PTRT_CHECK_EQ(wrong, 0);
  PTRT_CHECK(accepted > 500);
  PTRT_CHECK(rejected > 500);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"punctuation_and_casing", &test_punctuation_and_casing},
                               {"hostile_answers_rejected", &test_hostile_answers_rejected},
                               {"choices_from_candidates", &test_choices_from_candidates},
                               {"insertion_window", &test_insertion_window},
                               {"bad_candidates_named", &test_bad_candidates_named},
                               {"property_against_oracle", &test_property_against_oracle}});
}
