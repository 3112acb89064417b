// Finding and opening libonnxruntime.so (internal): once per library file per process, with one OrtEnv.
//
// Where it is looked for (EngineOptions::onnxruntime_library):
//   1. the explicit path, when given: only that file;
//   2. else $PTRT_ONNXRUNTIME_LIBRARY, when set: only that file;
//   3. else the onnxruntime Python package beside this library: the directory of the object holding this
//      code (site-packages/parakeet_trt/lib/libparakeet_trt.so or site-packages/parakeet_trt/_core*.so),
//      then ../onnxruntime/capi/ and ../../onnxruntime/capi/ relative to it, file libonnxruntime.so*;
//   4. else the dynamic loader's search path: libonnxruntime.so.1, libonnxruntime.so.
// A path the caller names is never silently replaced by another library: 1 and 2 do not fall through.
#pragma once

#include <string>
#include <vector>

#include "engines/onnxruntime/ort_c_api.hpp"

namespace parakeet_trt {

class OnnxRuntimeLibrary {
 public:
  // The loaded library for `explicit_path` ("" = the search above). Thread-safe; a library file is opened,
  // its OrtApi bound and its OrtEnv created once per process and never closed (sessions may outlive any
  // one engine). Error(kUnavailable) naming every place looked and how to fix it, or naming the library's
  // version when it is older than the OrtApi version requested.
  static const OnnxRuntimeLibrary& load(const std::string& explicit_path);

  const ort::Api& api() const { return api_; }
  ort::OrtEnv* env() const { return env_; }
  // CPU memory description for tensors wrapping caller buffers (created once).
  const ort::OrtMemoryInfo* cpu_memory() const { return cpu_memory_; }
  const std::string& path() const { return path_; }
  const std::string& version() const { return version_; }
  // The execution providers this build has, in ONNX Runtime's names and order.
  const std::vector<std::string>& providers() const { return providers_; }
  bool has_provider(const std::string& name) const;

  // Throws EngineError "<context>: <ONNX Runtime's message>" for a failed status (and releases it).
  void check(ort::Status status, const std::string& context) const;
  // The message of a failed status, releasing it ("" for success).
  std::string take_message(ort::Status status) const;

  OnnxRuntimeLibrary(const OnnxRuntimeLibrary&) = delete;
  OnnxRuntimeLibrary& operator=(const OnnxRuntimeLibrary&) = delete;

 private:
  OnnxRuntimeLibrary() = default;
  // Binds the API of the opened library, creates the OrtEnv and the CPU memory info, lists providers.
  void initialize(void* handle, const std::string& path);
  ort::Api api_{};
  ort::OrtEnv* env_ = nullptr;
  ort::OrtMemoryInfo* cpu_memory_ = nullptr;
  std::string path_, version_;
  std::vector<std::string> providers_;
};

// The places `load` would try for `explicit_path`, in order (for messages and tests).
std::vector<std::string> onnxruntime_library_candidates(const std::string& explicit_path);

}  // namespace parakeet_trt
