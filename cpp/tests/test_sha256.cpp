// SHA-256: known digests (FIPS 180-2 examples) and the SHA-NI block path equal to the portable one
// on every length around the block size (the artifact hashes the contract checks depend on it).
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/sha256.hpp"
#include "core/sha256_shani.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

std::string digest_whole(const std::string& data) {
  Sha256 h;
  h.update(data.data(), data.size());
  return h.hex_digest();
}

// One byte at a time never hands the SHA-NI path a whole block: this is the portable loop.
std::string digest_bytewise(const std::string& data) {
  Sha256 h;
  for (char c : data) h.update(&c, 1);
  return h.hex_digest();
}

void test_known_digests() {
  PTRT_CHECK_EQ(digest_whole(""), std::string("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  PTRT_CHECK_EQ(digest_whole("abc"), std::string("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  PTRT_CHECK_EQ(digest_whole(two_blocks),
                std::string("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  const std::string million(1000000, 'a');
  PTRT_CHECK_EQ(digest_whole(million), std::string("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  PTRT_CHECK_EQ(digest_bytewise(million), digest_whole(million));
  std::printf("  SHA-NI path %s on this CPU\n", sha256_shani_available() ? "used" : "not available");
}

void test_block_path_equals_portable_path() {
  std::mt19937 rng(7);
  for (size_t n : {63, 64, 65, 127, 128, 129, 1000, 4096, 65537}) {
    std::string data(n, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    PTRT_CHECK_EQ(digest_whole(data), digest_bytewise(data));
    // Mixed: an unaligned start leaves bytes buffered, then whole blocks follow.
    Sha256 h;
    h.update(data.data(), 3);
    h.update(data.data() + 3, n - 3);
    PTRT_CHECK_EQ(h.hex_digest(), digest_bytewise(data));
  }
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"known digests", &test_known_digests},
                               {"SHA-NI block path equals the portable path", &test_block_path_equals_portable_path}});
}
