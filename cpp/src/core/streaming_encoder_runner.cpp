#include "core/streaming_encoder_runner.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

void require_finite(const std::vector<float>& values, const char* name) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) {
      throw ContractViolation(std::string("encoder_streaming.") + name, "finite values",
                              "non-finite value at element " + std::to_string(i));
    }
  }
}

}  // namespace

StreamingEncoderRunner::StreamingEncoderRunner(std::shared_ptr<const Model> model, std::shared_ptr<Engine> engine)
    : model_(std::move(model)), engine_(std::move(engine)) {
  if (!engine_) throw Error(ErrorCode::kInvalidArgument, "a streaming encoder engine is required");
  const Contract& contract = model_->contract();
  if (!contract.streaming.present) {
    throw ContractViolation("engines.encoder_streaming", "present (an --component encoder_streaming export)",
                            "absent from the contract of '" + model_->directory() + "'");
  }
  streaming_ = contract.streaming;
  n_mels_ = contract.n_mels;
  const StreamingContract& s = streaming_;
  outputs_.assign(static_cast<size_t>(s.d_model * s.output_frames_per_call), 0.0f);
  for (int i = 0; i < 2; ++i) {
    cache_channel_[i].assign(static_cast<size_t>(s.n_layers * s.cache_size * s.d_model), 0.0f);
    cache_time_[i].assign(static_cast<size_t>(s.n_layers * s.d_model * s.conv_cache_size), 0.0f);
  }
}

void StreamingEncoderRunner::reset() {
  for (int i = 0; i < 2; ++i) {
    std::fill(cache_channel_[i].begin(), cache_channel_[i].end(), 0.0f);
    std::fill(cache_time_[i].begin(), cache_time_[i].end(), 0.0f);
  }
  current_ = 0;
  cache_len_in_ = 0;
  calls_ = 0;
  failed_ = false;
}

StreamingEncoderOutput StreamingEncoderRunner::run(const float* features, int64_t num_mel_bins, int64_t num_frames,
                                                   int64_t length) {
  const StreamingContract& s = streaming_;
  if (failed_) {
    throw Error(ErrorCode::kState, "the streaming encoder stopped after a contract violation; reset() to start over");
  }
  // CONTRACT: every call feeds [n_mels][window_frames]: pre-encode cache + new frames.
  // SOURCE: contract engines.encoder_streaming.rules (NeMo streaming_cfg.chunk_size, pre_encode_cache_size).
  // WHY: NeMo derives cache_keep_size from the tensor's time size; another size is another profile.
  if (num_mel_bins != n_mels_) {
    throw ContractViolation("encoder_streaming.audio_signal.shape[1] (feature count)", std::to_string(n_mels_),
                            std::to_string(num_mel_bins));
  }
  if (num_frames != s.window_frames) {
    throw ContractViolation("encoder_streaming.audio_signal.shape[2] (window frames)", std::to_string(s.window_frames),
                            std::to_string(num_frames));
  }
  if (features == nullptr || length < s.min_length || length > s.window_frames) {
    throw Error(ErrorCode::kInvalidArgument, "streaming window length must be in [" + std::to_string(s.min_length) +
                                                 ", " + std::to_string(s.window_frames) + "], got " +
                                                 std::to_string(length));
  }
  const int next = 1 - current_;
  length_ = length;
  encoded_length_ = -1;
  cache_len_out_ = -1;
  TensorView inputs[5] = {
      {"audio_signal", DType::kFloat32, 3, {1, n_mels_, s.window_frames}, const_cast<float*>(features)},
      {"length", DType::kInt64, 1, {1}, &length_},
      {"cache_last_channel", DType::kFloat32, 4, {1, s.n_layers, s.cache_size, s.d_model}, cache_channel_[current_].data()},
      {"cache_last_time", DType::kFloat32, 4, {1, s.n_layers, s.d_model, s.conv_cache_size}, cache_time_[current_].data()},
      {"cache_last_channel_len", DType::kInt64, 1, {1}, &cache_len_in_},
  };
  TensorView outputs[5] = {
      {"outputs", DType::kFloat32, 3, {1, s.d_model, s.output_frames_per_call}, outputs_.data()},
      {"encoded_lengths", DType::kInt64, 1, {1}, &encoded_length_},
      {"cache_last_channel_next", DType::kFloat32, 4, {1, s.n_layers, s.cache_size, s.d_model},
       cache_channel_[next].data()},
      {"cache_last_time_next", DType::kFloat32, 4, {1, s.n_layers, s.d_model, s.conv_cache_size},
       cache_time_[next].data()},
      {"cache_last_channel_next_len", DType::kInt64, 1, {1}, &cache_len_out_},
  };
  failed_ = true;  // cleared only when every check below passed
  try {
    engine_->run(inputs, 5, outputs, 5);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw EngineError("streaming encoder engine (" + engine_->description() + ") failed: " + e.what());
  }
  // Built only on a failure path: the steady-state call allocates nothing.
  auto call = [&] { return " (call " + std::to_string(calls_) + ", profile " + s.profile + ")"; };
  // CONTRACT: encoded_lengths == clamp(calc_length(length) - drop_extra_pre_encoded, 0, valid_out_len);
  //   chunk_isolated: == 1 on every call.
  // SOURCE: NeMo conformer_encoder.py forward_internal + streaming_post_process(keep_all_outputs=False).
  // WHY: the decoder consumes exactly these frames; any other count shifts every later timestamp.
  const int64_t expected_encoded = s.expected_encoded_length(length);
  if (encoded_length_ != expected_encoded) {
    throw ContractViolation("encoder_streaming.encoded_lengths" + call(), std::to_string(expected_encoded),
                            std::to_string(encoded_length_));
  }
  // CONTRACT: cache_last_channel_next_len == min(cache_len + cache_keep_per_call, cache_size);
  //   chunk_isolated: == 0 on every call; cache_aware: grows by `shift` frames up to the cap.
  // SOURCE: NeMo forward_internal (clamp(cache_last_channel_len + cache_keep_size, max=cache_len)).
  // WHY: a wrong cache length silently masks (or unmasks) attention history: outputs drift.
  const int64_t expected_cache_len = s.next_cache_len(cache_len_in_);
  if (cache_len_out_ != expected_cache_len) {
    throw ContractViolation("encoder_streaming.cache_last_channel_next_len" + call(), std::to_string(expected_cache_len),
                            std::to_string(cache_len_out_));
  }
  require_finite(outputs_, "outputs");
  require_finite(cache_channel_[next], "cache_last_channel_next");
  require_finite(cache_time_[next], "cache_last_time_next");
  failed_ = false;
  current_ = next;
  cache_len_in_ = cache_len_out_;
  ++calls_;
  return StreamingEncoderOutput{outputs_.data(), s.output_frames_per_call, encoded_length_, cache_len_out_};
}

}  // namespace parakeet_trt
