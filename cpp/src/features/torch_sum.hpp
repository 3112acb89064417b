// Private: float32 sums in exactly the order PyTorch's CPU kernel adds them.
//
// Why: NeMo's per_feature normalization takes float32 torch.sum()s over time. For rows whose
// values are (nearly) constant, e.g. digital silence where every frame is log(2^-24), the mean
// then differs from the values by an ulp or two and NeMo's normalized output is that rounding
// residue divided by std + 1e-5: about +-0.16, not 0. Reproducing the summation order reproduces
// those values, so the engine still computes what NeMo computes on such input.
//
// The order is PyTorch's cascade_sum (aten/src/ATen/native/cpu/SumKernel.cpp) for a contiguous
// reduced dimension: rows of at least 8 elements are summed as 8-lane vectors (Vectorized<float>,
// 32 bytes: sum_stub is registered for the AVX2 and default capabilities only, so AVX-512
// machines run the 8-lane kernel too) in a 4-way interleaved, 4-level cascade; shorter rows use the
// scalar cascade. Verified bit-exact against torch 2.13 (CPU) for lengths 1..69 and up to 20000.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace parakeet_trt {
namespace detail {

// value(t) for t in [0, n) is the t-th element of the row. Returns the float32 sum exactly as
// torch.sum over that contiguous row on CPU.
template <typename ValueFn>
float torch_cpu_sum(ValueFn value, int64_t n);

namespace torch_sum_internal {

inline int64_t ceil_log2(int64_t x) {
  if (x <= 2) return 1;
  int64_t bits = 0;
  uint64_t v = static_cast<uint64_t>(x - 1);
  while (v != 0) {
    ++bits;
    v >>= 1;
  }
  return bits;
}

// multi_row_sum<acc, nrows = 4>: element (i, k) is load(i * 4 + k), each a kWidth-lane value.
template <int kWidth, typename LoadFn>
void multi_row_sum4(LoadFn load, int64_t size, float (&out)[4][kWidth]) {
  constexpr int64_t kLevels = 4;
  constexpr int kRows = 4;
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(size) / kLevels);
  const int64_t level_step = int64_t{1} << level_power;
  const int64_t level_mask = level_step - 1;
  float acc[kLevels][kRows][kWidth] = {};
  float lanes[kWidth];
  int64_t i = 0;
  for (; i + level_step <= size;) {
    for (int64_t j = 0; j < level_step; ++j, ++i) {
      for (int k = 0; k < kRows; ++k) {
        load(i * kRows + k, lanes);
        for (int l = 0; l < kWidth; ++l) acc[0][k][l] += lanes[l];
      }
    }
    for (int64_t j = 1; j < kLevels; ++j) {
      for (int k = 0; k < kRows; ++k) {
        for (int l = 0; l < kWidth; ++l) {
          acc[j][k][l] += acc[j - 1][k][l];
          acc[j - 1][k][l] = 0.0f;
        }
      }
      const int64_t mask = level_mask << (j * level_power);
      if ((i & mask) != 0) break;
    }
  }
  for (; i < size; ++i) {
    for (int k = 0; k < kRows; ++k) {
      load(i * kRows + k, lanes);
      for (int l = 0; l < kWidth; ++l) acc[0][k][l] += lanes[l];
    }
  }
  for (int64_t j = 1; j < kLevels; ++j) {
    for (int k = 0; k < kRows; ++k) {
      for (int l = 0; l < kWidth; ++l) acc[0][k][l] += acc[j][k][l];
    }
  }
  for (int k = 0; k < kRows; ++k) {
    for (int l = 0; l < kWidth; ++l) out[k][l] = acc[0][k][l];
  }
}

// row_sum<acc, LoadPolicy> with ilp_factor 4 over `size` kWidth-lane elements.
template <int kWidth, typename LoadFn>
void row_sum(LoadFn load, int64_t size, float (&result)[kWidth]) {
  constexpr int64_t kIlp = 4;
  const int64_t size_ilp = size / kIlp;
  float partial[4][kWidth];
  multi_row_sum4<kWidth>(load, size_ilp, partial);
  float lanes[kWidth];
  for (int64_t i = size_ilp * kIlp; i < size; ++i) {
    load(i, lanes);
    for (int l = 0; l < kWidth; ++l) partial[0][l] += lanes[l];
  }
  for (int k = 1; k < kIlp; ++k) {
    for (int l = 0; l < kWidth; ++l) partial[0][l] += partial[k][l];
  }
  for (int l = 0; l < kWidth; ++l) result[l] = partial[0][l];
}

}  // namespace torch_sum_internal

