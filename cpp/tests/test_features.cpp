// Tests of the NeMo log-mel front end: the batched FFT against a naive DFT, the filterbank and
// window against librosa/torch values, the whole pipeline against a straightforward
// double-precision reference, frame arithmetic, short inputs, errors, kernel bit-identity and the
// no-allocation guarantee.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <vector>

#include "features/batched_real_fft.hpp"
#include "features/kernel_choice.hpp"
#include "features/mel_filterbank.hpp"
#include "features/torch_sum.hpp"
#include "parakeet_trt/features.hpp"
#include "test_support.hpp"

using parakeet_trt::FeatureConfig;
using parakeet_trt::FeatureExtractor;
namespace detail = parakeet_trt::detail;

namespace {

constexpr double kPi = 3.14159265358979323846;

std::vector<float> chirp_plus_noise(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.01f);
  std::vector<float> x(static_cast<size_t>(n));
  const double duration_s = static_cast<double>(n) / 16000.0;
  for (int64_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / 16000.0;
    const double phase = 2 * kPi * (100.0 * t + 0.5 * (7000.0 / duration_s) * t * t);
    x[static_cast<size_t>(i)] = static_cast<float>(0.4 * std::sin(phase)) + noise(rng);
  }
  return x;
}

// Naive DFT of one real frame in long double: X[k], k in [0, n/2].
std::vector<std::complex<long double>> naive_dft(const std::vector<double>& frame) {
  const size_t n = frame.size();
  std::vector<std::complex<long double>> out(n / 2 + 1);
  for (size_t k = 0; k <= n / 2; ++k) {
    long double re = 0, im = 0;
    for (size_t j = 0; j < n; ++j) {
      const long double angle = -2.0L * 3.14159265358979323846264338327950288L * static_cast<long double>((k * j) % n) /
                                static_cast<long double>(n);
      re += frame[j] * std::cos(angle);
      im += frame[j] * std::sin(angle);
    }
    out[k] = {re, im};
  }
  return out;
}

template <typename Vd>
void check_fft_width(int n_fft, const char* width_name) {
  constexpr int L = detail::kLanes;
  std::mt19937 rng(1234u + static_cast<uint32_t>(n_fft));
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  detail::BatchedRealFft fft(n_fft);
  const int bins = n_fft / 2 + 1;
  std::vector<double> in(static_cast<size_t>(n_fft) * L), re(static_cast<size_t>(bins) * L),
      im(static_cast<size_t>(bins) * L);
  for (double& v : in) v = dist(rng);
  fft.forward<Vd>(in.data(), re.data(), im.data());
  double worst = 0.0;
  for (int lane = 0; lane < L; ++lane) {
    std::vector<double> frame(static_cast<size_t>(n_fft));
    double scale = 0.0;
    for (int j = 0; j < n_fft; ++j) {
      frame[static_cast<size_t>(j)] = in[static_cast<size_t>(j) * L + static_cast<size_t>(lane)];
      scale += std::fabs(frame[static_cast<size_t>(j)]);
    }
    const auto ref = naive_dft(frame);
    for (int k = 0; k < bins; ++k) {
      const double dr = std::fabs(re[static_cast<size_t>(k) * L + static_cast<size_t>(lane)] -
                                  static_cast<double>(ref[static_cast<size_t>(k)].real()));
      const double di = std::fabs(im[static_cast<size_t>(k) * L + static_cast<size_t>(lane)] -
                                  static_cast<double>(ref[static_cast<size_t>(k)].imag()));
      worst = std::max(worst, std::max(dr, di) / scale);
    }
  }
  std::printf("    n_fft=%d width=%s: max |FFT - DFT| / sum|x| = %.3g\n", n_fft, width_name, worst);
  PTRT_CHECK(worst < 1e-14);
}

void test_fft_matches_naive_dft() {
  for (int n_fft : {8, 16, 64, 512, 1024}) {
    check_fft_width<detail::V2d>(n_fft, "2");
    check_fft_width<detail::V4d>(n_fft, "4");
  }
  // The two lane widths are bit-identical.
  constexpr int L = detail::kLanes;
  detail::BatchedRealFft fft(512);
  std::vector<double> in(512 * L), re2(257 * L), im2(257 * L), re4(257 * L), im4(257 * L);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  for (double& v : in) v = dist(rng);
  fft.forward<detail::V2d>(in.data(), re2.data(), im2.data());
  fft.forward<detail::V4d>(in.data(), re4.data(), im4.data());
  PTRT_CHECK(re2 == re4 && im2 == im4);
  PTRT_CHECK_THROWS(detail::BatchedRealFft(500), std::invalid_argument, "n_fft");
}

