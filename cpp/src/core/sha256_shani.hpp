#pragma once
// SHA-256 block function on the x86 SHA extensions (SHA-NI: sha256rnds2, sha256msg1/2), about ten
// times the portable loop's speed: hashing the 2.5 GB of the 0.6B export is what a first load and
// `parakeet-trt verify` pay. Sha256 uses it when the CPU has it (checked once at run time) and the
// portable loop otherwise; cpp/tests/test_sha256.cpp checks both against each other and known digests.

#include <cstddef>
#include <cstdint>

namespace parakeet_trt {

// True when this build has the SHA-NI path and this CPU runs it.
bool sha256_shani_available();

// Runs `blocks` 64-byte blocks of `data` through the compression function on `state` (a..h).
// Only call when sha256_shani_available().
void sha256_shani_blocks(uint32_t state[8], const uint8_t* data, size_t blocks);

}  // namespace parakeet_trt
