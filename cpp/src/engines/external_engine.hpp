// An engine supplied through the C ABI's vtable (ONNX Runtime from Python, Rust engines, ...).
#pragma once

#include <string>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/parakeet_trt.h"

namespace parakeet_trt {

class ExternalEngine final : public Engine {
 public:
  // Takes ownership of vtable.self: destroy() is called from the destructor.
  explicit ExternalEngine(const ptrt_engine_vtable& vtable);
  ~ExternalEngine() override;
  ExternalEngine(const ExternalEngine&) = delete;
  ExternalEngine& operator=(const ExternalEngine&) = delete;

  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override;
  std::string description() const override { return "external engine"; }

 private:
  ptrt_engine_vtable vtable_;
};

}  // namespace parakeet_trt
