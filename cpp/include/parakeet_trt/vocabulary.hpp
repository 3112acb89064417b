// SentencePiece vocabulary: token ids to text and words. '▁' (U+2581) starts a word; byte-fallback
// pieces (<0xNN>) are emitted as raw bytes.
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
  explicit Vocabulary(std::vector<std::string> pieces);
  // One piece per line, id order. Throws ModelError on unreadable files or empty lines.
  static Vocabulary load(const std::string& path);

  size_t size() const { return pieces_.size(); }
  const std::string& piece(int id) const;  // throws std::out_of_range
  // Surface text of one token: '▁' becomes a space, byte pieces become their byte.
  std::string token_text(int id) const;

  std::string detokenize(const std::vector<TokenEmission>& tokens) const;
  // Words with times: start = first token's frame, end = last token's frame + duration, in seconds.
  std::vector<Word> words(const std::vector<TokenEmission>& tokens, double frame_stride_s) const;

 private:
  std::vector<std::string> pieces_;
};

}  // namespace parakeet_trt
