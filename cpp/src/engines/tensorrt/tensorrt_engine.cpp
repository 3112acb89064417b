// The TensorRT engine (compiled only with -DPARAKEET_TRT_WITH_TENSORRT=ON).
//
// libnvinfer and libcudart are opened with dlopen at run time, so a library built with this file still
// loads on machines without them (make_tensorrt_engine then throws kUnavailable). The libnvinfer opened is
// the major release of the headers this file was compiled with (libnvinfer.so.11 for TensorRT 11 headers,
// libnvinfer.so.10 for 10.x; both compile, tools/tensorrt/compile_check.sh): TensorRT's interfaces are
// versioned per major release and createInferRuntime refuses another major's headers. Only
// TensorRT's headers are needed at compile time: every TensorRT call past createInferRuntime is a
// virtual call through the runtime's objects, and the few CUDA runtime functions used are declared
// here as function pointers (no cuda_runtime.h include; NvInfer.h brings cudaStream_t).
//
// run() is serialized by a mutex (the context, its profile, the staging buffers and the step's CUDA graph
// are per-engine state), so one engine may be shared by threads; use one engine per thread for parallelism.
//
// Per call: select the optimization profile from the input shapes, copy inputs through pinned
// host buffers to device buffers on the engine's own stream, bind addresses, enqueueV3, copy the
// outputs back and synchronize. Buffers grow to the largest shape seen and are then reused.
// Every TensorRT object, the stream and every buffer has an RAII holder, so a constructor that throws
// part-way frees what it created. The decoder step (use_cuda_graph: decoder_joint on its fixed-shape
// profile) is captured into a CUDA graph after its first call and replayed afterwards; if capture
// fails it falls back to enqueueV3 and says why once on stderr (and in description()).
#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>

#include <NvInferRuntime.h>

#include "engines/tensorrt_support.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

// CUDA runtime entry points, by their C signatures (cudaError_t is an int-sized enum; 0 = success).
struct CudaRuntime {
  void* library = nullptr;
  int (*get_device)(int*) = nullptr;
  int (*device_get_attribute)(int*, int, int) = nullptr;
  int (*stream_create_with_flags)(cudaStream_t*, unsigned) = nullptr;
  int (*stream_destroy)(cudaStream_t) = nullptr;
  int (*stream_synchronize)(cudaStream_t) = nullptr;
  int (*malloc_device)(void**, size_t) = nullptr;
  int (*free_device)(void*) = nullptr;
  int (*malloc_host)(void**, size_t) = nullptr;
  int (*free_host)(void*) = nullptr;
  int (*memcpy_async)(void*, const void*, size_t, int, cudaStream_t) = nullptr;
  const char* (*error_string)(int) = nullptr;
  // CUDA graphs (optional: null when the runtime lacks them; the step then runs plain enqueueV3).
  // cudaGraph_t / cudaGraphExec_t are opaque pointers; cudaGraphInstantiateWithFlags has the same
  // (exec*, graph, unsigned long long flags) signature from CUDA 11.4 to 13.
  int (*get_last_error)() = nullptr;
  int (*stream_begin_capture)(cudaStream_t, int) = nullptr;
  int (*stream_end_capture)(cudaStream_t, void**) = nullptr;
  int (*graph_instantiate)(void**, void*, unsigned long long) = nullptr;
  int (*graph_launch)(void*, cudaStream_t) = nullptr;
  int (*graph_destroy)(void*) = nullptr;
  int (*graph_exec_destroy)(void*) = nullptr;
  bool has_graphs() const {
    return get_last_error && stream_begin_capture && stream_end_capture && graph_instantiate && graph_launch &&
           graph_destroy && graph_exec_destroy;
  }
};
// cuda_runtime_api.h: cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaStreamNonBlocking = 1,
// cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76.
constexpr int kHostToDevice = 1, kDeviceToHost = 2, kComputeMajor = 75, kComputeMinor = 76;
constexpr unsigned kStreamNonBlocking = 1;
// cudaStreamCaptureModeThreadLocal = 1: other threads' CUDA calls are not affected by our capture.
constexpr int kCaptureThreadLocal = 1;