void test_mel_filterbank_matches_librosa() {
  FeatureExtractor fx(FeatureConfig{});
  const std::vector<float>& fb = fx.mel_filterbank();
  PTRT_CHECK_EQ(fb.size(), static_cast<size_t>(128 * 257));
  // Reference values from librosa 0.11 in the project venv:
  //   .venv/bin/python -c "import librosa; fb = librosa.filters.mel(sr=16000, n_fft=512, n_mels=128,
  //       fmin=0.0, fmax=8000.0, norm='slaney'); print(repr(fb[m, k].item()))"
  struct Ref {
    int mel, bin;
    float value;
  };
  const Ref refs[] = {
      {0, 0, -0.0f},
      {0, 1, 0.02837754227221012f},
      {0, 2, 0.0f},
      {1, 2, 0.013988534919917583f},
      {10, 12, 0.0f},
      {100, 131, 0.00800091028213501f},
      {127, 250, 0.005223188549280167f},
      {127, 255, 0.0008705313666723669f},
      {127, 256, 0.0f},
  };
  for (const Ref& r : refs) {
    const float v = fb[static_cast<size_t>(r.mel) * 257 + static_cast<size_t>(r.bin)];
    // Bit-exact up to a 1-ulp difference between numpy's and libm's log/exp.
    PTRT_CHECK_NEAR(v, r.value, std::fabs(r.value) * 2.4e-7f);
  }
  // Nonzero ranges [first, end) of a few filters (librosa: (1,2), (1,3), (54,57), (244,256)).
  auto range = [&](int m) {
    int first = 257, end = 0;
    for (int k = 0; k < 257; ++k) {
      if (fb[static_cast<size_t>(m) * 257 + static_cast<size_t>(k)] != 0.0f) {
        first = std::min(first, k);
        end = k + 1;
      }
    }
    return std::make_pair(first, end);
  };
  PTRT_CHECK(range(0) == std::make_pair(1, 2));
  PTRT_CHECK(range(1) == std::make_pair(1, 3));
  PTRT_CHECK(range(64) == std::make_pair(54, 57));
  PTRT_CHECK(range(127) == std::make_pair(244, 256));
  // Properties: non-negative, every filter non-empty.
  bool nonnegative = true, nonempty = true;
  for (int m = 0; m < 128; ++m) {
    float row_max = 0.0f;
    for (int k = 0; k < 257; ++k) {
      const float v = fb[static_cast<size_t>(m) * 257 + static_cast<size_t>(k)];
      nonnegative = nonnegative && v >= 0.0f;
      row_max = std::max(row_max, v);
    }
    nonempty = nonempty && row_max > 0.0f;
  }
  PTRT_CHECK(nonnegative);
  PTRT_CHECK(nonempty);
  // Slaney mel scale (librosa.hz_to_mel / mel_to_hz, htk=False).
  PTRT_CHECK_NEAR(detail::hz_to_mel_slaney(1000.0), 14.999999999999998, 1e-12);
  PTRT_CHECK_NEAR(detail::hz_to_mel_slaney(440.0), 6.6, 1e-12);
  PTRT_CHECK_NEAR(detail::hz_to_mel_slaney(8000.0), 45.245640471924965, 1e-12);
  PTRT_CHECK_NEAR(detail::mel_to_hz_slaney(20.0), 1410.2385678078886, 1e-9);
  // Another config: 80 mels, highfreq <= 0 -> sr/2 (librosa fmax=None):
  //   librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0.0, fmax=None, norm='slaney')
  FeatureConfig c80;
  c80.n_mels = 80;
  c80.highfreq_hz = 0.0f;
  FeatureExtractor fx80(c80);
  PTRT_CHECK_NEAR(fx80.mel_filterbank()[3 * 257 + 4], 0.009577996097505093, 0.009577996097505093 * 2.4e-7);
  PTRT_CHECK_NEAR(fx80.mel_filterbank()[79 * 257 + 250], 0.0021035580430179834, 0.0021035580430179834 * 2.4e-7);
  PTRT_CHECK_EQ(fx80.mel_filterbank()[40 * 257 + 60], 0.0f);
}

void test_window_matches_torch() {
  FeatureExtractor fx(FeatureConfig{});
  const std::vector<float>& w = fx.window();
  PTRT_CHECK_EQ(w.size(), static_cast<size_t>(512));
  // torch.hann_window(400, periodic=False)[n], zero-padded by 56 on each side:
  //   .venv/bin/python -c "import torch; print(repr(torch.hann_window(400, periodic=False)[n].item()))"
  const std::pair<int, float> refs[] = {{0, 0.0f},
                                        {1, 6.198883056640625e-05f},
                                        {2, 0.000247955322265625f},
                                        {50, 0.14714324474334717f},
                                        {100, 0.5019683837890625f},
                                        {199, 0.9999845027923584f},
                                        {200, 0.9999845027923584f},
                                        {300, 0.49409496784210205f},
                                        {399, 0.0f}};
  for (const auto& r : refs) PTRT_CHECK_NEAR(w[static_cast<size_t>(56 + r.first)], r.second, 6e-8);
  bool padding_zero = true;
  for (int n = 0; n < 56; ++n)
    padding_zero = padding_zero && w[static_cast<size_t>(n)] == 0.0f && w[static_cast<size_t>(511 - n)] == 0.0f;
  PTRT_CHECK(padding_zero);
}

