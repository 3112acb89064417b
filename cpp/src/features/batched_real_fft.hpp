// Private: a double-precision real-input FFT that transforms kLanes (8) frames at once.
//
// Why batched: a 512-point FFT is too small to vectorize well on its own, but consecutive STFT
// frames are independent, so laying 8 frames side by side ([index][lane] layout) turns every
// butterfly into 8 identical scalar computations, done with native-width lane vectors
// (lane_vec.hpp). Each lane performs the same sequence of roundings whatever the vector width.
//
// Algorithm: an n-point real FFT as an (n/2)-point complex FFT of z[k] = x[2k] + i*x[2k+1]
// (iterative radix-2 decimation in time; the bit-reversed gather and the twiddle-free first two
// stages are fused into one pass, later stages run in fused pairs; twiddles computed in double from
// std::cos/sin), then the
// real-to-complex split
//   X[k] = E[k] + W_n^k O[k],  E = (Z[k] + conj Z[m-k]) / 2,  O = -i (Z[k] - conj Z[m-k]) / 2.
#pragma once

#include <cstddef>
#include <vector>

#include "features/lane_vec.hpp"

namespace parakeet_trt {
namespace detail {

class BatchedRealFft {
 public:
  // n_fft: a power of two >= 8; throws std::invalid_argument otherwise.
  explicit BatchedRealFft(int n_fft);

  int n_fft() const { return n_; }
  int num_bins() const { return m_ + 1; }

  // in: [n_fft][kLanes] real samples. out_re, out_im: [n_fft/2 + 1][kLanes]. No allocation.
  // Vd is the lane vector type (V2d or V4d); always inlined so that it is compiled inside the
  // caller's kernel with that kernel's instruction set.
  template <typename Vd>
  PTRT_ALWAYS_INLINE void forward(const double* in, double* out_re, double* out_im);