struct NvInfer {
  void* library = nullptr;
  void* (*create_runtime)(void*, int32_t) = nullptr;
  int32_t (*lib_version)() = nullptr;
};

template <typename F>
void bind_symbol(void* library, const char* name, F& function, const char* library_name) {
  function = reinterpret_cast<F>(dlsym(library, name));
  if (!function) throw Error(ErrorCode::kUnavailable, std::string(library_name) + " has no symbol " + name);
}

template <typename F>
void bind_optional(void* library, const char* name, F& function) {
  function = reinterpret_cast<F>(dlsym(library, name));
}

void* open_first(const std::vector<const char*>& names, std::string& tried) {
  for (const char* name : names) {
    if (void* library = dlopen(name, RTLD_NOW | RTLD_LOCAL)) return library;
    tried += std::string(tried.empty() ? "" : ", ") + name + " (" + dlerror() + ")";
  }
  return nullptr;
}

// Loaded once per process and never closed: TensorRT objects may outlive any one engine.
const CudaRuntime& cuda_runtime() {
  static std::once_flag once;
  static CudaRuntime api;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    api.library = open_first({"libcudart.so", "libcudart.so.13", "libcudart.so.12"}, tried);
    if (!api.library) {
      failure = "the CUDA runtime is not installed (tried " + tried + ")";
      return;
    }
    try {
      bind_symbol(api.library, "cudaGetDevice", api.get_device, "libcudart");
      bind_symbol(api.library, "cudaDeviceGetAttribute", api.device_get_attribute, "libcudart");
      bind_symbol(api.library, "cudaStreamCreateWithFlags", api.stream_create_with_flags, "libcudart");
      bind_symbol(api.library, "cudaStreamDestroy", api.stream_destroy, "libcudart");
      bind_symbol(api.library, "cudaStreamSynchronize", api.stream_synchronize, "libcudart");
      bind_symbol(api.library, "cudaMalloc", api.malloc_device, "libcudart");
      bind_symbol(api.library, "cudaFree", api.free_device, "libcudart");
      bind_symbol(api.library, "cudaMallocHost", api.malloc_host, "libcudart");
      bind_symbol(api.library, "cudaFreeHost", api.free_host, "libcudart");
      bind_symbol(api.library, "cudaMemcpyAsync", api.memcpy_async, "libcudart");
      bind_symbol(api.library, "cudaGetErrorString", api.error_string, "libcudart");
      bind_optional(api.library, "cudaGetLastError", api.get_last_error);
      bind_optional(api.library, "cudaStreamBeginCapture", api.stream_begin_capture);
      bind_optional(api.library, "cudaStreamEndCapture", api.stream_end_capture);
      bind_optional(api.library, "cudaGraphInstantiateWithFlags", api.graph_instantiate);
      bind_optional(api.library, "cudaGraphLaunch", api.graph_launch);
      bind_optional(api.library, "cudaGraphDestroy", api.graph_destroy);
      bind_optional(api.library, "cudaGraphExecDestroy", api.graph_exec_destroy);
    } catch (const Error& error) {
      failure = error.what();
      api.library = nullptr;
    }
  });
  if (!api.library) throw Error(ErrorCode::kUnavailable, failure);
  return api;
}

// The soname of the TensorRT major release whose headers compiled this file, and of the other one.
#define PTRT_STRINGIFY2(x) #x
#define PTRT_STRINGIFY(x) PTRT_STRINGIFY2(x)
constexpr const char* kNvInferSoname = "libnvinfer.so." PTRT_STRINGIFY(NV_TENSORRT_MAJOR);
constexpr int kOtherMajor = NV_TENSORRT_MAJOR == 10 ? 11 : 10;