struct Reference {
  std::vector<double> log_mel;   // [n_mels][T]
  std::vector<double> features;  // [n_mels][T]
  int64_t num_frames = 0, num_valid = 0;
};

// The NeMo pipeline written out plainly: float32 pre-emphasis and windowing (NeMo's rounding
// points), then a naive double DFT, double power, double log and normalization. It takes the
// extractor's window and filterbank, which are checked against torch/librosa above: a loud
// narrow-band signal leaves bins 100 dB below its peak, and there a 1-ulp change of the window
// alone moves log-mel by ~4e-4 (measured), which would hide everything this test is after.
Reference reference_features(const std::vector<float>& x, const FeatureConfig& cfg, const std::vector<float>& window,
                             const std::vector<float>& fb) {
  const int64_t n = static_cast<int64_t>(x.size());
  const int n_fft = cfg.n_fft, bins = n_fft / 2 + 1;
  Reference r;
  r.num_frames = 1 + n / cfg.hop_length;
  r.num_valid = n / cfg.hop_length;
  std::vector<float> y(x.size());
  y[0] = x[0];
  for (int64_t i = 1; i < n; ++i)
    y[static_cast<size_t>(i)] = x[static_cast<size_t>(i)] - cfg.preemph * x[static_cast<size_t>(i - 1)];
  std::vector<double> cos_table(static_cast<size_t>(n_fft)), sin_table(static_cast<size_t>(n_fft));
  for (int i = 0; i < n_fft; ++i) {
    cos_table[static_cast<size_t>(i)] = std::cos(2 * kPi * i / n_fft);
    sin_table[static_cast<size_t>(i)] = -std::sin(2 * kPi * i / n_fft);
  }
  r.log_mel.assign(static_cast<size_t>(cfg.n_mels * r.num_frames), 0.0);
  std::vector<double> frame(static_cast<size_t>(n_fft)), power(static_cast<size_t>(bins));
  for (int64_t t = 0; t < r.num_frames; ++t) {
    for (int i = 0; i < n_fft; ++i) {
      const int64_t j = t * cfg.hop_length + i - n_fft / 2;
      const float s = (j >= 0 && j < n) ? y[static_cast<size_t>(j)] : 0.0f;
      frame[static_cast<size_t>(i)] = static_cast<double>(s * window[static_cast<size_t>(i)]);
    }
    for (int k = 0; k < bins; ++k) {
      double re = 0, im = 0;
      for (int i = 0; i < n_fft; ++i) {
        const size_t idx = static_cast<size_t>((static_cast<int64_t>(k) * i) % n_fft);
        re += frame[static_cast<size_t>(i)] * cos_table[idx];
        im += frame[static_cast<size_t>(i)] * sin_table[idx];
      }
      power[static_cast<size_t>(k)] = re * re + im * im;
    }
    for (int m = 0; m < cfg.n_mels; ++m) {
      double mel = 0;
      for (int k = 0; k < bins; ++k)
        mel += static_cast<double>(fb[static_cast<size_t>(m * bins + k)]) * power[static_cast<size_t>(k)];
      r.log_mel[static_cast<size_t>(m * r.num_frames + t)] =
          std::log(mel + static_cast<double>(cfg.log_zero_guard_value));
    }
  }
  r.features = r.log_mel;
  for (int m = 0; m < cfg.n_mels; ++m) {
    double* row = r.features.data() + m * r.num_frames;
    double mean = 0;
    for (int64_t t = 0; t < r.num_valid; ++t) mean += row[t];
    mean /= static_cast<double>(r.num_valid);
    double var = 0;
    for (int64_t t = 0; t < r.num_valid; ++t) var += (row[t] - mean) * (row[t] - mean);
    const double stddev = std::sqrt(var / static_cast<double>(r.num_valid - 1)) + 1e-5;
    for (int64_t t = 0; t < r.num_frames; ++t) row[t] = t < r.num_valid ? (row[t] - mean) / stddev : cfg.pad_value;
  }
  return r;
}

