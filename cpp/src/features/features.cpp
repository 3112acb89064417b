#include "parakeet_trt/features.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>

#include "features/batched_real_fft.hpp"
#include "features/kernel_choice.hpp"
#include "features/lane_vec.hpp"
#include "features/mel_filterbank.hpp"
#include "features/torch_sum.hpp"

#if defined(__SSE2__)
#include <immintrin.h>
#define PTRT_SSE2 1
#else
#define PTRT_SSE2 0
#endif

// Two builds of the hot kernel on x86-64: baseline (SSE2, 2-double lane vectors) and AVX2
// (4-double lane vectors), chosen once at run time. Both do the same element-wise IEEE operations
// in the same order, so they produce bit-identical features; "avx2" does not enable FMA, so no
// a*b+c is contracted in one build and not the other (GCC's "avx512f" and "x86-64-v3" imply FMA
// and are deliberately not used). GCC only (untested elsewhere): other compilers run the baseline.
#if defined(__x86_64__) && PTRT_SSE2 && defined(__GNUC__) && !defined(__clang__)
#define PTRT_HAVE_AVX2_KERNEL 1
#else
#define PTRT_HAVE_AVX2_KERNEL 0
#endif

namespace parakeet_trt {

using detail::kLanes;

struct FeatureExtractor::Impl {
  explicit Impl(int n_fft) : fft(n_fft) {}

  detail::BatchedRealFft fft;
  int window_begin = 0;  // [window_begin, window_end): the nonzero part of the padded window
  int window_end = 0;
  std::vector<float> rows;               // [kLanes][win_length]: windowed samples, one row per frame
  std::vector<double> frames;            // [n_fft][kLanes]: the same, transposed, widened
  std::vector<double> spec_re, spec_im;  // [bins][kLanes]
  std::vector<float> power_f;            // [bins][kLanes]: float32 scratch of the power step
  std::vector<double> power;             // [bins][kLanes]: float32 power, widened for the mel sums
  std::vector<int> filter_first_bin;     // [n_mels]: nonzero range of each filter
  std::vector<int> filter_end_bin;
  std::vector<int> filter_offset;      // [n_mels]: start of the filter's weights in filter_weights
  std::vector<double> filter_weights;  // float32 weights widened, nonzero ranges only
  std::vector<double> mel_acc;         // [n_mels][kLanes]
  std::vector<float> mel;              // [n_mels][kLanes]: float32 mel + guard
  std::vector<float> log_mel;          // [n_mels][kLanes]
};

namespace {

template <typename T>
std::string str(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

// Accepted ranges of FeatureConfig (docs/RELIABILITY.md "Model folder limits").
constexpr int kMinSampleRateHz = 1000;    // features.sample_rate_hz ...
constexpr int kMaxSampleRateHz = 384000;  // ... up to this
constexpr int kMaxFft = 65536;            // features.n_fft; also the largest hop_length
constexpr int kMaxMels = 1024;            // features.n_mels

[[noreturn]] void invalid(const std::string& field, const std::string& expected, const std::string& actual) {
  throw std::invalid_argument("FeatureConfig." + field + ": expected " + expected + ", got " + actual);
}

// log(v) for v in [FLT_MIN, FLT_MAX], correctly rounded to float in all but rare near-tie cases:
// v = 2^e * m with m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.1716,
// series to s^13 (truncation < 1e-11 relative), evaluated in double. torch uses a vectorized
// 1-ulp float log; libm's scalar logf would dominate the front end's run time. A plain contiguous
// loop, which the compiler vectorizes at the kernel's width.
PTRT_ALWAYS_INLINE void log_block(const float* __restrict in, float* __restrict out, int count) {
  constexpr double kLn2 = 0.693147180559945309417232121458176568;
  for (int i = 0; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, &in[i], sizeof(bits));
    int32_t exponent = static_cast<int32_t>((bits >> 23) & 0xffu) - 127;
    uint32_t mant_bits = (bits & 0x007fffffu) | 0x3f800000u;
    // m > sqrt(2) (0x3fb504f3): halve it and bump the exponent.
    const uint32_t big = mant_bits > 0x3fb504f3u ? 1u : 0u;
    mant_bits -= big << 23;
    exponent += static_cast<int32_t>(big);
    float mant;
    std::memcpy(&mant, &mant_bits, sizeof(mant));
    const double m = static_cast<double>(mant);
    const double s = (m - 1.0) / (m + 1.0);
    const double s2 = s * s;
    const double poly =
        1.0 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 * (1.0 / 11 + s2 * (1.0 / 13))))));
    out[i] = static_cast<float>(static_cast<double>(exponent) * kLn2 + 2.0 * s * poly);
  }
  // Zero, subnormal, inf and NaN inputs take libm's path (never hit for v >= the log guard); the
  // branch-free scan vectorizes, the fix-up loop runs only when needed.
  int special = 0;
  for (int i = 0; i < count; ++i) special |= !(in[i] >= FLT_MIN && in[i] <= FLT_MAX);
  if (special) {
    for (int i = 0; i < count; ++i) {
      if (!(in[i] >= FLT_MIN && in[i] <= FLT_MAX)) out[i] = std::log(in[i]);
    }
  }
}

