// TranscriptState: commit rules (K updates, W ms lag, N window tokens, whole words, endpoints),
// patches that replay to the displayed text, finals that add up to the committed text, time
// alignment when the engine revises committed text, and bad input. The property checks drive
// thousands of random hypothesis sequences through both input forms (steps, whole hypotheses).
#include "test_support.hpp"

#include <random>
#include <string>
#include <vector>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/transcript.hpp"

using namespace parakeet_trt;

namespace {

const std::string kMark = "\xE2\x96\x81";  // U+2581

// ids: 0 ▁the 1 ▁ca 2 t 3 r 4 ▁dog 5 s 6 <0xC3> 7 <0xA9> (é as two byte pieces) 8 ▁ 9 <unk>
Vocabulary test_vocabulary() {
  return Vocabulary({kMark + "the", kMark + "ca", "t", "r", kMark + "dog", "s", "<0xC3>", "<0xA9>", kMark, "<unk>"}, {9});
}

TokenEmission tok(int id, int64_t frame, int duration = 1) { return TokenEmission{id, frame, duration, 0.0f}; }

size_t byte_offset(const std::string& text, int64_t chars) {
  size_t i = 0;
  for (int64_t seen = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == chars) return i;
      ++seen;
    }
  }
  return text.size();
}

// A client: applies events, checks the protocol's invariants, remembers what it displays.
struct Client {
  std::string display, finals;
  int64_t committed_len = 0, last_seq = 0;
  bool ok = true;
  std::string why;

  void fail(const std::string& what) {
    if (ok) why = what;
    ok = false;
  }
  void apply(const std::vector<TranscriptEvent>& events) {
    for (const TranscriptEvent& e : events) {
      if (e.seq <= last_seq) fail("seq not increasing");
      last_seq = e.seq;
      if (e.type == TranscriptEventType::kFinal) {
        finals += e.text;
        continue;
      }
      if (e.committed_len < committed_len) fail("committed_len decreased");
      if (e.replace_from < committed_len) fail("replace_from below the previous committed_len");
      if (e.replace_from > utf8_length(display)) fail("replace_from past the displayed text");
      const std::string committed_before = display.substr(0, byte_offset(display, committed_len));
      display = display.substr(0, byte_offset(display, e.replace_from)) + e.text;
      if (display.compare(0, committed_before.size(), committed_before) != 0) fail("committed text rewritten");
      committed_len = e.committed_len;
    }
  }
};

void test_stable_updates_rule() {
  TranscriptOptions o;
  o.stable_updates = 2;
  o.max_lag_ms = 0;
  o.max_window_tokens = 0;
  o.endpoint_blank_ms = 0;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> h = {tok(0, 0), tok(4, 3)};
  auto e1 = s.apply_hypothesis(h.data(), 2, 0.5);
  PTRT_CHECK_EQ(s.num_committed_tokens(), 0);
  PTRT_CHECK_EQ(s.partial_text(), std::string("the dog"));
  PTRT_CHECK_EQ(e1.size(), size_t(1));
  h.push_back(tok(1, 6));
  auto e2 = s.apply_hypothesis(h.data(), 3, 0.6);
  // "the" and "dog" are unchanged for 2 updates; "dog" is followed by "▁ca", a word start.
  PTRT_CHECK_EQ(s.committed_text(), std::string("the dog"));
  PTRT_CHECK_EQ(s.partial_text(), std::string(" ca"));
  PTRT_CHECK_EQ(e2[0].committed_len, int64_t(7));
  PTRT_CHECK_EQ(e2[0].replace_from, int64_t(7));
  PTRT_CHECK_EQ(e2[0].text, std::string(" ca"));
}

