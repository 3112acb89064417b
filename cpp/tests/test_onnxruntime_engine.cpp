// The native onnxruntime engine and the engine factory on the real libonnxruntime.so
// ($PTRT_ONNXRUNTIME_LIBRARY, exported by scripts/test.sh; unset = failure) and the packaged demo model:
// the demo sample transcribed end to end, load-time contract checks, provider and library errors, output
// shape errors, and one engine shared by 8 threads. tests/test_native_engine.py compares the outputs with
// Python onnxruntime's through tools built beside this test.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/sha256.hpp"
#include "engines/onnxruntime/onnxruntime_engine.hpp"
#include "engines/onnxruntime/onnxruntime_library.hpp"
#include "onnxruntime_test_support.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

std::shared_ptr<const Model> demo_model() { return Model::load(ptrt_test::demo_model_dir()); }

EngineOptions cpu_options() {
  EngineOptions options;
  options.providers = {"CPUExecutionProvider"};
  return options;
}

// The ErrorCode of what `f` throws (-1: nothing thrown), and its message.
template <typename F>
int error_code_of(F&& f, std::string& message) {
  try {
    f();
  } catch (const Error& e) {
    message = e.what();
    return static_cast<int>(e.code());
  }
  return -1;
}

void test_transcribes_demo_sample() {
  auto model = demo_model();
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", EngineOptions{});
  int rate = 0;
  const std::vector<float> audio = ptrt_test::read_wav_pcm16(ptrt_test::demo_wav(), &rate);
  PTRT_CHECK_EQ(rate, 16000);
  OfflineRecognizer recognizer(model, encoder);
  const Transcript t = recognizer.transcribe(audio.data(), static_cast<int64_t>(audio.size()));
  PTRT_CHECK_EQ(t.text, ptrt_test::demo_nemo_transcript());  // what NeMo reads in the sample
  std::printf("  description: %s\n  text: %s\n", encoder->description().c_str(), t.text.c_str());
}

void test_description_and_graph_info() {
  auto model = demo_model();
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", cpu_options());
  const OnnxRuntimeLibrary& library = OnnxRuntimeLibrary::load("");
  PTRT_CHECK_EQ(encoder->description(), "onnxruntime " + library.version() + " encoder.onnx CPUExecutionProvider");
  const OnnxRuntimeGraphInfo info = onnxruntime_graph_info(*encoder);
  PTRT_CHECK(info.inputs == (std::vector<std::string>{"audio_signal", "length"}));
  PTRT_CHECK(info.input_types == (std::vector<std::string>{"float32", "int64"}));
  PTRT_CHECK(info.outputs == (std::vector<std::string>{"outputs", "encoded_lengths"}));
  PTRT_CHECK(info.output_types == (std::vector<std::string>{"float32", "int64"}));
  std::shared_ptr<Engine> joint = make_engine(*model, "decoder_joint", cpu_options());
  PTRT_CHECK_EQ(onnxruntime_graph_info(*joint).inputs.size(), model->contract().engine("decoder_joint").inputs.size());
  const std::vector<std::string> providers = onnxruntime_available_providers(EngineOptions{});
  PTRT_CHECK(!providers.empty() && providers == library.providers());
  bool has_cpu = false;
  for (const auto& p : providers) has_cpu = has_cpu || p == "CPUExecutionProvider";
  PTRT_CHECK(has_cpu);
  PTRT_CHECK_EQ(engine_unavailable_reason(EngineOptions{}), std::string());
}