void test_pipeline_matches_double_reference() {
  FeatureConfig cfg;
  for (int64_t n : {int64_t{20800}, int64_t{1237}, int64_t{16000 + 77}}) {
    const std::vector<float> x = chirp_plus_noise(n, static_cast<uint32_t>(n));
    FeatureExtractor fx(cfg);
    const Reference ref = reference_features(x, cfg, fx.window(), fx.mel_filterbank());
    PTRT_CHECK_EQ(fx.num_frames(n), ref.num_frames);
    std::vector<float> log_mel(static_cast<size_t>(cfg.n_mels * ref.num_frames));
    std::vector<float> features(log_mel.size());
    fx.compute_log_mel(x.data(), n, log_mel.data());
    fx.compute(x.data(), n, features.data());
    double worst_log = 0, worst_norm = 0;
    for (size_t i = 0; i < log_mel.size(); ++i) {
      worst_log = std::max(worst_log, std::fabs(log_mel[i] - ref.log_mel[i]));
      worst_norm = std::max(worst_norm, std::fabs(features[i] - ref.features[i]));
    }
    std::printf("    N=%lld: max |log-mel - ref| = %.3g, max |features - ref| = %.3g\n", static_cast<long long>(n),
                worst_log, worst_norm);
    PTRT_CHECK(worst_log < 2e-5);
    PTRT_CHECK(worst_norm < 2e-5);
    // compute() == normalize_per_feature(compute_log_mel()).
    FeatureExtractor::normalize_per_feature(log_mel.data(), cfg.n_mels, ref.num_frames, ref.num_valid, cfg.pad_value);
    PTRT_CHECK(log_mel == features);
  }
}

void test_frames_do_not_depend_on_batching() {
  // Frame t depends only on samples around hop*t, not on which lane or batch computed it: the
  // log-mel of a prefix equals the longer signal's log-mel on every frame whose window ends
  // before the prefix does.
  FeatureConfig cfg;
  FeatureExtractor fx(cfg);
  const std::vector<float> x = chirp_plus_noise(16000, 99);
  const int64_t short_n = 16000 - 160 * 13 - 37;
  std::vector<float> full(static_cast<size_t>(cfg.n_mels * fx.num_frames(16000)));
  std::vector<float> part(static_cast<size_t>(cfg.n_mels * fx.num_frames(short_n)));
  fx.compute_log_mel(x.data(), 16000, full.data());
  fx.compute_log_mel(x.data(), short_n, part.data());
  const int64_t tf = fx.num_frames(16000), tp = fx.num_frames(short_n);
  const int64_t safe = (short_n - cfg.n_fft / 2) / cfg.hop_length;  // windows fully inside the prefix
  bool same = true;
  for (int m = 0; m < cfg.n_mels; ++m) {
    for (int64_t t = 0; t < safe; ++t)
      same = same && full[static_cast<size_t>(m * tf + t)] == part[static_cast<size_t>(m * tp + t)];
  }
  PTRT_CHECK(same);
}

void test_interior_frames_are_reusable_across_buffers() {
  // Buffered streaming reuses a frame's log-mel when the buffer moves: the interior frames of a
  // buffer shifted by 8 hops equal the previous buffer's frames 8 later, bit for bit, and a frame
  // range computed alone equals the same columns of a full computation.
  FeatureConfig cfg;
  FeatureExtractor fx(cfg);
  const std::vector<float> x = chirp_plus_noise(24000, 5);
  const int64_t n = 16000, shift = 8 * cfg.hop_length;
  const int64_t tf = fx.num_frames(n);
  std::vector<float> a(static_cast<size_t>(cfg.n_mels * tf)), b(a.size()), c(a.size(), -1.0f);
  fx.compute_log_mel(x.data(), n, a.data());
  fx.compute_log_mel(x.data() + shift, n, b.data());
  int64_t first = 0, end = 0;
  fx.interior_frames(n, &first, &end);
  PTRT_CHECK_EQ(first, 2);  // window [t*160 - 200, t*160 + 200) needs a sample before it from t = 2
  PTRT_CHECK_EQ(end, (n - 200) / 160 + 1);
  bool same = true;
  for (int m = 0; m < cfg.n_mels; ++m)
    for (int64_t t = first; t + 8 < end; ++t)
      same = same && b[static_cast<size_t>(m * tf + t)] == a[static_cast<size_t>(m * tf + t + 8)];
  PTRT_CHECK(same);
  fx.compute_log_mel_frames(x.data(), n, 3, 41, c.data());
  bool range_same = true, untouched = true;
  for (int m = 0; m < cfg.n_mels; ++m)
    for (int64_t t = 0; t < tf; ++t) {
      const float v = c[static_cast<size_t>(m * tf + t)];
      if (t >= 3 && t < 41) range_same = range_same && v == a[static_cast<size_t>(m * tf + t)];
      else untouched = untouched && v == -1.0f;
    }
  PTRT_CHECK(range_same);
  PTRT_CHECK(untouched);
  PTRT_CHECK_THROWS(fx.compute_log_mel_frames(x.data(), n, 5, tf + 1, c.data()), std::invalid_argument, "outside");
  // The finiteness check covers exactly the samples the requested frames read.
  std::vector<float> bad(x.begin(), x.begin() + n);
  bad[0] = NAN;
  fx.compute_log_mel_frames(bad.data(), n, 3, 41, c.data());  // frame 3 starts reading at sample 279
  PTRT_CHECK_THROWS(fx.compute_log_mel_frames(bad.data(), n, 0, 1, c.data()), std::invalid_argument, "samples[0]");
  PTRT_CHECK_THROWS(fx.compute_log_mel(bad.data(), n, c.data()), std::invalid_argument, "samples[0]");
}

