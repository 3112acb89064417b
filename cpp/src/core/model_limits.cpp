#include "core/model_limits.hpp"

#include <cmath>
#include <sstream>

#include "parakeet_trt/contract.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"

namespace parakeet_trt {

void check_range(const std::string& field, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    throw ModelError(field + " = " + std::to_string(value) + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  }
}

void check_meta_limits(const ModelMeta& meta) {
  const EncoderSpec& e = meta.encoder;
  check_range("encoder.d_model", e.d_model, 1, kMaxModelWidth);
  check_range("encoder.subsampling_factor", e.subsampling_factor, 2, kMaxSubsamplingFactor);
  check_range("encoder.max_encoder_frames", e.max_encoder_frames, 1, kMaxEncoderFrames);
  // CONTRACT: one encoder frame is hop_length * subsampling_factor samples.
  // SOURCE: NeMo speech_to_text_streaming_infer_rnnt.py (encoder_frame2audio_samples).
  // WHY: streaming contexts are counted in frames of this length; a frame of 1e12 ms rounds every
  // context to 0 frames and a stream would never advance.
  const double frame_s = static_cast<double>(meta.features.hop_length) * e.subsampling_factor /
                         static_cast<double>(meta.features.sample_rate_hz);
  if (!(frame_s >= kMinEncoderFrameS && frame_s <= kMaxEncoderFrameS)) {
    std::ostringstream msg;
    msg << "one encoder frame (features.hop_length * encoder.subsampling_factor / features.sample_rate_hz) is "
        << frame_s << " s, out of range [" << kMinEncoderFrameS << ", " << kMaxEncoderFrameS << "] s";
    throw ModelError(msg.str());
  }
  if (!(std::fabs(e.frame_stride_s - frame_s) <= 1e-9 * frame_s)) {
    std::ostringstream msg;
    msg.precision(17);
    msg << frame_s << " (hop_length * subsampling_factor / sample_rate_hz)";
    std::ostringstream got;
    got.precision(17);
    got << e.frame_stride_s;
    throw ContractViolation("encoder.frame_stride_s", msg.str(), got.str());
  }
  const TdtDecodingConfig& d = meta.decoding;
  check_range("decoding.vocab_size", d.vocab_size, 1, kMaxVocabSize);
  check_range("decoding.max_symbols", d.max_symbols, 1, kMaxSymbolsPerFrame);
  check_range("decoding.durations (count)", static_cast<int64_t>(d.durations.size()), 1, kMaxDurations);
  for (size_t i = 0; i < d.durations.size(); ++i) {
    check_range("decoding.durations[" + std::to_string(i) + "]", d.durations[i], 0, kMaxDuration);
  }
}

void check_decoder_limits(int64_t pred_hidden, int64_t pred_rnn_layers, int64_t joint_hidden) {
  check_range("decoder.pred_hidden", pred_hidden, 1, kMaxModelWidth);
  check_range("decoder.pred_rnn_layers", pred_rnn_layers, 1, kMaxRnnLayers);
  check_range("decoder.joint_hidden", joint_hidden, 1, kMaxModelWidth);
}

void check_contract_limits(const Contract& c) {
  if (!c.streaming.present) return;
  const StreamingContract& s = c.streaming;
  const int64_t F = kMaxStreamingFrames;
  check_range("streaming.window_frames", s.window_frames, 1, F);
  check_range("streaming.new_frames_per_call", s.new_frames_per_call, 1, F);
  check_range("streaming.advance_frames_per_call", s.advance_frames_per_call, 1, F);
  check_range("streaming.pre_encode_cache_size", s.pre_encode_cache_size, 0, F);
  check_range("streaming.invariants.min_length", s.min_length, 1, s.window_frames);
  check_range("streaming.drop_extra_pre_encoded", s.drop_extra_pre_encoded, 0, F);
  check_range("streaming.valid_out_len", s.valid_out_len, 0, F);
  check_range("streaming.output_frames_per_call", s.output_frames_per_call, 1, F);
  check_range("streaming.cache_drop_size", s.cache_drop_size, 0, F);
  check_range("streaming.last_channel_cache_size", s.cache_size, 1, F);
  check_range("streaming.cache_keep_per_call", s.cache_keep_per_call, 0, s.cache_size);
  check_range("streaming.n_layers", s.n_layers, 1, kMaxStreamingLayers);
  check_range("streaming.d_model", s.d_model, 1, kMaxModelWidth);
  check_range("streaming.conv_cache_size", s.conv_cache_size, 0, F);
  check_range("streaming.subsampling_factor", s.subsampling_factor, 2, kMaxSubsamplingFactor);
  // The stream allocates both caches from these sizes: bound the products, not only the factors.
  check_range("streaming cache_last_channel (n_layers x last_channel_cache_size x d_model floats)",
              s.n_layers * s.cache_size * s.d_model, 1, kMaxStreamingCacheFloats);
  check_range("streaming cache_last_time (n_layers x d_model x conv_cache_size floats)",
              s.n_layers * s.d_model * s.conv_cache_size, 0, kMaxStreamingCacheFloats);
}

}  // namespace parakeet_trt
