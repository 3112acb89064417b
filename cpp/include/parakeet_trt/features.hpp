// NeMo-exact log-mel front end (AudioToMelSpectrogramPreprocessor / FilterbankFeatures, NeMo 3.0.0).
//
// What is computed, for one unpadded utterance x[0, num_samples) of float32 samples:
//   1. pre-emphasis      y[0] = x[0], y[n] = x[n] - preemph * x[n-1]             (float32, two roundings)
//   2. STFT, center=True, constant (zero) padding of n_fft/2 on both sides (NeMo >= 2.5 passes
//      pad_mode="constant"; torch's default "reflect" is NOT used), frame t covers
//      y_pad[hop*t, hop*t + n_fft), multiplied by the symmetric Hann window of win_length samples
//      (torch.hann_window(win_length, periodic=False)) zero-padded and centered in n_fft.
//      num_frames = 1 + num_samples / hop_length.
//   3. power spectrum    P = sqrt(re^2 + im^2)^mag_power, with NeMo's float32 rounding path
//      (fl(re^2) + fl(im^2) -> sqrtf -> pow).
//   4. mel               M = fb @ P, fb = librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax,
//                        htk=False, norm='slaney') in float32.
//   5. log               L = log(M + log_zero_guard_value)                ('add' guard)
//   6. per-feature normalization over the first num_valid_frames = num_samples / hop_length frames
//      (NeMo >= 2.5: (N + 2*(n_fft/2) - n_fft) // hop): mean, std with the (n-1) denominator,
//      NaN std -> 0 (n == 1), std += 1e-5 (added to the std, not the variance), x = (x - mean) / std.
//   7. frames t >= num_valid_frames are set to pad_value.
//
// Dither is a training-only augmentation in NeMo and is never applied here. pad_to is not applied
// (the output always has exactly num_frames(num_samples) columns; NeMo's parakeet configs use
// pad_to = 0).
//
// Short inputs, exactly as NeMo 3.0.0 behaves on CPU:
//   * num_valid_frames == 1 (hop <= N < 2*hop): std is NaN -> 0 -> 1e-5 and x - mean == 0, so the
//     single valid frame is all zeros. (NeMo raises a ValueError for this case only when CUDA is
//     available; we follow the CPU behaviour and never throw.)
//   * num_valid_frames == 0 (0 < N < hop): every output value is pad_value (NeMo's mean is NaN but
//     every frame is masked afterwards).
//
// Precision: the FFT runs in double precision on float32 windowed samples and the mel products
// are accumulated in double and rounded once; everything NeMo rounds to float32 (pre-emphasis,
// windowing, power, mel, log input, the normalized value) is rounded at the same point here. The
// normalization sums are float32 in PyTorch CPU's exact summation order, because for near-constant
// rows NeMo's output is dominated by that rounding (digital silence normalizes to a constant
// residue such as -0.1588 for 0.1 s, not 0; we reproduce it bit for bit). What remains is the
// rounding error of NeMo's own float32 FFT and GEMM. Two inputs make it visible after
// normalization (measured against NeMo 3.0.0: max |difference| 1e-3..2.6e-3, where speech,
// noise, tones and silence stay below 2.5e-4): loud narrow-band signals (a pure chirp: bins
// ~100 dB below the peak carry NeMo's float32 FFT noise) and near-constant mel rows of quiet
// input (a 1-ulp log-mel difference divided by a row std of ~1e-3).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace parakeet_trt {

