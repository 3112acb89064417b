#include "parakeet_trt/engine_factory.hpp"

#include <sys/stat.h>

#include <sstream>

#include "core/sha256.hpp"
#include "engines/onnxruntime/onnxruntime_engine.hpp"
#include "engines/onnxruntime/onnxruntime_library.hpp"
#include "engines/tensorrt_support.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {
namespace {

constexpr const char* kOnnxRuntime = "onnxruntime";
constexpr const char* kTensorRt = "tensorrt";

std::string names_text() { return "onnxruntime, tensorrt"; }

bool file_exists(const std::string& path) {
  struct stat info {};
  return stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

// The graph's entry in model_meta.json; Error(kInvalidArgument) for a name that is no graph.
const GraphSpec& graph_spec(const ModelMeta& meta, const std::string& graph) {
  if (graph == "encoder") return meta.encoder_graph;
  if (graph == "encoder_streaming") return meta.encoder_streaming_graph;
  if (graph == "decoder_joint") return meta.decoder_joint_graph;
  throw Error(ErrorCode::kInvalidArgument,
              "unknown graph '" + graph + "'; graphs are encoder, encoder_streaming, decoder_joint");
}

std::string export_hint(const std::string& graph) {
  return "export it with: parakeet-trt export --model <model.nemo> --out <folder> --component " + graph +
         (graph == "encoder_streaming" ? " --streaming-profile cache_aware" : "");
}

// The graph file in the model folder (ModelError naming the export command when the folder lacks it),
// optionally hashed against the contract.
std::string graph_path(const Model& model, const std::string& graph, const EngineContract& contract,
                       bool verify_hash) {
  const GraphSpec& spec = graph_spec(model.meta(), graph);
  if (spec.file.empty())
    throw ModelError("model folder " + model.directory() + " has no " + graph + " graph (model_meta.json lists none); " +
                     export_hint(graph));
  const std::string path = model.path_of(spec.file);
  if (!file_exists(path))
    throw ModelError("model folder " + model.directory() + " lacks " + spec.file + " (the " + graph + " graph); " +
                     export_hint(graph));
  if (verify_hash)
    for (const auto& [file, expected] : contract.sha256) {
      const std::string actual = sha256_file(model.path_of(file));
      if (actual != expected) throw ContractViolation("engines." + graph + "." + file + " sha256", expected, actual);
    }
  return path;
}

}  // namespace

void EngineOptions::validate() const {
  if (name != kOnnxRuntime && name != kTensorRt)
    throw Error(ErrorCode::kInvalidArgument,
                "EngineOptions.name: unknown engine '" + name + "'; engines are " + names_text() +
                    (name == "external" ? " (an external engine is passed in as a vtable, not made by name)" : ""));
  if (intra_op_threads < 0)
    throw Error(ErrorCode::kInvalidArgument,
                "EngineOptions.intra_op_threads must be >= 0 (0: ONNX Runtime's default), got " +
                    std::to_string(intra_op_threads));
  if (device_id < 0)
    throw Error(ErrorCode::kInvalidArgument, "EngineOptions.device_id must be >= 0, got " + std::to_string(device_id));
  for (const std::string& provider : providers)
    if (provider.empty()) throw Error(ErrorCode::kInvalidArgument, "EngineOptions.providers holds an empty name");
}

std::string EngineOptions::key() const {
  std::ostringstream os;
  os << "name=" << name << ";providers=";
  for (size_t i = 0; i < providers.size(); ++i) os << (i ? "," : "") << providers[i];
  os << ";intra_op_threads=" << intra_op_threads << ";allow_spinning=" << (allow_spinning ? 1 : 0)
     << ";device_id=" << device_id
     << ";onnxruntime_library=" << onnxruntime_library << ";trt_engine_dir=" << trt_engine_dir
     << ";verify_graph_hash=" << (verify_graph_hash ? 1 : 0);
  return os.str();
}

std::shared_ptr<Engine> make_engine(const Model& model, const std::string& graph, const EngineOptions& options) {
  options.validate();
  graph_spec(model.meta(), graph);  // an unknown graph name is the caller's error, before the contract's
  const EngineContract& contract = model.contract().engine(graph);
  if (options.name == kTensorRt) {
    // Engines built by `parakeet-trt build-trt`: <dir>/<graph>.engine beside <graph>.meta.json.
    const std::string folder = options.trt_engine_dir.empty() ? model.directory() : options.trt_engine_dir;
    return make_tensorrt_engine(folder + "/" + graph + ".engine", contract, model.meta().contract_sha256);
  }
  return make_onnxruntime_engine(graph_path(model, graph, contract, options.verify_graph_hash), contract, options);
}

std::vector<std::string> engine_names() { return {kOnnxRuntime, kTensorRt}; }

std::string engine_unavailable_reason(const EngineOptions& options) {
  options.validate();
  try {
    if (options.name == kTensorRt) return tensorrt_unavailable_reason();
    OnnxRuntimeLibrary::load(options.onnxruntime_library);
    return "";
  } catch (const Error& error) {
    if (error.code() != ErrorCode::kUnavailable) throw;
    return error.what();
  }
}

std::vector<std::string> onnxruntime_available_providers(const EngineOptions& options) {
  return OnnxRuntimeLibrary::load(options.onnxruntime_library).providers();
}

}  // namespace parakeet_trt
