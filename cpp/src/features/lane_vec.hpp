// Private: fixed-width lane vectors (GCC/Clang vector extensions) for the front end's hot loops.
//
// Why vector extensions and not auto-vectorization: the loops we need vectorized (butterflies over
// rows that the compiler cannot prove disjoint, a log with integer bit tricks) are not reliably
// auto-vectorized, and intrinsics would tie the code to one ISA. Vector-extension arithmetic is
// element-wise IEEE arithmetic, so every lane performs exactly the scalar sequence of roundings
// regardless of how the compiler maps the 8 lanes onto SSE/AVX registers.
#pragma once

#include <cstdint>
#include <cstring>

#if !defined(__GNUC__) && !defined(__clang__)
#error "parakeet_trt's front end needs GCC or Clang vector extensions"
#endif

namespace parakeet_trt {
namespace detail {

constexpr int kLanes = 8;

typedef double VecD __attribute__((vector_size(8 * sizeof(double))));
typedef float VecF __attribute__((vector_size(8 * sizeof(float))));
typedef int32_t VecI __attribute__((vector_size(8 * sizeof(int32_t))));
typedef uint32_t VecU __attribute__((vector_size(8 * sizeof(uint32_t))));

inline VecD splat_d(double v) { return VecD{v, v, v, v, v, v, v, v}; }
inline VecF splat_f(float v) { return VecF{v, v, v, v, v, v, v, v}; }

inline VecF load_f(const float* p) {
  VecF v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void store_f(float* p, VecF v) { std::memcpy(p, &v, sizeof(v)); }

}  // namespace detail
}  // namespace parakeet_trt