void test_kernels_bit_identical() {
  if (!detail::avx2_feature_kernel_available()) {
    std::printf("    skipped: this CPU or build has no AVX2 kernel (only the baseline kernel runs)\n");
    PTRT_CHECK(true);
    return;
  }
  FeatureConfig cfg;
  FeatureExtractor fx(cfg);
  const int64_t n = 16000 * 2 + 123;
  const std::vector<float> x = chirp_plus_noise(n, 5);
  std::vector<float> a(static_cast<size_t>(cfg.n_mels * fx.num_frames(n))), b(a.size());
  detail::set_feature_kernel(detail::FeatureKernel::kBaseline);
  fx.compute(x.data(), n, a.data());
  detail::set_feature_kernel(detail::FeatureKernel::kAvx2);
  fx.compute(x.data(), n, b.data());
  detail::set_feature_kernel(detail::FeatureKernel::kAuto);
  PTRT_CHECK(a == b);
}

void test_torch_sum_order() {
  // torch.sum over a contiguous row on CPU (torch 2.13), x[i] = float32(((i * 37) % 101) / 7 - 5.123):
  //   .venv/bin/python -c "import numpy as np, torch; x = np.array([((i*37)%101)/7.0 - 5.123
  //       for i in range(n)], np.float32); print(repr(torch.from_numpy(x).reshape(1,1,n).sum(2).item()))"
  // Where the exactly rounded sum differs (n = 7, 31, 64, 1101), the expected value is torch's.
  const std::pair<int, float> refs[] = {
      {1, -5.123000144958496f},   {5, -1.6150002479553223f}, {7, 2.9961421489715576f},  {8, 6.015999794006348f},
      {9, 14.321571350097656f},   {31, 62.615577697753906f}, {64, 127.12800598144531f}, {65, 128.43357849121094f},
      {201, 403.99127197265625f}, {1101, 2225.29150390625f}, {6001, 12115.734375f},
  };
  bool all_exact = true;
  for (const auto& r : refs) {
    std::vector<float> x(static_cast<size_t>(r.first));
    for (int i = 0; i < r.first; ++i) x[static_cast<size_t>(i)] = static_cast<float>(((i * 37) % 101) / 7.0 - 5.123);
    const float sum = detail::torch_cpu_sum([&](int64_t t) { return x[static_cast<size_t>(t)]; }, r.first);
    if (sum != r.second) {
      std::printf("    n=%d: %.9g, torch %.9g\n", r.first, sum, r.second);
      all_exact = false;
    }
  }
  PTRT_CHECK(all_exact);
}

void test_block_sum_equals_scalar_order() {
  // torch_cpu_sum_blocks (8-lane vectors) adds in torch_cpu_sum's order: equal bit for bit on
  // every length from 8 to 2100 (all cascade shapes up to 11 s of frames) and at 20000.
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(-4.0f, 3.0f);
  std::vector<float> x(20000);
  for (float& v : x) v = dist(rng);
  int mismatches = 0;
  for (int64_t n = 8; n <= 20000; n = n < 2100 ? n + 1 : 20000 + (n == 20000)) {
    const float scalar = detail::torch_cpu_sum([&](int64_t t) { return x[static_cast<size_t>(t)]; }, n);
    const float blocks = detail::torch_cpu_sum_blocks(
        [&](int64_t b, detail::V8f& v) { std::memcpy(&v, x.data() + b * 8, sizeof(v)); },
        [&](int64_t t) { return x[static_cast<size_t>(t)]; }, n);
    mismatches += scalar != blocks;
  }
  PTRT_CHECK_EQ(mismatches, 0);
}

