#include "parakeet_trt/features.hpp"

#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>

#include "features/batched_real_fft.hpp"
#include "features/lane_vec.hpp"
#include "features/mel_filterbank.hpp"

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace parakeet_trt {
namespace {

using detail::kLanes;
using detail::VecD;
using detail::VecF;
using detail::VecI;
using detail::VecU;

template <typename T>
std::string str(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

[[noreturn]] void invalid(const std::string& field, const std::string& expected, const std::string& actual) {
  throw std::invalid_argument("FeatureConfig." + field + ": expected " + expected + ", got " + actual);
}

// log(v) for v in [FLT_MIN, FLT_MAX], correctly rounded to float in all but rare near-tie cases:
// v = 2^e * m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.1716,
// series to s^13 (truncation < 1e-11 relative), evaluated in double. torch uses a vectorized
// 1-ulp float log; libm's scalar logf would dominate the front end's run time.
inline VecF log_lanes(VecF v) {
  constexpr double kLn2 = 0.693147180559945309417232121458176568;
  VecU bits;
  std::memcpy(&bits, &v, sizeof(bits));
  VecI exponent = reinterpret_cast<VecI>((bits >> 23) & 0xffu) - 127;
  VecU mant_bits = (bits & 0x007fffffu) | 0x3f800000u;
  // m > sqrt(2) (0x3fb504f3): halve it and bump the exponent. Comparisons yield -1 / 0.
  const VecI big = reinterpret_cast<VecI>(mant_bits > 0x3fb504f3u);
  mant_bits -= reinterpret_cast<VecU>(big & (1 << 23));
  exponent -= big;
  VecF mant;
  std::memcpy(&mant, &mant_bits, sizeof(mant));
  const VecD m = __builtin_convertvector(mant, VecD);
  const VecD one = detail::splat_d(1.0);
  const VecD s = (m - one) / (m + one);
  const VecD s2 = s * s;
  const VecD poly =
      1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 * (1.0 / 13))))));
  const VecD result = __builtin_convertvector(exponent, VecD) * kLn2 + 2.0 * s * poly;
  VecF out = __builtin_convertvector(result, VecF);
  // Zero, subnormal, inf and NaN inputs take libm's path (never hit for v >= the log guard).
  for (int l = 0; l < kLanes; ++l) {
    if (!(v[l] >= FLT_MIN && v[l] <= FLT_MAX)) out[l] = std::log(v[l]);
  }
  return out;
}

// sqrt per lane, correctly rounded (sqrtps / sqrtf are both IEEE exact). The intrinsic path exists
// because std::sqrt in a loop is not vectorized without -fno-math-errno.
inline VecF sqrt_lanes(VecF v) {
#if defined(__SSE__)
  static_assert(sizeof(VecF) == 2 * sizeof(__m128), "VecF is 8 floats");
  __m128 lo, hi;
  std::memcpy(&lo, &v, sizeof(lo));
  std::memcpy(&hi, reinterpret_cast<const char*>(&v) + sizeof(lo), sizeof(hi));
  lo = _mm_sqrt_ps(lo);
  hi = _mm_sqrt_ps(hi);
  VecF out;
  std::memcpy(&out, &lo, sizeof(lo));
  std::memcpy(reinterpret_cast<char*>(&out) + sizeof(lo), &hi, sizeof(hi));
  return out;
#else
  VecF out;
  for (int l = 0; l < kLanes; ++l) out[l] = std::sqrt(v[l]);
  return out;
#endif
}

}  // namespace

void FeatureConfig::validate() const {
  if (sample_rate_hz <= 0) invalid("sample_rate_hz", "> 0", str(sample_rate_hz));
  if (n_fft < 8 || (n_fft & (n_fft - 1)) != 0) invalid("n_fft", "a power of two >= 8", str(n_fft));
  if (win_length < 2 || win_length > n_fft) {
    invalid("win_length", "in [2, n_fft=" + str(n_fft) + "]", str(win_length));
  }
  if (hop_length <= 0) invalid("hop_length", "> 0", str(hop_length));
  if (n_mels <= 0) invalid("n_mels", "> 0", str(n_mels));
  if (!std::isfinite(preemph)) invalid("preemph", "a finite value", str(preemph));
  if (!(log_zero_guard_value > 0.0f) || !std::isfinite(log_zero_guard_value)) {
    invalid("log_zero_guard_value", "a finite value > 0", str(log_zero_guard_value));
  }
  const float nyquist_hz = static_cast<float>(sample_rate_hz) / 2.0f;
  if (!(lowfreq_hz >= 0.0f) || !std::isfinite(lowfreq_hz)) invalid("lowfreq_hz", ">= 0", str(lowfreq_hz));
  if (!std::isfinite(highfreq_hz)) invalid("highfreq_hz", "finite (<= 0 means sample_rate_hz/2)", str(highfreq_hz));
  const float high = highfreq_hz > 0.0f ? highfreq_hz : nyquist_hz;
  if (!(high > lowfreq_hz)) {
    invalid("highfreq_hz", "> lowfreq_hz=" + str(lowfreq_hz) + " (after <= 0 -> sample_rate_hz/2)", str(high));
  }
  if (!(mag_power > 0.0f) || !std::isfinite(mag_power)) invalid("mag_power", "a finite value > 0", str(mag_power));
  if (!std::isfinite(pad_value)) invalid("pad_value", "a finite value", str(pad_value));
}

