// Invariants of the TDT beam decoder (NeMo 3.0.0 BeamTDTInfer.default_beam_search) on a fake
// DecoderStep whose logits are a hash of (frame, token sequence): beam 1 against greedy where NeMo's
// beam-1 search is greedy (no duration-0 wins), the n-best order and score normalization, finite
// scores, consistent frames, the empty input, warm decode() without allocation, word confidence,
// and refused arguments. Equality with NeMo itself is tests/test_beam_search.py.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/tdt_beam_decoder.hpp"
#include "parakeet_trt/tdt_decoder.hpp"
#include "parakeet_trt/vocabulary.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

constexpr int kVocab = 12;
constexpr int kBlank = kVocab;
const std::vector<int> kDurations = {0, 1, 2, 3, 4};
constexpr int kOutputs = kVocab + 1 + 5;

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Projected row = {frame}; state.projected[0] = an id of the fed token sequence (exact in float).
class HashStep final : public DecoderStep {
 public:
  uint64_t seed = 1;
  bool suppress_zero_duration = false;  // duration-0 logit at -30: never the top duration
  float blank_bias = 0.0f;
  bool certain_zero_duration_token = false;  // token 0 with duration 0 at probability 1: no score loss
  int joint_calls = 0;

  int joint_hidden() const override { return 1; }
  int num_outputs() const override { return kOutputs; }
  int encoder_dim() const override { return 1; }
  PredictorState make_state() const override {
    PredictorState s;
    s.h.assign(1, 0.0f);
    s.c.assign(1, 0.0f);
    s.projected.assign(1, 0.0f);
    return s;
  }
  void project_encoder_strided(const float* encoder_out, int64_t, int64_t num_frames, float* out) override {
    for (int64_t t = 0; t < num_frames; ++t) out[t] = encoder_out[t];
  }
  void predict(int token, const PredictorState& state, PredictorState& next) override {
    const auto id = static_cast<uint32_t>(state.projected[0]);
    next.projected[0] = static_cast<float>((id * 31u + static_cast<uint32_t>(token) + 1u) % 1000003u);
    next.h[0] = state.h[0] + 1.0f;
    next.c[0] = 0.0f;
  }
  void joint(const float* frame, const PredictorState& state, float* logits) override {
    ++joint_calls;
    const auto f = static_cast<uint64_t>(frame[0]);
    const auto id = static_cast<uint64_t>(state.projected[0]);
    for (int i = 0; i < kOutputs; ++i) {
      const uint64_t r = mix(seed ^ mix(f * 1000003ull + id) ^ static_cast<uint64_t>(i) * 0x51ed27ull);
      logits[i] = static_cast<float>(static_cast<double>(r >> 11) / 9007199254740992.0 * 6.0 - 3.0);
    }
    logits[kBlank] += blank_bias;
    if (certain_zero_duration_token) {
      logits[0] = 200.0f;
      logits[kVocab + 1] = 200.0f;
    }
    if (suppress_zero_duration) logits[kVocab + 1] = -30.0f;
  }
};

TdtDecodingConfig decoding() {
  TdtDecodingConfig c;
  c.vocab_size = kVocab;
  c.blank_id = kBlank;
  c.durations = kDurations;
  c.max_symbols = 10;
  return c;
}

TdtBeamConfig beam_config(int beam_size, bool score_norm = true) {
  TdtBeamConfig b;
  b.beam_size = beam_size;
  b.score_norm = score_norm;
  return b;
}

std::vector<float> frames(int count) {
  std::vector<float> p(static_cast<size_t>(count));
  for (int t = 0; t < count; ++t) p[static_cast<size_t>(t)] = static_cast<float>(t);
  return p;
}

// NeMo: "If beam size is 1, defaults to stateful greedy search". Beam 1 expands the best non-blank
// token with the best duration and blank with the best duration; when the best duration is never 0
// both compare on the same duration log-prob, so it is exactly greedy (label-looping) decoding.
void test_beam1_equals_greedy_without_zero_durations() {
  int compared = 0, tokens = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    HashStep step;
    step.seed = seed;
    step.suppress_zero_duration = true;
    step.blank_bias = static_cast<float>(seed % 3);  // some blank-heavy, some token-heavy runs
    const int n = 5 + static_cast<int>(seed % 23);
    const std::vector<float> p = frames(n);
    TdtGreedyDecoder greedy(decoding(), step);
    DecoderCarry carry = greedy.make_carry();
    std::vector<TokenEmission> expected;
    greedy.decode(p.data(), n, carry, expected);
    TdtBeamDecoder beam(decoding(), beam_config(1), step);
    std::vector<BeamHypothesis> nbest;
    beam.decode(p.data(), n, nbest);
    PTRT_CHECK_EQ(nbest.size(), size_t{1});
    bool same = nbest[0].tokens.size() == expected.size();
    for (size_t i = 0; same && i < expected.size(); ++i) {
      const BeamToken& b = nbest[0].tokens[i];
      same = b.token_id == expected[i].token_id && b.frame == expected[i].frame && b.duration == expected[i].duration;
    }
    if (!same) std::printf("    seed %llu: beam-1 path differs from greedy\n", static_cast<unsigned long long>(seed));
    compared += same ? 1 : 0;
    tokens += static_cast<int>(expected.size());
  }
  PTRT_CHECK_EQ(compared, 40);
  PTRT_CHECK(tokens > 100);  // the comparison saw real paths, not only blanks
}

