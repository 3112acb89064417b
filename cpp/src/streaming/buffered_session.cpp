#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/encoder_runner.hpp"
#include "core/offline_decode.hpp"
#include "parakeet_trt/streaming.hpp"

namespace parakeet_trt {

namespace {

int64_t frames_of(const char* field, int64_t ms, double frame_ms, bool allow_zero) {
  // Bounded first (integers, documented maxima), so the frame arithmetic below is exact in double.
  const int64_t max_ms = std::string(field) == "left_ms" ? BufferedStreamingConfig::kMaxLeftMs
                                                          : BufferedStreamingConfig::kMaxChunkOrRightMs;
  if (ms < 0 || ms > max_ms) {
    throw std::invalid_argument(std::string(field) + " must be in [" + (allow_zero ? "0" : "1") + ", " +
                                std::to_string(max_ms) + "] ms, got " + std::to_string(ms));
  }
  const double frames = static_cast<double>(ms) / frame_ms;
  const int64_t whole = static_cast<int64_t>(std::llround(frames));
  if ((!allow_zero && ms == 0) || std::fabs(frames - static_cast<double>(whole)) > 1e-9) {
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
  if (history_ms < 0 || history_ms > kMaxHistoryMs) {
    throw std::invalid_argument("history_ms must be in [0, " + std::to_string(kMaxHistoryMs) + "] ms, got " +
                                std::to_string(history_ms));
  }
}

BufferedStreamingSession::BufferedStreamingSession(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                                                   const BufferedStreamingConfig& config)
    : StreamingSession(std::move(model)),
      config_(config),
      features_(model_->meta().features),
      encoder_(std::make_unique<EncoderRunner>(model_, encoder)),
      step_(std::make_unique<NativeDecoderStep>(model_->native_decoder_weights())),
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
  // Room for what a step may still read (keep_behind_ behind the consumed position) plus the pending
  // samples of the next step and some slack, so that append() always makes progress.
  audio_capacity_ = keep_behind_ + chunk_ + right_ + std::max<int64_t>(chunk_, 4096);
  audio_ring_.resize(static_cast<size_t>(2 * audio_capacity_));
  mel_capacity_ = features_.num_frames(full);
  log_mel_ring_.resize(static_cast<size_t>(meta.features.n_mels * 2 * mel_capacity_));
  feature_buffer_.resize(static_cast<size_t>(meta.features.n_mels * features_.num_frames(full)));
  const int64_t max_frames = meta.encoder.encoded_length(features_.num_frames(full));
  projected_.resize(static_cast<size_t>(max_frames * step_->joint_hidden()));
  carry_ = decoder_.make_carry();
  tail_carry_ = decoder_.make_carry();
  // The last step decodes up to (C + R) / E frames; a tail at most R / E + 1.
  committed_.reserve(static_cast<size_t>(decoder_.max_emissions((chunk_ + right_) / frame_samples_ + 1)));
  tail_.reserve(committed_.capacity());
  history_samples_ = history;
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
  // Samples before oldest_needed are read by no step (history included): their slots are free.
  const int64_t oldest_needed = std::max<int64_t>(0, consumed_ - keep_behind_);
  const int64_t taken = std::min(num_samples, audio_capacity_ - (received_ - oldest_needed));
  for (int64_t done = 0; done < taken;) {
    const int64_t pos = (received_ + done) % audio_capacity_;
    const int64_t n = std::min(taken - done, audio_capacity_ - pos);
    float* slot = audio_ring_.data() + pos;
    std::memcpy(slot, samples + done, static_cast<size_t>(n) * sizeof(float));
    std::memcpy(slot + audio_capacity_, samples + done, static_cast<size_t>(n) * sizeof(float));
    done += n;
  }
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
  const float* buffer = audio_at(consumed_ - total);

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
  const int64_t hop = model_->meta().features.hop_length;
  const int64_t frames = features_.num_frames(total);
  // Ring position of the buffer's frame t: base + t, where base counts hops from mel_origin_. A
  // buffer that does not start a whole number of hops after the origin (only a last step can)
  // starts a new origin and computes every frame.
  if (mel_origin_ < 0 || buffer_start < mel_origin_ || (buffer_start - mel_origin_) % hop != 0) {
    mel_origin_ = buffer_start;
    mel_valid_begin_ = mel_valid_end_ = 0;
  }
  const int64_t base = (buffer_start - mel_origin_) / hop;
  int64_t first, end;
  features_.interior_frames(total, &first, &end);
  // Frames still in the ring from earlier buffers whose samples are unchanged (interior there and
  // here) are reused; the rest (the new audio and both buffer edges) is computed.
  int64_t reuse_begin = std::max(first, mel_valid_begin_ - base);
  int64_t reuse_end = std::min(end, mel_valid_end_ - base);
  if (reuse_end <= reuse_begin) reuse_begin = reuse_end = 0;
  compute_log_mel_columns(buffer, total, base, 0, reuse_begin);
  compute_log_mel_columns(buffer, total, base, reuse_end, frames);
  mel_valid_begin_ = base + first;
  mel_valid_end_ = base + std::max(first, end);
  // The buffer's frames are contiguous in the ring (mirrored half); normalization writes them into
  // the encoder input, so the log-mel is never copied on its own.
  features_.normalize_from(log_mel_ring_.data() + base % mel_capacity_, 2 * mel_capacity_, feature_buffer_.data(),
                           total);
}

void BufferedStreamingSession::compute_log_mel_columns(const float* buffer, int64_t total, int64_t base,
                                                       int64_t begin_frame, int64_t end_frame) {
  const int64_t n_mels = model_->meta().features.n_mels;
  const int64_t stride = 2 * mel_capacity_;
  while (begin_frame < end_frame) {
    const int64_t column = (base + begin_frame) % mel_capacity_;
    const int64_t n = std::min(end_frame - begin_frame, mel_capacity_ - column);
    float* out = log_mel_ring_.data() + column;
    features_.compute_log_mel_frames_into(buffer, total, begin_frame, begin_frame + n, out, stride);
    for (int64_t m = 0; m < n_mels; ++m) {
      std::memcpy(out + m * stride + mel_capacity_, out + m * stride, static_cast<size_t>(n) * sizeof(float));
    }
    begin_frame += n;
  }
}

Transcript BufferedStreamingSession::redecode(int64_t begin_sample, int64_t end_sample) {
  if (history_samples_ == 0) throw Error(ErrorCode::kState, "redecode() needs history_ms > 0 in the streaming config");
  const int64_t retained_begin = std::max<int64_t>(0, received_ - audio_capacity_);
  if (begin_sample < retained_begin || end_sample > received_ || begin_sample >= end_sample) {
    throw InvalidAudio("redecode(" + std::to_string(begin_sample) + ", " + std::to_string(end_sample) +
                       "): the session retains samples [" + std::to_string(retained_begin) + ", " +
                       std::to_string(received_) + ") and the range must be non-empty");
  }
  // The session's own components: the streaming buffers stay as they are (the encoder runner's
  // output only grows), and the next step recomputes its buffer from the audio and the log-mel ring.
  std::vector<float> feature_buffer, projected;
  return recognize_offline(*model_, features_, *encoder_, *step_, decoder_, audio_at(begin_sample),
                           end_sample - begin_sample, feature_buffer, projected);
}

}  // namespace parakeet_trt
