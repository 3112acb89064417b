// pybind11 bindings for batched offline transcription (parakeet_trt/batch_transcriber.hpp). Conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <vector>

#include "engine_conversion.hpp"
#include "parakeet_trt/batch_transcriber.hpp"
#include "parakeet_trt/errors.hpp"

namespace py = pybind11;
using namespace parakeet_trt;
using parakeet_trt_python::as_engine;

py::dict transcript_dict(const Transcript& t);  // bindings.cpp
PyObject* python_error_class(const Error& e);   // bindings.cpp

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// The Python exception (not raised) of one utterance's error: the class the module's translator
// would raise for it; an exception that is not an Error counts as the engine's.
py::object exception_object(py::module_& core, const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    return py::reinterpret_borrow<py::object>(python_error_class(e))(e.what());
  } catch (const std::exception& e) {
    return core.attr("EngineError")(e.what());
  }
}

}  // namespace

void bind_batch_transcriber(py::module_& m) {
  const BatchTranscribeOptions defaults;
  py::class_<BatchTranscriber>(m, "BatchTranscriber",
                               "Offline transcription of many utterances in length-sorted, padded encoder batches "
                               "(batch_transcriber.hpp).")
      .def(py::init([](std::shared_ptr<Model> mdl, py::object engine, int32_t batch_size, int32_t workers) {
             BatchTranscribeOptions options;
             options.batch_size = batch_size;
             options.workers = workers;
             return new BatchTranscriber(mdl, as_engine(std::move(engine)), options);
           }),
           py::arg("model"), py::arg("encoder_engine"), py::arg("batch_size") = defaults.batch_size,
           py::arg("workers") = defaults.workers)
      .def_property_readonly("batch_size", [](const BatchTranscriber& t) { return t.options().batch_size; })
      .def_property_readonly("workers", [](const BatchTranscriber& t) { return t.options().workers; })
      .def_property_readonly_static("max_workers", [](const py::object&) { return BatchTranscribeOptions::kMaxWorkers; })
      .def_property_readonly("encoder_calls", &BatchTranscriber::encoder_calls)
      .def(
          "transcribe",
          [m](BatchTranscriber& transcriber, const py::sequence& sequence) {
            std::vector<FloatArray> utterances;
            for (const py::handle item : sequence) utterances.push_back(FloatArray::ensure(item));
            std::vector<AudioSpan> spans;
            for (const FloatArray& a : utterances) {
              if (!a) throw std::invalid_argument("each utterance must be an array of float32 samples");
              if (a.ndim() != 1) throw std::invalid_argument("each utterance must be 1-D mono samples");
              spans.push_back({a.data(), a.shape(0)});
            }
            std::vector<BatchItem> items;
            {
              py::gil_scoped_release release;
              items = transcriber.transcribe(spans);
            }
            py::module_ core = m;
            py::list out;
            for (const BatchItem& item : items)
              out.append(item.error ? exception_object(core, item.error) : py::object(transcript_dict(item.transcript)));
            return out;
          },
          py::arg("utterances"),
          "One entry per utterance (mono float32 at the model's rate), in order: its transcript dict (as "
          "OfflineRecognizer.transcribe), or the exception it got (not raised).");
}
