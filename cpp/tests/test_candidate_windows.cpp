// Candidate windows from a segment's other decodes (candidate_windows.hpp): substitutions, deletions
// and insertions each give a window holding exactly the heard words they replace; decodes equal to the
// heard words give none; overlapping disagreements of different decodes share one window. The
// property check makes thousands of random segments and edited decodes: the windows always pass the
// guard's own validation, and every decode whose disagreements all became alternatives is accepted by
// the guard as a whole answer (what the LLM lane may choose), with one choice edit per window used.
#include "test_support.hpp"
#include "guard_words.hpp"

#include <random>
#include <string>
#include <vector>

#include "parakeet_trt/candidate_windows.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"

using namespace parakeet_trt;

namespace {

std::string joined(const std::vector<GuardWord>& words) {
  std::string out;
  for (const GuardWord& w : words) out += (out.empty() ? "" : " ") + w.text;
  return out;
}

PolishRequest request_for(const std::vector<GuardWord>& heard, std::vector<CandidateWindow> windows) {
  PolishRequest r;
  r.heard = heard;
  r.candidates = std::move(windows);
  r.editable_start_s = heard.empty() ? 0.0 : heard.front().start_s - 1.0;
  r.editable_end_s = heard.empty() ? 1.0 : heard.back().end_s + 1.0;
  return r;
}

void test_substitution_window() {
  const auto heard = ptrt_test::spaced_words({"the", "quiet", "driver", "fox", "jumps"});
  const auto decode = ptrt_test::spaced_words({"the", "quick", "brown", "fox", "jumps"});
  const auto windows = candidate_windows(heard, {{decode, "beam:redecode:2", -1.5}});
  PTRT_CHECK_EQ(windows.size(), size_t{1});
  if (windows.size() != 1) return;
  PTRT_CHECK_EQ(windows[0].alternatives.size(), size_t{1});
  PTRT_CHECK_EQ(joined(windows[0].alternatives[0].words), std::string("quick brown"));
  PTRT_CHECK_EQ(windows[0].alternatives[0].source, std::string("beam:redecode:2"));
  PTRT_CHECK_NEAR(windows[0].alternatives[0].score, -1.5, 1e-12);
  // It holds exactly "quiet driver": the neighbours' midpoints are outside.
  PTRT_CHECK(windows[0].start_s > 0.2 && windows[0].start_s <= 0.5);
  PTRT_CHECK(windows[0].end_s >= 1.4 && windows[0].end_s <= 1.7);
  const PolishRequest r = request_for(heard, windows);
  validate_polish_request(r);
  const PolishResult chosen = check_polish(r, "The quick brown fox jumps.");
  PTRT_CHECK(chosen.accepted);
  PTRT_CHECK_EQ(chosen.text, std::string("The quick brown fox jumps."));
  PTRT_CHECK(!check_polish(r, "The slow brown fox jumps.").accepted);
}

void test_deletion_and_insertion() {
  const auto heard = ptrt_test::spaced_words({"we", "can", "not", "go"});
  // A decode without "not" (the heard word may go) and one with an extra word between "can" and "not".
  std::vector<GuardWord> deleted = {heard[0], heard[1], heard[3]};
  std::vector<GuardWord> inserted = {heard[0], heard[1], {"really", 0.92, 0.99}, heard[2], heard[3]};
  const auto windows = candidate_windows(heard, {{deleted, "lane:fast", 0.0}, {inserted, "lane:slow", 0.0}});
  // The two disagreements touch (the gap before "not", and "not"): one window over "not".
  PTRT_CHECK_EQ(windows.size(), size_t{1});
  if (windows.size() != 1) return;
  PTRT_CHECK_EQ(windows[0].alternatives.size(), size_t{2});
  PTRT_CHECK(windows[0].alternatives[0].words.empty());  // "not" may go
  PTRT_CHECK_EQ(joined(windows[0].alternatives[1].words), std::string("really not"));
  // Apart, an insertion alone gives a window holding no heard word.
  const auto apart = candidate_windows(heard, {{{heard[0], {"so", 0.41, 0.48}, heard[1], heard[2], heard[3]}, "lane:x", 0.0}});
  PTRT_CHECK_EQ(apart.size(), size_t{1});
  if (apart.size() == 1) {
    PTRT_CHECK_EQ(joined(apart[0].alternatives[0].words), std::string("so"));
    PTRT_CHECK(apart[0].start_s > 0.2 && apart[0].end_s <= 0.7);
    PTRT_CHECK(check_polish(request_for(heard, apart), "We so can not go").accepted);
  }
  const PolishRequest r = request_for(heard, windows);
  validate_polish_request(r);
  PTRT_CHECK(check_polish(r, "We can go.").accepted);
  PTRT_CHECK(check_polish(r, "We can really not go.").accepted);
  PTRT_CHECK(!check_polish(r, "We can't go.").accepted);
}

void test_equal_and_duplicate_decodes() {
  const auto heard = ptrt_test::spaced_words({"start", "the", "video"});
  PTRT_CHECK(candidate_windows(heard, {{heard, "lane:a", 0.0}}).empty());
  // Case and punctuation are not disagreements.
  PTRT_CHECK(candidate_windows(heard, {{ptrt_test::spaced_words({"Start", "the", "video."}), "lane:a", 0.0}}).empty());
  const auto other = ptrt_test::spaced_words({"stop", "the", "video"});
  const auto windows = candidate_windows(heard, {{other, "beam:b:2", -1.0}, {other, "lane:c", 0.0}, {heard, "lane:d", 0.0}});
  PTRT_CHECK_EQ(windows.size(), size_t{1});
  if (!windows.empty()) {
    PTRT_CHECK_EQ(windows[0].alternatives.size(), size_t{1});  // the same reading once, from the first decode
    PTRT_CHECK_EQ(windows[0].alternatives[0].source, std::string("beam:b:2"));
  }
  PTRT_CHECK(candidate_windows({}, {}).empty());
  // Unlikely n-best entries (more than max_score_gap below their lane's best) give no alternative.
  PTRT_CHECK(candidate_windows(heard, {{other, "beam:b:3", -3.5}}).empty());
  PTRT_CHECK_EQ(candidate_windows(heard, {{other, "beam:b:3", -3.5}}, 4, 4.0).size(), size_t{1});
  PTRT_CHECK_THROWS(candidate_windows(heard, {}, 4, -1.0), std::invalid_argument, "max_score_gap");
  PTRT_CHECK_THROWS(candidate_windows(heard, {{other, "x", 0.0}}, 0), std::invalid_argument, "max_alternatives");
}

void test_overlapping_disagreements_merge() {
  const auto heard = ptrt_test::spaced_words({"a", "b", "c", "d", "e"});
  const auto one = ptrt_test::spaced_words({"a", "x", "c", "d", "e"});  // b -> x
  const auto two = ptrt_test::spaced_words({"a", "y", "z", "d", "e"});  // b c -> y z
  const auto windows = candidate_windows(heard, {{one, "beam:r:2", -1.0}, {two, "beam:r:3", -2.0}});
  PTRT_CHECK_EQ(windows.size(), size_t{1});
  if (windows.size() != 1) return;
  PTRT_CHECK_EQ(windows[0].alternatives.size(), size_t{2});
  PTRT_CHECK_EQ(joined(windows[0].alternatives[0].words), std::string("x c"));
  PTRT_CHECK_EQ(joined(windows[0].alternatives[1].words), std::string("y z"));
  validate_polish_request(request_for(heard, windows));
}

void test_property_valid_and_choosable() {
  std::mt19937 rng(11);
  const std::vector<std::string> vocab = {"red", "read", "the", "a", "cat", "sat", "on", "mat", "hat", "bat", "is"};
  std::uniform_int_distribution<size_t> pick(0, vocab.size() - 1);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  int cases = 0, decodes_total = 0, accepted = 0, windows_total = 0, failures = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<GuardWord> heard;
    double t = unit(rng);
    const int n = static_cast<int>(unit(rng) * 9);
    for (int i = 0; i < n; ++i) {
      const double length = 0.12 + 0.4 * unit(rng);
      heard.push_back({vocab[pick(rng)], t, t + length});
      t += length + 0.3 * unit(rng);
    }
    std::vector<CandidateAlternative> decodes;
    const int num_decodes = 1 + static_cast<int>(unit(rng) * 4);
    for (int d = 0; d < num_decodes; ++d) {
      std::vector<GuardWord> words;
      for (size_t i = 0; i <= heard.size(); ++i) {
        if (unit(rng) < 0.1) {  // an insertion in the gap before heard word i
          const double lo = i == 0 ? 0.0 : heard[i - 1].end_s, hi = i == heard.size() ? t + 0.3 : heard[i].start_s;
          const double s = lo + 0.3 * (hi - lo) * unit(rng);
          words.push_back({vocab[pick(rng)], s, s + 0.5 * std::max(0.0, hi - s)});
        }
        if (i == heard.size()) break;
        const double r = unit(rng);
        const double jitter = 0.04 * (unit(rng) - 0.5);  // re-decodes move times by a frame or two
        if (r < 0.1) continue;  // deleted
        const std::string text = r < 0.25 ? vocab[pick(rng)] : heard[i].text;
        words.push_back({text, heard[i].start_s + jitter, heard[i].end_s + jitter});
      }
      decodes.push_back({words, "lane:" + std::to_string(d), 0.0});
    }
    std::vector<CandidateWindow> windows;
    try {
      windows = candidate_windows(heard, decodes);
      validate_polish_request(request_for(heard, windows));
    } catch (const std::exception& e) {
      if (++failures <= 5) std::printf("    invalid windows: %s\n", e.what());
      continue;
    }
    ++cases;
    windows_total += static_cast<int>(windows.size());
    for (const CandidateAlternative& d : decodes) {
      // Each decode, as a whole answer, is what the LLM may choose: the guard accepts it.
      const PolishResult verdict = check_polish(request_for(heard, windows), joined(d.words));
      ++decodes_total;
      accepted += verdict.accepted;
    }
  }
  std::printf("  property: %d segments, %d windows, %d of %d decodes accepted whole by the guard\n", cases,
              windows_total, accepted, decodes_total);
  PTRT_CHECK_EQ(failures, 0);
  PTRT_CHECK(windows_total > 1000);
  PTRT_CHECK(accepted * 10 >= decodes_total * 9);  // clipping may drop an alternative; nearly all survive
}

