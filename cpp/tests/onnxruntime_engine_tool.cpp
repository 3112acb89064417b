// A command-line window on the native onnxruntime engine for tests/test_native_engine.py, which compares
// it with Python onnxruntime (built with the C++ tests; not a CTest itself).
//
//   onnxruntime_engine_tool info MODEL_DIR GRAPH
//       version, available providers, the graph's inputs/outputs (name:dtype) and description, one per line
//   onnxruntime_engine_tool encode MODEL_DIR FRAMES FEATURES.f32 OUT.f32 REPEATS
//       runs the encoder on raw float32 features [1, n_mels, FRAMES] (length FRAMES), writes `outputs`
//       as raw float32, prints encoded_lengths and the median wall time of REPEATS runs after one warm-up
//
// Uses EngineOptions defaults except the CPU provider; the library comes from $PTRT_ONNXRUNTIME_LIBRARY.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "engines/onnxruntime/onnxruntime_engine.hpp"
#include "engines/onnxruntime/onnxruntime_library.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/model.hpp"

using namespace parakeet_trt;

namespace {

std::string joined(const std::vector<std::string>& names, const std::vector<std::string>& types) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i ? "," : "") + names[i] + ":" + types[i];
  return out;
}

EngineOptions cpu() {
  EngineOptions options;
  options.providers = {"CPUExecutionProvider"};
  return options;
}

int info(const std::string& model_dir, const std::string& graph) {
  auto model = Model::load(model_dir);
  std::shared_ptr<Engine> engine = make_engine(*model, graph, cpu());
  const OnnxRuntimeGraphInfo g = onnxruntime_graph_info(*engine);
  std::string providers;
  for (const std::string& p : onnxruntime_available_providers(cpu())) providers += (providers.empty() ? "" : ",") + p;
  std::printf("version %s\nproviders %s\ninputs %s\noutputs %s\ndescription %s\n",
              OnnxRuntimeLibrary::load("").version().c_str(), providers.c_str(),
              joined(g.inputs, g.input_types).c_str(), joined(g.outputs, g.output_types).c_str(),
              engine->description().c_str());
  return 0;
}

int encode(const std::string& model_dir, int64_t frames, const std::string& features_path, const std::string& out_path,
           int repeats) {
  auto model = Model::load(model_dir);
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", cpu());
  const int64_t n_mels = model->meta().features.n_mels, d_model = model->meta().encoder.d_model;
  const int64_t out_frames = model->meta().encoder.encoded_length(frames);
  std::vector<float> features(static_cast<size_t>(n_mels * frames)), outputs(static_cast<size_t>(d_model * out_frames));
  std::ifstream in(features_path, std::ios::binary);
  if (!in.read(reinterpret_cast<char*>(features.data()), static_cast<std::streamsize>(features.size() * 4))) {
    std::fprintf(stderr, "%s holds fewer than %zu float32 values\n", features_path.c_str(), features.size());
    return 2;
  }
  int64_t length = frames, encoded = -1;
  TensorView inputs[2] = {{"audio_signal", DType::kFloat32, 3, {1, n_mels, frames}, features.data()},
                          {"length", DType::kInt64, 1, {1}, &length}};
  TensorView outs[2] = {{"outputs", DType::kFloat32, 3, {1, d_model, out_frames}, outputs.data()},
                        {"encoded_lengths", DType::kInt64, 1, {1}, &encoded}};
  encoder->run(inputs, 2, outs, 2);  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    encoder->run(inputs, 2, outs, 2);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::ofstream(out_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(outputs.data()), static_cast<std::streamsize>(outputs.size() * 4));
  std::printf("encoded_lengths %lld\nshape 1,%lld,%lld\nmedian_ms %.4f\n", static_cast<long long>(encoded),
              static_cast<long long>(d_model), static_cast<long long>(out_frames), ms.empty() ? 0.0 : ms[ms.size() / 2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string command = argc > 1 ? argv[1] : "";
    if (command == "info" && argc == 4) return info(argv[2], argv[3]);
    if (command == "encode" && argc == 7)
      return encode(argv[2], std::atoll(argv[3]), argv[4], argv[5], std::atoi(argv[6]));
    std::fprintf(stderr, "usage: %s info MODEL_DIR GRAPH | encode MODEL_DIR FRAMES FEATURES.f32 OUT.f32 REPEATS\n",
                 argv[0]);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