 private:
  int n_;
  int m_;
  std::vector<int> bitrev_;                // [m]: bit reversal over log2(m) bits
  std::vector<double> tw_re_, tw_im_;      // [m]: W_{2h}^j = exp(-i*pi*j/h) at index h + j
  std::vector<double> post_re_, post_im_;  // [m+1]: W_n^k
  std::vector<double> work_re_, work_im_;  // [m][kLanes]
};

template <typename Vd>
PTRT_ALWAYS_INLINE void BatchedRealFft::forward(const double* in, double* out_re, double* out_im) {
  constexpr int L = kLanes;
  constexpr int W = Lane<Vd>::kWidth;
  double* re = work_re_.data();
  double* im = work_im_.data();
  const int m = m_;

  // Stages 1 and 2 (spans 2 and 4; twiddles 1 and -i, exact: (x + iy) * -i = y - ix), reading
  // the bit-reversed complex input c[k] = in[2k] + i*in[2k+1] directly.
  for (int p = 0; p < m; p += 4) {
    const double* c0 = in + 2 * L * bitrev_[static_cast<size_t>(p)];
    const double* c1 = in + 2 * L * bitrev_[static_cast<size_t>(p + 1)];
    const double* c2 = in + 2 * L * bitrev_[static_cast<size_t>(p + 2)];
    const double* c3 = in + 2 * L * bitrev_[static_cast<size_t>(p + 3)];
    double* r = re + static_cast<size_t>(p) * L;
    double* i = im + static_cast<size_t>(p) * L;
    for (int v = 0; v < L; v += W) {
      const Vd c0r = PTRT_LANE_LOAD(Vd, c0 + v), c0i = PTRT_LANE_LOAD(Vd, c0 + L + v);
      const Vd c1r = PTRT_LANE_LOAD(Vd, c1 + v), c1i = PTRT_LANE_LOAD(Vd, c1 + L + v);
      const Vd c2r = PTRT_LANE_LOAD(Vd, c2 + v), c2i = PTRT_LANE_LOAD(Vd, c2 + L + v);
      const Vd c3r = PTRT_LANE_LOAD(Vd, c3 + v), c3i = PTRT_LANE_LOAD(Vd, c3 + L + v);
      const Vd a0r = c0r + c1r, a0i = c0i + c1i, a1r = c0r - c1r, a1i = c0i - c1i;
      const Vd b0r = c2r + c3r, b0i = c2i + c3i, b1r = c2r - c3r, b1i = c2i - c3i;
      PTRT_LANE_STORE(Vd, r + v, a0r + b0r);
      PTRT_LANE_STORE(Vd, i + v, a0i + b0i);
      PTRT_LANE_STORE(Vd, r + 2 * L + v, a0r - b0r);
      PTRT_LANE_STORE(Vd, i + 2 * L + v, a0i - b0i);
      PTRT_LANE_STORE(Vd, r + L + v, a1r + b1i);
      PTRT_LANE_STORE(Vd, i + L + v, a1i - b1r);
      PTRT_LANE_STORE(Vd, r + 3 * L + v, a1r - b1i);
      PTRT_LANE_STORE(Vd, i + 3 * L + v, a1i + b1r);
    }
  }
  // Remaining radix-2 stages, two at a time (spans 2h and 4h) so each value is loaded and stored
  // once per pair; the arithmetic is exactly that of two separate radix-2 passes.
  // With 2-double vectors (16 SSE registers) the fused pair spills; it only pays off from 4 lanes.
  int h = 4;
  for (; W >= 4 && 2 * h < m; h <<= 2) {
    for (int s = 0; s < m; s += 4 * h) {
      for (int j = 0; j < h; ++j) {
        const Vd w1r = PTRT_LANE_SPLAT(Vd, tw_re_[static_cast<size_t>(h + j)]);
        const Vd w1i = PTRT_LANE_SPLAT(Vd, tw_im_[static_cast<size_t>(h + j)]);
        const Vd w2r = PTRT_LANE_SPLAT(Vd, tw_re_[static_cast<size_t>(2 * h + j)]);
        const Vd w2i = PTRT_LANE_SPLAT(Vd, tw_im_[static_cast<size_t>(2 * h + j)]);
        const Vd w3r = PTRT_LANE_SPLAT(Vd, tw_re_[static_cast<size_t>(3 * h + j)]);
        const Vd w3i = PTRT_LANE_SPLAT(Vd, tw_im_[static_cast<size_t>(3 * h + j)]);
        double* r0 = re + static_cast<size_t>(s + j) * L;
        double* i0 = im + static_cast<size_t>(s + j) * L;
        const size_t step = static_cast<size_t>(h) * L;
        for (int v = 0; v < L; v += W) {
          const Vd ar = PTRT_LANE_LOAD(Vd, r0 + v), ai = PTRT_LANE_LOAD(Vd, i0 + v);
          const Vd br = PTRT_LANE_LOAD(Vd, r0 + step + v), bi = PTRT_LANE_LOAD(Vd, i0 + step + v);
          const Vd cr = PTRT_LANE_LOAD(Vd, r0 + 2 * step + v), ci = PTRT_LANE_LOAD(Vd, i0 + 2 * step + v);
          const Vd dr = PTRT_LANE_LOAD(Vd, r0 + 3 * step + v), di = PTRT_LANE_LOAD(Vd, i0 + 3 * step + v);
          // Span 2h: (a, b) and (c, d) with W_{2h}^j.
          const Vd tr = br * w1r - bi * w1i, ti = br * w1i + bi * w1r;
          const Vd ur = dr * w1r - di * w1i, ui = dr * w1i + di * w1r;
          const Vd a1r = ar + tr, a1i = ai + ti, b1r = ar - tr, b1i = ai - ti;
          const Vd c1r = cr + ur, c1i = ci + ui, d1r = cr - ur, d1i = ci - ui;
          // Span 4h: (a, c) with W_{4h}^j, (b, d) with W_{4h}^{j+h}.
          const Vd xr = c1r * w2r - c1i * w2i, xi = c1r * w2i + c1i * w2r;
          const Vd yr = d1r * w3r - d1i * w3i, yi = d1r * w3i + d1i * w3r;
          PTRT_LANE_STORE(Vd, r0 + v, a1r + xr);
          PTRT_LANE_STORE(Vd, i0 + v, a1i + xi);
          PTRT_LANE_STORE(Vd, r0 + 2 * step + v, a1r - xr);
          PTRT_LANE_STORE(Vd, i0 + 2 * step + v, a1i - xi);
          PTRT_LANE_STORE(Vd, r0 + step + v, b1r + yr);
          PTRT_LANE_STORE(Vd, i0 + step + v, b1i + yi);
          PTRT_LANE_STORE(Vd, r0 + 3 * step + v, b1r - yr);
          PTRT_LANE_STORE(Vd, i0 + 3 * step + v, b1i - yi);
        }
      }
    }
  }
  // Single radix-2 stages: the rest (a last one when the pair count is odd).
  for (; h < m; h <<= 1) {
    for (int s = 0; s < m; s += 2 * h) {
      for (int j = 0; j < h; ++j) {
        const Vd wr = PTRT_LANE_SPLAT(Vd, tw_re_[static_cast<size_t>(h + j)]);
        const Vd wi = PTRT_LANE_SPLAT(Vd, tw_im_[static_cast<size_t>(h + j)]);
        double* ar = re + static_cast<size_t>(s + j) * L;
        double* ai = im + static_cast<size_t>(s + j) * L;
        double* br = ar + static_cast<size_t>(h) * L;
        double* bi = ai + static_cast<size_t>(h) * L;
        for (int v = 0; v < L; v += W) {
          const Vd yr = PTRT_LANE_LOAD(Vd, br + v), yi = PTRT_LANE_LOAD(Vd, bi + v);
          const Vd xr = PTRT_LANE_LOAD(Vd, ar + v), xi = PTRT_LANE_LOAD(Vd, ai + v);
          const Vd tr = yr * wr - yi * wi;
          const Vd ti = yr * wi + yi * wr;
          PTRT_LANE_STORE(Vd, ar + v, xr + tr);
          PTRT_LANE_STORE(Vd, ai + v, xi + ti);
          PTRT_LANE_STORE(Vd, br + v, xr - tr);
          PTRT_LANE_STORE(Vd, bi + v, xi - ti);
        }
      }
    }
  }
  // Real-to-complex split.
  const Vd zero = PTRT_LANE_SPLAT(Vd, 0.0);
  for (int v = 0; v < L; v += W) {
    const Vd z0r = PTRT_LANE_LOAD(Vd, re + v), z0i = PTRT_LANE_LOAD(Vd, im + v);
    PTRT_LANE_STORE(Vd, out_re + v, z0r + z0i);
    PTRT_LANE_STORE(Vd, out_im + v, zero);
    PTRT_LANE_STORE(Vd, out_re + static_cast<size_t>(m) * L + v, z0r - z0i);
    PTRT_LANE_STORE(Vd, out_im + static_cast<size_t>(m) * L + v, zero);
  }
  const Vd half = PTRT_LANE_SPLAT(Vd, 0.5);
  for (int k = 1; k < m; ++k) {
    const Vd wr = PTRT_LANE_SPLAT(Vd, post_re_[static_cast<size_t>(k)]);
    const Vd wi = PTRT_LANE_SPLAT(Vd, post_im_[static_cast<size_t>(k)]);
    const double* zk_r = re + static_cast<size_t>(k) * L;
    const double* zk_i = im + static_cast<size_t>(k) * L;
    const double* zj_r = re + static_cast<size_t>(m - k) * L;
    const double* zj_i = im + static_cast<size_t>(m - k) * L;
    double* xr = out_re + static_cast<size_t>(k) * L;
    double* xi = out_im + static_cast<size_t>(k) * L;
    for (int v = 0; v < L; v += W) {
      const Vd zkr = PTRT_LANE_LOAD(Vd, zk_r + v), zki = PTRT_LANE_LOAD(Vd, zk_i + v);
      const Vd zjr = PTRT_LANE_LOAD(Vd, zj_r + v), zji = PTRT_LANE_LOAD(Vd, zj_i + v);
      const Vd er = half * (zkr + zjr);
      const Vd ei = half * (zki - zji);
      const Vd or_ = half * (zki + zji);
      const Vd oi = half * (zjr - zkr);
      PTRT_LANE_STORE(Vd, xr + v, er + (or_ * wr - oi * wi));
      PTRT_LANE_STORE(Vd, xi + v, ei + (or_ * wi + oi * wr));
    }
  }
}

}  // namespace detail
}  // namespace parakeet_trt