struct FeatureExtractor::Impl {
  explicit Impl(int n_fft) : fft(n_fft) {}

  detail::BatchedRealFft fft;
  int window_begin = 0;  // [window_begin, window_end): the nonzero part of the padded window
  int window_end = 0;
  std::vector<VecD> frames;            // [n_fft]: windowed samples of kLanes frames
  std::vector<VecD> spec_re, spec_im;  // [bins]
  std::vector<VecF> power;             // [bins]
  std::vector<int> filter_first_bin;   // [n_mels]: nonzero range of each filter
  std::vector<int> filter_end_bin;
  std::vector<int> filter_offset;      // [n_mels]: start of the filter's weights in filter_weights
  std::vector<double> filter_weights;  // float32 weights widened, nonzero ranges only
  std::vector<VecF> log_mel;           // [n_mels]
};

FeatureExtractor::FeatureExtractor(const FeatureConfig& config) : config_(config) {
  config_.validate();
  const int n_fft = config_.n_fft;
  const int bins = n_fft / 2 + 1;

  // torch.hann_window(N, periodic=False) in float32: arange(N) * float(2*pi/(N-1)) -> cos ->
  // * -0.5 -> + 0.5, each rounded to float32. cos is evaluated in double and rounded (torch's
  // vectorized cos differs by 1 ulp on a few samples).
  window_.assign(static_cast<size_t>(n_fft), 0.0f);
  const int offset = (n_fft - config_.win_length) / 2;
  const float angle_step = static_cast<float>(2.0 * 3.14159265358979323846 / static_cast<double>(config_.win_length - 1));
  for (int n = 0; n < config_.win_length; ++n) {
    const float angle = static_cast<float>(n) * angle_step;
    const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
    window_[static_cast<size_t>(offset + n)] = c * -0.5f + 0.5f;
  }

  // NeMo: highfreq = highfreq or sample_rate / 2 (Python float).
  const double fmax_hz = config_.highfreq_hz > 0.0f ? static_cast<double>(config_.highfreq_hz)
                                                    : static_cast<double>(config_.sample_rate_hz) / 2.0;
  filterbank_ = detail::slaney_mel_filterbank(static_cast<double>(config_.sample_rate_hz), n_fft, config_.n_mels,
                                              static_cast<double>(config_.lowfreq_hz), fmax_hz);

  impl_ = std::make_unique<Impl>(n_fft);
  Impl& im = *impl_;
  im.window_begin = offset;
  im.window_end = offset + config_.win_length;
  im.frames.assign(static_cast<size_t>(n_fft), detail::splat_d(0.0));
  im.spec_re.assign(static_cast<size_t>(bins), detail::splat_d(0.0));
  im.spec_im.assign(static_cast<size_t>(bins), detail::splat_d(0.0));
  im.power.assign(static_cast<size_t>(bins), detail::splat_f(0.0f));
  im.log_mel.assign(static_cast<size_t>(config_.n_mels), detail::splat_f(0.0f));
  for (int m = 0; m < config_.n_mels; ++m) {
    const float* row = filterbank_.data() + static_cast<size_t>(m) * static_cast<size_t>(bins);
    int first = 0;
    while (first < bins && row[first] == 0.0f) ++first;
    int end = bins;
    while (end > first && row[end - 1] == 0.0f) --end;
    im.filter_first_bin.push_back(first);
    im.filter_end_bin.push_back(end);
    im.filter_offset.push_back(static_cast<int>(im.filter_weights.size()));
    for (int k = first; k < end; ++k) im.filter_weights.push_back(static_cast<double>(row[k]));
  }
}

FeatureExtractor::~FeatureExtractor() = default;
FeatureExtractor::FeatureExtractor(FeatureExtractor&&) noexcept = default;
FeatureExtractor& FeatureExtractor::operator=(FeatureExtractor&&) noexcept = default;

int64_t FeatureExtractor::num_frames(int64_t num_samples) const {
  if (num_samples < 0) {
    throw std::invalid_argument("FeatureExtractor::num_frames: num_samples: expected >= 0, got " + str(num_samples));
  }
  return 1 + num_samples / config_.hop_length;
}