const NvInfer& nvinfer() {
  static std::once_flag once;
  static NvInfer api;
  static std::string failure;
  std::call_once(once, [] {
    std::string tried;
    api.library = open_first({kNvInferSoname}, tried);
    if (!api.library) {
      const std::string major = std::to_string(NV_TENSORRT_MAJOR);
      const std::string other = "libnvinfer.so." + std::to_string(kOtherMajor);
      if (void* other_library = dlopen(other.c_str(), RTLD_NOW | RTLD_LOCAL)) {
        dlclose(other_library);
        failure = "parakeet_trt was compiled against TensorRT " + major + " headers and needs " + kNvInferSoname +
                  ", but only " + other + " (TensorRT " + std::to_string(kOtherMajor) +
                  ") is installed: install TensorRT " + major + ".x or rebuild parakeet_trt with TensorRT " +
                  std::to_string(kOtherMajor) + " headers (-DTensorRT_INCLUDE_DIR=...)";
      } else {
        failure = "TensorRT " + major + " is not installed (tried " + tried + ", " + other + "); install TensorRT " +
                  major + ".x (pip install tensorrt-cu12 or tensorrt-cu13, or a TensorRT tarball on LD_LIBRARY_PATH)";
      }
      return;
    }
    try {
      bind_symbol(api.library, "createInferRuntime_INTERNAL", api.create_runtime, kNvInferSoname);
      bind_symbol(api.library, "getInferLibVersion", api.lib_version, kNvInferSoname);
    } catch (const Error& error) {
      failure = error.what();
      api.library = nullptr;
    }
  });
  if (!api.library) throw Error(ErrorCode::kUnavailable, failure);
  return api;
}

void cuda_check(int status, const char* what) {
  if (status != 0) throw EngineError(std::string(what) + " failed: " + cuda_runtime().error_string(status));
}

class Logger final : public nvinfer1::ILogger {
 public:
  void log(Severity severity, const char* message) noexcept override {
    if (severity > Severity::kWARNING) return;
    std::lock_guard<std::mutex> lock(mutex_);
    last_ = message;
  }
  std::string last() {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_;
  }

 private:
  std::mutex mutex_;
  std::string last_;
};

DType dtype_of(nvinfer1::DataType type, const std::string& name) {
  switch (type) {
    case nvinfer1::DataType::kFLOAT: return DType::kFloat32;
    case nvinfer1::DataType::kINT64: return DType::kInt64;
    case nvinfer1::DataType::kINT32: return DType::kInt32;
    default: throw ContractViolation(name + ".dtype", "float32, int64 or int32 engine I/O", "another TensorRT type");
  }
}

size_t dtype_bytes(DType dtype) { return dtype == DType::kInt32 ? 4 : dtype == DType::kFloat32 ? 4 : 8; }

std::string read_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelError("cannot read TensorRT engine " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string meta_path_of(const std::string& engine_path) {
  const size_t slash = engine_path.find_last_of('/');
  const size_t dot = engine_path.find_last_of('.');
  const bool has_ext = dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_ext ? engine_path.substr(0, dot) : engine_path) + ".meta.json";
}

// A device buffer and its pinned host staging buffer, grown to the largest size seen; freed by its destructor.
struct Binding {
  void* device = nullptr;
  void* host = nullptr;
  size_t capacity = 0;

  Binding() = default;
  Binding(const Binding&) = delete;
  Binding& operator=(const Binding&) = delete;
  ~Binding() { release(); }
  void release() {
    if (!device && !host) return;
    const CudaRuntime& cuda = cuda_runtime();
    if (device) cuda.free_device(device);
    if (host) cuda.free_host(host);
    device = host = nullptr;
    capacity = 0;
  }
};

