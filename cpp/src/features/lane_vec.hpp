// Private: the lane layout and native-width vector helpers of the front end's hot loops.
//
// The front end processes kLanes (8) STFT frames side by side: every buffer is [index][lane].
// The lane loops are written with GCC/Clang vector extensions of the machine's native width,
// chosen per compiled kernel (Vd = 2 doubles for the baseline x86-64/SSE2 kernel, 4 for the AVX2
// kernel): element-wise IEEE arithmetic only, so every lane performs exactly the scalar sequence of
// roundings whatever the width, and both kernels give bit-identical results. Auto-vectorization was
// tried and proved unreliable here (in-place butterflies fell back to scalar code behind alias
// checks); vectors wider than the hardware are lowered through the stack by GCC, hence native width.
#pragma once

#if !defined(__GNUC__) && !defined(__clang__)
#error "parakeet_trt's front end needs GCC or Clang vector extensions"
#endif

#define PTRT_ALWAYS_INLINE inline __attribute__((always_inline))

namespace parakeet_trt {
namespace detail {

constexpr int kLanes = 8;

typedef double V2d __attribute__((vector_size(2 * sizeof(double))));
typedef double V4d __attribute__((vector_size(4 * sizeof(double))));

// Per width: the unaligned, may_alias variant used to load/store lanes from double buffers. There
// are deliberately no helper functions taking or returning vectors by value: GCC emits -Wpsabi
// notes for 32-byte vectors in baseline code (harmless once inlined, but not silenceable with
// pragmas), so the kernels use the expressions below directly.
template <typename Vd>
struct Lane;
template <>
struct Lane<V2d> {
  static constexpr int kWidth = 2;
  typedef double Unaligned __attribute__((vector_size(2 * sizeof(double)), aligned(8), may_alias));
};
template <>
struct Lane<V4d> {
  static constexpr int kWidth = 4;
  typedef double Unaligned __attribute__((vector_size(4 * sizeof(double)), aligned(8), may_alias));
};

}  // namespace detail
}  // namespace parakeet_trt

// In a kernel templated on Vd:
//   PTRT_LANE_LOAD(Vd, p)      the Lane<Vd>::kWidth doubles at p (any alignment) as a Vd
//   PTRT_LANE_STORE(Vd, p, v)  stores them
//   PTRT_LANE_SPLAT(Vd, x)     x in every lane (x - 0 is exact, keeps -0.0, folds to a broadcast)
#define PTRT_LANE_LOAD(Vd, p) (*reinterpret_cast<const typename ::parakeet_trt::detail::Lane<Vd>::Unaligned*>(p))
#define PTRT_LANE_STORE(Vd, p, v) (*reinterpret_cast<typename ::parakeet_trt::detail::Lane<Vd>::Unaligned*>(p) = (v))
#define PTRT_LANE_SPLAT(Vd, x) ((x) - Vd{})
