#include "engines/tensorrt_support.hpp"

#include <sstream>

#include "core/json.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

std::string shape_string(const int64_t* shape, size_t rank) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < rank; ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string shape_string(const std::vector<int64_t>& shape) { return shape_string(shape.data(), shape.size()); }

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return "float32";
    case DType::kInt64: return "int64";
    case DType::kInt32: return "int32";
  }
  return "unknown";
}

const Json& field(const Json& object, const std::string& key) {
  if (!object.is_object() || !object.has(key)) throw ContractViolation("engine meta " + key, "present", "missing");
  return object.at(key);
}

std::string string_field(const Json& object, const std::string& key) {
  const Json& value = field(object, key);
  if (value.type() != Json::Type::kString) throw ContractViolation("engine meta " + key, "a string", "another type");
  return value.as_string();
}

std::vector<int64_t> int_list(const Json& list, const std::string& path) {
  if (!list.is_array()) throw ContractViolation("engine meta " + path, "a list of integers", "another type");
  std::vector<int64_t> out;
  for (size_t i = 0; i < list.size(); ++i) out.push_back(list.at(i).as_int(path));
  return out;
}

}  // namespace

bool ShapeRange::contains(const int64_t* shape, int32_t rank) const {
  if (static_cast<size_t>(rank) != min.size() || min.size() != max.size()) return false;
  for (int32_t i = 0; i < rank; ++i)
    if (shape[i] < min[i] || shape[i] > max[i]) return false;
  return true;
}

TensorRtEngineMeta TensorRtEngineMeta::parse(const std::string& json_text) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const std::exception& error) {
    throw ContractViolation("engine meta", "valid JSON", error.what());
  }
  TensorRtEngineMeta meta;
  const Json& version = field(root, "engine_meta_version");
  meta.version = version.as_int("engine_meta_version");
  meta.engine = string_field(root, "engine");
  meta.engine_file = string_field(root, "engine_file");
  meta.onnx_file = string_field(root, "onnx_file");
  meta.contract_file = string_field(root, "contract_file");
  meta.contract_sha256 = string_field(root, "contract_sha256");
  meta.tensorrt_version = string_field(root, "tensorrt_version");
  meta.compute_capability = string_field(root, "compute_capability");
  meta.precision = string_field(root, "precision");
  const Json& profiles = field(root, "profiles");
  for (size_t p = 0; p < profiles.size(); ++p) {
    EngineProfile profile;
    for (const auto& [name, range] : profiles.at(p).items("profiles")) {
      const std::string path = "profiles[" + std::to_string(p) + "]." + name;
      profile.inputs[name] = ShapeRange{int_list(field(range, "min"), path + ".min"),
                                        int_list(field(range, "opt"), path + ".opt"),
                                        int_list(field(range, "max"), path + ".max")};
    }
    meta.profiles.push_back(std::move(profile));
  }
  return meta;
}

std::string tensorrt_release(const std::string& version) {
  size_t dots = 0, end = 0;
  for (; end < version.size(); ++end)
    if (version[end] == '.' && ++dots == 3) break;
  return version.substr(0, end);
}

std::string tensorrt_release_from_int(int32_t lib_version) {
  return std::to_string(lib_version / 10000) + "." + std::to_string(lib_version / 100 % 100) + "." +
         std::to_string(lib_version % 100);
}

void check_tensorrt_engine_meta(const TensorRtEngineMeta& meta, const TensorRtEngineExpectation& expected) {
  if (meta.version != kTensorRtEngineMetaVersion)
    throw ContractViolation("engine meta engine_meta_version", std::to_string(kTensorRtEngineMetaVersion),
                            std::to_string(meta.version));
  const std::pair<const char*, std::pair<std::string, std::string>> checks[] = {
      {"contract_sha256", {expected.contract_sha256, meta.contract_sha256}},
      {"engine", {expected.engine, meta.engine}},
      {"tensorrt_version", {tensorrt_release(expected.tensorrt_version), tensorrt_release(meta.tensorrt_version)}},
      {"compute_capability", {expected.compute_capability, meta.compute_capability}},
  };
  for (const auto& [name, values] : checks)
    if (!values.first.empty() && values.first != values.second)
      throw ContractViolation(std::string("engine meta ") + name, values.first, values.second);
  if (meta.profiles.empty()) throw ContractViolation("engine meta profiles", "at least one profile", "none");
}

bool use_cuda_graph(const std::string& engine, const EngineProfile& profile) {
  if (engine != "decoder_joint" || profile.inputs.empty()) return false;
  for (const auto& [name, range] : profile.inputs)
    if (range.min != range.max || range.opt != range.min) return false;
  return true;
}

size_t select_profile(const std::vector<EngineProfile>& profiles, const TensorView* inputs, size_t num_inputs) {
  for (size_t p = 0; p < profiles.size(); ++p) {
    bool fits = true;
    for (size_t i = 0; i < num_inputs && fits; ++i) {
      auto it = profiles[p].inputs.find(inputs[i].name);
      fits = it != profiles[p].inputs.end() && it->second.contains(inputs[i].shape, inputs[i].rank);
    }
    if (fits) return p;
  }
  std::ostringstream actual;
  for (size_t i = 0; i < num_inputs; ++i)
    actual << (i ? ", " : "") << inputs[i].name << " " << shape_string(inputs[i].shape, inputs[i].rank);
  std::ostringstream ranges;
  for (size_t p = 0; p < profiles.size(); ++p) {
    ranges << (p ? "; " : "") << "profile " << p << ":";
    for (const auto& [name, range] : profiles[p].inputs)
      ranges << " " << name << " " << shape_string(range.min) << ".." << shape_string(range.max);
  }
  throw ContractViolation("engine input shapes", "within an optimization profile (" + ranges.str() + ")",
                          actual.str());
}

void check_tensor_spec(const TensorSpec& spec, const TensorView& view) {
  if (spec.dtype != dtype_name(view.dtype))
    throw ContractViolation(spec.name + ".dtype", spec.dtype, dtype_name(view.dtype));
  if (static_cast<size_t>(view.rank) != spec.shape.size())
    throw ContractViolation(spec.name + ".rank", std::to_string(spec.shape.size()), std::to_string(view.rank));
  for (size_t i = 0; i < spec.shape.size(); ++i)
    if (spec.shape[i] >= 0 && spec.shape[i] != view.shape[i])
      throw ContractViolation(spec.name + ".shape[" + std::to_string(i) + "]", std::to_string(spec.shape[i]),
                              std::to_string(view.shape[i]));
}

#ifndef PTRT_WITH_TENSORRT
namespace {
constexpr const char* kNotCompiled = "parakeet_trt was built without TensorRT (configure with -DPARAKEET_TRT_WITH_TENSORRT=ON)";
}  // namespace

std::string tensorrt_unavailable_reason() { return kNotCompiled; }

std::unique_ptr<Engine> make_tensorrt_engine(const std::string& engine_path, const EngineContract&,
                                             const std::string&) {
  throw Error(ErrorCode::kUnavailable, "cannot load TensorRT engine " + engine_path + ": " + kNotCompiled);
}
#endif

}  // namespace parakeet_trt