void test_normalization_matches_scalar_reference() {
  // The vectorized per-feature normalization (both kernels, in place and from a strided source)
  // equals the plain scalar formula with torch_cpu_sum, bit for bit, for valid counts around the
  // 8-lane blocks and the streaming buffer sizes.
  std::mt19937 rng(5);
  std::normal_distribution<float> dist(-6.0f, 2.5f);
  const int n_mels = 5;
  const std::pair<int64_t, int64_t> shapes[] = {{1, 0}, {2, 1}, {7, 6}, {8, 7}, {9, 8}, {16, 15}, {17, 16},
                                                 {33, 32}, {201, 200}, {1113, 1112}, {1113, 1100}, {3001, 3000}};
  bool all_same = true;
  for (const auto& shape : shapes) {
    const int64_t total = shape.first, nv = shape.second, stride = total + 13;
    std::vector<float> src(static_cast<size_t>(n_mels * stride));
    for (float& v : src) v = dist(rng);
    src[3] = src[4] = src[5] = 0.25f;  // a few repeated values
    std::vector<float> ref(static_cast<size_t>(n_mels * total));
    for (int m = 0; m < n_mels; ++m) {
      const float* row = src.data() + m * stride;
      float* out = ref.data() + m * total;
      if (nv > 0) {
        const float sum = detail::torch_cpu_sum([&](int64_t t) { return t < nv ? row[t] : 0.0f; }, total);
        const float mean = sum / static_cast<float>(nv);
        const float sum_sq = detail::torch_cpu_sum(
            [&](int64_t t) {
              const float d = t < nv ? row[t] - mean : 0.0f;
              return d * d;
            },
            total);
        float stddev = std::sqrt(sum_sq / (static_cast<float>(nv) - 1.0f));
        if (std::isnan(stddev)) stddev = 0.0f;
        stddev += 1e-5f;
        for (int64_t i = 0; i < nv; ++i) out[i] = (row[i] - mean) / stddev;
      }
      for (int64_t i = nv; i < total; ++i) out[i] = 0.5f;
    }
    for (const auto kernel : {detail::FeatureKernel::kBaseline, detail::FeatureKernel::kAuto}) {
      detail::set_feature_kernel(kernel);
      std::vector<float> strided(ref.size(), -1.0f), in_place(ref.size());
      FeatureExtractor::normalize_per_feature_from(src.data(), stride, strided.data(), n_mels, total, nv, 0.5f);
      for (int m = 0; m < n_mels; ++m)
        std::copy(src.begin() + m * stride, src.begin() + m * stride + total, in_place.begin() + m * total);
      FeatureExtractor::normalize_per_feature(in_place.data(), n_mels, total, nv, 0.5f);
      if (strided != ref || in_place != ref) {
        std::printf("    total=%lld valid=%lld kernel=%d differs\n", static_cast<long long>(total),
                    static_cast<long long>(nv), static_cast<int>(kernel));
        all_same = false;
      }
    }
    detail::set_feature_kernel(detail::FeatureKernel::kAuto);
  }
  PTRT_CHECK(all_same);
  std::vector<float> small(8);
  PTRT_CHECK_THROWS(FeatureExtractor::normalize_per_feature_from(small.data(), 3, small.data(), 2, 4, 3, 0.0f),
                    std::invalid_argument, "log_mel_row_stride");
}

void test_silence_matches_nemo_bit_for_bit() {
  // Digital silence: every log-mel value is log(2^-24); NeMo's float32 mean is off by an ulp or two,
  // so its normalized output is a constant residue, not 0:
  //   AudioToMelSpectrogramPreprocessor(<parakeet settings>)(zeros(1, n), [n]) -> features[0, 0, 0]
  FeatureConfig cfg;
  FeatureExtractor fx(cfg);
  const std::pair<int64_t, float> refs[] = {{1600, -0.1588064730167389f}, {32000, -0.27594202756881714f}};
  for (const auto& r : refs) {
    const std::vector<float> zeros(static_cast<size_t>(r.first), 0.0f);
    const int64_t t = fx.num_frames(r.first), valid = fx.num_valid_frames(r.first);
    std::vector<float> out(static_cast<size_t>(cfg.n_mels * t));
    fx.compute(zeros.data(), r.first, out.data());
    bool same = true;
    for (int m = 0; m < cfg.n_mels; ++m) {
      for (int64_t i = 0; i < t; ++i) {
        same = same && out[static_cast<size_t>(m * t + i)] == (i < valid ? r.second : cfg.pad_value);
      }
    }
    std::printf("    %lld zeros -> %.9g (NeMo %.9g)\n", static_cast<long long>(r.first), out[0], r.second);
    PTRT_CHECK(same);
  }
}

void test_frame_arithmetic() {
  FeatureExtractor fx(FeatureConfig{});
  PTRT_CHECK_EQ(fx.num_frames(0), 1);
  PTRT_CHECK_EQ(fx.num_valid_frames(0), 0);
  PTRT_CHECK_EQ(fx.num_frames(159), 1);
  PTRT_CHECK_EQ(fx.num_valid_frames(159), 0);
  PTRT_CHECK_EQ(fx.num_frames(160), 2);
  PTRT_CHECK_EQ(fx.num_valid_frames(160), 1);
  PTRT_CHECK_EQ(fx.num_frames(176000), 1101);  // the JFK clip: [1, 128, 1101], length 1100
  PTRT_CHECK_EQ(fx.num_valid_frames(176000), 1100);
  PTRT_CHECK_EQ(fx.num_frames(960001), 6001);
  PTRT_CHECK_EQ(fx.num_valid_frames(960001), 6000);
  PTRT_CHECK_THROWS(fx.num_frames(-1), std::invalid_argument, "num_samples: expected >= 0, got -1");
  PTRT_CHECK_THROWS(fx.num_valid_frames(-5), std::invalid_argument, "got -5");
}

