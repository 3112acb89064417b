// Shared by the onnxruntime engine tests and tools: the packaged demo model, a 16-bit PCM WAV reader,
// the library check, and one encoder call on caller-owned buffers.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/model.hpp"

namespace ptrt_test {

inline const char* demo_model_dir() { return PTRT_SOURCE_DIR "/python/parakeet_trt/models/demo"; }
inline const char* demo_wav() { return PTRT_SOURCE_DIR "/python/parakeet_trt/samples/demo.wav"; }

// NeMo's own greedy transcript of demo_wav() with the packaged model, written when the model is
// packaged (tools/train_demo_model.py): what the runtime must read offline.
inline std::string demo_nemo_transcript() {
  const char* path = PTRT_SOURCE_DIR "/python/parakeet_trt/samples/demo.nemo_transcript.txt";
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line) || line.empty()) throw std::runtime_error(std::string("cannot read ") + path);
  return line;
}

// The tests need the real library: scripts/test.sh exports PTRT_ONNXRUNTIME_LIBRARY. Unset: a clear
// failure (false), never a silent skip.
inline bool onnxruntime_library_configured() {
  const char* path = std::getenv("PTRT_ONNXRUNTIME_LIBRARY");
  if (path && *path) return true;
  std::fprintf(stderr,
               "FAIL: PTRT_ONNXRUNTIME_LIBRARY is not set. These tests run the native onnxruntime engine on the real\n"
               "libonnxruntime.so; scripts/test.sh exports it. By hand:\n"
               "  export PTRT_ONNXRUNTIME_LIBRARY=$(.venv/bin/python -c \"import glob, os, onnxruntime; "
               "print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', "
               "'libonnxruntime.so*')))[0])\")\n");
  return false;
}

// Mono 16-bit PCM WAV samples scaled to [-1, 1) (the demo sample's format); std::runtime_error otherwise.
inline std::vector<float> read_wav_pcm16(const std::string& path, int* sample_rate = nullptr) {
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto u32 = [&](size_t at) {
    uint32_t v = 0;
    std::memcpy(&v, bytes.data() + at, 4);
    return v;
  };
  auto u16 = [&](size_t at) {
    uint16_t v = 0;
    std::memcpy(&v, bytes.data() + at, 2);
    return v;
  };
  if (bytes.size() < 12 || bytes.compare(0, 4, "RIFF") != 0 || bytes.compare(8, 4, "WAVE") != 0)
    throw std::runtime_error(path + " is not a RIFF/WAVE file");
  uint16_t channels = 0, bits = 0;
  for (size_t at = 12; at + 8 <= bytes.size();) {
    const std::string id = bytes.substr(at, 4);
    const size_t size = u32(at + 4), body = at + 8;
    if (body + size > bytes.size()) throw std::runtime_error(path + ": chunk " + id + " runs past the end");
    if (id == "fmt ") {
      if (u16(body) != 1) throw std::runtime_error(path + ": not PCM");
      channels = u16(body + 2);
      if (sample_rate) *sample_rate = static_cast<int>(u32(body + 4));
      bits = u16(body + 14);
    } else if (id == "data") {
      if (channels != 1 || bits != 16) throw std::runtime_error(path + ": not mono 16-bit PCM");
      std::vector<float> samples(size / 2);
      for (size_t i = 0; i < samples.size(); ++i)
        samples[i] = static_cast<float>(static_cast<int16_t>(u16(body + 2 * i))) / 32768.0f;
      return samples;
    }
    at = body + size + (size & 1);
  }
  throw std::runtime_error(path + " has no data chunk");
}

// Encoder input features [1, n_mels, frames] (seeded normal values) and their valid length.
struct EncoderCall {
  int64_t n_mels = 0, frames = 0, d_model = 0, out_frames = 0;
  std::vector<float> features;
  int64_t length = 0;

  EncoderCall(const parakeet_trt::Model& model, int64_t num_frames, uint32_t seed)
      : n_mels(model.meta().features.n_mels), frames(num_frames), d_model(model.meta().encoder.d_model),
        out_frames(model.meta().encoder.encoded_length(num_frames)), features(n_mels * num_frames),
        length(num_frames) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    for (float& v : features) v = normal(rng);
  }

  // Runs `engine` into `outputs` (resized to [1, d_model, out_frames]) and returns encoded_lengths.
  int64_t run(parakeet_trt::Engine& engine, std::vector<float>& outputs) {
    using parakeet_trt::DType;
    using parakeet_trt::TensorView;
    outputs.assign(static_cast<size_t>(d_model * out_frames), 0.f);
    int64_t encoded = -1;
    TensorView in[2] = {{"audio_signal", DType::kFloat32, 3, {1, n_mels, frames}, features.data()},
                        {"length", DType::kInt64, 1, {1}, &length}};
    TensorView out[2] = {{"outputs", DType::kFloat32, 3, {1, d_model, out_frames}, outputs.data()},
                         {"encoded_lengths", DType::kInt64, 1, {1}, &encoded}};
    engine.run(in, 2, out, 2);
    return encoded;
  }
};

}  // namespace ptrt_test
