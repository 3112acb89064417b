/* CHECK(cond) for the C99 tests of the C ABI: prints one line per check (with the thread's last
 * error on failure) and counts failures in `failures`, which the test's main returns on. */
#ifndef PTRT_C_ABI_CHECK_H_
#define PTRT_C_ABI_CHECK_H_

#include <stdio.h>
#include <string.h>

#include "parakeet_trt/parakeet_trt.h"

static int failures = 0;
#define CHECK(cond)                                                             \
  do {                                                                          \
    if (cond) {                                                                 \
      printf("ok   %s\n", #cond);                                               \
    } else {                                                                    \
      printf("FAIL %s (line %d); last error: %s\n", #cond, __LINE__, ptrt_last_error()); \
      failures++;                                                               \
    }                                                                           \
  } while (0)

/* The first line of the text file `path` into `out` (without its newline): 1 on success, 0 if the
 * file cannot be read or the line is empty. The demo tests read NeMo's transcript of the sample
 * (samples/demo.nemo_transcript.txt, written when the model is packaged) this way. */
static inline int read_first_line(const char* path, char* out, size_t size) {
  FILE* file = fopen(path, "r");
  size_t n;
  if (!file) return 0;
  if (!fgets(out, (int)size, file)) out[0] = '\0';
  fclose(file);
  n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r')) out[--n] = '\0';
  return n > 0;
}

/* The suffix of `text` holding its last `n` space-separated words (all of it if it has fewer). */
static inline const char* last_words(const char* text, int n) {
  const char* p = text + strlen(text);
  while (p > text) {
    if (p[-1] == ' ' && --n == 0) break;
    --p;
  }
  return p;
}

/* 1 if `text` ends with `suffix` (how a stream's or the beam's transcript ends the sample). */
static inline int ends_with(const char* text, const char* suffix) {
  const size_t n = strlen(text), k = strlen(suffix);
  return k <= n && strcmp(text + n - k, suffix) == 0;
}

#endif /* PTRT_C_ABI_CHECK_H_ */
