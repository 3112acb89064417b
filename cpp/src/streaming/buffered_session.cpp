#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/encoder_runner.hpp"
#include "parakeet_trt/streaming.hpp"

namespace parakeet_trt {

namespace {

int64_t frames_of(const char* field, int64_t ms, double frame_ms, bool allow_zero) {
  const double frames = static_cast<double>(ms) / frame_ms;
  const int64_t whole = static_cast<int64_t>(std::llround(frames));
  if (ms < 0 || (!allow_zero && ms == 0) || std::fabs(frames - static_cast<double>(whole)) > 1e-9) {
    std::ostringstream msg;
    msg << field << " must be " << (allow_zero ? "a non-negative" : "a positive") << " multiple of the encoder frame ("
        << frame_ms << " ms), got " << ms;
    throw std::invalid_argument(msg.str());
  }
  return whole;
}

}  // namespace

void BufferedStreamingConfig::validate(double frame_ms) const {
  frames_of("chunk_ms", chunk_ms, frame_ms, false);
  frames_of("left_ms", left_ms, frame_ms, true);
  frames_of("right_ms", right_ms, frame_ms, true);
  if (history_ms < 0) throw std::invalid_argument("history_ms must be >= 0, got " + std::to_string(history_ms));
}

BufferedStreamingSession::BufferedStreamingSession(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                                                   const BufferedStreamingConfig& config)
    : StreamingSession(std::move(model)),
      config_(config),
      features_(model_->meta().features),
      encoder_(std::make_unique<EncoderRunner>(model_, encoder)),
      step_(std::make_unique<NativeDecoderStep>(model_->decoder_weights())),
      decoder_(model_->meta().decoding, *step_) {
  const ModelMeta& meta = model_->meta();
  // CONTRACT: one encoder frame is hop_length * subsampling_factor samples (1280 = 80 ms).
  // SOURCE: NeMo speech_to_text_streaming_infer_rnnt.py: encoder_frame2audio_samples =
  // features_frame2audio_samples * model_stride. WHY: contexts must be whole encoder frames.
  frame_samples_ = static_cast<int64_t>(meta.features.hop_length) * meta.encoder.subsampling_factor;
  const double frame_ms = 1000.0 * static_cast<double>(frame_samples_) / meta.features.sample_rate_hz;
  config_.validate(frame_ms);
  left_ = frames_of("left_ms", config_.left_ms, frame_ms, true) * frame_samples_;
  chunk_ = frames_of("chunk_ms", config_.chunk_ms, frame_ms, false) * frame_samples_;
  right_ = frames_of("right_ms", config_.right_ms, frame_ms, true) * frame_samples_;
  const int64_t full = left_ + chunk_ + right_;
  const int64_t history = config_.history_ms * meta.features.sample_rate_hz / 1000;
  if (meta.encoder.encoded_length(features_.num_frames(full)) > meta.encoder.max_encoder_frames) {
    throw std::invalid_argument("left + chunk + right context (" + std::to_string(full / frame_samples_) +
                                " encoder frames) exceeds the encoder's positional table; use less left context");
  }

  keep_behind_ = std::max(full, history);
  window_.resize(static_cast<size_t>(keep_behind_ + chunk_ + right_ + std::max<int64_t>(chunk_, 4096)));
  feature_buffer_.resize(static_cast<size_t>(meta.features.n_mels * features_.num_frames(full)));
  log_mel_[0].resize(feature_buffer_.size());
  log_mel_[1].resize(feature_buffer_.size());
  const int64_t max_frames = meta.encoder.encoded_length(features_.num_frames(full));
  projected_.resize(static_cast<size_t>(max_frames * step_->joint_hidden()));
  carry_ = decoder_.make_carry();
  tail_carry_ = decoder_.make_carry();
  // The last step decodes up to (C + R) / E frames; a tail at most R / E + 1.
  committed_.reserve(static_cast<size_t>(decoder_.max_emissions((chunk_ + right_) / frame_samples_ + 1)));
  tail_.reserve(committed_.capacity());
  if (history > 0) offline_ = std::make_unique<OfflineRecognizer>(model_, std::move(encoder));
}

BufferedStreamingSession::~BufferedStreamingSession() = default;

void BufferedStreamingSession::push_steps(const float* samples, int64_t num_samples, StepSink on_step) {
  while (num_samples > 0) {
    const int64_t taken = append(samples, num_samples);
    samples += taken;
    num_samples -= taken;
    while (received_ - consumed_ > samples_needed()) on_step(step(false));
  }
}

int64_t BufferedStreamingSession::append(const float* samples, int64_t num_samples) {
  const int64_t capacity = static_cast<int64_t>(window_.size());
  const int64_t droppable = (consumed_ - keep_behind_) - window_base_;
  if (droppable > 0 && window_size_ + num_samples > capacity) {
    std::memmove(window_.data(), window_.data() + droppable, static_cast<size_t>(window_size_ - droppable) * sizeof(float));
    window_base_ += droppable;
    window_size_ -= droppable;
  }
  const int64_t taken = std::min(num_samples, capacity - window_size_);
  std::memcpy(window_.data() + window_size_, samples, static_cast<size_t>(taken) * sizeof(float));
  window_size_ += taken;
  received_ += taken;
  return taken;
}

StreamingStep BufferedStreamingSession::step(bool is_last) {
  committed_.clear();
  tail_.clear();
  StreamingStep out;
  out.is_last = is_last;
  const int64_t added = is_last ? received_ - consumed_ : samples_needed();
  if (is_last && received_ == 0) {  // nothing was ever pushed: NeMo's loop runs no step at all
    out.committed = committed_.data();
    out.tail = tail_.data();
    return out;
  }

  // NeMo's buffer_size bookkeeping (see the header).
  buf_left_ += buf_chunk_;
  buf_chunk_ = 0;
  buf_right_ += added;
  if (is_last) {
    buf_chunk_ = buf_right_;
    buf_right_ = 0;
  } else {
    buf_chunk_ = chunk_;
    buf_right_ -= chunk_;
  }
  const int64_t extra = std::max<int64_t>(0, buf_left_ + buf_chunk_ + buf_right_ - (left_ + chunk_ + right_));
  buf_left_ -= extra;
  consumed_ += added;
  ++steps_;
  const int64_t total = buf_left_ + buf_chunk_ + buf_right_;
  const float* buffer = window_.data() + (consumed_ - total - window_base_);

  const int64_t num_frames = features_.num_frames(total);
  const int64_t num_valid = features_.num_valid_frames(total);
  const int64_t enc_left = buf_left_ / frame_samples_;
  const int64_t enc_chunk = buf_chunk_ / frame_samples_;
  if (num_valid > 0) {
    compute_features(buffer, consumed_ - total, total);
    const EncoderOutput encoded = encoder_->run(feature_buffer_.data(), num_frames, num_valid);
    // CONTRACT: the chunk's frames lie inside the encoder's valid output.
    // SOURCE: NeMo slices encoder_output[:, left:] and decodes out_len = chunk frames of it.
    // WHY: reading past the valid frames would decode padding.
    if (enc_left + enc_chunk > encoded.num_valid_frames) {
      throw ContractViolation("streaming.chunk_frames", "<= " + std::to_string(encoded.num_valid_frames - enc_left),
                              std::to_string(enc_chunk));
    }
    // Only the chunk and right-context frames are ever decoded: the left context is not projected.
    const int64_t tail_frames = is_last ? 0 : encoded.num_valid_frames - enc_left - enc_chunk;
    step_->project_encoder_strided(encoded.data + enc_left, encoded.num_frames_allocated, enc_chunk + tail_frames,
                                   projected_.data());
    const int64_t J = step_->joint_hidden();
    decoder_.decode(projected_.data(), enc_chunk, carry_, committed_);
    if (tail_frames > 0) {
      tail_carry_ = carry_;  // equal sizes: copy-assignment reuses the vectors' storage
      decoder_.decode(projected_.data() + enc_chunk * J, tail_frames, tail_carry_, tail_);
    }
  }
  out.committed = committed_.data();
  out.num_committed = static_cast<int64_t>(committed_.size());
  out.tail = tail_.data();
  out.num_tail = static_cast<int64_t>(tail_.size());
  out.audio_end_sample = consumed_;
  out.decoded_frames = carry_.decoded_frames;
  return out;
}

void BufferedStreamingSession::compute_features(const float* buffer, int64_t buffer_start, int64_t total) {
  const int64_t n_mels = model_->meta().features.n_mels;
  const int64_t hop = model_->meta().features.hop_length;
  const int64_t frames = features_.num_frames(total);
  float* out = log_mel_[1 - log_mel_current_].data();
  int64_t reuse_begin = 0, reuse_end = 0;  // columns of `out` copied from the previous log-mel
  const int64_t shift = buffer_start - log_mel_start_;
  if (log_mel_samples_ > 0 && shift >= 0 && shift % hop == 0) {
    int64_t new_first, new_end, old_first, old_end;
    features_.interior_frames(total, &new_first, &new_end);
    features_.interior_frames(log_mel_samples_, &old_first, &old_end);
    const int64_t d = shift / hop;  // new frame t is old frame t + d
    reuse_begin = std::max(new_first, old_first - d);
    reuse_end = std::min(new_end, old_end - d);
    if (reuse_end <= reuse_begin) reuse_begin = reuse_end = 0;
    const float* prev = log_mel_[log_mel_current_].data();
    const int64_t prev_frames = features_.num_frames(log_mel_samples_);
    for (int64_t m = 0; m < n_mels; ++m) {
      std::memcpy(out + m * frames + reuse_begin, prev + m * prev_frames + reuse_begin + d,
                  static_cast<size_t>(reuse_end - reuse_begin) * sizeof(float));
    }
  }
  features_.compute_log_mel_frames(buffer, total, 0, reuse_begin, out);
  features_.compute_log_mel_frames(buffer, total, reuse_end, frames, out);
  log_mel_current_ = 1 - log_mel_current_;
  log_mel_start_ = buffer_start;
  log_mel_samples_ = total;
  std::memcpy(feature_buffer_.data(), out, static_cast<size_t>(n_mels * frames) * sizeof(float));
  features_.normalize(feature_buffer_.data(), total);
}

Transcript BufferedStreamingSession::redecode(int64_t begin_sample, int64_t end_sample) {
  if (!offline_) throw Error(ErrorCode::kState, "redecode() needs history_ms > 0 in the streaming config");
  if (begin_sample < window_base_ || end_sample > received_ || begin_sample >= end_sample) {
    throw InvalidAudio("redecode(" + std::to_string(begin_sample) + ", " + std::to_string(end_sample) +
                       "): the session retains samples [" + std::to_string(window_base_) + ", " +
                       std::to_string(received_) + ") and the range must be non-empty");
  }
  return offline_->transcribe(window_.data() + (begin_sample - window_base_), end_sample - begin_sample);
}

}  // namespace parakeet_trt
