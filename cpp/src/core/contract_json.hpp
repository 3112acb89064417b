// JSON helpers shared by model_meta.json and contract parsing (internal).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/json.hpp"
#include "parakeet_trt/contract.hpp"

namespace parakeet_trt {

// Integer fields the runtime holds as int: refuse what does not fit instead of truncating.
int json_int32(const Json& value, const std::string& path);
// Shape of a tensor: integers stay, symbolic dimensions (strings) become -1.
std::vector<int64_t> json_shape(const Json& shape, const std::string& path);
std::vector<TensorSpec> json_tensor_specs(const Json& list, const std::string& path);
// The spec called `name`; ContractViolation "<what> '<name>'" (expected present) if absent.
const TensorSpec& find_tensor_spec(const std::vector<TensorSpec>& specs, const std::string& name,
                                   const std::string& what);
std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace parakeet_trt
