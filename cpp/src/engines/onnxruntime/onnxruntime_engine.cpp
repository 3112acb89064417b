#include "engines/onnxruntime/onnxruntime_engine.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/contract_json.hpp"
#include "engines/onnxruntime/onnxruntime_library.hpp"
#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

constexpr const char* kCpu = "CPUExecutionProvider";
constexpr const char* kCuda = "CUDAExecutionProvider";
// Inputs or outputs of one call: names and values live on the stack, so run() allocates nothing itself.
constexpr size_t kMaxTensors = 32;

ort::ElementType element_type(DType dtype) {
  switch (dtype) {
    case DType::kFloat32: return ort::ElementType::kFloat;
    case DType::kInt64: return ort::ElementType::kInt64;
    case DType::kInt32: return ort::ElementType::kInt32;
  }
  return ort::ElementType::kUndefined;
}

size_t element_bytes(DType dtype) { return dtype == DType::kInt64 ? 8 : 4; }

std::string element_type_name(ort::ElementType type) {
  switch (type) {
    case ort::ElementType::kFloat: return "float32";
    case ort::ElementType::kInt64: return "int64";
    case ort::ElementType::kInt32: return "int32";
    default: return "ONNX element type " + std::to_string(static_cast<int>(type));
  }
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "(none)" : out;
}

std::string shape_text(const int64_t* shape, size_t rank) { return shape_string(std::vector<int64_t>(shape, shape + rank)); }

std::string file_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Releases ONNX Runtime objects created in one scope, whatever leaves it.
template <typename T>
class Owned {
 public:
  explicit Owned(void (*release)(T*) noexcept) : release_(release) {}
  ~Owned() {
    if (p_) release_(p_);
  }
  Owned(const Owned&) = delete;
  Owned& operator=(const Owned&) = delete;
  T** out() { return &p_; }
  T* get() const { return p_; }
  T* release() {
    T* p = p_;
    p_ = nullptr;
    return p;
  }

 private:
  void (*release_)(T*) noexcept;
  T* p_ = nullptr;
};

// The OrtValues of one call (wrapping caller buffers), released at scope exit.
class CallValues {
 public:
  explicit CallValues(const ort::Api& api) : api_(api) {}
  ~CallValues() {
    for (size_t i = 0; i < count_; ++i)
      if (values_[i]) api_.ReleaseValue(values_[i]);
  }
  CallValues(const CallValues&) = delete;
  CallValues& operator=(const CallValues&) = delete;
  ort::OrtValue** slot() { return &values_[count_++]; }
  ort::OrtValue* const* data() const { return values_; }
  ort::OrtValue** data() { return values_; }

 private:
  const ort::Api& api_;
  ort::OrtValue* values_[kMaxTensors] = {};
  size_t count_ = 0;
};

// Which providers a session gets: the caller's list, checked against the library, or CUDA-then-CPU.
struct ProviderChoice {
  bool cuda = false;      // append the CUDA provider
  bool cuda_asked = false;  // the caller named it: failing to start it is an error, not a fallback
};

ProviderChoice choose_providers(const OnnxRuntimeLibrary& library, const std::vector<std::string>& requested) {
  ProviderChoice choice;
  if (requested.empty()) {
    choice.cuda = library.has_provider(kCuda);
    return choice;
  }
  for (const std::string& name : requested) {
    if (!library.has_provider(name))
      throw Error(ErrorCode::kInvalidArgument, "unknown/unavailable execution provider '" + name +
                                                   "'; this ONNX Runtime (version " + library.version() +
                                                   ") has: " + join(library.providers()));
    if (name != kCpu && name != kCuda)
      throw Error(ErrorCode::kInvalidArgument, "execution provider '" + name + "' is in this ONNX Runtime (version " +
                                                   library.version() + ") but parakeet_trt configures only " +
                                                   kCuda + " and " + kCpu);
  }
  // ONNX Runtime assigns nodes to providers in the order they were appended; CPU is always the fallback.
  choice.cuda = requested.front() == kCuda;  // CUDA after CPU would never get a node
  choice.cuda_asked = choice.cuda;
  return choice;
}

struct GraphTensor {
  std::string name;
  ort::ElementType type = ort::ElementType::kUndefined;
};