// Every n-best: best first by score / (tokens + 1) (or score), finite non-positive scores, frames
// that follow the durations, hypotheses that ended past the last frame.
void test_nbest_sorted_finite_and_consistent() {
  int lists = 0, longer_than_one = 0;
  for (bool norm : {true, false}) {
    for (int beam_size : {1, 2, 3, 4, 6}) {
      for (uint64_t seed = 1; seed <= 12; ++seed) {
        HashStep step;
        step.seed = seed * 7919;
        const int n = 3 + static_cast<int>(seed * 5 % 29);
        const std::vector<float> p = frames(n);
        TdtBeamDecoder beam(decoding(), beam_config(beam_size, norm), step);
        std::vector<BeamHypothesis> nbest;
        beam.decode(p.data(), n, nbest);
        ++lists;
        longer_than_one += nbest.size() > 1 ? 1 : 0;
        bool ok = !nbest.empty();
        for (size_t i = 0; i < nbest.size(); ++i) {
          const BeamHypothesis& h = nbest[i];
          const double key = norm ? static_cast<double>(h.score) / static_cast<double>(h.tokens.size() + 1) : h.score;
          ok = ok && std::isfinite(h.score) && h.score <= 0.0f && h.sort_key == key && h.last_frame >= n;
          if (i > 0) ok = ok && nbest[i - 1].sort_key >= h.sort_key;
          int64_t next_free = 0;
          for (const BeamToken& t : h.tokens) {
            ok = ok && t.token_id >= 0 && t.token_id < kVocab && t.frame >= next_free && t.frame < n &&
                 t.token_logprob <= 0.0f && t.duration_logprob <= 0.0f;
            next_free = t.frame + t.duration;
          }
        }
        if (!ok) std::printf("    norm %d beam %d seed %llu: invariant broken\n", norm, beam_size,
                             static_cast<unsigned long long>(seed));
        PTRT_CHECK(ok);
      }
    }
  }
  PTRT_CHECK(longer_than_one > lists / 2);
}

// NeMo: no frames -> the start hypothesis alone: no tokens, score 0.
void test_empty_input() {
  HashStep step;
  TdtBeamDecoder beam(decoding(), beam_config(4), step);
  std::vector<BeamHypothesis> nbest(3);
  beam.decode(nullptr, 0, nbest);
  PTRT_CHECK_EQ(nbest.size(), size_t{1});
  PTRT_CHECK(nbest[0].tokens.empty());
  PTRT_CHECK_EQ(nbest[0].score, 0.0f);
  PTRT_CHECK_EQ(step.joint_calls, 0);
}

// Once its pools are warm, decoding the same utterance again into the same n-best allocates nothing.
void test_warm_decode_does_not_allocate() {
  HashStep step;
  step.seed = 99;
  const std::vector<float> p = frames(40);
  TdtBeamDecoder beam(decoding(), beam_config(4), step);
  std::vector<BeamHypothesis> nbest;
  beam.decode(p.data(), 40, nbest);
  const std::vector<BeamHypothesis> first = nbest;
  int64_t allocations = -1;
  {
    ptrt_test::AllocationCounter counter;
    beam.decode(p.data(), 40, nbest);
    allocations = counter.count();
  }
  PTRT_CHECK_EQ(allocations, int64_t{0});
  bool same = nbest.size() == first.size();
  for (size_t i = 0; same && i < first.size(); ++i) {
    same = nbest[i].score == first[i].score && nbest[i].tokens.size() == first[i].tokens.size();
  }
  PTRT_CHECK(same);
}

