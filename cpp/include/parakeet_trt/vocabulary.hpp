// SentencePiece vocabulary: token ids to text and words, decoded as SentencePiece's decode_ids does
// (which NeMo's tokenizer calls): '▁' (U+2581) is a space and starts a word, the first piece's leading
// space is dropped, unknown pieces read " ⁇ ", control pieces read "", byte pieces (<0xNN>) are raw
// bytes. Invalid UTF-8 that byte pieces may form is replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "parakeet_trt/tdt_decoder.hpp"

namespace parakeet_trt {

struct Word {
  std::string text;
  double start_s = 0.0;
  double end_s = 0.0;
  size_t first_token = 0;  // index into the token list
  size_t num_tokens = 0;
};

class Vocabulary {
 public:
  Vocabulary() = default;
  explicit Vocabulary(std::vector<std::string> pieces, std::vector<int> unknown_ids = {},
                      std::vector<int> control_ids = {});
  // One piece per line, id order. Throws ModelError on unreadable files, empty lines or invalid UTF-8.
  static Vocabulary load(const std::string& path, std::vector<int> unknown_ids = {}, std::vector<int> control_ids = {});

  size_t size() const { return pieces_.size(); }
  const std::string& piece(int id) const;  // throws std::out_of_range
  // Surface text of one token: '▁' becomes a space, byte pieces their byte, special pieces as above.
  std::string token_text(int id) const;

  std::string detokenize(const std::vector<TokenEmission>& tokens) const;
  // Text of tokens that continue an existing text (continues_text = true): the first piece keeps
  // its leading space, so detokenize(a) + detokenize(b, !detokenize(a).empty()) == detokenize(a + b)
  // whenever a ends on a whole character (the transcript state renders its revision window so).
  std::string detokenize(const std::vector<TokenEmission>& tokens, bool continues_text) const;
  // True when the token's piece opens a word (starts with SentencePiece's U+2581).
  bool starts_word(int id) const;
  // Words with times: start = first token's frame, end = last token's frame + duration, in seconds.
  std::vector<Word> words(const std::vector<TokenEmission>& tokens, double frame_stride_s) const;

 private:
  enum class Kind : unsigned char { kNormal, kUnknown, kControl };
  std::vector<std::string> pieces_;
  std::vector<Kind> kinds_;
};

}  // namespace parakeet_trt
