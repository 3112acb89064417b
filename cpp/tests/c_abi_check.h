/* CHECK(cond) for the C99 tests of the C ABI: prints one line per check (with the thread's last
 * error on failure) and counts failures in `failures`, which the test's main returns on. */
#ifndef PTRT_C_ABI_CHECK_H_
#define PTRT_C_ABI_CHECK_H_

#include <stdio.h>

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

#endif /* PTRT_C_ABI_CHECK_H_ */
