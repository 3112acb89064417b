// SHA-256 of files, so the runtime can refuse artifacts that do not match model_meta.json.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace parakeet_trt {

// FIPS 180-4 §4.2.2: the 64 round constants (shared by the portable and the SHA-NI block functions).
extern const uint32_t kSha256RoundConstants[64];

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::string hex_digest();  // finalizes; the object must not be updated afterwards

 private:
  void transform(const uint8_t* block);
  uint32_t state_[8];
  uint8_t buffer_[64];
  uint64_t total_bytes_ = 0;
  size_t buffered_ = 0;
};

// Streams the file; throws ModelError when it cannot be read.
std::string sha256_file(const std::string& path);

}  // namespace parakeet_trt
