// Private: which build of the front end's hot kernel runs. For tests, which compare the builds
// bit for bit; production code never calls set_feature_kernel().
#pragma once

namespace parakeet_trt {
namespace detail {

enum class FeatureKernel {
  kAuto,      // AVX2 when the CPU has it, else baseline (the default)
  kBaseline,  // 2-double lane vectors, baseline instruction set
  kAvx2,      // 4-double lane vectors, AVX2 (falls back to baseline when unavailable)
};

// Process-wide; not thread-safe against concurrent feature extraction.
void set_feature_kernel(FeatureKernel kernel);
// True when this build has an AVX2 kernel and the CPU supports AVX2.
bool avx2_feature_kernel_available();

}  // namespace detail
}  // namespace parakeet_trt
