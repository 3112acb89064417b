#include "audio/resampler.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

namespace parakeet_trt {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Modified Bessel function of the first kind, order 0 (power series; converges fast for beta <= 20).
double bessel_i0(double x) {
  double sum = 1.0, term = 1.0;
  const double q = x * x / 4.0;
  for (int k = 1; k < 200 && term > 1e-17 * sum; ++k) {
    term *= q / (static_cast<double>(k) * k);
    sum += term;
  }
  return sum;
}

void check_rate(const char* which, int32_t rate) {
  if (rate < Resampler::kMinRateHz || rate > Resampler::kMaxRateHz) {
    throw std::invalid_argument(std::string("resampler: ") + which + " " + std::to_string(rate) +
                                " Hz is outside [" + std::to_string(Resampler::kMinRateHz) + ", " +
                                std::to_string(Resampler::kMaxRateHz) + "] Hz");
  }
}

}  // namespace

Resampler::Resampler(int32_t from_rate_hz, int32_t to_rate_hz) : from_(from_rate_hz), to_(to_rate_hz) {
  check_rate("from_rate_hz", from_rate_hz);
  check_rate("to_rate_hz", to_rate_hz);
  if (from_ == to_) return;
  const int64_t g = std::gcd<int64_t, int64_t>(from_, to_);
  up_ = to_ / g;
  down_ = from_ / g;
  phases_ = std::min(up_, kMaxPhases);

  // Cutoff in cycles per input sample: below the lower of the two Nyquist frequencies.
  const double cutoff = 0.5 * std::min(1.0, static_cast<double>(up_) / static_cast<double>(down_)) * kRolloff;
  const double half_width = kZeroCrossings / (2.0 * cutoff);  // input samples
  const int64_t reach = static_cast<int64_t>(std::ceil(half_width));
  first_tap_ = -reach;
  taps_ = 2 * reach + 1;
  table_.assign(static_cast<size_t>(phases_ * taps_), 0.0f);
  const double i0_beta = bessel_i0(kKaiserBeta);
  std::vector<double> h(static_cast<size_t>(taps_));
  for (int64_t p = 0; p < phases_; ++p) {
    const double frac = static_cast<double>(p) / static_cast<double>(phases_);
    double sum = 0.0;
    for (int64_t j = 0; j < taps_; ++j) {
      const double u = frac - static_cast<double>(first_tap_ + j);  // time from tap to output, input samples
      const double v = u / half_width;
      double value = 0.0;
      if (std::abs(v) < 1.0) {
        const double x = 2.0 * cutoff * u;
        const double sinc = x == 0.0 ? 1.0 : std::sin(kPi * x) / (kPi * x);
        value = 2.0 * cutoff * sinc * bessel_i0(kKaiserBeta * std::sqrt(1.0 - v * v)) / i0_beta;
      }
      h[static_cast<size_t>(j)] = value;
      sum += value;
    }
    for (int64_t j = 0; j < taps_; ++j) table_[static_cast<size_t>(p * taps_ + j)] = static_cast<float>(h[j] / sum);
  }
}

int64_t Resampler::output_length(int64_t num_samples) const {
  if (from_ == to_ || num_samples <= 0) return std::max<int64_t>(num_samples, 0);
  return (num_samples * up_ + down_ - 1) / down_;
}

void Resampler::process(const float* in, int64_t num_samples, float* out) const {
  const int64_t count = output_length(num_samples);
  if (from_ == to_) {
    std::copy(in, in + count, out);
    return;
  }
  for (int64_t n = 0; n < count; ++n) {
    const int64_t position = n * down_;  // input time n*M/L, in units of 1/L input sample
    int64_t base = position / up_;
    int64_t phase = position % up_;
    if (phases_ != up_) {  // more phases than tabulated: nearest tabulated phase
      phase = (phase * phases_ + up_ / 2) / up_;
      if (phase == phases_) {
        phase = 0;
        ++base;
      }
    }
    const float* coefficients = &table_[static_cast<size_t>(phase * taps_)];
    const int64_t start = base + first_tap_;
    const int64_t lo = std::max<int64_t>(0, -start);
    const int64_t hi = std::min<int64_t>(taps_, num_samples - start);
    double acc = 0.0;
    for (int64_t j = lo; j < hi; ++j) acc += static_cast<double>(coefficients[j]) * in[start + j];
    out[n] = static_cast<float>(acc);
  }
}

std::vector<float> Resampler::process(const float* in, int64_t num_samples) const {
  std::vector<float> out(static_cast<size_t>(output_length(num_samples)));
  process(in, num_samples, out.data());
  return out;
}

}  // namespace parakeet_trt