void test_json_form() {
  PTRT_CHECK_EQ(candidate_windows_json({}), std::string("[]"));
  const std::vector<CandidateWindow> windows = {
      {1.2, 1.68, {{{{"read", 1.22, 1.6}}, "beam:r:2", -1.5}, {{}, "lane:b", 0.0}}},
      {2.0, 2.5, {{{{"say \"hi\"\\", 2.1, 2.4}}, "lane:\n", 0.25}}}};
  PTRT_CHECK_EQ(candidate_windows_json(windows),
                std::string("[{\"start_s\": 1.2000, \"end_s\": 1.6800, \"alternatives\": ["
                            "{\"words\": [{\"word\": \"read\", \"start_s\": 1.2200, \"end_s\": 1.6000}], "
                            "\"source\": \"beam:r:2\", \"score\": -1.5}, "
                            "{\"words\": [], \"source\": \"lane:b\", \"score\": 0}]}, "
                            "{\"start_s\": 2.0000, \"end_s\": 2.5000, \"alternatives\": ["
                            "{\"words\": [{\"word\": \"say \\\"hi\\\"\\\\\", \"start_s\": 2.1000, \"end_s\": 2.4000}], "
                            "\"source\": \"lane:\\u000a\", \"score\": 0.25}]}]"));
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"substitution_window", &test_substitution_window},
                               {"deletion_and_insertion", &test_deletion_and_insertion},
                               {"equal_and_duplicate_decodes", &test_equal_and_duplicate_decodes},
                               {"overlapping_disagreements_merge", &test_overlapping_disagreements_merge},
                               {"property_valid_and_choosable", &test_property_valid_and_choosable},
                               {"json_form", &test_json_form}});
}
