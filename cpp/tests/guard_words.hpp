// Words for the polish guard's tests (test_polish_guard.cpp, test_candidate_windows.cpp).
#pragma once

#include <string>
#include <vector>

#include "parakeet_trt/polish_guard.hpp"

namespace ptrt_test {

// Words 0.5 s apart, 0.4 s long, from t0.
inline std::vector<parakeet_trt::GuardWord> spaced_words(const std::vector<std::string>& texts, double t0 = 0.0) {
  std::vector<parakeet_trt::GuardWord> out;
  for (size_t i = 0; i < texts.size(); ++i) out.push_back({texts[i], t0 + 0.5 * i, t0 + 0.5 * i + 0.4});
  return out;
}

}  // namespace ptrt_test