// In place, correctly rounded float sqrt (sqrtps and sqrtf are both IEEE exact). SSE intrinsics
// (baseline on x86-64) because std::sqrt in a loop is not vectorized without -fno-math-errno.
PTRT_ALWAYS_INLINE void sqrt_block(float* values, int count) {
  int i = 0;
#if PTRT_SSE2
  for (; i + 4 <= count; i += 4) _mm_storeu_ps(values + i, _mm_sqrt_ps(_mm_loadu_ps(values + i)));
#endif
  for (; i < count; ++i) values[i] = std::sqrt(values[i]);
}

// One row of windowed, pre-emphasized samples for a frame whose window lies inside the signal
// and does not touch sample 0: y = x[n] - fl(p * x[n-1]), then fl(y * w), as NeMo rounds them.
PTRT_ALWAYS_INLINE void windowed_row_interior(const float* __restrict x, const float* __restrict window, int count,
                                              float preemph, float* __restrict row) {
  for (int n = 0; n < count; ++n) row[n] = (x[n] - preemph * x[n - 1]) * window[n];
}

// rows[kLanes][count] -> frames[count][kLanes], widened to double. 4x4 SSE2 transposes (baseline
// on x86-64); the scalar loop handles the tail and other architectures.
PTRT_ALWAYS_INLINE void transpose_rows(const float* __restrict rows, int count, double* __restrict frames) {
  int i = 0;
#if PTRT_SSE2
  for (; i + 4 <= count; i += 4) {
    for (int group = 0; group < kLanes; group += 4) {
      __m128 r0 = _mm_loadu_ps(rows + (group + 0) * count + i);
      __m128 r1 = _mm_loadu_ps(rows + (group + 1) * count + i);
      __m128 r2 = _mm_loadu_ps(rows + (group + 2) * count + i);
      __m128 r3 = _mm_loadu_ps(rows + (group + 3) * count + i);
      _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
      const __m128 cols[4] = {r0, r1, r2, r3};
      for (int c = 0; c < 4; ++c) {
        double* dst = frames + static_cast<size_t>(i + c) * kLanes + group;
        _mm_storeu_pd(dst, _mm_cvtps_pd(cols[c]));
        _mm_storeu_pd(dst + 2, _mm_cvtps_pd(_mm_movehl_ps(cols[c], cols[c])));
      }
    }
  }
#endif
  for (; i < count; ++i) {
    for (int lane = 0; lane < kLanes; ++lane) {
      frames[static_cast<size_t>(i) * kLanes + lane] = static_cast<double>(rows[lane * count + i]);
    }
  }
}

struct KernelArgs {
  const float* samples;
  int64_t num_samples;
  int64_t total_frames;
  int64_t begin_frame;  // frames [begin_frame, end_frame) are computed
  int64_t end_frame;
  const float* window;  // [n_fft]
  int n_fft;
  int hop;
  int n_mels;
  float preemph;
  float guard;
  float mag_power;
  float* out;           // frame t of mel m goes to out[m * out_row_stride + t - out_first_frame]
  int64_t out_row_stride;
  int64_t out_first_frame;
};