void test_whole_words_and_token_prefix_patch() {
  TranscriptOptions o;
  o.stable_updates = 1;  // everything is ready at once: only whole words hold commits back
  o.max_lag_ms = 0;
  o.endpoint_blank_ms = 0;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> h = {tok(1, 0), tok(2, 1)};  // "ca" "t": one word, not yet followed by another
  s.apply_hypothesis(h.data(), 2, 0.3);
  PTRT_CHECK_EQ(s.num_committed_tokens(), 0);
  PTRT_CHECK_EQ(s.partial_text(), std::string("cat"));
  h[1] = tok(3, 1);  // "car": the patch replaces the last token only
  const auto& e = s.apply_hypothesis(h.data(), 2, 0.4);
  PTRT_CHECK_EQ(e[0].replace_from, int64_t(2));
  PTRT_CHECK_EQ(e[0].text, std::string("r"));
  h.push_back(tok(0, 3));
  s.apply_hypothesis(h.data(), 3, 0.5);
  PTRT_CHECK_EQ(s.committed_text(), std::string("car"));
  PTRT_CHECK_EQ(s.partial_text(), std::string(" the"));
}

void test_lag_and_window_rules() {
  TranscriptOptions o;
  o.stable_updates = 0;
  o.max_lag_ms = 400;
  o.max_window_tokens = 0;
  o.endpoint_blank_ms = 0;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> h = {tok(0, 0), tok(4, 10), tok(1, 20)};  // ends 0.08, 0.88, 1.68 s
  s.apply_hypothesis(h.data(), 3, 1.0);  // lag edge 0.6 s: "the" is ready, "dog" not
  PTRT_CHECK_EQ(s.committed_text(), std::string("the"));
  s.apply_hypothesis(h.data(), 3, 1.3);  // lag edge 0.9 s: "dog" too
  PTRT_CHECK_EQ(s.committed_text(), std::string("the dog"));

  TranscriptOptions n;
  n.stable_updates = 0;
  n.max_lag_ms = 0;
  n.max_window_tokens = 2;
  n.endpoint_blank_ms = 0;
  TranscriptState w(test_vocabulary(), 0.08, n);
  std::vector<TokenEmission> g = {tok(0, 0), tok(4, 1), tok(1, 2), tok(0, 3)};
  w.apply_hypothesis(g.data(), 4, 0.4);
  PTRT_CHECK_EQ(w.num_window_tokens(), int64_t(2));
  PTRT_CHECK_EQ(w.committed_text(), std::string("the dog"));
}

void test_blank_endpoint_emits_final() {
  TranscriptOptions o;
  o.stable_updates = 0;
  o.max_lag_ms = 0;
  o.endpoint_blank_ms = 800;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> h = {tok(0, 0), tok(4, 2)};  // last token ends at 0.24 s
  PTRT_CHECK_EQ(s.apply_hypothesis(h.data(), 2, 0.9).size(), size_t(1));  // 0.66 s of blanks: no endpoint
  const auto& e = s.apply_hypothesis(h.data(), 2, 1.1);                    // 0.86 s: endpoint
  PTRT_CHECK_EQ(e.size(), size_t(2));
  PTRT_CHECK(e[1].type == TranscriptEventType::kFinal);
  PTRT_CHECK_EQ(e[1].text, std::string("the dog"));
  PTRT_CHECK_EQ(e[1].segment, int64_t(0));
  PTRT_CHECK_NEAR(e[1].start_s, 0.0, 1e-9);
  PTRT_CHECK_NEAR(e[1].end_s, 0.24, 1e-9);
  PTRT_CHECK_EQ(s.apply_hypothesis(h.data(), 2, 1.5).size(), size_t(0));  // nothing new: no second final
  h.push_back(tok(1, 20));
  s.apply_hypothesis(h.data(), 3, 1.7);
  const auto& f = s.finish(1.8);
  PTRT_CHECK_EQ(f.back().text, std::string(" ca"));
  PTRT_CHECK_EQ(f.back().segment, int64_t(1));
  PTRT_CHECK_EQ(s.committed_text(), std::string("the dog ca"));
}

