// The onnxruntime engine (internal): one exported graph run by ONNX Runtime through its C API, with the
// library opened by dlopen (onnxruntime_library.hpp). made by make_engine (engine_factory.hpp).
//
// One OrtSession per engine. run() wraps the caller's buffers as OrtValues (no copy) and runs with the
// outputs pre-bound, so ONNX Runtime writes the results straight into the caller's output buffers. run()
// keeps no per-call state in the engine: any number of threads may call it at once (OrtSession::Run is
// thread-safe).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/contract.hpp"
#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/engine_factory.hpp"

namespace parakeet_trt {

// The engine running the ONNX graph at `graph_path` for `contract` (its I/O names and dtypes are checked
// against the graph: ContractViolation naming the field). Uses options.providers, intra_op_threads,
// device_id and onnxruntime_library. Error(kInvalidArgument) for an unknown or unavailable provider,
// Error(kUnavailable) when the library cannot be loaded or CUDA was asked for and cannot start,
// EngineError when ONNX Runtime refuses the graph.
std::unique_ptr<Engine> make_onnxruntime_engine(const std::string& graph_path, const EngineContract& contract,
                                                const EngineOptions& options);

// What ONNX Runtime reports about an onnxruntime engine's graph, in graph order (for tests and tools).
struct OnnxRuntimeGraphInfo {
  std::vector<std::string> inputs, outputs;            // names
  std::vector<std::string> input_types, output_types;  // "float32", "int64", "int32", ...
};
// Error(kInvalidArgument) when `engine` is not an onnxruntime engine.
OnnxRuntimeGraphInfo onnxruntime_graph_info(const Engine& engine);

}  // namespace parakeet_trt
