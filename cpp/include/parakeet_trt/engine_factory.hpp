// One factory for every engine: a session, stream or live stream names its engine and options when
// it is created, in C++, with the same choice in Python, the C ABI, Rust and the CLI.
//
//   onnxruntime  C++ on ONNX Runtime's C API. libonnxruntime.so is opened with dlopen (the PyPI wheels
//                ship the library but no headers); see EngineOptions::onnxruntime_library for where it
//                is looked for. CPU and CUDA execution providers, intra-op thread count.
//   tensorrt     The TensorRT engine (cpp/src/engines/tensorrt): libnvinfer and libcudart opened with
//                dlopen; engines built by `parakeet-trt build-trt` in EngineOptions::trt_engine_dir.
//                Error(kUnavailable) naming what is missing where TensorRT is absent.
//   external     The caller's vtable (C ABI ptrt_engine_vtable, a Python object): not made here; the
//                binding that receives it wraps it in an ExternalEngine.
//
// Threads: an Engine returned by make_engine may be shared by any number of sessions and streams
// and its run() called from several threads at once (each call brings its own buffers).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "parakeet_trt/engine.hpp"

namespace parakeet_trt {

class Model;

struct EngineOptions {
  // "onnxruntime" (default), "tensorrt". ("external" engines are passed in, not made.)
  std::string name = "onnxruntime";
  // onnxruntime: execution providers in order of preference, by ONNX Runtime's names
  // ("CUDAExecutionProvider", "CPUExecutionProvider"). Empty: CUDA when the loaded library has it,
  // then CPU. A name the library does not know, or does not have, is Error(kInvalidArgument) listing
  // the providers it has.
  std::vector<std::string> providers;
  // onnxruntime: intra-op threads per engine (0: ONNX Runtime's default, one per core).
  int32_t intra_op_threads = 0;
  // onnxruntime: whether the intra-op threads spin-wait for work (ONNX Runtime's default) or block.
  // Spinning makes one call faster (blocking is 1.28x slower offline) but burns the pool's cores after
  // every call until the spin runs out; streaming makes many short calls, so live streams and the server
  // turn it off (docs/BENCH_THREAD_SPINNING.md; docs/DECISION_LOG.md "ONNX Runtime threads spin only
  // for offline work").
  bool allow_spinning = true;
  // onnxruntime / tensorrt: CUDA device ordinal.
  int32_t device_id = 0;
  // onnxruntime: path of libonnxruntime.so. Empty: $PTRT_ONNXRUNTIME_LIBRARY, then the onnxruntime
  // Python package installed beside this library (libonnxruntime.so* in ../onnxruntime/capi/ or
  // ../../onnxruntime/capi/ of this library's folder), then the dynamic loader's search path
  // (libonnxruntime.so.1, libonnxruntime.so). A path named here or in the variable is the only one
  // tried. A library that cannot be loaded is Error(kUnavailable) naming every place looked. Each
  // library file is loaded once per process, with one OrtEnv; C API version 11 (ONNX Runtime >= 1.11).
  std::string onnxruntime_library;
  // tensorrt: folder holding <graph>.engine and <graph>.meta.json (empty: the model folder).
  std::string trt_engine_dir;
  // Hash the graph files against the contract before loading them (the model load may already have).
  bool verify_graph_hash = false;

  // Error(kInvalidArgument) naming the field: unknown name, negative threads or device.
  void validate() const;
  // A stable text of every field: engines made with equal keys may be shared.
  std::string key() const;
};

// The engine that runs `graph` ("encoder", "encoder_streaming", "decoder_joint") of `model`.
// Checks the graph's I/O names and dtypes against the model's contract at load.
// Throws ModelError (graph missing from the folder), ContractViolation, Error(kUnavailable),
// Error(kInvalidArgument).
std::shared_ptr<Engine> make_engine(const Model& model, const std::string& graph, const EngineOptions& options);

// Names make_engine accepts ("onnxruntime", "tensorrt"): for `--help` texts and clear errors.
std::vector<std::string> engine_names();

// "" when the engine `options.name` names can run on this machine now (libonnxruntime found and
// loadable; TensorRT compiled in and libnvinfer/libcudart loadable), else the reason, as the
// Error(kUnavailable) make_engine would throw says it. Error(kInvalidArgument) for an unknown name.
std::string engine_unavailable_reason(const EngineOptions& options);

// The execution providers the ONNX Runtime library found by `options` offers (its own names).
// Error(kUnavailable) when the library cannot be loaded.
std::vector<std::string> onnxruntime_available_providers(const EngineOptions& options);

}  // namespace parakeet_trt