// Feature settings. Defaults are those of parakeet-tdt-0.6b-v2/v3 (NeMo preprocessor config:
// sample_rate 16000, window_size 0.025 -> win_length 400, window_stride 0.01 -> hop_length 160,
// n_fft 512, features 128, preemph 0.97 (NeMo default), log_zero_guard 'add' 2^-24,
// lowfreq 0, highfreq null -> sr/2, mag_power 2.0, normalize per_feature, pad_value 0).
struct FeatureConfig {
  int sample_rate_hz = 16000;
  int n_fft = 512;        // power of two, >= 8
  int win_length = 400;   // samples of the Hann window, 2 <= win_length <= n_fft
  int hop_length = 160;   // samples between frames, > 0
  int n_mels = 128;       // mel filters, > 0
  float preemph = 0.97f;  // 0 disables pre-emphasis (NeMo: y = x - 0*x == x); must be finite
  float log_zero_guard_value = 5.9604644775390625e-08f;  // 2^-24, added before the log; > 0
  float lowfreq_hz = 0.f;                                // lowest mel edge, >= 0
  float highfreq_hz = 8000.f;                            // highest mel edge; <= 0 means sample_rate_hz / 2 (NeMo: null)
  float mag_power = 2.0f;                                // exponent applied to the magnitude; > 0
  bool normalize_per_feature = true;  // false: log-mel only (NeMo normalize: null); pad still applied
  float pad_value = 0.f;              // value of the frames >= num_valid_frames

  // Throws std::invalid_argument naming the field, the expected and the actual value.
  void validate() const;
};

// Computes NeMo's features for one utterance (batch 1). Construction precomputes the window, the
// filterbank and the FFT tables; compute() then allocates nothing. Not thread-safe: one extractor
// per thread (it owns scratch buffers); construct one per session.
class FeatureExtractor {
 public:
  explicit FeatureExtractor(const FeatureConfig& config);  // validates the config
  ~FeatureExtractor();
  FeatureExtractor(FeatureExtractor&&) noexcept;
  FeatureExtractor& operator=(FeatureExtractor&&) noexcept;
  FeatureExtractor(const FeatureExtractor&) = delete;
  FeatureExtractor& operator=(const FeatureExtractor&) = delete;

  const FeatureConfig& config() const { return config_; }

  // STFT frames (columns of the output): 1 + num_samples / hop_length (center=True).
  // Throws std::invalid_argument for num_samples < 0.
  // Most samples a feature count is computed for (2^40: about two years at 16 kHz), so the
  // arithmetic of num_frames / num_valid_frames never overflows; beyond it std::invalid_argument.
  static constexpr int64_t kMaxSamples = int64_t{1} << 40;
  int64_t num_frames(int64_t num_samples) const;
  // Frames NeMo 3.0.0 reports as valid (its `length` output), the ones the normalization
  // statistics use: (num_samples + 2*(n_fft/2) - n_fft) / hop_length == num_samples / hop_length
  // for even n_fft. Always num_frames(num_samples) - 1. Throws for num_samples < 0.
  int64_t num_valid_frames(int64_t num_samples) const;

  // compute() and compute_log_mel() keep no per-sample scratch (pre-emphasis is evaluated on the
  // fly per frame), so nothing grows with num_samples; reserve() only validates the argument and
  // exists so callers can state their maximum up front. Throws for max_num_samples < 0.
  void reserve(int64_t max_num_samples);

  // Full NeMo preprocessor output: writes features_out[n_mels][num_frames(num_samples)] row-major
  // (NeMo's [C, T] layout for batch 1). Frames >= num_valid_frames(num_samples) hold pad_value.
  // Throws std::invalid_argument for num_samples <= 0, a null pointer, or a non-finite sample (the
  // message names the first bad index). Allocates nothing.
  void compute(const float* samples, int64_t num_samples, float* features_out);

  // Building block: log(mel + guard) for ALL num_frames(num_samples) frames, no normalization, no
  // padding; layout [n_mels][num_frames]. Same argument checks as compute().
  void compute_log_mel(const float* samples, int64_t num_samples, float* log_mel_out);

