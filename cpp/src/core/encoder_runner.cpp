#include "core/encoder_runner.hpp"

#include <cfloat>
#include <cmath>
#include <cstring>
#include <string>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

void check_encoder_frames_fit(const ModelMeta& meta, int64_t out_frames) {
  if (out_frames > meta.encoder.max_encoder_frames) {
    double max_s = meta.encoder.max_encoder_frames * meta.encoder.frame_stride_s;
    throw InvalidAudio("audio of " + std::to_string(out_frames * meta.encoder.frame_stride_s) +
                       " s is longer than this export's encoder supports (" + std::to_string(max_s) +
                       " s, its positional table); re-export with a larger --max-audio-s or stream it");
  }
}

void run_encoder_engine(Engine& engine, const TensorView* inputs, size_t num_inputs, TensorView* outputs,
                        size_t num_outputs) {
  try {
    engine.run(inputs, num_inputs, outputs, num_outputs);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw EngineError("encoder engine (" + engine.description() + ") failed: " + e.what());
  }
}

void check_encoder_output_finite(const Engine& engine, const float* outputs, size_t count) {
  // Branch-free scan (vectorizes); locate the element only on failure.
  int bad = 0;
  for (size_t i = 0; i < count; ++i) bad |= !(std::fabs(outputs[i]) <= FLT_MAX);
  for (size_t i = 0; bad && i < count; ++i) {
    if (!std::isfinite(outputs[i])) {
      throw EngineError("encoder engine (" + engine.description() + ") produced a non-finite value at element " +
                        std::to_string(i) + " of 'outputs'");
    }
  }
}

EncoderRunner::EncoderRunner(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine)
    : model_(std::move(model)), engine_(std::move(engine)) {
  if (!engine_) throw Error(ErrorCode::kInvalidArgument, "an encoder engine is required");
  const EngineContract& g = model_->contract().engine("encoder");
  // CONTRACT: the encoder graph takes audio_signal/length and returns outputs/encoded_lengths.
  // SOURCE: NeMo ConformerEncoder.input_types_for_export / output_types_for_export (facts §2.2).
  // WHY: engines are bound by name; a renamed tensor means a graph from another exporter.
  g.input("audio_signal");
  g.input("length");
  g.output("outputs");
  g.output("encoded_lengths");
}

EncoderOutput EncoderRunner::run(const float* features, int64_t num_feature_frames, int64_t num_valid_feature_frames) {
  const ModelMeta& meta = model_->meta();
  const int64_t n_mels = meta.features.n_mels;
  const int64_t d_model = meta.encoder.d_model;
  const int64_t out_frames = meta.encoder.encoded_length(num_feature_frames);
  const int64_t expected_valid = meta.encoder.encoded_length(num_valid_feature_frames);
  // The graph attends over every frame of the tensor (out_frames), not only the valid ones, so
  // that is what must fit the positional table.
  check_encoder_frames_fit(meta, out_frames);
  outputs_.resize(static_cast<size_t>(d_model * out_frames));
  length_ = num_valid_feature_frames;
  encoded_length_ = -1;

  TensorView inputs[2] = {
      // [n_mels][T] is already the engine's [1, n_mels, T] layout; engines never write inputs
      // (parakeet_trt.h), so the caller's buffer is passed as is.
      {"audio_signal", DType::kFloat32, 3, {1, n_mels, num_feature_frames}, const_cast<float*>(features)},
      {"length", DType::kInt64, 1, {1}, &length_},
  };
  TensorView outputs[2] = {
      {"outputs", DType::kFloat32, 3, {1, d_model, out_frames}, outputs_.data()},
      {"encoded_lengths", DType::kInt64, 1, {1}, &encoded_length_},
  };
  run_encoder_engine(*engine_, inputs, 2, outputs, 2);

  // CONTRACT: encoded_lengths == calc_length(length) applied log2(subsampling_factor) times.
  // SOURCE: NeMo subsampling.py calc_length (kernel 3, stride 2, padding 1); facts §2.2.
  // WHY: a mismatch means the graph is not the one the contract describes (another subsampling).
  if (encoded_length_ != expected_valid) {
    throw ContractViolation("encoder.encoded_lengths", std::to_string(expected_valid),
                            std::to_string(encoded_length_));
  }
  check_encoder_output_finite(*engine_, outputs_.data(), outputs_.size());
  return EncoderOutput{outputs_.data(), out_frames, encoded_length_};
}

}  // namespace parakeet_trt