class OnnxRuntimeEngine final : public Engine {
 public:
  OnnxRuntimeEngine(const std::string& graph_path, const EngineContract& contract, const EngineOptions& options)
      : library_(OnnxRuntimeLibrary::load(options.onnxruntime_library)),
        graph_(contract.name),
        file_(file_name(graph_path)) {
    const ort::Api& api = library_.api();
    const ProviderChoice choice = choose_providers(library_, options.providers);
    Owned<ort::OrtSessionOptions> session_options(api.ReleaseSessionOptions);
    check(api.CreateSessionOptions(session_options.out()), "CreateSessionOptions");
    check(api.SetIntraOpNumThreads(session_options.get(), options.intra_op_threads), "SetIntraOpNumThreads");
    check(api.SetSessionGraphOptimizationLevel(session_options.get(), ort::GraphOptimizationLevel::kEnableAll),
          "SetSessionGraphOptimizationLevel");
    check(api.SetSessionLogSeverityLevel(session_options.get(), static_cast<int>(ort::LoggingLevel::kWarning)),
          "SetSessionLogSeverityLevel");
    // Spin-waiting intra-op threads (EngineOptions.allow_spinning): faster single calls, cores burned
    // after every call; streams turn it off.
    check(api.AddSessionConfigEntry(session_options.get(), "session.intra_op.allow_spinning",
                                    options.allow_spinning ? "1" : "0"),
          "AddSessionConfigEntry(session.intra_op.allow_spinning)");
    provider_ = kCpu;
    if (choice.cuda) {
      const std::string why = append_cuda(session_options.get(), options.device_id);
      if (why.empty()) {
        provider_ = kCuda;
      } else if (choice.cuda_asked) {
        throw Error(ErrorCode::kUnavailable, "ONNX Runtime " + library_.version() + " cannot start " + kCuda +
                                                 " on device " + std::to_string(options.device_id) + ": " + why);
      } else {
        provider_note_ = " (CUDA unavailable: " + why + ")";
      }
    }
    Owned<ort::OrtSession> session(api.ReleaseSession);
    // A graph ONNX Runtime cannot parse is a broken model folder (ModelError), not an engine failure.
    if (ort::Status status = api.CreateSession(library_.env(), graph_path.c_str(), session_options.get(),
                                               session.out())) {
      const std::string message = api.GetErrorMessage(status);
      api.ReleaseStatus(status);
      throw ModelError("ONNX Runtime cannot load " + graph_path + ": " + message);
    }
    session_ = session.release();
    try {
      read_graph_tensors();
      check_contract(contract);
    } catch (...) {
      api.ReleaseSession(session_);
      throw;
    }
  }

  ~OnnxRuntimeEngine() override { library_.api().ReleaseSession(session_); }
  OnnxRuntimeEngine(const OnnxRuntimeEngine&) = delete;
  OnnxRuntimeEngine& operator=(const OnnxRuntimeEngine&) = delete;

  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override {
    if (num_inputs > kMaxTensors || num_outputs > kMaxTensors)
      throw Error(ErrorCode::kInvalidArgument, "onnxruntime engine " + graph_ + ": at most " +
                                                   std::to_string(kMaxTensors) + " inputs and outputs per call");
    const ort::Api& api = library_.api();
    const char* input_names[kMaxTensors];
    const char* output_names[kMaxTensors];
    CallValues input_values(api), output_values(api);
    for (size_t i = 0; i < num_inputs; ++i) {
      check_dtype(inputs_, "inputs", inputs[i]);
      input_names[i] = inputs[i].name;
      wrap(inputs[i], input_values.slot());
    }
    for (size_t i = 0; i < num_outputs; ++i) {
      check_dtype(outputs_, "outputs", outputs[i]);
      output_names[i] = outputs[i].name;
      wrap(outputs[i], output_values.slot());
    }
    // Outputs are pre-bound: ONNX Runtime writes into the caller's buffers, or fails if a shape differs.
    ort::Status status = api.Run(session_, nullptr, input_names, input_values.data(), num_inputs, output_names,
                                 num_outputs, output_values.data());
    if (status) explain_failure(status, input_names, input_values, num_inputs, outputs, num_outputs);
  }

  OnnxRuntimeGraphInfo graph_info() const {
    OnnxRuntimeGraphInfo info;
    for (const GraphTensor& t : inputs_) {
      info.inputs.push_back(t.name);
      info.input_types.push_back(element_type_name(t.type));
    }
    for (const GraphTensor& t : outputs_) {
      info.outputs.push_back(t.name);
      info.output_types.push_back(element_type_name(t.type));
    }
    return info;
  }