void test_short_inputs_follow_nemo() {
  FeatureConfig cfg;
  cfg.pad_value = -3.0f;  // distinguishable from a normalized zero
  FeatureExtractor fx(cfg);
  // N < hop: no valid frame; NeMo masks everything to pad_value.
  std::vector<float> x = chirp_plus_noise(100, 3);
  std::vector<float> out(static_cast<size_t>(cfg.n_mels * fx.num_frames(100)), 123.0f);
  fx.compute(x.data(), 100, out.data());
  PTRT_CHECK(std::all_of(out.begin(), out.end(), [](float v) { return v == -3.0f; }));
  // hop <= N < 2 hop: one valid frame, std NaN -> 0 -> 1e-5, x - mean == 0: zeros, then padding.
  x = chirp_plus_noise(250, 4);
  out.assign(static_cast<size_t>(cfg.n_mels * fx.num_frames(250)), 123.0f);
  fx.compute(x.data(), 250, out.data());
  bool ok = true;
  for (int m = 0; m < cfg.n_mels; ++m)
    ok = ok && out[static_cast<size_t>(2 * m)] == 0.0f && out[static_cast<size_t>(2 * m + 1)] == -3.0f;
  PTRT_CHECK(ok);
  // A single sample works (one frame, no valid frame).
  const float one = 0.5f;
  std::vector<float> single(static_cast<size_t>(cfg.n_mels), 7.0f);
  fx.compute(&one, 1, single.data());
  PTRT_CHECK(std::all_of(single.begin(), single.end(), [](float v) { return v == -3.0f; }));
  // normalize_per_feature edge arguments.
  std::vector<float> small = {1.0f, 2.0f, 3.0f, 4.0f};
  FeatureExtractor::normalize_per_feature(small.data(), 1, 4, 3, 9.0f);
  PTRT_CHECK_NEAR(small[0], -1.0 / (1.0 + 1e-5), 1e-6);  // mean 2, std 1 (+1e-5)
  PTRT_CHECK_NEAR(small[2], 1.0 / (1.0 + 1e-5), 1e-6);
  PTRT_CHECK_EQ(small[3], 9.0f);
  PTRT_CHECK_THROWS(FeatureExtractor::normalize_per_feature(small.data(), 1, 4, 5, 0.0f), std::invalid_argument,
                    "num_valid_frames: expected in [0, 4], got 5");
  PTRT_CHECK_THROWS(FeatureExtractor::normalize_per_feature(small.data(), 0, 4, 1, 0.0f), std::invalid_argument,
                    "n_mels: expected > 0, got 0");
}

void test_bad_input_throws() {
  FeatureExtractor fx(FeatureConfig{});
  std::vector<float> x = chirp_plus_noise(4000, 8);
  std::vector<float> out(static_cast<size_t>(128 * fx.num_frames(4000)));
  PTRT_CHECK_THROWS(fx.compute(x.data(), 0, out.data()), std::invalid_argument, "num_samples: expected > 0, got 0");
  PTRT_CHECK_THROWS(fx.compute(x.data(), -3, out.data()), std::invalid_argument, "got -3");
  PTRT_CHECK_THROWS(fx.compute(nullptr, 4000, out.data()), std::invalid_argument, "samples: expected non-null");
  PTRT_CHECK_THROWS(fx.compute(x.data(), 4000, nullptr), std::invalid_argument, "output: expected non-null");
  x[1234] = std::numeric_limits<float>::quiet_NaN();
  PTRT_CHECK_THROWS(fx.compute(x.data(), 4000, out.data()), std::invalid_argument,
                    "samples[1234]: expected a finite value, got nan");
  x[1234] = 0.0f;
  x[17] = -std::numeric_limits<float>::infinity();
  PTRT_CHECK_THROWS(fx.compute_log_mel(x.data(), 4000, out.data()), std::invalid_argument, "samples[17]");
  x[3999] = std::numeric_limits<float>::infinity();
  PTRT_CHECK_THROWS(fx.compute(x.data(), 4000, out.data()), std::invalid_argument, "samples[17]");  // the first
  PTRT_CHECK_THROWS(fx.reserve(-1), std::invalid_argument, "max_num_samples");
}