// The whole log-mel loop for lane vector type Vd. Allocates nothing (all scratch is in Impl).
template <typename Vd>
PTRT_ALWAYS_INLINE void log_mel_body(FeatureExtractor::Impl& im, const KernelArgs& a) {
  constexpr int W = detail::Lane<Vd>::kWidth;
  const int wb = im.window_begin;
  const int win = im.window_end - im.window_begin;
  const int bins = a.n_fft / 2 + 1;
  const int n_mels = a.n_mels;
  float* __restrict rows = im.rows.data();
  double* __restrict frames = im.frames.data();
  double* __restrict spec_re = im.spec_re.data();
  double* __restrict spec_im = im.spec_im.data();
  float* __restrict power_f = im.power_f.data();
  double* __restrict power = im.power.data();
  double* __restrict mel_acc = im.mel_acc.data();
  float* __restrict mel = im.mel.data();
  float* __restrict log_mel = im.log_mel.data();
  const float* window = a.window + wb;

  for (int64_t t0 = a.begin_frame; t0 < a.end_frame; t0 += kLanes) {
    const int lanes = static_cast<int>(std::min<int64_t>(kLanes, a.end_frame - t0));
    for (int lane = 0; lane < kLanes; ++lane) {
      float* row = rows + static_cast<int64_t>(lane) * win;
      if (lane >= lanes) {
        std::fill(row, row + win, 0.0f);
        continue;
      }
      // Window sample i is y_pad[hop*t + wb + i] = y[hop*t + wb + i - n_fft/2], zero outside [0, N).
      const int64_t first = (t0 + lane) * a.hop + wb - a.n_fft / 2;
      if (first >= 1 && first + win <= a.num_samples) {
        windowed_row_interior(a.samples + first, window, win, a.preemph, row);
      } else {
        for (int i = 0; i < win; ++i) {
          const int64_t j = first + i;
          float y = 0.0f;
          if (j == 0) {
            y = a.samples[0];
          } else if (j > 0 && j < a.num_samples) {
            y = a.samples[j] - a.preemph * a.samples[j - 1];
          }
          row[i] = y * window[i];
        }
      }
    }
    // Transpose to [n][lane]; samples outside [wb, wb + win) stay zero from construction.
    transpose_rows(rows, win, frames + static_cast<size_t>(wb) * kLanes);

    im.fft.forward<Vd>(frames, spec_re, spec_im);

    // NeMo: torch.sqrt(view_as_real(X).pow(2).sum(-1)).pow(mag_power), all float32.
    const int count = bins * kLanes;
    for (int i = 0; i < count; ++i) {
      const float r = static_cast<float>(spec_re[i]);
      const float q = static_cast<float>(spec_im[i]);
      power_f[i] = r * r + q * q;
    }
    sqrt_block(power_f, count);
    if (a.mag_power == 2.0f) {
      for (int i = 0; i < count; ++i) power[i] = static_cast<double>(power_f[i] * power_f[i]);
    } else if (a.mag_power == 1.0f) {
      for (int i = 0; i < count; ++i) power[i] = static_cast<double>(power_f[i]);
    } else {
      for (int i = 0; i < count; ++i) power[i] = static_cast<double>(std::pow(power_f[i], a.mag_power));
    }

    // mel = fb @ P over each filter's nonzero bins, accumulated in double and rounded once; then
    // NeMo's float32 `x + guard` and the log.
    for (int m = 0; m < n_mels; ++m) {
      const double* w = im.filter_weights.data() + im.filter_offset[static_cast<size_t>(m)];
      const int first = im.filter_first_bin[static_cast<size_t>(m)];
      const int end = im.filter_end_bin[static_cast<size_t>(m)];
      for (int v = 0; v < kLanes; v += W) {
        Vd acc = Vd{};
        for (int k = first; k < end; ++k) {
          acc += PTRT_LANE_SPLAT(Vd, w[k - first]) * PTRT_LANE_LOAD(Vd, power + k * kLanes + v);
        }
        PTRT_LANE_STORE(Vd, mel_acc + m * kLanes + v, acc);
      }
    }
    for (int i = 0; i < n_mels * kLanes; ++i) mel[i] = static_cast<float>(mel_acc[i]) + a.guard;
    log_block(mel, log_mel, n_mels * kLanes);
    for (int m = 0; m < n_mels; ++m) {
      std::memcpy(a.out + static_cast<int64_t>(m) * a.out_row_stride + (t0 - a.out_first_frame), log_mel + m * kLanes,
                  static_cast<size_t>(lanes) * sizeof(float));
    }
  }
}

