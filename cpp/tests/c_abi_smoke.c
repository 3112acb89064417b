/* Compiled as C99 against the public header only: proves the header is valid C and that the
 * error paths of the ABI behave (status codes, thread-local message, NULL-safe destructors). */
#include <stdio.h>
#include <string.h>

#include "c_abi_check.h"
#include "parakeet_trt/parakeet_trt.h"

static int destroyed = 0;
static void count_destroy(void* self) {
  (void)self;
  destroyed++;
}
static ptrt_status never_run(void* self, const ptrt_tensor* inputs, size_t num_inputs, ptrt_tensor* outputs,
                             size_t num_outputs, char* error_message, size_t error_capacity) {
  (void)self; (void)inputs; (void)num_inputs; (void)outputs; (void)num_outputs; (void)error_message;
  (void)error_capacity;
  return PTRT_ERROR_ENGINE;
}

int main(void) {
  ptrt_model* model = NULL;
  ptrt_model_options options;
  ptrt_status status;

  CHECK(ptrt_abi_version() == PTRT_ABI_VERSION);
  CHECK(strcmp(ptrt_version(), PTRT_EXPECTED_VERSION) == 0);
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

  /* The session owns the engine from ptrt_session_create on: every failure path releases it once. */
  {
    ptrt_engine_vtable engine;
    ptrt_session* session = NULL;
    memset(&engine, 0, sizeof(engine));
    engine.struct_size = sizeof(engine);
    engine.run = never_run;
    engine.destroy = count_destroy;
    destroyed = 0;
    CHECK(ptrt_session_create(NULL, &engine, NULL, &session) == PTRT_ERROR_INVALID_ARGUMENT);
    CHECK(destroyed == 1);
    CHECK(session == NULL);
    engine.run = NULL; /* incomplete vtable */
    destroyed = 0;
    CHECK(ptrt_session_create(NULL, &engine, NULL, &session) == PTRT_ERROR_INVALID_ARGUMENT);
    CHECK(destroyed == 1);
  }

  printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