void test_vad_endpoint_rules() {
  TranscriptOptions o;
  o.stable_updates = 0;
  o.max_lag_ms = 0;
  o.endpoint_blank_ms = 500;
  o.endpoint_vad_ms = 300;
  o.endpoint_require_both = true;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> h = {tok(0, 0)};
  PTRT_CHECK_EQ(s.apply_hypothesis(h.data(), 1, 1.0, 100.0).size(), size_t(1));  // blank run yes, VAD no
  PTRT_CHECK_EQ(s.apply_hypothesis(h.data(), 1, 1.1, 400.0).size(), size_t(2));  // both: commit patch + final
  PTRT_CHECK_EQ(s.segments(), int64_t(1));
}

void test_engine_revision_aligns_by_time() {
  TranscriptOptions o;
  o.stable_updates = 1;
  o.max_lag_ms = 0;
  o.endpoint_blank_ms = 0;
  TranscriptState s(test_vocabulary(), 0.08, o);
  std::vector<TokenEmission> tail = {tok(0, 0), tok(4, 5)};
  s.apply_step(nullptr, 0, tail.data(), 2, 0.6);
  PTRT_CHECK_EQ(s.committed_text(), std::string("the"));
  // The engine now decodes frame 0 as "▁ca" (a revision of committed text) followed by "▁dog".
  std::vector<TokenEmission> stable = {tok(1, 0), tok(4, 5)};
  s.apply_step(stable.data(), 2, nullptr, 0, 0.7);
  PTRT_CHECK_EQ(s.alignment_conflicts(), int64_t(1));
  PTRT_CHECK_EQ(s.committed_text(), std::string("the"));
  PTRT_CHECK_EQ(s.partial_text(), std::string(" dog"));
  // Re-anchored on the stable tokens: later steps align by token again (no further conflict).
  std::vector<TokenEmission> more = {tok(1, 9)};
  s.apply_step(more.data(), 1, tail.data(), 0, 0.9);
  s.apply_step(nullptr, 0, nullptr, 0, 1.0);
  PTRT_CHECK_EQ(s.alignment_conflicts(), int64_t(1));
  PTRT_CHECK_EQ(s.display_text(), std::string("the dog ca"));
}

void test_bad_input() {
  TranscriptState s(test_vocabulary(), 0.08, TranscriptOptions{});
  std::vector<TokenEmission> bad = {tok(10, 0)};
  PTRT_CHECK_THROWS(s.apply_hypothesis(bad.data(), 1, 0.1), std::invalid_argument, "outside the vocabulary");
  PTRT_CHECK_EQ(s.last_seq(), int64_t(0));
  std::vector<TokenEmission> ok = {tok(0, 0)};
  s.apply_hypothesis(ok.data(), 1, 0.5);
  PTRT_CHECK_THROWS(s.apply_hypothesis(ok.data(), 1, 0.4), std::invalid_argument, "goes back");
  s.finish(0.6);
  PTRT_CHECK_THROWS(s.apply_hypothesis(ok.data(), 1, 0.7), Error, "after finish()");
  TranscriptOptions neg;
  neg.max_lag_ms = -1;
  PTRT_CHECK_THROWS(TranscriptState(test_vocabulary(), 0.08, neg), std::invalid_argument, "max_lag_ms");
}

