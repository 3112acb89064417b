// Private: a double-precision real-input FFT that transforms kLanes (8) frames at once.
//
// Why batched: a 512-point FFT is too small to vectorize well on its own, but consecutive STFT
// frames are independent, so laying 8 frames side by side (one VecD per sample index) turns every
// butterfly into 8 identical scalar computations done with element-wise vector arithmetic. Each
// lane therefore performs exactly the same sequence of roundings whatever the vector width.
//
// Algorithm: an n-point real FFT as an (n/2)-point complex FFT of z[k] = x[2k] + i*x[2k+1]
// (iterative radix-2 decimation in time; the bit-reversed gather and the twiddle-free first two
// stages are fused into one radix-4 pass; twiddles computed in double from std::cos/sin), then the
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
  // n_fft: a power of two >= 8 (checked by the caller's config validation; throws otherwise).
  explicit BatchedRealFft(int n_fft);

  int n_fft() const { return n_; }
  int num_bins() const { return m_ + 1; }

  // in: [n_fft] lane vectors of real samples. out_re, out_im: [n_fft/2 + 1]. No allocation.
  void forward(const VecD* in, VecD* out_re, VecD* out_im);

 private:
  int n_;
  int m_;
  std::vector<int> bitrev_;             // [m]: bit reversal over log2(m) bits
  std::vector<double> tw_re_, tw_im_;   // [m]: W_{2h}^j = exp(-i*pi*j/h) at index h + j
  std::vector<double> post_re_, post_im_;  // [m+1]: W_n^k
  std::vector<VecD> work_re_, work_im_;    // [m]
};

}  // namespace detail
}  // namespace parakeet_trt