int64_t FeatureExtractor::num_valid_frames(int64_t num_samples) const {
  if (num_samples < 0) {
    throw std::invalid_argument("FeatureExtractor::num_valid_frames: num_samples: expected >= 0, got " +
                                str(num_samples));
  }
  // NeMo 3.0.0 FilterbankFeatures.get_seq_len: floor_divide(len + 2*(n_fft//2) - n_fft, hop).
  const int64_t pad_amount = static_cast<int64_t>(config_.n_fft / 2) * 2;
  return (num_samples + pad_amount - config_.n_fft) / config_.hop_length;
}

void FeatureExtractor::reserve(int64_t max_num_samples) {
  if (max_num_samples < 0) {
    throw std::invalid_argument("FeatureExtractor::reserve: max_num_samples: expected >= 0, got " +
                                str(max_num_samples));
  }
}

void FeatureExtractor::check_input(const float* samples, int64_t num_samples, const void* out) const {
  if (num_samples <= 0) {
    throw std::invalid_argument("FeatureExtractor: num_samples: expected > 0, got " + str(num_samples));
  }
  if (samples == nullptr) throw std::invalid_argument("FeatureExtractor: samples: expected non-null, got null");
  if (out == nullptr) throw std::invalid_argument("FeatureExtractor: output: expected non-null, got null");
  // Branch-free scan (vectorizes); locate the index only on failure.
  int bad = 0;
  for (int64_t i = 0; i < num_samples; ++i) bad |= !(std::fabs(samples[i]) <= FLT_MAX);
  if (bad) {
    for (int64_t i = 0; i < num_samples; ++i) {
      if (!std::isfinite(samples[i])) {
        throw std::invalid_argument("FeatureExtractor: samples[" + str(i) + "]: expected a finite value, got " +
                                    str(samples[i]));
      }
    }
  }
}

void FeatureExtractor::compute_log_mel(const float* samples, int64_t num_samples, float* log_mel_out) {
  check_input(samples, num_samples, log_mel_out);
  Impl& im = *impl_;
  const int n_fft = config_.n_fft;
  const int bins = n_fft / 2 + 1;
  const int hop = config_.hop_length;
  const int n_mels = config_.n_mels;
  const float preemph = config_.preemph;
  const float guard = config_.log_zero_guard_value;
  const float mag_power = config_.mag_power;
  const int64_t total_frames = num_frames(num_samples);
  const int wb = im.window_begin;
  const int we = im.window_end;
  const float* window = window_.data();
  VecD* frames = im.frames.data();

  for (int64_t t0 = 0; t0 < total_frames; t0 += kLanes) {
    const int lanes = static_cast<int>(std::min<int64_t>(kLanes, total_frames - t0));
    for (int lane = 0; lane < kLanes; ++lane) {
      if (lane >= lanes) {
        for (int n = wb; n < we; ++n) frames[n][lane] = 0.0;
        continue;
      }
      // Sample n of frame t is y_pad[hop*t + n] = y[hop*t + n - n_fft/2] (zero outside [0, N)).
      // NeMo rounds the pre-emphasis (x - fl(p*x')) and the windowing product to float32.
      const int64_t base = (t0 + lane) * hop - n_fft / 2;
      if (base + wb >= 1 && base + we <= num_samples) {
        const float* x = samples + base;
        for (int n = wb; n < we; ++n) {
          const float y = x[n] - preemph * x[n - 1];
          frames[n][lane] = static_cast<double>(y * window[n]);
        }
      } else {
        for (int n = wb; n < we; ++n) {
          const int64_t j = base + n;
          float y = 0.0f;
          if (j == 0) {
            y = samples[0];
          } else if (j > 0 && j < num_samples) {
            y = samples[j] - preemph * samples[j - 1];
          }
          frames[n][lane] = static_cast<double>(y * window[n]);
        }
      }
    }

    im.fft.forward(frames, im.spec_re.data(), im.spec_im.data());

    // NeMo: torch.sqrt(view_as_real(X).pow(2).sum(-1)).pow(mag_power), all float32.
    VecF* power = im.power.data();
    for (int k = 0; k < bins; ++k) {
      const VecF r = __builtin_convertvector(im.spec_re[static_cast<size_t>(k)], VecF);
      const VecF q = __builtin_convertvector(im.spec_im[static_cast<size_t>(k)], VecF);
      const VecF mag = sqrt_lanes(r * r + q * q);
      if (mag_power == 2.0f) {
        power[k] = mag * mag;
      } else if (mag_power == 1.0f) {
        power[k] = mag;
      } else {
        VecF p;
        for (int l = 0; l < kLanes; ++l) p[l] = std::pow(mag[l], mag_power);
        power[k] = p;
      }
    }

    // mel = fb @ P over each filter's nonzero bins, accumulated in double and rounded once; then
    // NeMo's float32 `x + guard` and the log.
    const VecF guard_v = detail::splat_f(guard);
    for (int m = 0; m < n_mels; ++m) {
      VecD acc = detail::splat_d(0.0);
      const double* w = im.filter_weights.data() + im.filter_offset[static_cast<size_t>(m)];
      const int first = im.filter_first_bin[static_cast<size_t>(m)];
      const int end = im.filter_end_bin[static_cast<size_t>(m)];
      for (int k = first; k < end; ++k) acc += w[k - first] * __builtin_convertvector(power[k], VecD);
      im.log_mel[static_cast<size_t>(m)] = log_lanes(__builtin_convertvector(acc, VecF) + guard_v);
    }
    for (int m = 0; m < n_mels; ++m) {
      float* dst = log_mel_out + static_cast<int64_t>(m) * total_frames + t0;
      const VecF v = im.log_mel[static_cast<size_t>(m)];
      if (lanes == kLanes) {
        detail::store_f(dst, v);
      } else {
        for (int l = 0; l < lanes; ++l) dst[l] = v[l];
      }
    }
  }
}