// NeMo 3.0.0 normalize_batch (per_feature) on one row: all float32, sums over the full time axis
// (`total` frames) with the invalid frames zeroed (torch.where), in PyTorch's summation order
// (torch_sum.hpp):
//   mean = sum(x) / n;  std = sqrt(sum((x - mean)^2) / (n - 1.0));  NaN -> 0;  std += 1e-5
// then out = (x - mean) / std for the valid frames and pad_value after them. `in` and `out` are
// either the same row or do not overlap.
PTRT_ALWAYS_INLINE void normalize_row(const float* in, float* out, int64_t total, int64_t nv, float pad_value) {
  using detail::V8f;
  if (nv > 0) {
    float sum, sum_sq;
    if (total >= 8) {
      sum = detail::torch_cpu_sum_blocks(
          [&](int64_t b, V8f& v) {
            if (b * 8 + 8 <= nv) {
              std::memcpy(&v, in + b * 8, sizeof(v));
            } else {
              float lanes[8];
              for (int l = 0; l < 8; ++l) lanes[l] = b * 8 + l < nv ? in[b * 8 + l] : 0.0f;
              std::memcpy(&v, lanes, sizeof(v));
            }
          },
          [&](int64_t t) { return t < nv ? in[t] : 0.0f; }, total);
    } else {
      sum = detail::torch_cpu_sum([&](int64_t t) { return t < nv ? in[t] : 0.0f; }, total);
    }
    const float mean = sum / static_cast<float>(nv);
    const auto deviation_sq = [&](int64_t t) {
      const float d = t < nv ? in[t] - mean : 0.0f;
      return d * d;
    };
    if (total >= 8) {
      const V8f mean_v = mean - V8f{};
      sum_sq = detail::torch_cpu_sum_blocks(
          [&](int64_t b, V8f& v) {
            if (b * 8 + 8 <= nv) {
              std::memcpy(&v, in + b * 8, sizeof(v));
              v -= mean_v;
              v *= v;
            } else {
              float lanes[8];
              for (int l = 0; l < 8; ++l) lanes[l] = deviation_sq(b * 8 + l);
              std::memcpy(&v, lanes, sizeof(v));
            }
          },
          deviation_sq, total);
    } else {
      sum_sq = detail::torch_cpu_sum(deviation_sq, total);
    }
    float stddev = std::sqrt(sum_sq / (static_cast<float>(nv) - 1.0f));  // n == 1: 0 / 0 = NaN
    if (std::isnan(stddev)) stddev = 0.0f;
    stddev += 1e-5f;
    for (int64_t i = 0; i < nv; ++i) out[i] = (in[i] - mean) / stddev;
  }
  // n == 0: NeMo's mean is NaN, but every frame is masked to the pad value anyway.
  for (int64_t i = nv; i < total; ++i) out[i] = pad_value;
}

struct NormalizeArgs {
  const float* in;
  int64_t in_row_stride;
  float* out;
  int64_t out_row_stride;
  int n_mels;
  int64_t total;
  int64_t valid;
  float pad_value;
};

PTRT_ALWAYS_INLINE void normalize_body(const NormalizeArgs& a) {
  for (int m = 0; m < a.n_mels; ++m) {
    normalize_row(a.in + static_cast<int64_t>(m) * a.in_row_stride, a.out + static_cast<int64_t>(m) * a.out_row_stride,
                  a.total, a.valid, a.pad_value);
  }
}

void normalize_kernel_baseline(const NormalizeArgs& a) { normalize_body(a); }

void log_mel_kernel_baseline(FeatureExtractor::Impl& im, const KernelArgs& a) { log_mel_body<detail::V2d>(im, a); }

#if PTRT_HAVE_AVX2_KERNEL
__attribute__((target("avx2"))) void log_mel_kernel_avx2(FeatureExtractor::Impl& im, const KernelArgs& a) {
  log_mel_body<detail::V4d>(im, a);
}
__attribute__((target("avx2"))) void normalize_kernel_avx2(const NormalizeArgs& a) { normalize_body(a); }
#endif

