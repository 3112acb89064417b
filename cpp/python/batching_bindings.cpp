// pybind11 bindings for cross-stream batching (parakeet_trt/batching_engine.hpp). Conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine_conversion.hpp"
#include "parakeet_trt/batching_engine.hpp"

namespace py = pybind11;
using namespace parakeet_trt;
using parakeet_trt_python::as_engine;
using parakeet_trt_python::EngineHandle;

namespace {

// A numpy array as the engine's tensor (no copy); the array must outlive the call.
TensorView tensor_of(const std::string& name, py::array& a) {
  if (!(a.flags() & py::array::c_style)) throw std::invalid_argument("tensor '" + name + "' must be C-contiguous");
  if (a.ndim() > kMaxTensorRank) throw std::invalid_argument("tensor '" + name + "' has too many dimensions");
  TensorView t{nullptr, DType::kFloat32, static_cast<int32_t>(a.ndim()), {}, a.mutable_data()};
  if (a.dtype().is(py::dtype::of<int64_t>())) t.dtype = DType::kInt64;
  else if (a.dtype().is(py::dtype::of<int32_t>())) t.dtype = DType::kInt32;
  else if (!a.dtype().is(py::dtype::of<float>()))
    throw std::invalid_argument("tensor '" + name + "' must be float32, int64 or int32");
  for (py::ssize_t i = 0; i < a.ndim(); ++i) t.shape[i] = a.shape(i);
  return t;
}

}  // namespace

void bind_batching(py::module_& m) {
  const BatchingOptions defaults;
  py::class_<BatchingOptions>(m, "BatchingOptions",
                              "Cross-stream batching options (batching_engine.hpp): window_ms (0..100), max_batch "
                              "(1..1024; 1: no batching), max_inflight (1..64).")
      .def(py::init([](double window_ms, int32_t max_batch, int32_t max_inflight) {
             BatchingOptions o{window_ms, max_batch, max_inflight};
             o.validate();
             return o;
           }),
           py::arg("window_ms") = defaults.window_ms, py::arg("max_batch") = defaults.max_batch,
           py::arg("max_inflight") = defaults.max_inflight)
      .def_readonly("window_ms", &BatchingOptions::window_ms)
      .def_readonly("max_batch", &BatchingOptions::max_batch)
      .def_readonly("max_inflight", &BatchingOptions::max_inflight)
      .def("__repr__", [](const BatchingOptions& o) {
        return "BatchingOptions(window_ms=" + std::to_string(o.window_ms) + ", max_batch=" + std::to_string(o.max_batch) +
               ", max_inflight=" + std::to_string(o.max_inflight) + ")";
      });
  m.def(
      "batching_engine",
      [](py::object engine, const BatchingOptions& options) {
        return EngineHandle{std::make_shared<BatchingEngine>(as_engine(std::move(engine)), options)};
      },
      py::arg("engine"), py::arg("options") = defaults,
      "An engine shared by many streams that stacks their equal-shape calls into one call of `engine` "
      "(batching_engine.hpp); read what it did with batching_stats().");
  m.def(
      "batching_stats",
      [](const EngineHandle& handle) {
        const auto* engine = dynamic_cast<const BatchingEngine*>(handle.engine.get());
        if (!engine)
          throw std::invalid_argument("not a batching engine (make one with batching_engine(engine)): " +
                                      handle.engine->description());
        const BatchingStats s = engine->stats();
        py::dict d;
        d["calls"] = s.calls;
        d["batches"] = s.batches;
        d["batched_calls"] = s.batched_calls;
        d["largest_batch"] = s.largest_batch;
        d["window_waits"] = s.window_waits;
        return d;
      },
      py::arg("engine"), "{calls, batches, batched_calls, largest_batch, window_waits} of a batching_engine().");
  m.def(
      "run_engine",
      [](py::object engine, py::dict inputs, py::dict outputs) {
        std::shared_ptr<Engine> native = parakeet_trt_python::as_engine(std::move(engine));
        std::vector<std::string> names;
        std::vector<py::array> arrays;
        for (py::dict d : {inputs, outputs})
          for (auto item : d) {
            names.push_back(py::str(item.first));
            arrays.push_back(py::array::ensure(item.second));
            if (!arrays.back()) throw std::invalid_argument("tensor '" + names.back() + "' is not an array");
          }
        std::vector<TensorView> views;
        for (size_t i = 0; i < arrays.size(); ++i) {
          views.push_back(tensor_of(names[i], arrays[i]));
          views.back().name = names[i].c_str();
        }
        const size_t num_inputs = inputs.size();
        py::gil_scoped_release release;
        native->run(views.data(), num_inputs, views.data() + num_inputs, views.size() - num_inputs);
      },
      py::arg("engine"), py::arg("inputs"), py::arg("outputs"),
      "Run an engine once on numpy tensors: inputs by name, and pre-shaped output arrays it fills in place "
      "(tests and benchmarks; the GIL is released while it runs).");
}