  // Frames [begin_frame, end_frame) of compute_log_mel's output, written into their columns of
  // log_mel_out[n_mels][num_frames(num_samples)]; the other columns are left untouched. Frames are
  // independent SIMD lanes, so this equals the same columns of compute_log_mel bit for bit. Same
  // checks as compute_log_mel, plus 0 <= begin_frame <= end_frame <= num_frames(num_samples); the
  // finiteness check covers the samples these frames read.
  void compute_log_mel_frames(const float* samples, int64_t num_samples, int64_t begin_frame, int64_t end_frame,
                              float* log_mel_out);
  // The same frames written to out[m * out_row_stride + (t - begin_frame)]: any [n_mels][>= end -
  // begin] layout, e.g. a ring of log-mel columns kept across streaming steps. Same checks, plus
  // out_row_stride >= end_frame - begin_frame.
  void compute_log_mel_frames_into(const float* samples, int64_t num_samples, int64_t begin_frame,
                                   int64_t end_frame, float* out, int64_t out_row_stride);
  // [first, end) of the frames whose window lies inside the samples and has a preceding sample for
  // pre-emphasis: their log-mel depends only on the samples under them, so it is the same in any
  // buffer holding those samples (what buffered streaming reuses between steps). May be empty.
  void interior_frames(int64_t num_samples, int64_t* first, int64_t* end) const;
  // The second half of compute(): per-feature normalization (or none) and padding, in place on a
  // log-mel [n_mels][num_frames(num_samples)].
  void normalize(float* log_mel, int64_t num_samples) const;
  // The same, reading the log-mel from log_mel[m * log_mel_row_stride + t] (t < num_frames) and
  // writing features_out[n_mels][num_frames(num_samples)]: the copy is fused into the pass. The
  // two either do not overlap or are the same buffer with the same stride.
  void normalize_from(const float* log_mel, int64_t log_mel_row_stride, float* features_out,
                      int64_t num_samples) const;

  // Building block: NeMo's per_feature normalization, in place, on log_mel[n_mels][num_frames]
  // (row stride num_frames). Statistics use frames [0, num_valid_frames); frames
  // >= num_valid_frames are set to pad_value. num_valid_frames == 0 writes pad_value everywhere,
  // num_valid_frames == 1 yields zeros in the valid frame (see the header comment).
  // Throws std::invalid_argument if n_mels <= 0, num_frames < 0, num_valid_frames outside
  // [0, num_frames], or log_mel is null while the tensor is non-empty.
  static void normalize_per_feature(float* log_mel, int n_mels, int64_t num_frames, int64_t num_valid_frames,
                                    float pad_value);
  // The same reading log_mel[m * log_mel_row_stride + t] and writing out[n_mels][num_frames] (no
  // overlap, or the same buffer with log_mel_row_stride == num_frames). Also throws for
  // log_mel_row_stride < num_frames.
  static void normalize_per_feature_from(const float* log_mel, int64_t log_mel_row_stride, float* out, int n_mels,
                                         int64_t num_frames, int64_t num_valid_frames, float pad_value);

  // The filterbank, [n_mels][n_fft/2 + 1] row-major float32, bit-compatible with
  // librosa.filters.mel(sr=sample_rate_hz, n_fft, n_mels, fmin=lowfreq_hz, fmax=highfreq_hz,
  // htk=False, norm='slaney') up to 1-ulp differences of the platform's log/exp.
  const std::vector<float>& mel_filterbank() const { return filterbank_; }
  // The analysis window, [n_fft]: symmetric Hann of win_length samples
  // (torch.hann_window(win_length, periodic=False), float32) zero-padded, centered in n_fft
  // (left offset (n_fft - win_length) / 2, as torch.stft pads it).
  const std::vector<float>& window() const { return window_; }

  struct Impl;  // opaque scratch and tables; an implementation detail

 private:
  // Argument checks, and finiteness of samples [scan_begin, scan_end) (clipped to the input).
  void check_input(const float* samples, int64_t num_samples, const void* out, int64_t scan_begin,
                   int64_t scan_end) const;

  FeatureConfig config_;
  std::vector<float> window_;
  std::vector<float> filterbank_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace parakeet_trt
