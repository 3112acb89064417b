#include "core/sha256_shani.hpp"

#include "core/sha256.hpp"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define PTRT_HAVE_SHANI 1
#endif

namespace parakeet_trt {

#ifdef PTRT_HAVE_SHANI

bool sha256_shani_available() {
  static const bool available = __builtin_cpu_supports("sha") && __builtin_cpu_supports("sse4.1") &&
                                __builtin_cpu_supports("ssse3");
  return available;
}

__attribute__((target("sha,sse4.1,ssse3"))) void sha256_shani_blocks(uint32_t state[8], const uint8_t* data,
                                                                      size_t blocks) {
  // Byte order: message words are big-endian.
  const __m128i swap_words = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  // sha256rnds2 keeps the state as (A, B, E, F) and (C, D, G, H), highest lane first.
  __m128i dcba = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state));
  __m128i hgfe = _mm_loadu_si128(reinterpret_cast<const __m128i*>(state + 4));
  __m128i cdab = _mm_shuffle_epi32(dcba, 0xB1);
  __m128i efgh = _mm_shuffle_epi32(hgfe, 0x1B);
  __m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
  for (size_t b = 0; b < blocks; ++b, data += 64) {
    const __m128i abef_in = abef, cdgh_in = cdgh;
    __m128i w[4];  // the last 16 schedule words, four per register, w[i % 4] = words 4i..4i+3
    for (int i = 0; i < 16; ++i) {
      __m128i& cur = w[i % 4];
      if (i < 4) {
        cur = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + 16 * i)), swap_words);
      } else {
        // w[t] = s1(w[t-2]) + w[t-7] + s0(w[t-15]) + w[t-16], four at a time.
        __m128i t = _mm_sha256msg1_epu32(cur /* words t-16.. */, w[(i - 3) % 4]);
        t = _mm_add_epi32(t, _mm_alignr_epi8(w[(i - 1) % 4], w[(i - 2) % 4], 4));  // words t-7..t-4
        cur = _mm_sha256msg2_epu32(t, w[(i - 1) % 4]);
      }
      __m128i msg = _mm_add_epi32(cur, _mm_loadu_si128(reinterpret_cast<const __m128i*>(kSha256RoundConstants + 4 * i)));
      // Two rounds per instruction; after two the old (A,B,E,F) is the new (C,D,G,H), so the two
      // registers swap roles and are back in place after the four rounds of this group.
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, msg);  // rounds 4i, 4i+1
      msg = _mm_shuffle_epi32(msg, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, msg);  // rounds 4i+2, 4i+3
    }
    abef = _mm_add_epi32(abef, abef_in);
    cdgh = _mm_add_epi32(cdgh, cdgh_in);
  }
  __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);
  dcba = _mm_blend_epi16(feba, dchg, 0xF0);
  hgfe = _mm_alignr_epi8(dchg, feba, 8);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), dcba);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(state + 4), hgfe);
}

#else

bool sha256_shani_available() { return false; }
void sha256_shani_blocks(uint32_t*, const uint8_t*, size_t) {}

#endif

}  // namespace parakeet_trt