  std::string description() const override {
    return "onnxruntime " + library_.version() + " " + file_ + " " + provider_ + provider_note_;
  }

 private:
  void check(ort::Status status, const std::string& what) const {
    if (status) library_.check(status, "onnxruntime engine " + graph_ + " (" + file_ + "): " + what);
  }

  // "" on success, else ONNX Runtime's reason.
  std::string append_cuda(ort::OrtSessionOptions* session_options, int32_t device_id) const {
    const ort::Api& api = library_.api();
    Owned<ort::OrtCUDAProviderOptionsV2> cuda(api.ReleaseCUDAProviderOptions);
    if (ort::Status s = api.CreateCUDAProviderOptions(cuda.out())) return library_.take_message(s);
    const std::string device = std::to_string(device_id);
    const char* keys[] = {"device_id"};
    const char* values[] = {device.c_str()};
    if (ort::Status s = api.UpdateCUDAProviderOptions(cuda.get(), keys, values, 1)) return library_.take_message(s);
    if (ort::Status s = api.SessionOptionsAppendExecutionProvider_CUDA_V2(session_options, cuda.get()))
      return library_.take_message(s);
    return "";
  }

  void read_graph_tensors() {
    const ort::Api& api = library_.api();
    ort::OrtAllocator* allocator = nullptr;
    check(api.GetAllocatorWithDefaultOptions(&allocator), "GetAllocatorWithDefaultOptions");
    size_t count = 0;
    check(api.SessionGetInputCount(session_, &count), "SessionGetInputCount");
    for (size_t i = 0; i < count; ++i)
      inputs_.push_back(read_tensor(allocator, i, api.SessionGetInputName, api.SessionGetInputTypeInfo));
    check(api.SessionGetOutputCount(session_, &count), "SessionGetOutputCount");
    for (size_t i = 0; i < count; ++i)
      outputs_.push_back(read_tensor(allocator, i, api.SessionGetOutputName, api.SessionGetOutputTypeInfo));
  }

  template <typename NameFn, typename TypeFn>
  GraphTensor read_tensor(ort::OrtAllocator* allocator, size_t index, NameFn get_name, TypeFn get_type) {
    const ort::Api& api = library_.api();
    GraphTensor tensor;
    char* name = nullptr;
    check(get_name(session_, index, allocator, &name), "tensor name");
    tensor.name = name;
    library_.take_message(api.AllocatorFree(allocator, name));
    Owned<ort::OrtTypeInfo> type_info(api.ReleaseTypeInfo);
    check(get_type(session_, index, type_info.out()), "tensor type of " + tensor.name);
    const ort::OrtTensorTypeAndShapeInfo* info = nullptr;
    check(api.CastTypeInfoToTensorInfo(type_info.get(), &info), "CastTypeInfoToTensorInfo");
    if (info) check(api.GetTensorElementType(info, &tensor.type), "GetTensorElementType");
    return tensor;
  }

  // Every tensor of the contract is in the graph with its dtype, and the graph has no other tensor.
  void check_contract(const EngineContract& contract) const {
    check_side(contract.inputs, inputs_, "inputs");
    check_side(contract.outputs, outputs_, "outputs");
  }

  void check_side(const std::vector<TensorSpec>& specs, const std::vector<GraphTensor>& graph,
                  const char* side) const {
    std::vector<std::string> graph_names;
    for (const GraphTensor& t : graph) graph_names.push_back(t.name);
    const std::string prefix = "engines." + graph_ + "." + side + ".";
    for (const TensorSpec& spec : specs) {
      auto it = std::find_if(graph.begin(), graph.end(), [&](const GraphTensor& t) { return t.name == spec.name; });
      if (it == graph.end())
        throw ContractViolation(prefix + spec.name, "present in " + file_,
                                "absent (the graph's " + std::string(side) + ": " + join(graph_names) + ")");
      if (element_type_name(it->type) != spec.dtype)
        throw ContractViolation(prefix + spec.name + ".dtype", spec.dtype, element_type_name(it->type) + " in " + file_);
    }
    for (const GraphTensor& t : graph)
      if (std::none_of(specs.begin(), specs.end(), [&](const TensorSpec& s) { return s.name == t.name; }))
        throw ContractViolation(prefix + t.name, "absent (not in the contract)", "present in " + file_);
  }

