// pybind11 bindings for the benchmarks (bench/): an engine decorator that times encoder calls, and
// the bytes a model's shared decoder weights hold. Conversion only.
#include <pybind11/pybind11.h>

#include <memory>

#include "engine_conversion.hpp"
#include "engines/timed_engine.hpp"
#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/model.hpp"

namespace py = pybind11;
using namespace parakeet_trt;
using parakeet_trt_python::as_engine;
using parakeet_trt_python::EngineHandle;

namespace {

const TimedEngine& timed(const EngineHandle& handle) {
  const auto* engine = dynamic_cast<const TimedEngine*>(handle.engine.get());
  if (!engine) throw std::invalid_argument("not a timed engine (make one with timed_engine(engine)): " + handle.engine->description());
  return *engine;
}

}  // namespace

void bind_bench(py::module_& m) {
  m.def(
      "timed_engine", [](py::object engine) { return EngineHandle{std::make_shared<TimedEngine>(as_engine(std::move(engine)))}; },
      py::arg("engine"),
      "An engine that forwards to `engine` and counts its calls and the time spent in them (thread-safe); "
      "read them with engine_timing().");
  m.def(
      "engine_timing",
      [](const EngineHandle& handle) {
        const TimedEngine& engine = timed(handle);
        py::dict d;
        d["calls"] = engine.calls();
        d["seconds"] = static_cast<double>(engine.nanoseconds()) * 1e-9;
        d["thread_cpu_seconds"] = static_cast<double>(engine.thread_cpu_nanoseconds()) * 1e-9;
        return d;
      },
      py::arg("engine"), "{calls, seconds, thread_cpu_seconds} spent so far in a timed_engine() (wall clock; CPU time of the calling threads).");
  m.def(
      "decoder_weights_bytes", [](const Model& mdl) { return mdl.native_decoder_weights()->bytes(); }, py::arg("model"),
      "Bytes of the model's native decoder weights, held once per model and shared by its sessions and streams.");
}
