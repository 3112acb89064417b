/* Compiled as C99 against the public header only: proves the header is valid C and that the
 * error paths of the ABI behave (status codes, thread-local message, NULL-safe destructors). */
#include <stdio.h>
#include <string.h>

#include "parakeet_trt/parakeet_trt.h"

static int failures = 0;
#define CHECK(cond)                                              \
  do {                                                           \
    if (cond) {                                                  \
      printf("ok   %s\n", #cond);                                \
    } else {                                                     \
      printf("FAIL %s (line %d)\n", #cond, __LINE__);            \
      failures++;                                                \
    }                                                            \
  } while (0)

int main(void) {
  ptrt_model* model = NULL;
  ptrt_model_options options;
  ptrt_status status;

  CHECK(ptrt_abi_version() == PTRT_ABI_VERSION);
  CHECK(strcmp(ptrt_version(), "0.1.0") == 0);
  CHECK(strcmp(ptrt_last_error(), "") == 0);

  ptrt_model_options_init(&options);
  CHECK(options.struct_size == sizeof(ptrt_model_options));
  CHECK(options.verify_hashes == 1);

  status = ptrt_model_load("/nonexistent/parakeet_model", &options, &model);
  CHECK(status == PTRT_ERROR_MODEL);
  CHECK(model == NULL);
  CHECK(strstr(ptrt_last_error(), "model_meta.json") != NULL);
  CHECK(strcmp(ptrt_status_name(status), "PTRT_ERROR_MODEL") == 0);

  status = ptrt_model_load(NULL, NULL, &model);
  CHECK(status == PTRT_ERROR_INVALID_ARGUMENT);

  options.struct_size = 1;
  status = ptrt_model_load("/nonexistent", &options, &model);
  CHECK(status == PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "struct_size") != NULL);

  ptrt_model_destroy(NULL);
  ptrt_session_destroy(NULL);

  printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