void test_config_validation() {
  auto with = [](auto mutate) {
    FeatureConfig c;
    mutate(c);
    return c;
  };
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.n_fft = 500; })), std::invalid_argument,
                    "FeatureConfig.n_fft: expected a power of two in [8, 65536], got 500");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.win_length = 600; })), std::invalid_argument,
                    "FeatureConfig.win_length: expected in [2, n_fft=512], got 600");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.hop_length = 0; })), std::invalid_argument,
                    "FeatureConfig.hop_length: expected in [1, 65536], got 0");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.n_fft = 1 << 24; })), std::invalid_argument,
                    "FeatureConfig.n_fft: expected a power of two in [8, 65536], got 16777216");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.sample_rate_hz = 1; })), std::invalid_argument,
                    "FeatureConfig.sample_rate_hz: expected in [1000, 384000], got 1");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.n_mels = 100000; })), std::invalid_argument,
                    "FeatureConfig.n_mels: expected in [1, 1024]");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.n_mels = 0; })), std::invalid_argument,
                    "FeatureConfig.n_mels");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.sample_rate_hz = -1; })), std::invalid_argument,
                    "FeatureConfig.sample_rate_hz");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.log_zero_guard_value = 0.0f; })),
                    std::invalid_argument, "FeatureConfig.log_zero_guard_value");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.lowfreq_hz = 9000.0f; })), std::invalid_argument,
                    "FeatureConfig.highfreq_hz: expected > lowfreq_hz=9000");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.mag_power = 0.0f; })), std::invalid_argument,
                    "FeatureConfig.mag_power");
  PTRT_CHECK_THROWS(FeatureExtractor(with([](FeatureConfig& c) { c.preemph = std::nanf(""); })), std::invalid_argument,
                    "FeatureConfig.preemph");
}

void test_other_configs_run() {
  // mag_power 1, no pre-emphasis, no normalization, odd sizes: finite output, padding applied.
  FeatureConfig cfg;
  cfg.mag_power = 1.0f;
  cfg.preemph = 0.0f;
  cfg.normalize_per_feature = false;
  cfg.pad_value = -1.0f;
  cfg.n_fft = 256;
  cfg.win_length = 255;
  cfg.hop_length = 100;
  cfg.n_mels = 40;
  FeatureExtractor fx(cfg);
  const std::vector<float> x = chirp_plus_noise(3333, 11);
  std::vector<float> out(static_cast<size_t>(cfg.n_mels * fx.num_frames(3333)));
  fx.compute(x.data(), 3333, out.data());
  const int64_t t = fx.num_frames(3333);
  bool finite = true, padded = true;
  for (int m = 0; m < cfg.n_mels; ++m) {
    for (int64_t i = 0; i < t; ++i) {
      const float v = out[static_cast<size_t>(m * t + i)];
      if (i < fx.num_valid_frames(3333))
        finite = finite && std::isfinite(v);
      else
        padded = padded && v == -1.0f;
    }
  }
  PTRT_CHECK(finite);
  PTRT_CHECK(padded);
  std::vector<float> log_mel(out.size());
  fx.compute_log_mel(x.data(), 3333, log_mel.data());
  PTRT_CHECK(std::all_of(log_mel.begin(), log_mel.end(), [](float v) { return std::isfinite(v); }));
}

void test_compute_allocates_nothing() {
  FeatureExtractor fx(FeatureConfig{});
  const std::vector<float> x = chirp_plus_noise(48000, 12);
  std::vector<float> out(static_cast<size_t>(128 * fx.num_frames(48000)));
  fx.reserve(48000);
  fx.compute(x.data(), 48000, out.data());  // warm-up (first-call statics)
  int64_t allocations = 0;
  {
    ptrt_test::AllocationCounter counter;
    fx.compute(x.data(), 48000, out.data());
    fx.compute(x.data(), 30000, out.data());
    allocations = counter.count();
  }
  PTRT_CHECK_EQ(allocations, 0);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"fft_matches_naive_dft", &test_fft_matches_naive_dft},
      {"mel_filterbank_matches_librosa", &test_mel_filterbank_matches_librosa},
      {"window_matches_torch", &test_window_matches_torch},
      {"pipeline_matches_double_reference", &test_pipeline_matches_double_reference},
      {"frames_do_not_depend_on_batching", &test_frames_do_not_depend_on_batching},
      {"interior_frames_are_reusable_across_buffers", &test_interior_frames_are_reusable_across_buffers},
      {"kernels_bit_identical", &test_kernels_bit_identical},
      {"torch_sum_order", &test_torch_sum_order},
      {"block_sum_equals_scalar_order", &test_block_sum_equals_scalar_order},
      {"normalization_matches_scalar_reference", &test_normalization_matches_scalar_reference},
      {"silence_matches_nemo_bit_for_bit", &test_silence_matches_nemo_bit_for_bit},
      {"frame_arithmetic", &test_frame_arithmetic},
      {"short_inputs_follow_nemo", &test_short_inputs_follow_nemo},
      {"bad_input_throws", &test_bad_input_throws},
      {"config_validation", &test_config_validation},
      {"other_configs_run", &test_other_configs_run},
      {"compute_allocates_nothing", &test_compute_allocates_nothing},
  });
}
