// A small JSON reader for model_meta.json and contracts: the core parses its own model folder so
// the C ABI can load a model without Python. Read-only, UTF-8, numbers as double.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace parakeet_trt {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  static Json parse(const std::string& text);  // throws std::runtime_error with the byte offset

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool has(const std::string& key) const;

  // Typed accessors throw std::runtime_error naming `path` when the value has another type.
  const Json& at(const std::string& key, const std::string& path = "") const;
  const Json& at(size_t index) const;
  size_t size() const;
  bool as_bool(const std::string& path = "") const;
  double as_number(const std::string& path = "") const;
  int64_t as_int(const std::string& path = "") const;  // rejects non-integral numbers
  const std::string& as_string(const std::string& path = "") const;
  const std::map<std::string, Json>& items(const std::string& path = "") const;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0.0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

}  // namespace parakeet_trt
