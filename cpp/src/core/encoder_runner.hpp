// Calls the encoder engine with buffers it owns and asserts the contract on every call: input
// feature count, output shape, encoded length, finite outputs.
#pragma once

#include <memory>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {

struct EncoderOutput {
  const float* data = nullptr;  // [d_model][num_frames_allocated], channels-first
  int64_t num_frames_allocated = 0;
  int64_t num_valid_frames = 0;  // encoded_lengths[0]
};

// The checks every encoder call makes, shared with the batch transcriber:
// InvalidAudio when `out_frames` encoder frames exceed the export's positional table.
void check_encoder_frames_fit(const ModelMeta& meta, int64_t out_frames);
// Runs the encoder engine; a non-Error exception becomes EngineError naming the engine.
void run_encoder_engine(Engine& engine, const TensorView* inputs, size_t num_inputs, TensorView* outputs,
                        size_t num_outputs);
// EngineError naming the first non-finite element of 'outputs', if any.
void check_encoder_output_finite(const Engine& engine, const float* outputs, size_t count);

class EncoderRunner {
 public:
  EncoderRunner(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine);
  // features: [n_mels][num_feature_frames]; only the first num_valid_feature_frames are valid.
  EncoderOutput run(const float* features, int64_t num_feature_frames, int64_t num_valid_feature_frames);
  Engine& engine() { return *engine_; }

 private:
  std::shared_ptr<const Model> model_;
  std::shared_ptr<Engine> engine_;
  std::vector<float> outputs_;
  int64_t length_ = 0;
  int64_t encoded_length_ = 0;
};

}  // namespace parakeet_trt
