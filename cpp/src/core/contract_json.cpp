#include "core/contract_json.hpp"

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

int json_int32(const Json& value, const std::string& path) {
  int64_t v = value.as_int(path);
  if (v < INT32_MIN || v > INT32_MAX) throw ModelError("'" + path + "' = " + std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

std::vector<int64_t> json_shape(const Json& shape, const std::string& path) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < shape.size(); ++i) {
    const Json& d = shape.at(i);
    out.push_back(d.type() == Json::Type::kNumber ? d.as_int(path) : -1);
  }
  return out;
}

std::vector<TensorSpec> json_tensor_specs(const Json& list, const std::string& path) {
  std::vector<TensorSpec> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& t = list.at(i);
    std::string p = path + "[" + std::to_string(i) + "]";
    out.push_back(TensorSpec{t.at("name", p).as_string(p + ".name"), t.at("dtype", p).as_string(p + ".dtype"),
                             json_shape(t.at("shape", p), p + ".shape")});
  }
  return out;
}

const TensorSpec& find_tensor_spec(const std::vector<TensorSpec>& specs, const std::string& name,
                                   const std::string& what) {
  for (const TensorSpec& s : specs) {
    if (s.name == name) return s;
  }
  std::string names;
  for (const TensorSpec& s : specs) names += (names.empty() ? "" : ", ") + s.name;
  throw ContractViolation(what + " '" + name + "'", "present", "absent (have: " + names + ")");
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + (shape[i] < 0 ? std::string("?") : std::to_string(shape[i]));
  return s + "]";
}

}  // namespace parakeet_trt
