// The engine interface: something that runs one exported graph on named tensors.
//
// The session owns every buffer: it passes input tensors and pre-sized output tensors whose
// shapes come from the model's contract, and the engine fills the outputs in place (ONNX Runtime
// through IOBinding, TensorRT through bound addresses). An engine must not resize outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace parakeet_trt {

// Values equal ptrt_dtype in parakeet_trt.h.
enum class DType : int32_t { kFloat32 = 1, kInt64 = 2, kInt32 = 3 };

constexpr int kMaxTensorRank = 8;

// Same layout as ptrt_tensor in the C ABI, so external engines see the session's buffers as is.
struct TensorView {
  const char* name;
  DType dtype;
  int32_t rank;
  int64_t shape[kMaxTensorRank];
  void* data;

  int64_t num_elements() const {
    int64_t n = 1;
    for (int32_t i = 0; i < rank; ++i) n *= shape[i];
    return n;
  }
};

class Engine {
 public:
  virtual ~Engine() = default;
  // Runs the graph. Throws EngineError (or any std::exception, which the caller wraps) on failure.
  virtual void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) = 0;
  virtual std::string description() const = 0;
};

}  // namespace parakeet_trt
