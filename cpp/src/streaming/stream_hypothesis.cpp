#include "parakeet_trt/stream_hypothesis.hpp"

#include <stdexcept>

namespace parakeet_trt {

StreamHypothesis::StreamHypothesis(std::shared_ptr<const Vocabulary> vocabulary) : vocabulary_(std::move(vocabulary)) {
  if (!vocabulary_) throw std::invalid_argument("StreamHypothesis: vocabulary: expected non-null");
}

void StreamHypothesis::apply(const StreamingStep& step) {
  committed_.insert(committed_.end(), step.committed, step.committed + step.num_committed);
  // Whole words end where a later committed token opens a word; at the last step every word is whole.
  size_t end = text_end_;
  if (step.is_last) {
    end = committed_.size();
  } else {
    for (size_t i = committed_.size(); i > text_end_ + 1; --i) {
      if (vocabulary_->starts_word(committed_[i - 1].token_id)) {
        end = i - 1;
        break;
      }
    }
  }
  if (end > text_end_) {
    scratch_.assign(committed_.begin() + static_cast<std::ptrdiff_t>(text_end_),
                    committed_.begin() + static_cast<std::ptrdiff_t>(end));
    // Token text_end_ opens a word (or is the first): the texts join on a whole character.
    committed_text_ += vocabulary_->detokenize(scratch_, !committed_text_.empty());
    text_end_ = end;
  }
  scratch_.assign(committed_.begin() + static_cast<std::ptrdiff_t>(text_end_), committed_.end());
  scratch_.insert(scratch_.end(), step.tail, step.tail + step.num_tail);
  tail_text_ = scratch_.empty() ? std::string() : vocabulary_->detokenize(scratch_, !committed_text_.empty());
}

}  // namespace parakeet_trt