// Random hypothesis sequences: a hidden "truth" grows; each update shows a prefix of it with a
// randomly corrupted tail (or, in step mode, stable tokens plus a random tail).
void test_random_sequences(bool step_mode) {
  std::mt19937 rng(step_mode ? 7 : 11);
  int failures = 0;
  const int trials = 400;
  for (int trial = 0; trial < trials; ++trial) {
    TranscriptOptions o;
    o.stable_updates = static_cast<int>(rng() % 4);
    o.max_lag_ms = static_cast<int64_t>(rng() % 3) * 400;
    o.max_window_tokens = static_cast<int>(rng() % 4) * 3;
    o.endpoint_blank_ms = static_cast<int64_t>(rng() % 3) * 400;
    o.commit_whole_words = rng() % 4 != 0;
    TranscriptState s(test_vocabulary(), 0.08, o);
    Client client;
    std::vector<TokenEmission> truth, stable;
    int64_t frame = 0;
    double edge = 0.0;
    const int updates = 5 + static_cast<int>(rng() % 40);
    for (int u = 0; u < updates; ++u) {
      const int grow = static_cast<int>(rng() % 4);
      for (int g = 0; g < grow; ++g) {
        frame += static_cast<int64_t>(rng() % 6);
        truth.push_back(tok(static_cast<int>(rng() % 10), frame, static_cast<int>(rng() % 3)));
      }
      edge = std::max(edge, (frame + 2) * 0.08) + (rng() % 3) * 0.3;
      std::vector<TokenEmission> tail;
      if (step_mode) {
        const size_t target = truth.size() > 2 ? truth.size() - 2 : 0;
        std::vector<TokenEmission> add(truth.begin() + static_cast<std::ptrdiff_t>(std::min(stable.size(), target)),
                                       truth.begin() + static_cast<std::ptrdiff_t>(std::max(stable.size(), target)));
        if (stable.size() > target) add.clear();
        stable.insert(stable.end(), add.begin(), add.end());
        for (size_t i = stable.size(); i < truth.size(); ++i) {
          TokenEmission t = truth[i];
          if (rng() % 3 == 0) t.token_id = static_cast<int>(rng() % 10);
          tail.push_back(t);
        }
        client.apply(s.apply_step(add.data(), static_cast<int64_t>(add.size()), tail.data(),
                                  static_cast<int64_t>(tail.size()), edge, static_cast<double>(rng() % 1000)));
      } else {
        std::vector<TokenEmission> h(truth);
        const size_t cut = h.empty() ? 0 : rng() % (h.size() + 1);
        for (size_t i = cut; i < h.size(); ++i) {
          if (rng() % 2 == 0) h[i].token_id = static_cast<int>(rng() % 10);
        }
        if (rng() % 5 == 0 && !h.empty()) h.pop_back();
        client.apply(s.apply_hypothesis(h.data(), static_cast<int64_t>(h.size()), edge));
      }
      if (client.display != s.display_text()) client.fail("replay differs from the display");
      if (client.committed_len != s.committed_chars()) client.fail("client committed_len differs");
      if (rng() % 10 == 0) {  // a client that resyncs from a snapshot continues seamlessly
        TranscriptEvent snap = s.snapshot();
        client.display = snap.text;
        client.committed_len = snap.committed_len;
        client.last_seq = snap.seq;
      }
    }
    client.apply(s.finish(edge + 0.1));
    if (client.display != s.committed_text()) client.fail("after finish the display is not the committed text");
    if (client.finals != s.committed_text()) client.fail("finals do not add up to the committed text");
    if (s.num_window_tokens() != 0) client.fail("window not empty after finish");
    if (!client.ok) {
      if (failures < 3) std::printf("  trial %d: %s\n", trial, client.why.c_str());
      ++failures;
    }
  }
  PTRT_CHECK_EQ(failures, 0);
}

void test_random_hypotheses() { test_random_sequences(false); }
void test_random_steps() { test_random_sequences(true); }

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"stable_updates_rule", &test_stable_updates_rule},
      {"whole_words_and_token_prefix_patch", &test_whole_words_and_token_prefix_patch},
      {"lag_and_window_rules", &test_lag_and_window_rules},
      {"blank_endpoint_emits_final", &test_blank_endpoint_emits_final},
      {"vad_endpoint_rules", &test_vad_endpoint_rules},
      {"engine_revision_aligns_by_time", &test_engine_revision_aligns_by_time},
      {"bad_input", &test_bad_input},
      {"random_hypotheses", &test_random_hypotheses},
      {"random_steps", &test_random_steps},
  });
}