void FeatureExtractor::normalize_per_feature(float* log_mel, int n_mels, int64_t num_frames, int64_t num_valid_frames,
                                             float pad_value) {
  if (n_mels <= 0) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature: n_mels: expected > 0, got " + str(n_mels));
  }
  if (num_frames < 0) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature: num_frames: expected >= 0, got " +
                                str(num_frames));
  }
  if (num_valid_frames < 0 || num_valid_frames > num_frames) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature: num_valid_frames: expected in [0, " +
                                str(num_frames) + "], got " + str(num_valid_frames));
  }
  if (num_frames == 0) return;
  if (log_mel == nullptr) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature: log_mel: expected non-null, got null");
  }
  const int64_t nv = num_valid_frames;
  for (int m = 0; m < n_mels; ++m) {
    float* row = log_mel + static_cast<int64_t>(m) * num_frames;
    if (nv > 0) {
      // NeMo 3.0.0 normalize_batch: mean = sum/n, std = sqrt(sum((x - mean)^2) / (n - 1)), NaN std
      // (n == 1: 0/0) -> 0, std += 1e-5, (x - mean) / std; all tensors float32. Sums here are in
      // double (4 independent partial sums so they vectorize without reassociation), rounded to
      // float32 where NeMo holds a float32 tensor.
      double partial[4] = {0.0, 0.0, 0.0, 0.0};
      int64_t t = 0;
      for (; t + 4 <= nv; t += 4) {
        for (int j = 0; j < 4; ++j) partial[j] += static_cast<double>(row[t + j]);
      }
      for (; t < nv; ++t) partial[0] += static_cast<double>(row[t]);
      const double sum = (partial[0] + partial[1]) + (partial[2] + partial[3]);
      const float mean = static_cast<float>(sum / static_cast<double>(nv));
      double sq[4] = {0.0, 0.0, 0.0, 0.0};
      t = 0;
      for (; t + 4 <= nv; t += 4) {
        for (int j = 0; j < 4; ++j) {
          const double d = static_cast<double>(row[t + j] - mean);
          sq[j] += d * d;
        }
      }
      for (; t < nv; ++t) {
        const double d = static_cast<double>(row[t] - mean);
        sq[0] += d * d;
      }
      const double sum_sq = (sq[0] + sq[1]) + (sq[2] + sq[3]);
      float stddev = static_cast<float>(std::sqrt(sum_sq / static_cast<double>(nv - 1)));
      if (std::isnan(stddev) || nv == 1) stddev = 0.0f;
      stddev += 1e-5f;
      for (int64_t i = 0; i < nv; ++i) row[i] = (row[i] - mean) / stddev;
    }
    for (int64_t i = nv; i < num_frames; ++i) row[i] = pad_value;
  }
}

void FeatureExtractor::compute(const float* samples, int64_t num_samples, float* features_out) {
  compute_log_mel(samples, num_samples, features_out);
  const int64_t total = num_frames(num_samples);
  const int64_t valid = num_valid_frames(num_samples);
  if (config_.normalize_per_feature) {
    normalize_per_feature(features_out, config_.n_mels, total, valid, config_.pad_value);
  } else {
    for (int m = 0; m < config_.n_mels; ++m) {
      float* row = features_out + static_cast<int64_t>(m) * total;
      for (int64_t i = valid; i < total; ++i) row[i] = config_.pad_value;
    }
  }
}

}  // namespace parakeet_trt
