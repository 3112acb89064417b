// TensorRT-independent parts of the TensorRT engine (internal): the engine metadata written by
// `parakeet-trt build-trt` (<engine>.meta.json) and its load-time check, optimization-profile
// selection and per-call shape checks. Compiled in every build so CTest covers it without TensorRT.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/contract.hpp"
#include "parakeet_trt/engine.hpp"

namespace parakeet_trt {

struct ShapeRange {
  std::vector<int64_t> min, opt, max;
  bool contains(const int64_t* shape, int32_t rank) const;
};

struct EngineProfile {
  std::map<std::string, ShapeRange> inputs;
};

struct TensorRtEngineMeta {
  int64_t version = 0;
  std::string engine, engine_file, onnx_file, contract_file, contract_sha256;
  std::string tensorrt_version;    // as the builder reported it, e.g. "10.16.0.72"
  std::string compute_capability;  // "major.minor" of the GPU that built the engine
  std::string precision;           // "fp32" | "fp16" | "bf16"
  std::vector<EngineProfile> profiles;

  // Parses <engine>.meta.json text; ContractViolation "engine meta <field>" on a missing or mistyped field.
  static TensorRtEngineMeta parse(const std::string& json_text);
};

// What the loader knows: an empty string skips that field's check.
struct TensorRtEngineExpectation {
  std::string engine, contract_sha256, tensorrt_version, compute_capability;
};

constexpr int64_t kTensorRtEngineMetaVersion = 1;

// ContractViolation naming the first differing field ("engine meta tensorrt_version: expected 10.16.0, got 10.8.0").
// TensorRT versions compare on major.minor.patch: an engine is tied to the exact library release.
void check_tensorrt_engine_meta(const TensorRtEngineMeta& meta, const TensorRtEngineExpectation& expected);

// "major.minor.patch" of a TensorRT version string or of getInferLibVersion() (major*10000 + minor*100 + patch).
std::string tensorrt_release(const std::string& version);
std::string tensorrt_release_from_int(int32_t lib_version);

// Index of the first profile whose ranges contain every input's shape; ContractViolation otherwise.
size_t select_profile(const std::vector<EngineProfile>& profiles, const TensorView* inputs, size_t num_inputs);

// Whether calls of `engine` on `profile` are replayed from a CUDA graph: only the decoder step, i.e.
// decoder_joint on a profile whose every input has min == opt == max (one fixed shape, so the captured
// kernels, shapes and buffer addresses stay valid). Everything else runs a plain enqueueV3.
bool use_cuda_graph(const std::string& engine, const EngineProfile& profile);

// dtype, rank and every fixed dimension of `view` against the contract's spec (symbolic dims are free).
void check_tensor_spec(const TensorSpec& spec, const TensorView& view);

// The TensorRT engine for `engine_name` of a model: deserializes `engine_path`, checks
// <engine>.meta.json against `contract_sha256`, the loaded TensorRT and the GPU. Throws
// Error(kUnavailable) when the library was built without PARAKEET_TRT_WITH_TENSORRT or when
// libnvinfer (.so.11 or .so.10) / libcudart cannot be loaded at run time.
// "" when TensorRT engines can be loaded here (compiled in, libnvinfer and libcudart open), else why.
std::string tensorrt_unavailable_reason();

std::unique_ptr<Engine> make_tensorrt_engine(const std::string& engine_path, const EngineContract& contract,
                                             const std::string& contract_sha256);

}  // namespace parakeet_trt
