// The range check every options struct's validate() uses: std::invalid_argument
// "<field> must be in [min, max], got <value>" (the message the CLI, Python and the C ABI pass on).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace parakeet_trt {

inline void check_option_range(const std::string& field, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) {
    throw std::invalid_argument(field + " must be in [" + std::to_string(min) + ", " + std::to_string(max) +
                                "], got " + std::to_string(value));
  }
}

}  // namespace parakeet_trt
