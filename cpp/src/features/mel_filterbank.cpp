#include "features/mel_filterbank.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace parakeet_trt {
namespace detail {
namespace {

// librosa spells these as expressions evaluated in double; keep the same expressions so the
// constants round identically.
constexpr double kFMin = 0.0;
constexpr double kFSp = 200.0 / 3;
constexpr double kMinLogHz = 1000.0;

double min_log_mel() { return (kMinLogHz - kFMin) / kFSp; }
double logstep() { return std::log(6.4) / 27.0; }

}  // namespace

double hz_to_mel_slaney(double hz) {
  if (hz >= kMinLogHz) return min_log_mel() + std::log(hz / kMinLogHz) / logstep();
  return (hz - kFMin) / kFSp;
}

double mel_to_hz_slaney(double mel) {
  if (mel >= min_log_mel()) return kMinLogHz * std::exp(logstep() * (mel - min_log_mel()));
  return kFMin + kFSp * mel;
}

std::vector<float> slaney_mel_filterbank(double sample_rate_hz, int n_fft, int n_mels, double fmin_hz, double fmax_hz) {
  const int num_bins = n_fft / 2 + 1;
  // np.fft.rfftfreq(n=n_fft, d=1.0/sr): k * (1.0 / (n * d)).
  const double bin_step_hz = 1.0 / (static_cast<double>(n_fft) * (1.0 / sample_rate_hz));
  std::vector<double> fft_freqs(static_cast<size_t>(num_bins));
  for (int k = 0; k < num_bins; ++k) fft_freqs[static_cast<size_t>(k)] = static_cast<double>(k) * bin_step_hz;

  // mel_frequencies(n_mels + 2, fmin, fmax): np.linspace over the mel scale, then mel_to_hz.
  const int num_edges = n_mels + 2;
  const double min_mel = hz_to_mel_slaney(fmin_hz);
  const double max_mel = hz_to_mel_slaney(fmax_hz);
  const double delta = max_mel - min_mel;
  const double step = delta / static_cast<double>(num_edges - 1);
  std::vector<double> mel_f(static_cast<size_t>(num_edges));
  for (int i = 0; i < num_edges; ++i) {
    double mel;
    if (step == 0.0) {  // numpy's denormal-step branch: (i / div) * delta
      mel = static_cast<double>(i) / static_cast<double>(num_edges - 1) * delta;
    } else {
      mel = static_cast<double>(i) * step;
    }
    mel += min_mel;
    if (i == num_edges - 1) mel = max_mel;  // linspace endpoint is set exactly
    mel_f[static_cast<size_t>(i)] = mel_to_hz_slaney(mel);
  }

  std::vector<float> weights(static_cast<size_t>(n_mels) * static_cast<size_t>(num_bins), 0.0f);
  for (int i = 0; i < n_mels; ++i) {
    const double fdiff_lo = mel_f[static_cast<size_t>(i) + 1] - mel_f[static_cast<size_t>(i)];
    const double fdiff_hi = mel_f[static_cast<size_t>(i) + 2] - mel_f[static_cast<size_t>(i) + 1];
    // norm='slaney': 2 / (mel_f[i+2] - mel_f[i]), applied to the float32 triangle in double and
    // rounded again, as `weights *= enorm[:, np.newaxis]` does on a float32 array.
    const double enorm = 2.0 / (mel_f[static_cast<size_t>(i) + 2] - mel_f[static_cast<size_t>(i)]);
    for (int k = 0; k < num_bins; ++k) {
      const double f = fft_freqs[static_cast<size_t>(k)];
      const double lower = -(mel_f[static_cast<size_t>(i)] - f) / fdiff_lo;
      const double upper = (mel_f[static_cast<size_t>(i) + 2] - f) / fdiff_hi;
      // np.maximum(0, np.minimum(lower, upper)); np.maximum keeps the -0.0 of the first bin's lower
      // ramp, so do we (bit compatibility; the value is the same).
      const double ramp = std::min(lower, upper);
      const float triangle = static_cast<float>(0.0 > ramp ? 0.0 : ramp);
      weights[static_cast<size_t>(i) * static_cast<size_t>(num_bins) + static_cast<size_t>(k)] =
          static_cast<float>(static_cast<double>(triangle) * enorm);
    }
  }
  return weights;
}

}  // namespace detail
}  // namespace parakeet_trt