detail::FeatureKernel g_kernel_choice = detail::FeatureKernel::kAuto;

bool cpu_has_avx2() {
#if PTRT_HAVE_AVX2_KERNEL
  static const bool has_avx2 = __builtin_cpu_supports("avx2");
  return has_avx2;
#else
  return false;
#endif
}

void log_mel_kernel(FeatureExtractor::Impl& im, const KernelArgs& a) {
#if PTRT_HAVE_AVX2_KERNEL
  if (g_kernel_choice != detail::FeatureKernel::kBaseline && cpu_has_avx2()) {
    log_mel_kernel_avx2(im, a);
    return;
  }
#endif
  log_mel_kernel_baseline(im, a);
}

void normalize_kernel(const NormalizeArgs& a) {
#if PTRT_HAVE_AVX2_KERNEL
  if (g_kernel_choice != detail::FeatureKernel::kBaseline && cpu_has_avx2()) {
    normalize_kernel_avx2(a);
    return;
  }
#endif
  normalize_kernel_baseline(a);
}

}  // namespace

namespace detail {
void set_feature_kernel(FeatureKernel kernel) { g_kernel_choice = kernel; }
bool avx2_feature_kernel_available() { return cpu_has_avx2(); }
}  // namespace detail

void FeatureConfig::validate() const {
  // Ranges (docs/RELIABILITY.md "Model folder limits"): wide enough for any speech front end, narrow
  // enough that a corrupt value cannot allocate gigabytes (n_fft 2^24) or make frames absurdly long.
  if (sample_rate_hz < kMinSampleRateHz || sample_rate_hz > kMaxSampleRateHz) {
    invalid("sample_rate_hz", "in [" + str(kMinSampleRateHz) + ", " + str(kMaxSampleRateHz) + "]", str(sample_rate_hz));
  }
  if (n_fft < 8 || n_fft > kMaxFft || (n_fft & (n_fft - 1)) != 0) {
    invalid("n_fft", "a power of two in [8, " + str(kMaxFft) + "]", str(n_fft));
  }
  if (win_length < 2 || win_length > n_fft) {
    invalid("win_length", "in [2, n_fft=" + str(n_fft) + "]", str(win_length));
  }
  if (hop_length <= 0 || hop_length > kMaxFft) invalid("hop_length", "in [1, " + str(kMaxFft) + "]", str(hop_length));
  if (n_mels <= 0 || n_mels > kMaxMels) invalid("n_mels", "in [1, " + str(kMaxMels) + "]", str(n_mels));
  if (!(preemph >= 0.0f && preemph <= 1.0f)) invalid("preemph", "in [0, 1] (0: none)", str(preemph));
  if (!(log_zero_guard_value > 0.0f && log_zero_guard_value <= 1.0f)) {
    invalid("log_zero_guard_value", "in (0, 1]", str(log_zero_guard_value));
  }
  const float nyquist_hz = static_cast<float>(sample_rate_hz) / 2.0f;
  if (!(lowfreq_hz >= 0.0f) || !std::isfinite(lowfreq_hz)) invalid("lowfreq_hz", ">= 0", str(lowfreq_hz));
  if (!std::isfinite(highfreq_hz)) invalid("highfreq_hz", "finite (<= 0 means sample_rate_hz/2)", str(highfreq_hz));
  const float high = highfreq_hz > 0.0f ? highfreq_hz : nyquist_hz;
  if (!(high > lowfreq_hz)) {
    invalid("highfreq_hz", "> lowfreq_hz=" + str(lowfreq_hz) + " (after <= 0 -> sample_rate_hz/2)", str(high));
  }
  if (!(mag_power > 0.0f && mag_power <= 4.0f)) invalid("mag_power", "in (0, 4]", str(mag_power));
  if (!std::isfinite(pad_value)) invalid("pad_value", "a finite value", str(pad_value));
}

