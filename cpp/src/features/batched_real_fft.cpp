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
  work_re_.assign(static_cast<size_t>(m_), splat_d(0.0));
  work_im_.assign(static_cast<size_t>(m_), splat_d(0.0));
}

void BatchedRealFft::forward(const VecD* in, VecD* out_re, VecD* out_im) {
  VecD* re = work_re_.data();
  VecD* im = work_im_.data();
  const int m = m_;
  // Stages 1 and 2 (spans 2 and 4, twiddles 1 and -i) straight from the bit-reversed packed
  // input: c[k] = in[2k] + i*in[2k+1]. m >= 4 because n_fft >= 8.
  for (int p = 0; p < m; p += 4) {
    const VecD* c0 = in + 2 * bitrev_[static_cast<size_t>(p)];
    const VecD* c1 = in + 2 * bitrev_[static_cast<size_t>(p + 1)];
    const VecD* c2 = in + 2 * bitrev_[static_cast<size_t>(p + 2)];
    const VecD* c3 = in + 2 * bitrev_[static_cast<size_t>(p + 3)];
    const VecD a0r = c0[0] + c1[0], a0i = c0[1] + c1[1];
    const VecD a1r = c0[0] - c1[0], a1i = c0[1] - c1[1];
    const VecD b0r = c2[0] + c3[0], b0i = c2[1] + c3[1];
    const VecD b1r = c2[0] - c3[0], b1i = c2[1] - c3[1];
    // Span-4 butterflies: twiddle 1 for j = 0, -i for j = 1 ((x + iy) * -i = y - ix), exact.
    re[p] = a0r + b0r;
    im[p] = a0i + b0i;
    re[p + 2] = a0r - b0r;
    im[p + 2] = a0i - b0i;
    re[p + 1] = a1r + b1i;
    im[p + 1] = a1i - b1r;
    re[p + 3] = a1r - b1i;
    im[p + 3] = a1i + b1r;
  }
  for (int h = 4; h < m; h <<= 1) {
    const double* twr = tw_re_.data() + h;
    const double* twi = tw_im_.data() + h;
    for (int s = 0; s < m; s += 2 * h) {
      VecD* ar = re + s;
      VecD* ai = im + s;
      VecD* br = re + s + h;
      VecD* bi = im + s + h;
      for (int j = 0; j < h; ++j) {
        const VecD wr = splat_d(twr[j]);
        const VecD wi = splat_d(twi[j]);
        const VecD tr = br[j] * wr - bi[j] * wi;
        const VecD ti = br[j] * wi + bi[j] * wr;
        const VecD xr = ar[j], xi = ai[j];
        ar[j] = xr + tr;
        ai[j] = xi + ti;
        br[j] = xr - tr;
        bi[j] = xi - ti;
      }
    }
  }
  out_re[0] = re[0] + im[0];
  out_im[0] = splat_d(0.0);
  out_re[m] = re[0] - im[0];
  out_im[m] = splat_d(0.0);
  const VecD half = splat_d(0.5);
  for (int k = 1; k < m; ++k) {
    const VecD zkr = re[k], zki = im[k], zjr = re[m - k], zji = im[m - k];
    const VecD wr = splat_d(post_re_[static_cast<size_t>(k)]);
    const VecD wi = splat_d(post_im_[static_cast<size_t>(k)]);
    const VecD er = half * (zkr + zjr);
    const VecD ei = half * (zki - zji);
    const VecD or_ = half * (zki + zji);
    const VecD oi = half * (zjr - zkr);
    out_re[k] = er + (or_ * wr - oi * wi);
    out_im[k] = ei + (or_ * wi + oi * wr);
  }
}

}  // namespace detail
}  // namespace parakeet_trt