  // The caller's tensor has the graph's dtype (names ONNX Runtime checks itself). Allocation-free.
  void check_dtype(const std::vector<GraphTensor>& graph, const char* side, const TensorView& view) const {
    for (const GraphTensor& t : graph)
      if (std::strcmp(t.name.c_str(), view.name) == 0) {
        if (t.type != element_type(view.dtype))
          throw ContractViolation("engines." + graph_ + "." + side + "." + view.name + ".dtype",
                                  element_type_name(t.type), element_type_name(element_type(view.dtype)));
        return;
      }
    throw ContractViolation("engines." + graph_ + "." + side + "." + view.name, "a tensor of " + file_, "unknown name");
  }

  void wrap(const TensorView& view, ort::OrtValue** value) const {
    if (view.rank < 0 || view.rank > kMaxTensorRank)
      throw Error(ErrorCode::kInvalidArgument, std::string("tensor ") + view.name + " has rank " +
                                                   std::to_string(view.rank));
    const size_t bytes = static_cast<size_t>(view.num_elements()) * element_bytes(view.dtype);
    check(library_.api().CreateTensorWithDataAsOrtValue(library_.cpu_memory(), view.data, bytes, view.shape,
                                                         static_cast<size_t>(view.rank), element_type(view.dtype),
                                                         value),
          std::string("cannot wrap tensor ") + view.name);
  }

  // The bound run failed. Run again without bound outputs to learn the shapes the graph produces: an output
  // whose shape differs from the caller's buffer is a ContractViolation naming it; anything else is
  // ONNX Runtime's error.
  [[noreturn]] void explain_failure(ort::Status status, const char* const* input_names, const CallValues& inputs,
                                    size_t num_inputs, const TensorView* outputs, size_t num_outputs) const {
    const ort::Api& api = library_.api();
    const std::string message = library_.take_message(status);
    const char* output_names[kMaxTensors];
    for (size_t i = 0; i < num_outputs; ++i) output_names[i] = outputs[i].name;
    CallValues produced(api);
    for (size_t i = 0; i < num_outputs; ++i) produced.slot();
    if (ort::Status again = api.Run(session_, nullptr, input_names, inputs.data(), num_inputs, output_names,
                                    num_outputs, produced.data())) {
      library_.take_message(again);
    } else {
      for (size_t i = 0; i < num_outputs; ++i) {
        Owned<ort::OrtTensorTypeAndShapeInfo> info(api.ReleaseTensorTypeAndShapeInfo);
        size_t rank = 0;
        int64_t shape[kMaxTensorRank] = {};
        if (api.GetTensorTypeAndShape(produced.data()[i], info.out()) != nullptr) continue;
        if (api.GetDimensionsCount(info.get(), &rank) != nullptr || rank > kMaxTensorRank) continue;
        if (api.GetDimensions(info.get(), shape, rank) != nullptr) continue;
        const TensorView& out = outputs[i];
        const bool same = rank == static_cast<size_t>(out.rank) && std::equal(shape, shape + rank, out.shape);
        if (!same)
          throw ContractViolation("engines." + graph_ + ".outputs." + out.name + ".shape",
                                  shape_text(out.shape, static_cast<size_t>(out.rank)) + " (the caller's buffer)",
                                  shape_text(shape, rank) + " from " + file_);
      }
    }
    throw EngineError("onnxruntime engine " + graph_ + " (" + file_ + "): Run failed: " + message);
  }

  const OnnxRuntimeLibrary& library_;
  std::string graph_, file_;
  std::string provider_, provider_note_;
  ort::OrtSession* session_ = nullptr;
  std::vector<GraphTensor> inputs_, outputs_;
};

}  // namespace

std::unique_ptr<Engine> make_onnxruntime_engine(const std::string& graph_path, const EngineContract& contract,
                                                const EngineOptions& options) {
  return std::make_unique<OnnxRuntimeEngine>(graph_path, contract, options);
}

OnnxRuntimeGraphInfo onnxruntime_graph_info(const Engine& engine) {
  const auto* ort_engine = dynamic_cast<const OnnxRuntimeEngine*>(&engine);
  if (!ort_engine) throw Error(ErrorCode::kInvalidArgument, engine.description() + " is not an onnxruntime engine");
  return ort_engine->graph_info();
}

}  // namespace parakeet_trt