void test_unknown_provider_lists_providers() {
  auto model = demo_model();
  EngineOptions options;
  options.providers = {"FooExecutionProvider"};
  std::string message;
  PTRT_CHECK_EQ(error_code_of([&] { make_engine(*model, "encoder", options); }, message),
                static_cast<int>(ErrorCode::kInvalidArgument));
  PTRT_CHECK(message.find("unknown/unavailable execution provider 'FooExecutionProvider'") != std::string::npos);
  PTRT_CHECK(message.find("CPUExecutionProvider") != std::string::npos);
  PTRT_CHECK(message.find(OnnxRuntimeLibrary::load("").version()) != std::string::npos);
  std::printf("  %s\n", message.c_str());
  // CUDA asked of a library without it (the CPU wheel): the same error, not a silent CPU session.
  if (!OnnxRuntimeLibrary::load("").has_provider("CUDAExecutionProvider")) {
    options.providers = {"CUDAExecutionProvider", "CPUExecutionProvider"};
    PTRT_CHECK_EQ(error_code_of([&] { make_engine(*model, "encoder", options); }, message),
                  static_cast<int>(ErrorCode::kInvalidArgument));
    PTRT_CHECK(message.find("'CUDAExecutionProvider'") != std::string::npos);
  }
  // Empty list: CUDA when the library has it, else CPU.
  const bool cuda = OnnxRuntimeLibrary::load("").has_provider("CUDAExecutionProvider");
  const std::string description = make_engine(*model, "encoder", EngineOptions{})->description();
  PTRT_CHECK(description.find(cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider") != std::string::npos);
}

void test_missing_library_names_places() {
  auto model = demo_model();
  EngineOptions options;
  options.onnxruntime_library = "/nonexistent/libonnxruntime.so";
  std::string message;
  PTRT_CHECK_EQ(error_code_of([&] { make_engine(*model, "encoder", options); }, message),
                static_cast<int>(ErrorCode::kUnavailable));
  PTRT_CHECK(message.find("/nonexistent/libonnxruntime.so") != std::string::npos);
  PTRT_CHECK(message.find("pip install onnxruntime") != std::string::npos);
  PTRT_CHECK(message.find("PTRT_ONNXRUNTIME_LIBRARY") != std::string::npos);
  PTRT_CHECK(engine_unavailable_reason(options).find("/nonexistent/libonnxruntime.so") != std::string::npos);

  // Without a path and without the variable: the Python package beside this code, then the loader's path.
  const std::string saved = std::getenv("PTRT_ONNXRUNTIME_LIBRARY");
  unsetenv("PTRT_ONNXRUNTIME_LIBRARY");
  const std::vector<std::string> places = onnxruntime_library_candidates("");
  setenv("PTRT_ONNXRUNTIME_LIBRARY", saved.c_str(), 1);
  std::string all;
  for (const auto& p : places) all += p + "\n";
  PTRT_CHECK(all.find("onnxruntime/capi/libonnxruntime.so") != std::string::npos);
  PTRT_CHECK(all.find("libonnxruntime.so.1 (the dynamic loader's search path)") != std::string::npos);
  PTRT_CHECK(all.find("libonnxruntime.so (the dynamic loader's search path)") != std::string::npos);
  std::printf("  %s\n  places without a path:\n%s", message.c_str(), all.c_str());

  setenv("PTRT_ONNXRUNTIME_LIBRARY", "/nonexistent/by-variable/libonnxruntime.so", 1);
  PTRT_CHECK_EQ(error_code_of([&] { OnnxRuntimeLibrary::load(""); }, message),
                static_cast<int>(ErrorCode::kUnavailable));
  setenv("PTRT_ONNXRUNTIME_LIBRARY", saved.c_str(), 1);
  PTRT_CHECK(message.find("/nonexistent/by-variable/libonnxruntime.so ($PTRT_ONNXRUNTIME_LIBRARY)") !=
             std::string::npos);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

// Model folders refuse symbolic links that leave them (issue 18): test folders hold real copies.
void copy_file(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  if (!in || !out) throw std::runtime_error("cannot copy " + from + " to " + to);
}

// A copy of the demo folder whose contract and meta call the encoder's second output "encoded_lens"
// (consistent with each other, so the model loads; the graph still says "encoded_lengths").
std::string folder_with_renamed_output() {
  char pattern[] = "/tmp/ptrt_ort_contract_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string src = ptrt_test::demo_model_dir();
  for (const char* file : {"encoder.onnx", "decoder_joint.onnx", "decoder_step.bin", "vocab.txt"})
    copy_file(src + "/" + file, dir + "/" + file);
  const std::string contract = replace_all(read_text(src + "/demo.contract.json"), "\"encoded_lengths\"", "\"encoded_lens\"");
  write_text(dir + "/demo.contract.json", contract);
  const std::string old_sha = sha256_file(src + "/demo.contract.json");
  std::string meta = replace_all(read_text(src + "/model_meta.json"), "\"encoded_lengths\"", "\"encoded_lens\"");
  meta = replace_all(meta, old_sha, sha256_file(dir + "/demo.contract.json"));
  write_text(dir + "/model_meta.json", meta);
  return dir;
}

void test_contract_mismatch_at_load() {
  const std::string dir = folder_with_renamed_output();
  auto model = Model::load(dir);
  PTRT_CHECK_THROWS(make_engine(*model, "encoder", cpu_options()), ContractViolation,
                    "engines.encoder.outputs.encoded_lens: expected present in encoder.onnx, got absent");
  std::string message;
  try {
    make_engine(*model, "encoder", cpu_options());
  } catch (const ContractViolation& e) {
    message = e.what();
    PTRT_CHECK_EQ(e.field(), std::string("engines.encoder.outputs.encoded_lens"));
  }
  PTRT_CHECK(message.find("encoded_lengths") != std::string::npos);  // names what the graph has
  std::printf("  %s\n", message.c_str());
  std::system(("rm -rf " + dir).c_str());
}

void test_missing_graph_names_export_command() {
  char pattern[] = "/tmp/ptrt_ort_graph_XXXXXX";
  const std::string dir = mkdtemp(pattern);
  const std::string src = ptrt_test::demo_model_dir();
  for (const char* file : {"encoder.onnx", "decoder_step.bin", "vocab.txt", "demo.contract.json", "model_meta.json"})
    copy_file(src + "/" + file, dir + "/" + file);
  ModelLoadOptions load;
  load.verify_graph_hashes = false;  // the folder lacks decoder_joint.onnx on purpose
  auto model = Model::load(dir, load);
  PTRT_CHECK_THROWS(make_engine(*model, "decoder_joint", cpu_options()), ModelError,
                    "parakeet-trt export --model <model.nemo> --out <folder> --component decoder_joint");
  PTRT_CHECK_THROWS(make_engine(*model, "joint", cpu_options()), Error, "unknown graph 'joint'");
  std::system(("rm -rf " + dir).c_str());

  // verify_graph_hash: a graph that is not the contract's is refused before ONNX Runtime loads it.
  char swapped_pattern[] = "/tmp/ptrt_ort_hash_XXXXXX";
  const std::string swapped = mkdtemp(swapped_pattern);
  for (const char* file : {"decoder_joint.onnx", "decoder_step.bin", "vocab.txt", "demo.contract.json", "model_meta.json"})
    copy_file(src + "/" + file, swapped + "/" + file);
  copy_file(src + "/decoder_joint.onnx", swapped + "/encoder.onnx");
  auto swapped_model = Model::load(swapped, load);
  EngineOptions verify = cpu_options();
  verify.verify_graph_hash = true;
  PTRT_CHECK_THROWS(make_engine(*swapped_model, "encoder", verify), ContractViolation,
                    "engines.encoder.encoder.onnx sha256");
  PTRT_CHECK(make_engine(*demo_model(), "encoder", verify) != nullptr);  // the real graph passes
  std::system(("rm -rf " + swapped).c_str());
}

void test_options_validation() {
  auto model = demo_model();
  EngineOptions options;
  options.name = "openvino";
  PTRT_CHECK_THROWS(make_engine(*model, "encoder", options), Error, "unknown engine 'openvino'; engines are onnxruntime, tensorrt");
  options = EngineOptions{};
  options.intra_op_threads = -1;
  PTRT_CHECK_THROWS(options.validate(), Error, "EngineOptions.intra_op_threads");
  options = EngineOptions{};
  options.device_id = -2;
  PTRT_CHECK_THROWS(options.validate(), Error, "EngineOptions.device_id");
  PTRT_CHECK(EngineOptions{}.key() != cpu_options().key());
  PTRT_CHECK(engine_names() == (std::vector<std::string>{"onnxruntime", "tensorrt"}));
  // Without TensorRT compiled in: kUnavailable naming what is missing.
  options = EngineOptions{};
  options.name = "tensorrt";
  std::string message;
  const int code = error_code_of([&] { make_engine(*model, "encoder", options); }, message);
  PTRT_CHECK_EQ(code, static_cast<int>(ErrorCode::kUnavailable));
  PTRT_CHECK(message.find("encoder.engine") != std::string::npos);
  PTRT_CHECK(!engine_unavailable_reason(options).empty());
  std::printf("  tensorrt: %s\n", message.c_str());
}

void test_output_shape_and_dtype_errors() {
  auto model = demo_model();
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", cpu_options());
  ptrt_test::EncoderCall call(*model, 160, 3);
  std::vector<float> out(static_cast<size_t>(call.d_model * (call.out_frames + 1)));
  int64_t encoded = -1;
  TensorView in[2] = {{"audio_signal", DType::kFloat32, 3, {1, call.n_mels, call.frames}, call.features.data()},
                      {"length", DType::kInt64, 1, {1}, &call.length}};
  TensorView wrong_shape[2] = {{"outputs", DType::kFloat32, 3, {1, call.d_model, call.out_frames + 1}, out.data()},
                               {"encoded_lengths", DType::kInt64, 1, {1}, &encoded}};
  const std::string expected = "contract violation: engines.encoder.outputs.outputs.shape: expected [1, " +
                               std::to_string(call.d_model) + ", " + std::to_string(call.out_frames + 1) +
                               "] (the caller's buffer), got [1, " + std::to_string(call.d_model) + ", " +
                               std::to_string(call.out_frames) + "] from encoder.onnx";
  PTRT_CHECK_THROWS(encoder->run(in, 2, wrong_shape, 2), ContractViolation, expected);
  int32_t length32 = static_cast<int32_t>(call.length);
  TensorView wrong_dtype[2] = {in[0], {"length", DType::kInt32, 1, {1}, &length32}};
  TensorView outputs[2] = {{"outputs", DType::kFloat32, 3, {1, call.d_model, call.out_frames}, out.data()},
                           {"encoded_lengths", DType::kInt64, 1, {1}, &encoded}};
  PTRT_CHECK_THROWS(encoder->run(wrong_dtype, 2, outputs, 2), ContractViolation,
                    "engines.encoder.inputs.length.dtype: expected int64, got int32");
  TensorView unknown[2] = {in[0], {"lengths", DType::kInt64, 1, {1}, &call.length}};
  PTRT_CHECK_THROWS(encoder->run(unknown, 2, outputs, 2), ContractViolation, "engines.encoder.inputs.lengths");
  // A rank the graph refuses: ONNX Runtime's own message, with the graph named.
  TensorView bad_rank[2] = {{"audio_signal", DType::kFloat32, 2, {call.n_mels, call.frames}, call.features.data()}, in[1]};
  PTRT_CHECK_THROWS(encoder->run(bad_rank, 2, outputs, 2), EngineError, "onnxruntime engine encoder (encoder.onnx)");
  // The engine still works after the failures.
  PTRT_CHECK_EQ(call.run(*encoder, out), call.out_frames);
}

void test_threads_share_one_engine() {
  auto model = demo_model();
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", EngineOptions{});
  const int64_t frame_counts[] = {96, 160, 237};
  std::vector<ptrt_test::EncoderCall> calls;
  std::vector<std::vector<float>> reference(3);
  for (int i = 0; i < 3; ++i) {
    calls.emplace_back(*model, frame_counts[i], 11 + i);
    calls[i].run(*encoder, reference[i]);
  }
  constexpr int kThreads = 8, kRepeats = 6;
  std::vector<int> mismatches(kThreads, 0), failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<float> out;
      for (int r = 0; r < kRepeats; ++r) {
        const int which = (t + r) % 3;
        ptrt_test::EncoderCall call = calls[which];  // own input buffers too
        try {
          call.run(*encoder, out);
          if (out != reference[which]) ++mismatches[t];
        } catch (const std::exception&) {
          ++failures[t];
        }
      }
    });
  for (auto& thread : threads) thread.join();
  int total_mismatches = 0, total_failures = 0;
  for (int t = 0; t < kThreads; ++t) {
    total_mismatches += mismatches[t];
    total_failures += failures[t];
  }
  PTRT_CHECK_EQ(total_failures, 0);
  PTRT_CHECK_EQ(total_mismatches, 0);  // bit-identical to the single-threaded runs
}

}  // namespace

int main() {
  if (!ptrt_test::onnxruntime_library_configured()) return 1;
  return ptrt_test::run_tests({
      {"transcribes_demo_sample", &test_transcribes_demo_sample},
      {"description_and_graph_info", &test_description_and_graph_info},
      {"unknown_provider_lists_providers", &test_unknown_provider_lists_providers},
      {"missing_library_names_places", &test_missing_library_names_places},
      {"contract_mismatch_at_load", &test_contract_mismatch_at_load},
      {"missing_graph_names_export_command", &test_missing_graph_names_export_command},
      {"options_validation", &test_options_validation},
      {"output_shape_and_dtype_errors", &test_output_shape_and_dtype_errors},
      {"threads_share_one_engine", &test_threads_share_one_engine},
  });
}
