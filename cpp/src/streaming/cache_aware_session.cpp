#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "core/streaming_encoder_runner.hpp"
#include "parakeet_trt/cache_aware_streaming.hpp"

namespace parakeet_trt {

namespace {
// Audio taken per append; the retained audio behind the next frame is a few hops on top.
constexpr int64_t kAudioBlock = 8192;
}  // namespace

CacheAwareStreamingSession::CacheAwareStreamingSession(std::shared_ptr<const Model> model,
                                                       std::shared_ptr<Engine> encoder,
                                                       const CacheAwareStreamingConfig& config)
    : StreamingSession(std::move(model)),
      config_(config),
      features_(model_->meta().features),
      encoder_(std::make_unique<StreamingEncoderRunner>(model_, std::move(encoder))),
      step_(std::make_unique<NativeDecoderStep>(model_->native_decoder_weights())),
      decoder_(model_->meta().decoding, *step_) {
  const ModelMeta& meta = model_->meta();
  const StreamingContract& s = encoder_->profile();
  if (!config_.profile.empty() && config_.profile != s.profile) {
    throw ContractViolation("streaming.profile", config_.profile,
                            s.profile + " (export the other profile with: parakeet-trt export --component "
                                        "encoder_streaming --streaming-profile " + config_.profile + ")");
  }
  n_mels_ = meta.features.n_mels;
  hop_ = meta.features.hop_length;
  half_fft_ = meta.features.n_fft / 2;
  normalize_ = meta.features.normalize_per_feature;
  frame_samples_ = hop_ * meta.encoder.subsampling_factor;
  // CONTRACT: window k feeds pre_encode_cache_size + new_frames_per_call frames and moves by
  //   advance_frames_per_call; a chunk after the first needs one encoder frame of features.
  // SOURCE: contract streaming.{window_frames, new_frames_per_call, advance_frames_per_call,
  //   pre_encode_cache_size}; NeMo CacheAwareStreamingAudioBuffer.__iter__ (sampling_frames[1] =
  //   subsampling_factor for striding subsampling).
  // WHY: NeMo derives cache_keep_size from the window's time size; other sizes are another graph.
  window_frames_ = s.window_frames;
  new_frames_ = s.new_frames_per_call;
  advance_ = s.advance_frames_per_call;
  pre_frames_ = s.pre_encode_cache_size;
  min_chunk_frames_ = s.subsampling_factor;
  if (window_frames_ != pre_frames_ + new_frames_ || advance_ < 1 || new_frames_ < 1) {
    throw ContractViolation("streaming.window_frames", std::to_string(pre_frames_ + new_frames_) + " (pre + new)",
                            std::to_string(window_frames_));
  }

  const int64_t back = half_fft_ / hop_ + 2;  // frames of audio kept behind the next frame
  audio_.resize(static_cast<size_t>(kAudioBlock + (back + 2) * hop_ + 2 * half_fft_));
  log_mel_scratch_.resize(static_cast<size_t>(n_mels_ * features_.num_frames(static_cast<int64_t>(audio_.size()))));
  store_capacity_ = pre_frames_ + new_frames_ + advance_ + features_.num_frames(static_cast<int64_t>(audio_.size())) + 2;
  frames_.resize(static_cast<size_t>(store_capacity_ * n_mels_));
  normalized_.resize(static_cast<size_t>(n_mels_ * window_frames_));
  window_.resize(static_cast<size_t>(n_mels_ * window_frames_));
  projected_.resize(static_cast<size_t>(s.output_frames_per_call * step_->joint_hidden()));
  carry_ = decoder_.make_carry();
  committed_.reserve(static_cast<size_t>(decoder_.max_emissions(s.output_frames_per_call + 1)));
}

CacheAwareStreamingSession::~CacheAwareStreamingSession() = default;

const std::string& CacheAwareStreamingSession::profile() const { return encoder_->profile().profile; }

int64_t CacheAwareStreamingSession::encoder_calls() const { return encoder_->calls(); }

Transcript CacheAwareStreamingSession::redecode(int64_t, int64_t) {
  throw Error(ErrorCode::kState,
              "redecode(): the cache_aware mode keeps no audio history (use the buffered mode for a final re-decode)");
}

int64_t CacheAwareStreamingSession::samples_for_frame(int64_t t) const { return t * hop_ + half_fft_; }

int64_t CacheAwareStreamingSession::samples_needed() const {
  return std::max<int64_t>(0, samples_for_frame(next_window_start_ + new_frames_ - 1) - consumed_);
}

int64_t CacheAwareStreamingSession::append(const float* samples, int64_t num_samples) {
  const int64_t capacity = static_cast<int64_t>(audio_.size());
  if (audio_size_ + num_samples > capacity) {
    // Keep the audio of frames not yet computed, plus a few hops so that the next frame is interior
    // (a full STFT window and a preceding sample for pre-emphasis): its log-mel is the stream's.
    const int64_t keep_from = std::max<int64_t>(0, (frames_end_ - (half_fft_ / hop_ + 2)) * hop_);
    const int64_t drop = keep_from - audio_base_;
    if (drop > 0) {
      std::memmove(audio_.data(), audio_.data() + drop, static_cast<size_t>(audio_size_ - drop) * sizeof(float));
      audio_base_ += drop;
      audio_size_ -= drop;
    }
  }
  const int64_t taken = std::min(num_samples, capacity - audio_size_);
  std::memcpy(audio_.data() + audio_size_, samples, static_cast<size_t>(taken) * sizeof(float));
  audio_size_ += taken;
  received_ += taken;
  return taken;
}

void CacheAwareStreamingSession::compute_frames(int64_t end_frame, bool at_end) {
  if (end_frame <= frames_end_) return;
  const int64_t base_frame = audio_base_ / hop_;
  const int64_t local_frames = features_.num_frames(audio_size_);
  // At the end of the stream the last frame is beyond NeMo's valid length: masked to pad_value.
  const int64_t computed_end = at_end ? end_frame - 1 : end_frame;
  const int64_t lb = frames_end_ - base_frame, le = computed_end - base_frame;
  int64_t first = 0, interior_end = 0;
  features_.interior_frames(audio_size_, &first, &interior_end);
  if ((audio_base_ > 0 && lb < first) || (!at_end && le > interior_end) || (at_end && le != local_frames - 1)) {
    throw std::logic_error("cache-aware session: frames [" + std::to_string(frames_end_) + ", " +
                           std::to_string(end_frame) + ") are not computable from the retained audio");
  }
  // Room in the frame store: frames before the next window's pre-encode cache are no longer read.
  if (end_frame - store_base_ > store_capacity_) {
    const int64_t keep_from = std::max<int64_t>(0, next_window_start_ - pre_frames_);
    const int64_t drop = keep_from - store_base_;
    if (drop > 0) {
      std::memmove(frames_.data(), frames_.data() + drop * n_mels_,
                   static_cast<size_t>((frames_end_ - keep_from) * n_mels_) * sizeof(float));
      store_base_ = keep_from;
    }
    if (end_frame - store_base_ > store_capacity_) throw std::logic_error("cache-aware session: frame store overflow");
  }
  if (le > lb) features_.compute_log_mel_frames(audio_.data(), audio_size_, lb, le, log_mel_scratch_.data());
  for (int64_t t = frames_end_; t < end_frame; ++t) {
    float* dst = frames_.data() + (t - store_base_) * n_mels_;
    if (t >= computed_end) {
      std::fill(dst, dst + n_mels_, model_->meta().features.pad_value);
      continue;
    }
    const int64_t col = t - base_frame;
    for (int64_t m = 0; m < n_mels_; ++m) dst[m] = log_mel_scratch_[static_cast<size_t>(m * local_frames + col)];
  }
  frames_end_ = end_frame;
}

void CacheAwareStreamingSession::push_steps(const float* samples, int64_t num_samples, StepSink on_step) {
  while (num_samples > 0) {
    const int64_t taken = append(samples, num_samples);
    samples += taken;
    num_samples -= taken;
    // Frame t is final once t * hop + n_fft / 2 samples have arrived.
    if (received_ >= half_fft_) compute_frames((received_ - half_fft_) / hop_ + 1, false);
    while (frames_end_ >= next_window_start_ + new_frames_) on_step(run_window(new_frames_, false));
  }
}

void CacheAwareStreamingSession::finish_steps(StepSink on_step) {
  bool emitted_last = false;
  if (received_ > 0) {
    const int64_t total_frames = features_.num_frames(received_);
    compute_frames(total_frames, true);
    // NeMo's iterator: windows while b < T; past the first, a chunk shorter than one encoder frame ends it.
    auto runs = [&](int64_t b) {
      return b < total_frames && (b == 0 || total_frames - b >= min_chunk_frames_);
    };
    while (runs(next_window_start_)) {
      const int64_t chunk = std::min(new_frames_, total_frames - next_window_start_);
      const bool last = !runs(next_window_start_ + advance_);
      on_step(run_window(chunk, last));
      emitted_last = last;
    }
  }
  if (!emitted_last) {  // nothing (more) to run: an empty last step closes the stream
    committed_.clear();
    consumed_ = received_;
    StreamingStep out;
    out.committed = committed_.data();
    out.tail = tail_.data();
    out.audio_end_sample = consumed_;
    out.decoded_frames = carry_.decoded_frames;
    out.is_last = true;
    on_step(out);
  }
}

StreamingStep CacheAwareStreamingSession::run_window(int64_t chunk_frames, bool is_last) {
  const int64_t b = next_window_start_;
  committed_.clear();
  // NeMo CacheAwareStreamingAudioBuffer (pad_and_drop_preencoded, online_normalization): the
  // pre-encode cache is P zero frames at b = 0 (normalized with the chunk), else the P frames before
  // b, with the missing ones (b < P) prepended as zeros after normalization.
  const int64_t cache = b == 0 ? pre_frames_ : std::min(pre_frames_, b);
  const int64_t pads = pre_frames_ - cache;
  const int64_t m_frames = cache + chunk_frames;
  for (int64_t m = 0; m < n_mels_; ++m) {
    float* row = normalized_.data() + m * m_frames;
    for (int64_t j = 0; j < m_frames; ++j) {
      const int64_t t = b - cache + j;  // < 0: the zero cache of the first window
      row[j] = t < 0 ? 0.0f : frames_[static_cast<size_t>((t - store_base_) * n_mels_ + m)];
    }
  }
  // CONTRACT: per-feature normalization over the window's own frames (pre-encode cache + chunk).
  // SOURCE: NeMo CacheAwareStreamingAudioBuffer.__iter__ with online_normalization=True
  //   (normalize_batch(audio_chunk, seq_len=audio_chunk.size(-1), model's normalize type)).
  // WHY: whole-utterance statistics need the future audio; these are what a live stream can know
  //   (DECISION_LOG "Cache-aware streaming: online normalization").
  if (normalize_) FeatureExtractor::normalize_per_feature(normalized_.data(), static_cast<int>(n_mels_), m_frames, m_frames, 0.0f);
  std::fill(window_.begin(), window_.end(), 0.0f);
  for (int64_t m = 0; m < n_mels_; ++m) {
    std::memcpy(window_.data() + m * window_frames_ + pads, normalized_.data() + m * m_frames,
                static_cast<size_t>(m_frames) * sizeof(float));
  }
  const int64_t length = pre_frames_ + chunk_frames;
  const StreamingContract& s = encoder_->profile();
  if (s.expected_encoded_length(length) >= 1) {  // a shorter first chunk gives NeMo no encoder frame
    const StreamingEncoderOutput encoded = encoder_->run(window_.data(), n_mels_, window_frames_, length);
    const int64_t valid = encoded.num_valid_frames;
    step_->project_encoder_strided(encoded.data, encoded.num_frames, valid, projected_.data());
    decoder_.decode(projected_.data(), valid, carry_, committed_);
  }
  next_window_start_ += advance_;
  ++steps_;
  consumed_ = is_last ? received_ : std::min(received_, samples_for_frame(b + new_frames_ - 1));
  StreamingStep out;
  out.committed = committed_.data();
  out.num_committed = static_cast<int64_t>(committed_.size());
  out.tail = tail_.data();
  out.num_tail = 0;
  out.audio_end_sample = consumed_;
  out.decoded_frames = carry_.decoded_frames;
  out.is_last = is_last;
  return out;
}

}  // namespace parakeet_trt
