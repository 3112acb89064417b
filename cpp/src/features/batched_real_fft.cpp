#include "features/batched_real_fft.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace parakeet_trt {
namespace detail {

BatchedRealFft::BatchedRealFft(int n_fft) : n_(n_fft), m_(n_fft / 2) {
  if (n_fft < 8 || (n_fft & (n_fft - 1)) != 0) {
    throw std::invalid_argument("BatchedRealFft: n_fft: expected a power of two >= 8, got " + std::to_string(n_fft));
  }
  int log2m = 0;
  while ((1 << log2m) < m_) ++log2m;
  bitrev_.resize(static_cast<size_t>(m_));
  for (int i = 0; i < m_; ++i) {
    int r = 0;
    for (int b = 0; b < log2m; ++b) r |= ((i >> b) & 1) << (log2m - 1 - b);
    bitrev_[static_cast<size_t>(i)] = r;
  }
  const double pi = 3.14159265358979323846264338327950288;
  tw_re_.assign(static_cast<size_t>(m_), 0.0);
  tw_im_.assign(static_cast<size_t>(m_), 0.0);
  for (int h = 1; h < m_; h <<= 1) {
    for (int j = 0; j < h; ++j) {
      const double angle = -pi * static_cast<double>(j) / static_cast<double>(h);
      tw_re_[static_cast<size_t>(h + j)] = std::cos(angle);
      tw_im_[static_cast<size_t>(h + j)] = std::sin(angle);
    }
  }
  post_re_.resize(static_cast<size_t>(m_) + 1);
  post_im_.resize(static_cast<size_t>(m_) + 1);
  for (int k = 0; k <= m_; ++k) {
    const double angle = -2.0 * pi * static_cast<double>(k) / static_cast<double>(n_);
    post_re_[static_cast<size_t>(k)] = std::cos(angle);
    post_im_[static_cast<size_t>(k)] = std::sin(angle);
  }
  work_re_.assign(static_cast<size_t>(m_) * kLanes, 0.0);
  work_im_.assign(static_cast<size_t>(m_) * kLanes, 0.0);
}

}  // namespace detail
}  // namespace parakeet_trt
