// Private: librosa.filters.mel (librosa 0.11, htk=False, norm='slaney', dtype=float32), replicated
// operation by operation in double so the float32 result matches librosa's bit for bit (up to
// 1-ulp differences between numpy's and libm's log/exp, which only rarely survive the rounding to
// float32).
#pragma once

#include <vector>

namespace parakeet_trt {
namespace detail {

// Returns [n_mels][n_fft/2 + 1] row-major.
std::vector<float> slaney_mel_filterbank(double sample_rate_hz, int n_fft, int n_mels, double fmin_hz, double fmax_hz);

// librosa's Slaney mel scale (hz_to_mel / mel_to_hz with htk=False), exposed for tests.
double hz_to_mel_slaney(double hz);
double mel_to_hz_slaney(double mel);

}  // namespace detail
}  // namespace parakeet_trt
