#include "core/json.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <stdexcept>

namespace parakeet_trt {

class JsonParser {
 public:
  explicit JsonParser(const std::string& text) : s_(text) {}

  Json parse_document() {
    Json value = parse_value(0);
    skip_ws();
    if (pos_ != s_.size()) fail("trailing characters after the JSON value");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 64;  // bounds recursion on hostile input

  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error("invalid JSON at byte " + std::to_string(pos_) + ": " + what);
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }
  char peek() {
    skip_ws();
    if (pos_ >= s_.size()) fail("unexpected end of input");
    return s_[pos_];
  }
  void expect_literal(const char* literal) {
    for (const char* p = literal; *p; ++p, ++pos_) {
      if (pos_ >= s_.size() || s_[pos_] != *p) fail(std::string("expected '") + literal + "'");
    }
  }

  Json parse_value(int depth) {
    if (depth > kMaxDepth) fail("nesting deeper than 64 levels");
    Json v;
    switch (peek()) {
      case '{': parse_object(v, depth); break;
      case '[': parse_array(v, depth); break;
      case '"': v.type_ = Json::Type::kString; v.string_ = parse_string(); break;
      case 't': expect_literal("true"); v.type_ = Json::Type::kBool; v.bool_ = true; break;
      case 'f': expect_literal("false"); v.type_ = Json::Type::kBool; v.bool_ = false; break;
      case 'n': expect_literal("null"); break;
      default: v.type_ = Json::Type::kNumber; v.number_ = parse_number(); break;
    }
    return v;
  }

  void parse_object(Json& v, int depth) {
    v.type_ = Json::Type::kObject;
    ++pos_;
    if (peek() == '}') { ++pos_; return; }
    while (true) {
      if (peek() != '"') fail("expected a string key");
      std::string key = parse_string();
      if (peek() != ':') fail("expected ':'");
      ++pos_;
      v.object_[key] = parse_value(depth + 1);
      char c = peek();
      ++pos_;
      if (c == '}') return;
      if (c != ',') fail("expected ',' or '}'");
    }
  }

  void parse_array(Json& v, int depth) {
    v.type_ = Json::Type::kArray;
    ++pos_;
    if (peek() == ']') { ++pos_; return; }
    while (true) {
      v.array_.push_back(parse_value(depth + 1));
      char c = peek();
      ++pos_;
      if (c == ']') return;
      if (c != ',') fail("expected ',' or ']'");
    }
  }

  double parse_number() {
    size_t start = pos_;
    if (pos_ < s_.size() && (s_[pos_] == '-' || s_[pos_] == '+')) ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '-' || s_[pos_] == '+')) {
      ++pos_;
    }
    if (start == pos_) fail("unexpected character");
    std::string token = s_.substr(start, pos_ - start);
    // from_chars ignores the C locale (strtod would read "0,97" in a comma-decimal host process).
    const char* first = token.c_str();
    if (*first == '+') fail("malformed number '" + token + "'");
    double value = 0.0;
    auto [end, error] = std::from_chars(first, first + token.size(), value);
    if (error != std::errc() || end != first + token.size() || !std::isfinite(value)) {
      fail("malformed number '" + token + "'");
    }
    return value;
  }

  unsigned parse_hex4() {
    if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      code <<= 4;
      if (c >= '0' && c <= '9') code |= c - '0';
      else if (c >= 'a' && c <= 'f') code |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') code |= c - 'A' + 10;
      else fail("bad \\u escape");
    }
    return code;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string parse_string() {
    ++pos_;  // opening quote
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') { out += c; continue; }
      if (pos_ >= s_.size()) fail("unterminated escape");
      char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (pos_ + 2 > s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') fail("lone surrogate");
            pos_ += 2;
            unsigned low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: fail("unknown escape");
      }
    }
  }

  const std::string& s_;
  size_t pos_ = 0;
};

Json Json::parse(const std::string& text) { return JsonParser(text).parse_document(); }

namespace {
[[noreturn]] void type_error(const std::string& path, const char* expected) {
  throw std::runtime_error("'" + (path.empty() ? std::string("<value>") : path) + "' must be " + expected);
}
}  // namespace

bool Json::has(const std::string& key) const { return type_ == Type::kObject && object_.count(key) != 0; }

const Json& Json::at(const std::string& key, const std::string& path) const {
  if (type_ != Type::kObject) type_error(path, "an object");
  auto it = object_.find(key);
  if (it == object_.end()) {
    throw std::runtime_error("missing key '" + (path.empty() ? key : path + "." + key) + "'");
  }
  return it->second;
}

const Json& Json::at(size_t index) const {
  if (type_ != Type::kArray || index >= array_.size()) throw std::runtime_error("array index out of range");
  return array_[index];
}

size_t Json::size() const {
  if (type_ == Type::kArray) return array_.size();
  if (type_ == Type::kObject) return object_.size();
  return 0;
}

bool Json::as_bool(const std::string& path) const {
  if (type_ != Type::kBool) type_error(path, "a boolean");
  return bool_;
}

double Json::as_number(const std::string& path) const {
  if (type_ != Type::kNumber) type_error(path, "a number");
  return number_;
}

int64_t Json::as_int(const std::string& path) const {
  double v = as_number(path);
  if (std::floor(v) != v || std::fabs(v) > 9.0e15) type_error(path, "an integer");
  return static_cast<int64_t>(v);
}

const std::string& Json::as_string(const std::string& path) const {
  if (type_ != Type::kString) type_error(path, "a string");
  return string_;
}

const std::map<std::string, Json>& Json::items(const std::string& path) const {
  if (type_ != Type::kObject) type_error(path, "an object");
  return object_;
}

}  // namespace parakeet_trt
