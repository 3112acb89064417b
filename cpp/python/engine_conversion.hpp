// Engines as Python sees them (internal to the bindings): a native engine made by the C++ factory
// (`_core.Engine`), or any Python object with run(inputs: dict, outputs: dict) that fills the
// output arrays in place (an "external" engine).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt_python {

namespace py = pybind11;
using namespace parakeet_trt;

inline py::dtype numpy_dtype(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return py::dtype::of<float>();
    case DType::kInt64: return py::dtype::of<int64_t>();
    case DType::kInt32: return py::dtype::of<int32_t>();
  }
  throw std::invalid_argument("unknown dtype");
}

// numpy views on the session's tensors (no copy); valid only during the engine call.
inline py::dict tensor_views(const TensorView* tensors, size_t count) {
  py::dict views;
  for (size_t i = 0; i < count; ++i) {
    const TensorView& t = tensors[i];
    std::vector<py::ssize_t> shape(t.shape, t.shape + t.rank);
    py::array view(numpy_dtype(t.dtype), shape, t.data, py::none());
    views[py::str(t.name)] = view;
  }
  return views;
}

// An engine implemented in Python: any object with run(inputs: dict, outputs: dict) that fills
// the output arrays in place, and an optional `description` attribute.
class PythonEngine final : public Engine {
 public:
  explicit PythonEngine(py::object impl) : impl_(std::move(impl)) {}
  ~PythonEngine() override {
    py::gil_scoped_acquire gil;
    impl_ = py::object();
  }
  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override {
    py::gil_scoped_acquire gil;
    try {
      impl_.attr("run")(tensor_views(inputs, num_inputs), tensor_views(outputs, num_outputs));
    } catch (py::error_already_set& e) {
      // A Python engine that detects a contract violation (e.g. ONNX Runtime refusing an output
      // shape) reports it as such, not as an engine failure.
      if (e.matches(py::module_::import("parakeet_trt._core").attr("ContractViolation"))) {
        throw Error(ErrorCode::kContractViolation, py::str(e.value()));
      }
      throw EngineError(description() + " raised " + e.what());
    }
  }
  std::string description() const override {
    py::gil_scoped_acquire gil;
    if (py::hasattr(impl_, "description")) return py::str(impl_.attr("description"));
    return "python engine";
  }

 private:
  py::object impl_;
};


// A native engine handle (`_core.Engine`).
struct EngineHandle {
  std::shared_ptr<Engine> engine;
};

// The engine behind a Python argument: a `_core.Engine`, or a Python object wrapped as external.
inline std::shared_ptr<Engine> as_engine(py::object object) {
  if (py::isinstance<EngineHandle>(object)) return object.cast<EngineHandle&>().engine;
  if (object.is_none()) throw std::invalid_argument("an encoder engine is required, got None");
  return std::make_shared<PythonEngine>(std::move(object));
}

}  // namespace parakeet_trt_python