// The engine's own non-blocking stream: synchronized and destroyed by the destructor.
class Stream {
 public:
  Stream() {
    cuda_check(cuda_runtime().stream_create_with_flags(&stream_, kStreamNonBlocking), "cudaStreamCreateWithFlags");
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() {
    const CudaRuntime& cuda = cuda_runtime();
    cuda.stream_synchronize(stream_);
    cuda.stream_destroy(stream_);
  }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

// An instantiated CUDA graph of one enqueueV3 and the buffer addresses it was captured with.
class StepGraph {
 public:
  StepGraph() = default;
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;
  ~StepGraph() { reset(); }
  void reset() {
    if (exec_) cuda_runtime().graph_exec_destroy(exec_);
    exec_ = nullptr;
    addresses_.clear();
  }
  bool ready() const { return exec_ != nullptr; }
  bool captured_with(const std::vector<void*>& addresses) const { return exec_ && addresses == addresses_; }

  // Captures context.enqueueV3(stream) (recorded, not executed). Returns "" or why capture failed.
  std::string capture(nvinfer1::IExecutionContext& context, cudaStream_t stream, std::vector<void*> addresses) {
    reset();
    const CudaRuntime& cuda = cuda_runtime();
    if (!cuda.has_graphs()) return "the CUDA runtime has no stream-capture/graph entry points";
    if (int status = cuda.stream_begin_capture(stream, kCaptureThreadLocal))
      return std::string("cudaStreamBeginCapture: ") + cuda.error_string(status);
    const bool enqueued = context.enqueueV3(stream);
    void* graph = nullptr;
    const int end = cuda.stream_end_capture(stream, &graph);  // always ends capture mode, even after a failure
    std::string why;
    if (!enqueued) why = "enqueueV3 failed under stream capture (an engine layer is not capturable)";
    else if (end != 0 || !graph) why = std::string("cudaStreamEndCapture: ") + cuda.error_string(end);
    else if (int status = cuda.graph_instantiate(&exec_, graph, 0))
      why = std::string("cudaGraphInstantiateWithFlags: ") + cuda.error_string(status);
    if (graph) cuda.graph_destroy(graph);
    if (!why.empty()) {
      exec_ = nullptr;
      cuda.get_last_error();  // clear the capture error so later calls see their own status
      return why;
    }
    addresses_ = std::move(addresses);
    return "";
  }
  void launch(cudaStream_t stream) const { cuda_check(cuda_runtime().graph_launch(exec_, stream), "cudaGraphLaunch"); }

 private:
  void* exec_ = nullptr;
  std::vector<void*> addresses_;
};

class TensorRtEngine final : public Engine {
 public:
  TensorRtEngine(const std::string& engine_path, const EngineContract& contract, const std::string& contract_sha256)
      : contract_(contract), path_(engine_path) {
    const NvInfer& trt = nvinfer();
    const CudaRuntime& cuda = cuda_runtime();
    int device = 0, major = 0, minor = 0;
    cuda_check(cuda.get_device(&device), "cudaGetDevice");
    cuda_check(cuda.device_get_attribute(&major, kComputeMajor, device), "cudaDeviceGetAttribute");
    cuda_check(cuda.device_get_attribute(&minor, kComputeMinor, device), "cudaDeviceGetAttribute");
    meta_ = TensorRtEngineMeta::parse(read_binary(meta_path_of(engine_path)));
    check_tensorrt_engine_meta(meta_, {contract.name, contract_sha256, tensorrt_release_from_int(trt.lib_version()),
                                       std::to_string(major) + "." + std::to_string(minor)});
    runtime_.reset(static_cast<nvinfer1::IRuntime*>(trt.create_runtime(&logger_, NV_TENSORRT_VERSION)));
    if (!runtime_) throw EngineError("createInferRuntime failed: " + logger_.last());
    const std::string blob = read_binary(engine_path);
    engine_.reset(runtime_->deserializeCudaEngine(blob.data(), blob.size()));
    if (!engine_) throw EngineError("cannot deserialize TensorRT engine " + engine_path + ": " + logger_.last());
    context_.reset(engine_->createExecutionContext());
    if (!context_) throw EngineError("createExecutionContext failed: " + logger_.last());
    stream_ = std::make_unique<Stream>();
    if (static_cast<size_t>(engine_->getNbOptimizationProfiles()) != meta_.profiles.size())
      throw ContractViolation("engine meta profiles", std::to_string(meta_.profiles.size()),
                              std::to_string(engine_->getNbOptimizationProfiles()) + " in the engine");
    for (const auto* specs : {&contract_.inputs, &contract_.outputs})
      for (const TensorSpec& spec : *specs) {
        const int32_t rank = engine_->getTensorShape(spec.name.c_str()).nbDims;
        if (rank < 0) throw ContractViolation("engine tensor " + spec.name, "present in the engine", "absent");
        dtype_of(engine_->getTensorDataType(spec.name.c_str()), spec.name);
        bindings_[spec.name];
      }
  }

  // Members free themselves in reverse order: graph, buffers, context, engine, runtime, then the stream;
  // the stream is drained first so no queued copy or kernel still uses a buffer.
  ~TensorRtEngine() override {
    if (stream_) cuda_runtime().stream_synchronize(stream_->get());
  }

  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override {
    std::lock_guard<std::mutex> lock(run_mutex_);
    const CudaRuntime& cuda = cuda_runtime();
    cudaStream_t stream = stream_->get();
    const size_t profile = select_profile(meta_.profiles, inputs, num_inputs);
    if (static_cast<int64_t>(profile) != current_profile_) {
      graph_.reset();  // a graph holds the context state of its profile
      if (!context_->setOptimizationProfileAsync(static_cast<int32_t>(profile), stream))
        throw EngineError("setOptimizationProfileAsync failed: " + logger_.last());
      current_profile_ = static_cast<int64_t>(profile);
    }
    const bool graph_wanted = graph_failure_.empty() && use_cuda_graph(meta_.engine, meta_.profiles[profile]);
    std::vector<void*> addresses;
    for (size_t i = 0; i < num_inputs; ++i) {
      const TensorView& in = inputs[i];
      check_tensor_spec(contract_.input(in.name), in);
      nvinfer1::Dims dims{};
      dims.nbDims = in.rank;
      for (int32_t d = 0; d < in.rank; ++d) dims.d[d] = in.shape[d];
      if (!context_->setInputShape(in.name, dims))
        throw ContractViolation(std::string(in.name) + ".shape", "accepted by the engine", logger_.last());
      const size_t bytes = static_cast<size_t>(in.num_elements()) * dtype_bytes(in.dtype);
      Binding& b = reserve(in.name, bytes);
      std::memcpy(b.host, in.data, bytes);
      cuda_check(cuda.memcpy_async(b.device, b.host, bytes, kHostToDevice, stream), "cudaMemcpyAsync (input)");
      context_->setTensorAddress(in.name, b.device);
      addresses.push_back(b.device);
    }
    for (size_t i = 0; i < num_outputs; ++i) {
      TensorView& out = outputs[i];
      check_tensor_spec(contract_.output(out.name), out);
      const nvinfer1::Dims dims = context_->getTensorShape(out.name);
      bool same = dims.nbDims == out.rank;
      for (int32_t d = 0; same && d < out.rank; ++d) same = dims.d[d] == out.shape[d];
      if (!same) {
        std::ostringstream got;
        for (int32_t d = 0; d < dims.nbDims; ++d) got << (d ? "," : "[") << dims.d[d];
        throw ContractViolation(std::string(out.name) + ".shape", "the session's output buffer shape",
                                got.str() + "] from the engine");
      }
      Binding& b = reserve(out.name, static_cast<size_t>(out.num_elements()) * dtype_bytes(out.dtype));
      context_->setTensorAddress(out.name, b.device);
      addresses.push_back(b.device);
    }
    // The step's graph replays only with the addresses it was captured with (a larger call on the range
    // profile may have regrown a buffer since): otherwise run plain and capture again below.
    const bool replay = graph_wanted && graph_.captured_with(addresses);
    if (replay) graph_.launch(stream);
    else if (!context_->enqueueV3(stream)) throw EngineError("enqueueV3 failed: " + logger_.last());
    for (size_t i = 0; i < num_outputs; ++i) {
      const size_t bytes = static_cast<size_t>(outputs[i].num_elements()) * dtype_bytes(outputs[i].dtype);
      Binding& b = bindings_.at(outputs[i].name);
      cuda_check(cuda.memcpy_async(b.host, b.device, bytes, kDeviceToHost, stream), "cudaMemcpyAsync (output)");
    }
    cuda_check(cuda.stream_synchronize(stream), "cudaStreamSynchronize");
    for (size_t i = 0; i < num_outputs; ++i)
      std::memcpy(outputs[i].data, bindings_.at(outputs[i].name).host,
                  static_cast<size_t>(outputs[i].num_elements()) * dtype_bytes(outputs[i].dtype));
    // Capture after a plain enqueueV3 at these shapes (TensorRT's advice: its first enqueue after a shape
    // change may allocate or synchronize, which capture forbids). Capture records; it does not run.
    if (graph_wanted && !replay) {
      graph_failure_ = graph_.capture(*context_, stream, std::move(addresses));
      if (!graph_failure_.empty())
        std::fprintf(stderr, "parakeet_trt: %s: CUDA graph capture of the decoder step failed (%s); "
                     "using enqueueV3 for every step\n", path_.c_str(), graph_failure_.c_str());
    }
  }

  std::string description() const override {
    std::lock_guard<std::mutex> lock(run_mutex_);
    return "TensorRT engine " + path_ + " (" + meta_.precision + ", TensorRT " + meta_.tensorrt_version +
           (graph_failure_.empty() ? "" : ", no CUDA graph: " + graph_failure_) + ")";
  }

 private:
  Binding& reserve(const std::string& name, size_t bytes) {
    auto it = bindings_.find(name);
    if (it == bindings_.end()) throw ContractViolation("engine tensor " + name, "a tensor of the contract", "unknown");
    Binding& b = it->second;
    if (bytes > b.capacity) {
      const CudaRuntime& cuda = cuda_runtime();
      cuda_check(cuda.stream_synchronize(stream_->get()), "cudaStreamSynchronize");
      b.release();
      cuda_check(cuda.malloc_device(&b.device, bytes), "cudaMalloc");
      cuda_check(cuda.malloc_host(&b.host, bytes), "cudaMallocHost");
      b.capacity = bytes;
    }
    return b;
  }

  mutable std::mutex run_mutex_;  // run() mutates the context, bindings and graph below
  EngineContract contract_;
  std::string path_;
  TensorRtEngineMeta meta_;
  Logger logger_;  // before runtime_: TensorRT logs through it until the runtime is gone
  std::unique_ptr<Stream> stream_;  // destroyed last: after everything that may have used it
  std::unique_ptr<nvinfer1::IRuntime> runtime_;  // TensorRT 10 and 11: objects are released with delete
  std::unique_ptr<nvinfer1::ICudaEngine> engine_;
  std::unique_ptr<nvinfer1::IExecutionContext> context_;
  int64_t current_profile_ = -1;
  std::map<std::string, Binding> bindings_;
  StepGraph graph_;
  std::string graph_failure_;  // non-empty once capture failed: the step runs plain enqueueV3 from then on
};

}  // namespace

std::string tensorrt_unavailable_reason() {
  try {
    nvinfer();
    cuda_runtime();
    return "";
  } catch (const Error& error) {
    return error.what();
  }
}

std::unique_ptr<Engine> make_tensorrt_engine(const std::string& engine_path, const EngineContract& contract,
                                             const std::string& contract_sha256) {
  if (const std::string why = tensorrt_unavailable_reason(); !why.empty())
    throw Error(ErrorCode::kUnavailable, "cannot load TensorRT engine " + engine_path + ": " + why);
  return std::make_unique<TensorRtEngine>(engine_path, contract, contract_sha256);
}

}  // namespace parakeet_trt