template <typename ValueFn>
float torch_cpu_sum(ValueFn value, int64_t n) {
  using namespace torch_sum_internal;
  constexpr int kVec = 8;  // Vectorized<float>::size() in the AVX2 and default kernels
  if (n >= kVec) {
    // vectorized_inner_sum: 8-lane blocks through row_sum, then the scalar tail, then the lanes.
    const int64_t vec_size = n / kVec;
    float vec_acc[kVec];
    row_sum<kVec>(
        [&](int64_t block, float* lanes) {
          for (int l = 0; l < kVec; ++l) lanes[l] = value(block * kVec + l);
        },
        vec_size, vec_acc);
    float final_acc = 0.0f;
    for (int64_t k = vec_size * kVec; k < n; ++k) final_acc += value(k);
    for (int l = 0; l < kVec; ++l) final_acc += vec_acc[l];
    return final_acc;
  }
  // scalar_inner_sum: the same cascade on single elements.
  float acc[1];
  row_sum<1>([&](int64_t index, float* lanes) { lanes[0] = value(index); }, n, acc);
  return acc[0];
}

// The same sum with whole 8-element blocks loaded as one vector (GCC/Clang vector extension):
// load_block(b, v) writes elements [8b, 8b + 8) into v (b < n / 8), value(k) returns a tail
// element (k >= 8 * (n / 8)). Every accumulator lane performs exactly the scalar version's
// sequence of float32 additions (element-wise IEEE adds, nothing contracted), so the result is
// bit-identical to torch_cpu_sum; it only lets the compiler keep the lanes in vector registers.
// n >= 8 (torch's vectorized path); shorter rows go through torch_cpu_sum.
typedef float V8f __attribute__((vector_size(8 * sizeof(float))));

template <typename LoadBlock, typename ValueFn>
inline __attribute__((always_inline)) float torch_cpu_sum_blocks(LoadBlock load_block, ValueFn value, int64_t n) {
  using torch_sum_internal::ceil_log2;
  constexpr int64_t kVec = 8;
  constexpr int64_t kLevels = 4;
  constexpr int kRows = 4;
  const int64_t vec_size = n / kVec;
  // row_sum with ilp 4 -> multi_row_sum4 over vec_size / 4 groups of 4 blocks.
  const int64_t size = vec_size / kRows;
  const int64_t level_power = std::max<int64_t>(4, ceil_log2(size) / kLevels);
  const int64_t level_step = int64_t{1} << level_power;
  const int64_t level_mask = level_step - 1;
  V8f acc[kLevels][kRows];
  for (int64_t j = 0; j < kLevels; ++j) {
    for (int k = 0; k < kRows; ++k) acc[j][k] = V8f{};
  }
  V8f v;
  int64_t i = 0;
  for (; i + level_step <= size;) {
    for (int64_t j = 0; j < level_step; ++j, ++i) {
      for (int k = 0; k < kRows; ++k) {
        load_block(i * kRows + k, v);
        acc[0][k] += v;
      }
    }
    for (int64_t j = 1; j < kLevels; ++j) {
      for (int k = 0; k < kRows; ++k) {
        acc[j][k] += acc[j - 1][k];
        acc[j - 1][k] = V8f{};
      }
      const int64_t mask = level_mask << (j * level_power);
      if ((i & mask) != 0) break;
    }
  }
  for (; i < size; ++i) {
    for (int k = 0; k < kRows; ++k) {
      load_block(i * kRows + k, v);
      acc[0][k] += v;
    }
  }
  for (int64_t j = 1; j < kLevels; ++j) {
    for (int k = 0; k < kRows; ++k) acc[0][k] += acc[j][k];
  }
  for (int64_t b = size * kRows; b < vec_size; ++b) {
    load_block(b, v);
    acc[0][0] += v;
  }
  for (int k = 1; k < kRows; ++k) acc[0][0] += acc[0][k];
  float final_acc = 0.0f;
  for (int64_t k = vec_size * kVec; k < n; ++k) final_acc += value(k);
  for (int l = 0; l < kVec; ++l) final_acc += acc[0][0][l];
  return final_acc;
}

}  // namespace detail
}  // namespace parakeet_trt
