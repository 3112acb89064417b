// Vocabulary: SentencePiece decode semantics (what NeMo's tokenizer returns) and word timing.
#include <string>
#include <vector>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/vocabulary.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

const std::string kMarker = "\xE2\x96\x81";  // '▁'

// ids: 0 <unk>, 1 <pad>, 2 ▁the, 3 ▁qu, 4 ick, 5 ▁, 6 fox, 7 <0x41>, 8 <0xE2>
Vocabulary make_vocabulary() {
  return Vocabulary({"<unk>", "<pad>", kMarker + "the", kMarker + "qu", "ick", kMarker, "fox", "<0x41>", "<0xE2>"},
                    {0}, {1});
}

std::vector<TokenEmission> tokens(std::initializer_list<std::pair<int, int64_t>> ids_and_frames, int duration = 1) {
  std::vector<TokenEmission> out;
  for (auto [id, frame] : ids_and_frames) out.push_back(TokenEmission{id, frame, duration, 0.f});
  return out;
}

void test_detokenize_follows_sentencepiece() {
  Vocabulary v = make_vocabulary();
  // The dummy-prefix space of the first piece is dropped; later markers are spaces.
  PTRT_CHECK_EQ(v.detokenize(tokens({{2, 0}, {3, 1}, {4, 2}})), std::string("the quick"));
  // Unknown reads " ⁇ " (no trimming, as SentencePiece), control pieces vanish.
  PTRT_CHECK_EQ(v.detokenize(tokens({{2, 0}, {0, 1}, {6, 2}})), std::string("the \xE2\x81\x87 fox"));
  PTRT_CHECK_EQ(v.detokenize(tokens({{1, 0}, {2, 1}})), std::string("the"));
  PTRT_CHECK_EQ(v.detokenize(tokens({{0, 0}})), std::string(" \xE2\x81\x87 "));
  // A bare '▁' followed by a piece: one word.
  PTRT_CHECK_EQ(v.detokenize(tokens({{2, 0}, {5, 1}, {6, 2}})), std::string("the fox"));
  // Byte pieces are bytes; an invalid UTF-8 byte becomes U+FFFD instead of breaking callers.
  PTRT_CHECK_EQ(v.detokenize(tokens({{7, 0}})), std::string("A"));
  PTRT_CHECK_EQ(v.detokenize(tokens({{8, 0}})), std::string("\xEF\xBF\xBD"));
  PTRT_CHECK_EQ(v.detokenize({}), std::string(""));
}

void test_words_and_times() {
  Vocabulary v = make_vocabulary();
  std::vector<TokenEmission> t = {{2, 3, 2, 0.f}, {3, 7, 1, 0.f}, {4, 9, 0, 0.f}, {5, 12, 1, 0.f}, {6, 14, 3, 0.f}};
  std::vector<Word> words = v.words(t, 0.08);
  PTRT_CHECK_EQ(words.size(), size_t(3));
  PTRT_CHECK_EQ(words[0].text, std::string("the"));
  PTRT_CHECK_NEAR(words[0].start_s, 0.24, 1e-12);
  PTRT_CHECK_NEAR(words[0].end_s, 0.40, 1e-12);
  PTRT_CHECK_EQ(words[1].text, std::string("quick"));
  PTRT_CHECK_NEAR(words[1].start_s, 0.56, 1e-12);
  PTRT_CHECK_NEAR(words[1].end_s, 0.72, 1e-12);  // last token: frame 9 + duration 0
  PTRT_CHECK_EQ(words[1].num_tokens, size_t(2));
  // The bare '▁' opens a word that "fox" fills: its start moves to fox's frame.
  PTRT_CHECK_EQ(words[2].text, std::string("fox"));
  PTRT_CHECK_NEAR(words[2].start_s, 14 * 0.08, 1e-12);
  PTRT_CHECK_NEAR(words[2].end_s, 17 * 0.08, 1e-12);
  // A first piece without '▁' still starts a word.
  std::vector<Word> first = v.words(tokens({{4, 0}, {2, 1}}), 0.08);
  PTRT_CHECK_EQ(first.size(), size_t(2));
  PTRT_CHECK_EQ(first[0].text, std::string("ick"));
}

void test_bad_ids() {
  Vocabulary v = make_vocabulary();
  PTRT_CHECK_THROWS(v.token_text(9), std::out_of_range, "outside the vocabulary");
  PTRT_CHECK_THROWS(v.token_text(-1), std::out_of_range, "outside the vocabulary");
  PTRT_CHECK_THROWS(Vocabulary({"a"}, {3}), ModelError, "unknown_ids id 3");
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"detokenize follows SentencePiece", &test_detokenize_follows_sentencepiece},
                               {"words and times", &test_words_and_times},
                               {"bad ids", &test_bad_ids}});
}
