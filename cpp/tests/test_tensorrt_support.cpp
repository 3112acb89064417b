// TensorRT-independent logic of the TensorRT engine: engine metadata parsing and check, profile
// selection, tensor spec checks, and the kUnavailable error of a build without TensorRT.
#include <string>

#include "engines/tensorrt_support.hpp"
#include "parakeet_trt/errors.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

// What parakeet_trt.tensorrt.build writes (decoder_joint: a step profile and a range profile).
const char* kMeta = R"({
  "compute_capability": "9.0", "contract_file": "m.contract.json", "contract_sha256": "aaaa",
  "engine": "decoder_joint", "engine_file": "decoder_joint.engine", "engine_meta_version": 1,
  "fp32_nodes": [], "onnx_file": "decoder_joint.onnx", "onnx_sha256": "0000", "precision": "fp16",
  "tensorrt_version": "10.16.0.72",
  "profiles": [
    {"encoder_outputs": {"min": [1, 64, 1], "opt": [1, 64, 1], "max": [1, 64, 1]},
     "targets": {"min": [1, 1], "opt": [1, 1], "max": [1, 1]}},
    {"encoder_outputs": {"min": [1, 64, 1], "opt": [1, 64, 1], "max": [1, 64, 500]},
     "targets": {"min": [1, 1], "opt": [1, 1], "max": [1, 1]}}]})";

TensorView view(const char* name, DType dtype, std::initializer_list<int64_t> shape) {
  TensorView v{};
  v.name = name;
  v.dtype = dtype;
  v.rank = static_cast<int32_t>(shape.size());
  int i = 0;
  for (int64_t d : shape) v.shape[i++] = d;
  return v;
}

void test_meta_parse_and_check() {
  const TensorRtEngineMeta meta = TensorRtEngineMeta::parse(kMeta);
  PTRT_CHECK_EQ(meta.engine, std::string("decoder_joint"));
  PTRT_CHECK_EQ(meta.profiles.size(), size_t(2));
  PTRT_CHECK_EQ(meta.profiles[1].inputs.at("encoder_outputs").max[2], int64_t(500));
  // The library reports 10.16.0 (getInferLibVersion 101600); the builder wrote 10.16.0.72: same release.
  PTRT_CHECK_EQ(tensorrt_release_from_int(101600), std::string("10.16.0"));
  check_tensorrt_engine_meta(meta, {"decoder_joint", "aaaa", tensorrt_release_from_int(101600), "9.0"});
  PTRT_CHECK_THROWS(check_tensorrt_engine_meta(meta, {"decoder_joint", "bbbb", "", ""}), ContractViolation,
                    "engine meta contract_sha256: expected bbbb, got aaaa");
  PTRT_CHECK_THROWS(check_tensorrt_engine_meta(meta, {"", "", "10.8.0", ""}), ContractViolation,
                    "engine meta tensorrt_version: expected 10.8.0, got 10.16.0");
  PTRT_CHECK_THROWS(check_tensorrt_engine_meta(meta, {"", "", "", "8.9"}), ContractViolation,
                    "engine meta compute_capability: expected 8.9, got 9.0");
  PTRT_CHECK_THROWS(check_tensorrt_engine_meta(meta, {"encoder", "", "", ""}), ContractViolation,
                    "engine meta engine: expected encoder, got decoder_joint");
  std::string missing = kMeta;
  missing.replace(missing.find("\"precision\""), std::string("\"precision\"").size(), "\"precisio\"");
  PTRT_CHECK_THROWS(TensorRtEngineMeta::parse(missing), ContractViolation,
                    "engine meta precision: expected present, got missing");
}

void test_profile_selection() {
  const TensorRtEngineMeta meta = TensorRtEngineMeta::parse(kMeta);
  TensorView step[] = {view("encoder_outputs", DType::kFloat32, {1, 64, 1}), view("targets", DType::kInt32, {1, 1})};
  PTRT_CHECK_EQ(select_profile(meta.profiles, step, 2), size_t(0));  // the fixed-shape step profile first
  TensorView many[] = {view("encoder_outputs", DType::kFloat32, {1, 64, 300}), view("targets", DType::kInt32, {1, 1})};
  PTRT_CHECK_EQ(select_profile(meta.profiles, many, 2), size_t(1));
  TensorView too_long[] = {view("encoder_outputs", DType::kFloat32, {1, 64, 501}),
                           view("targets", DType::kInt32, {1, 1})};
  PTRT_CHECK_THROWS(select_profile(meta.profiles, too_long, 2), ContractViolation,
                    "engine input shapes: expected within an optimization profile");
  PTRT_CHECK_THROWS(select_profile(meta.profiles, too_long, 2), ContractViolation, "encoder_outputs [1, 64, 501]");
}

void test_cuda_graph_choice() {
  TensorRtEngineMeta meta = TensorRtEngineMeta::parse(kMeta);
  PTRT_CHECK(use_cuda_graph("decoder_joint", meta.profiles[0]));    // the fixed-shape step
  PTRT_CHECK(!use_cuda_graph("decoder_joint", meta.profiles[1]));   // a range: shapes vary per call
  PTRT_CHECK(!use_cuda_graph("encoder", meta.profiles[0]));         // only the decoder step is replayed
  PTRT_CHECK(!use_cuda_graph("encoder_streaming", meta.profiles[0]));
  PTRT_CHECK(!use_cuda_graph("decoder_joint", EngineProfile{}));    // no ranges: nothing known to be fixed
  meta.profiles[0].inputs["targets"].opt = {1, 2};                 // opt outside a fixed range: not fixed
  PTRT_CHECK(!use_cuda_graph("decoder_joint", meta.profiles[0]));
}

void test_tensor_spec_check() {
  const TensorSpec spec{"encoder_outputs", "float32", {-1, 64, -1}};
  check_tensor_spec(spec, view("encoder_outputs", DType::kFloat32, {1, 64, 7}));
  PTRT_CHECK_THROWS(check_tensor_spec(spec, view("encoder_outputs", DType::kFloat32, {1, 65, 7})), ContractViolation,
                    "encoder_outputs.shape[1]: expected 64, got 65");
  PTRT_CHECK_THROWS(check_tensor_spec(spec, view("encoder_outputs", DType::kInt64, {1, 64, 7})), ContractViolation,
                    "encoder_outputs.dtype: expected float32, got int64");
  PTRT_CHECK_THROWS(check_tensor_spec(spec, view("encoder_outputs", DType::kFloat32, {64, 7})), ContractViolation,
                    "encoder_outputs.rank: expected 3, got 2");
}

void test_unavailable_without_tensorrt() {
#ifdef PTRT_WITH_TENSORRT
  std::printf("  built with TensorRT: the not-compiled-in path does not exist in this build\n");
#else
  EngineContract contract;
  contract.name = "encoder";
  bool unavailable = false;
  try {
    make_tensorrt_engine("/nonexistent/encoder.engine", contract, "aaaa");
  } catch (const Error& error) {
    unavailable = error.code() == ErrorCode::kUnavailable &&
                  std::string(error.what()).find("PARAKEET_TRT_WITH_TENSORRT=ON") != std::string::npos;
  }
  PTRT_CHECK(unavailable);
#endif
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"engine meta parse and check", &test_meta_parse_and_check},
                               {"profile selection", &test_profile_selection},
                               {"CUDA graph only for the decoder step", &test_cuda_graph_choice},
                               {"tensor spec check", &test_tensor_spec_check},
                               {"unavailable without TensorRT", &test_unavailable_without_tensorrt}});
}
