#include "parakeet_trt/vocabulary.hpp"

#include <fstream>
#include <stdexcept>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

const std::string kWordMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's word boundary

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

// "<0x0A>" → '\n'; returns false for anything else.
bool parse_byte_piece(const std::string& piece, char* byte) {
  if (piece.size() != 6 || piece.compare(0, 3, "<0x") != 0 || piece[5] != '>') return false;
  unsigned value = 0;
  for (int i = 3; i < 5; ++i) {
    char c = piece[i];
    value <<= 4;
    if (c >= '0' && c <= '9') value |= c - '0';
    else if (c >= 'A' && c <= 'F') value |= c - 'A' + 10;
    else if (c >= 'a' && c <= 'f') value |= c - 'a' + 10;
    else return false;
  }
  *byte = static_cast<char>(value);
  return true;
}

std::string replace_markers(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kWordMarker.size(), kWordMarker) == 0) {
      out += ' ';
      i += kWordMarker.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(' ');
  return s.substr(begin, end - begin + 1);
}

const char* const kUnknownSurface = " \xE2\x81\x87 ";  // " ⁇ ", SentencePiece's default unk surface
const char* const kReplacement = "\xEF\xBF\xBD";       // U+FFFD

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t utf8_sequence_length(const std::string& s, size_t i) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

std::string sanitize_utf8(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out += kReplacement;
      ++i;
    } else {
      out.append(s, i, n);
      i += n;
    }
  }
  return out;
}

}  // namespace

Vocabulary::Vocabulary(std::vector<std::string> pieces, std::vector<int> unknown_ids, std::vector<int> control_ids)
    : pieces_(std::move(pieces)), kinds_(pieces_.size(), Kind::kNormal) {
  auto mark = [&](const std::vector<int>& ids, Kind kind, const char* what) {
    for (int id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) {
        throw ModelError(std::string("vocabulary ") + what + " id " + std::to_string(id) + " is outside the vocabulary of " +
                         std::to_string(pieces_.size()));
      }
      kinds_[static_cast<size_t>(id)] = kind;
    }
  };
  mark(unknown_ids, Kind::kUnknown, "unknown_ids");
  mark(control_ids, Kind::kControl, "control_ids");
}

Vocabulary Vocabulary::load(const std::string& path, std::vector<int> unknown_ids, std::vector<int> control_ids) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot open vocabulary '" + path + "'");
  std::vector<std::string> pieces;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      throw ModelError("vocabulary '" + path + "' has an empty line at id " + std::to_string(pieces.size()));
    }
    if (sanitize_utf8(line) != line) {
      throw ModelError("vocabulary '" + path + "' has invalid UTF-8 at id " + std::to_string(pieces.size()));
    }
    pieces.push_back(line);
  }
  if (pieces.empty()) throw ModelError("vocabulary '" + path + "' is empty");
  return Vocabulary(std::move(pieces), std::move(unknown_ids), std::move(control_ids));
}

const std::string& Vocabulary::piece(int id) const {
  if (id < 0 || static_cast<size_t>(id) >= pieces_.size()) {
    throw std::out_of_range("token id " + std::to_string(id) + " outside the vocabulary of " +
                            std::to_string(pieces_.size()));
  }
  return pieces_[static_cast<size_t>(id)];
}

std::string Vocabulary::token_text(int id) const {
  const std::string& p = piece(id);
  Kind kind = kinds_[static_cast<size_t>(id)];
  if (kind == Kind::kUnknown) return kUnknownSurface;
  if (kind == Kind::kControl) return "";
  char byte;
  if (parse_byte_piece(p, &byte)) return std::string(1, byte);
  return replace_markers(p);
}

std::string Vocabulary::detokenize(const std::vector<TokenEmission>& tokens) const {
  return detokenize(tokens, false);
}

bool Vocabulary::starts_word(int id) const { return starts_with(piece(id), kWordMarker); }

std::string Vocabulary::detokenize(const std::vector<TokenEmission>& tokens, bool continues_text) const {
  std::string text;
  for (const TokenEmission& t : tokens) {
    std::string surface = token_text(t.token_id);
    // SentencePiece drops the space of the dummy prefix: the leading '▁' of the first piece.
    if (!continues_text && text.empty() && kinds_[static_cast<size_t>(t.token_id)] == Kind::kNormal &&
        starts_with(piece(t.token_id), kWordMarker) && !surface.empty() && surface[0] == ' ') {
      surface.erase(0, 1);
    }
    text += surface;
  }
  return sanitize_utf8(text);
}

std::vector<Word> Vocabulary::words(const std::vector<TokenEmission>& tokens, double frame_stride_s) const {
  std::vector<Word> words;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const TokenEmission& t = tokens[i];
    const std::string& p = piece(t.token_id);
    std::string surface = token_text(t.token_id);
    bool starts_word = starts_with(p, kWordMarker) || words.empty();
    std::string stripped = trim(surface);
    if (starts_word) {
      // A bare '▁' piece opens an empty word that the next piece fills (start time moves with it).
      words.push_back(Word{stripped, t.frame * frame_stride_s, (t.frame + t.duration) * frame_stride_s, i, 1});
    } else {
      Word& w = words.back();
      if (w.text.empty()) w.start_s = t.frame * frame_stride_s;
      w.text += surface;
      w.end_s = (t.frame + t.duration) * frame_stride_s;
      w.num_tokens += 1;
    }
  }
  std::vector<Word> non_empty;
  for (Word& w : words) {
    w.text = sanitize_utf8(trim(w.text));
    if (!w.text.empty()) non_empty.push_back(std::move(w));
  }
  return non_empty;
}

}  // namespace parakeet_trt