// Word confidence = min over the word's tokens of exp(token_logprob).
void test_word_confidence_is_the_min_token_probability() {
  std::vector<std::string> pieces;
  for (int i = 0; i < kVocab; ++i) pieces.push_back(i % 3 == 0 ? "\xe2\x96\x81w" + std::to_string(i) : "x");
  Vocabulary vocabulary(pieces);
  BeamHypothesis h;
  h.tokens = {{0, 0, 1, std::log(0.9f), 0.0f}, {1, 1, 1, std::log(0.5f), 0.0f}, {3, 2, 1, std::log(0.8f), 0.0f},
              {4, 3, 1, std::log(0.7f), 0.0f}, {5, 4, 1, std::log(0.95f), 0.0f}};
  const std::vector<WordConfidence> words = word_confidences(vocabulary, h);
  PTRT_CHECK_EQ(words.size(), size_t{2});
  if (words.size() == 2) {
    PTRT_CHECK_EQ(words[0].word, std::string("w0x"));
    PTRT_CHECK_NEAR(words[0].confidence, 0.5, 1e-6);
    PTRT_CHECK_EQ(words[1].num_tokens, size_t{3});
    PTRT_CHECK_NEAR(words[1].confidence, 0.7, 1e-6);
  }
}

// A model whose duration-0 token costs nothing would make NeMo expand its first frame forever:
// max_expansions_per_frame ends each frame, and the decoder says it did.
void test_expansion_bound_ends_a_frame_that_never_would() {
  HashStep step;
  step.certain_zero_duration_token = true;
  TdtBeamConfig config = beam_config(2);
  config.max_expansions_per_frame = 7;
  TdtBeamDecoder beam(decoding(), config, step);
  const std::vector<float> p = frames(3);
  std::vector<BeamHypothesis> nbest;
  beam.decode(p.data(), 3, nbest);
  PTRT_CHECK(beam.expansion_bound_reached());
  PTRT_CHECK_EQ(beam.peak_expansions_per_frame(), 7);
  PTRT_CHECK(step.joint_calls >= 7 && step.joint_calls % 7 == 0);  // every expanded frame hit the bound
  PTRT_CHECK(!nbest.empty());
  HashStep normal;
  TdtBeamDecoder unbounded(decoding(), beam_config(2), normal);
  unbounded.decode(p.data(), 3, nbest);
  PTRT_CHECK(!unbounded.expansion_bound_reached());
  PTRT_CHECK(unbounded.peak_expansions_per_frame() >= 1);
}

void test_bad_arguments_are_refused() {
  HashStep step;
  PTRT_CHECK_THROWS(TdtBeamDecoder(decoding(), beam_config(0), step), std::invalid_argument,
                    "TdtBeamConfig.beam_size: expected >= 1, got 0");
  TdtBeamConfig hot = beam_config(2);
  hot.softmax_temperature = 0.0f;
  PTRT_CHECK_THROWS(TdtBeamDecoder(decoding(), hot, step), std::invalid_argument, "softmax_temperature");
  hot.softmax_temperature = std::numeric_limits<float>::quiet_NaN();
  PTRT_CHECK_THROWS(TdtBeamDecoder(decoding(), hot, step), std::invalid_argument, "softmax_temperature");
  TdtBeamConfig bounded = beam_config(2);
  bounded.max_expansions_per_frame = 0;
  PTRT_CHECK_THROWS(TdtBeamDecoder(decoding(), bounded, step), std::invalid_argument, "max_expansions_per_frame");
  TdtDecodingConfig zeros = decoding();
  zeros.durations = {0, 0, 0, 0, 0};
  PTRT_CHECK_THROWS(TdtBeamDecoder(zeros, beam_config(2), step), std::invalid_argument, "at least one duration > 0");
  TdtDecodingConfig fewer = decoding();
  fewer.durations = {0, 1, 2};
  PTRT_CHECK_THROWS(TdtBeamDecoder(fewer, beam_config(2), step), std::invalid_argument, "step.num_outputs()");
  TdtDecodingConfig wrong_blank = decoding();
  wrong_blank.blank_id = 0;
  PTRT_CHECK_THROWS(TdtBeamDecoder(wrong_blank, beam_config(2), step), std::invalid_argument, "blank_id");
  TdtBeamDecoder beam(decoding(), beam_config(2), step);
  std::vector<BeamHypothesis> nbest;
  PTRT_CHECK_THROWS(beam.decode(nullptr, -1, nbest), std::invalid_argument, "num_frames: expected >= 0, got -1");
  PTRT_CHECK_THROWS(beam.decode(nullptr, 3, nbest), std::invalid_argument, "projected");
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"beam1_equals_greedy_without_zero_durations", &test_beam1_equals_greedy_without_zero_durations},
      {"nbest_sorted_finite_and_consistent", &test_nbest_sorted_finite_and_consistent},
      {"empty_input", &test_empty_input},
      {"warm_decode_does_not_allocate", &test_warm_decode_does_not_allocate},
      {"word_confidence_is_the_min_token_probability", &test_word_confidence_is_the_min_token_probability},
      {"expansion_bound_ends_a_frame_that_never_would", &test_expansion_bound_ends_a_frame_that_never_would},
      {"bad_arguments_are_refused", &test_bad_arguments_are_refused},
  });
}
