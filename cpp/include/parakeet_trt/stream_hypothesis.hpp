// The text of a stream's hypothesis, kept incrementally: every token the engine committed, the
// committed text up to the last whole word, and the rest (the open word and the speculative tail)
// as the tail text. Committed text never ends mid-word ("the game ne | ed" is "the game | need"):
// a word is whole once a later committed token opens the next word, or at the last step.
// Each step renders only its new tokens (no re-detokenizing the committed ids).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/streaming.hpp"
#include "parakeet_trt/vocabulary.hpp"

namespace parakeet_trt {

class StreamHypothesis {
 public:
  explicit StreamHypothesis(std::shared_ptr<const Vocabulary> vocabulary);

  // Appends the step's committed tokens and renders the texts.
  void apply(const StreamingStep& step);

  const std::vector<TokenEmission>& committed_tokens() const { return committed_; }
  // Text of committed_tokens()[0, whole_word_tokens()): only whole words.
  const std::string& committed_text() const { return committed_text_; }
  // Text of the committed tokens after the last whole word, then the tail; continues committed_text().
  const std::string& tail_text() const { return tail_text_; }
  int64_t whole_word_tokens() const { return static_cast<int64_t>(text_end_); }

 private:
  std::shared_ptr<const Vocabulary> vocabulary_;
  std::vector<TokenEmission> committed_, scratch_;
  size_t text_end_ = 0;
  std::string committed_text_, tail_text_;
};

}  // namespace parakeet_trt
