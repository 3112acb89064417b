// Band-limited sample-rate conversion: a polyphase windowed-sinc filter (Kaiser window).
//
// Design (docs/C_AND_RUST.md has the measured numbers):
//   * the ratio out/in is reduced to L/M; output sample n sits at input time n*M/L, so there are L
//     distinct filter phases. Up to kMaxPhases phases are tabulated exactly; a ratio with more
//     phases (an odd rate such as 44,099 Hz) uses the nearest of kMaxPhases phases, a timing error
//     of at most 1/(2*kMaxPhases) input sample (below -75 dB for any tone under the cutoff);
//   * cutoff at kRolloff (0.95) of the lower Nyquist frequency, kZeroCrossings (64) zero crossings
//     of the sinc on each side, Kaiser beta 10 (about 100 dB stopband): the passband is flat to
//     about 0.90 of the lower Nyquist and the stopband begins at it, so nothing aliases back;
//   * every phase is normalized to unity DC gain; the filter is symmetric, so there is no delay:
//     output sample n is aligned with input time n*in/out;
//   * samples before the start and after the end are zero; out length = ceil(n * out / in).
// Equal rates are the identity (a copy).
#pragma once

#include <cstdint>
#include <vector>

namespace parakeet_trt {

class Resampler {
 public:
  static constexpr int kZeroCrossings = 64;
  static constexpr double kRolloff = 0.95;
  static constexpr double kKaiserBeta = 10.0;
  static constexpr int64_t kMaxPhases = 4096;
  static constexpr int32_t kMinRateHz = 1000;
  static constexpr int32_t kMaxRateHz = 768000;

  // Throws std::invalid_argument when a rate is outside [kMinRateHz, kMaxRateHz].
  Resampler(int32_t from_rate_hz, int32_t to_rate_hz);

  // Output samples for num_samples input samples: ceil(num_samples * to / from).
  int64_t output_length(int64_t num_samples) const;
  // Resamples one whole signal (not a stream): out must hold output_length(num_samples) floats.
  void process(const float* in, int64_t num_samples, float* out) const;
  std::vector<float> process(const float* in, int64_t num_samples) const;

  int32_t from_rate_hz() const { return from_; }
  int32_t to_rate_hz() const { return to_; }
  int64_t taps_per_phase() const { return taps_; }

 private:
  int32_t from_, to_;
  int64_t up_ = 1, down_ = 1;  // L, M: out/in reduced
  int64_t phases_ = 1;         // tabulated phases (L, or kMaxPhases for larger L)
  int64_t taps_ = 0;           // per phase
  int64_t first_tap_ = 0;      // input offset of tap 0 relative to floor(n*M/L)
  std::vector<float> table_;   // [phases_][taps_]
};

}  // namespace parakeet_trt