FeatureExtractor::FeatureExtractor(const FeatureConfig& config) : config_(config) {
  config_.validate();
  const int n_fft = config_.n_fft;
  const int bins = n_fft / 2 + 1;

  // torch.hann_window(N, periodic=False) in float32: arange(N) * float(2*pi/(N-1)) -> cos ->
  // * -0.5 -> + 0.5, each rounded to float32. cos is evaluated in double and rounded (torch's
  // vectorized cos differs from the correctly rounded value by 1 ulp on a few samples).
  window_.assign(static_cast<size_t>(n_fft), 0.0f);
  const int offset = (n_fft - config_.win_length) / 2;
  const float angle_step =
      static_cast<float>(2.0 * 3.14159265358979323846 / static_cast<double>(config_.win_length - 1));
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
  im.rows.assign(static_cast<size_t>(kLanes) * static_cast<size_t>(config_.win_length), 0.0f);
  // Samples outside the window stay zero forever: only [window_begin, window_end) is rewritten.
  im.frames.assign(static_cast<size_t>(n_fft) * kLanes, 0.0);
  im.spec_re.assign(static_cast<size_t>(bins) * kLanes, 0.0);
  im.spec_im.assign(static_cast<size_t>(bins) * kLanes, 0.0);
  im.power_f.assign(static_cast<size_t>(bins) * kLanes, 0.0f);
  im.power.assign(static_cast<size_t>(bins) * kLanes, 0.0);
  im.mel_acc.assign(static_cast<size_t>(config_.n_mels) * kLanes, 0.0);
  im.mel.assign(static_cast<size_t>(config_.n_mels) * kLanes, 0.0f);
  im.log_mel.assign(static_cast<size_t>(config_.n_mels) * kLanes, 0.0f);
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

void FeatureExtractor::check_input(const float* samples, int64_t num_samples, const void* out, int64_t scan_begin,
                                   int64_t scan_end) const {
  if (num_samples <= 0) {
    throw std::invalid_argument("FeatureExtractor: num_samples: expected > 0, got " + str(num_samples));
  }
  if (samples == nullptr) throw std::invalid_argument("FeatureExtractor: samples: expected non-null, got null");
  if (out == nullptr) throw std::invalid_argument("FeatureExtractor: output: expected non-null, got null");
  scan_begin = std::max<int64_t>(0, scan_begin);
  scan_end = std::min(num_samples, scan_end);
  // Branch-free scan (vectorizes); locate the index only on failure.
  int bad = 0;
  for (int64_t i = scan_begin; i < scan_end; ++i) bad |= !(std::fabs(samples[i]) <= FLT_MAX);
  if (bad) {
    for (int64_t i = scan_begin; i < scan_end; ++i) {
      if (!std::isfinite(samples[i])) {
        throw std::invalid_argument("FeatureExtractor: samples[" + str(i) + "]: expected a finite value, got " +
                                    str(samples[i]));
      }
    }
  }
}

void FeatureExtractor::compute_log_mel(const float* samples, int64_t num_samples, float* log_mel_out) {
  // All frames read every sample, so compute_log_mel_frames checks the whole input once.
  compute_log_mel_frames(samples, num_samples, 0, num_frames(num_samples), log_mel_out);
}

void FeatureExtractor::interior_frames(int64_t num_samples, int64_t* first, int64_t* end) const {
  const int64_t hop = config_.hop_length;
  const int64_t offset = impl_->window_begin - config_.n_fft / 2;  // window start relative to hop * t
  const int64_t win = impl_->window_end - impl_->window_begin;
  // t * hop + offset >= 1 and t * hop + offset + win <= num_samples
  const int64_t lo = std::max<int64_t>(0, (1 - offset + hop - 1) / hop);  // a negative numerator gives <= 0
  const int64_t last = num_samples - win - offset;
  int64_t hi = last < 0 ? 0 : std::min(num_frames(num_samples), last / hop + 1);
  *first = lo;
  *end = std::max(lo, hi);
}

void FeatureExtractor::compute_log_mel_frames(const float* samples, int64_t num_samples, int64_t begin_frame,
                                              int64_t end_frame, float* log_mel_out) {
  const int64_t frames = num_samples > 0 ? num_frames(num_samples) : 0;
  compute_log_mel_frames_into(samples, num_samples, begin_frame, end_frame,
                              log_mel_out == nullptr ? nullptr : log_mel_out + std::max<int64_t>(0, begin_frame),
                              frames);
}

void FeatureExtractor::compute_log_mel_frames_into(const float* samples, int64_t num_samples, int64_t begin_frame,
                                                   int64_t end_frame, float* out, int64_t out_row_stride) {
  if (num_samples <= 0) {
    throw std::invalid_argument("FeatureExtractor: num_samples: expected > 0, got " + str(num_samples));
  }
  if (begin_frame < 0 || begin_frame > end_frame || end_frame > num_frames(num_samples)) {
    throw std::invalid_argument("FeatureExtractor::compute_log_mel_frames: frames [" + str(begin_frame) + ", " +
                                str(end_frame) + ") outside [0, " + str(num_frames(num_samples)) + "]");
  }
  if (out_row_stride < end_frame - begin_frame) {
    throw std::invalid_argument("FeatureExtractor::compute_log_mel_frames_into: out_row_stride: expected >= " +
                                str(end_frame - begin_frame) + ", got " + str(out_row_stride));
  }
  // Only the samples these frames read are checked (the previous one too, for pre-emphasis), so
  // streaming's per-step calls on a few frames do not rescan the whole buffer.
  const int64_t offset = impl_->window_begin - config_.n_fft / 2;
  const int64_t win = impl_->window_end - impl_->window_begin;
  check_input(samples, num_samples, out, begin_frame * config_.hop_length + offset - 1,
              begin_frame == end_frame ? 0 : (end_frame - 1) * config_.hop_length + offset + win);
  if (begin_frame == end_frame) return;
  KernelArgs args;
  args.samples = samples;
  args.num_samples = num_samples;
  args.total_frames = num_frames(num_samples);
  args.begin_frame = begin_frame;
  args.end_frame = end_frame;
  args.window = window_.data();
  args.n_fft = config_.n_fft;
  args.hop = config_.hop_length;
  args.n_mels = config_.n_mels;
  args.preemph = config_.preemph;
  args.guard = config_.log_zero_guard_value;
  args.mag_power = config_.mag_power;
  args.out = out;
  args.out_row_stride = out_row_stride;
  args.out_first_frame = begin_frame;
  log_mel_kernel(*impl_, args);
}

void FeatureExtractor::normalize_per_feature(float* log_mel, int n_mels, int64_t num_frames, int64_t num_valid_frames,
                                             float pad_value) {
  normalize_per_feature_from(log_mel, num_frames, log_mel, n_mels, num_frames, num_valid_frames, pad_value);
}

void FeatureExtractor::normalize_per_feature_from(const float* log_mel, int64_t log_mel_row_stride, float* out,
                                                  int n_mels, int64_t num_frames, int64_t num_valid_frames,
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
  if (log_mel == nullptr || out == nullptr) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature: log_mel: expected non-null, got null");
  }
  if (log_mel_row_stride < num_frames) {
    throw std::invalid_argument("FeatureExtractor::normalize_per_feature_from: log_mel_row_stride: expected >= " +
                                str(num_frames) + ", got " + str(log_mel_row_stride));
  }
  normalize_kernel(
      NormalizeArgs{log_mel, log_mel_row_stride, out, num_frames, n_mels, num_frames, num_valid_frames, pad_value});
}

void FeatureExtractor::compute(const float* samples, int64_t num_samples, float* features_out) {
  compute_log_mel(samples, num_samples, features_out);
  normalize(features_out, num_samples);
}

void FeatureExtractor::normalize(float* features_out, int64_t num_samples) const {
  normalize_from(features_out, num_frames(num_samples), features_out, num_samples);
}

void FeatureExtractor::normalize_from(const float* log_mel, int64_t log_mel_row_stride, float* features_out,
                                      int64_t num_samples) const {
  const int64_t total = num_frames(num_samples);
  const int64_t valid = num_valid_frames(num_samples);
  if (config_.normalize_per_feature) {
    normalize_per_feature_from(log_mel, log_mel_row_stride, features_out, config_.n_mels, total, valid,
                               config_.pad_value);
  } else {
    for (int m = 0; m < config_.n_mels; ++m) {
      float* row = features_out + static_cast<int64_t>(m) * total;
      const float* in = log_mel + static_cast<int64_t>(m) * log_mel_row_stride;
      if (in != row) std::memmove(row, in, static_cast<size_t>(valid) * sizeof(float));
      for (int64_t i = valid; i < total; ++i) row[i] = config_.pad_value;
    }
  }
}

}  // namespace parakeet_trt
