/* C99 against the public header only: versioned structs are read as a prefix (issue 13, item 5).
 * A caller compiled against an OLDER, shorter ptrt_stream_options (declared below as ABI 1 first
 * shipped it, without mode and profile) gets the defaults for the fields it lacks and streams the
 * demo sample like a current caller; an uninitialised struct is refused naming its init function.
 * Runs the native onnxruntime engine: needs PTRT_ONNXRUNTIME_LIBRARY (scripts/test.sh sets it).
 *   test_c_abi_versioned_structs MODEL_DIR WAV NEMO_TRANSCRIPT_TXT (NeMo's greedy transcript of WAV) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_abi_check.h"
#include "parakeet_trt/parakeet_trt.h"


/* ptrt_stream_options as ABI 1 first declared it. */
typedef struct old_stream_options {
  size_t struct_size;
  int64_t chunk_ms;
  int64_t left_ms;
  int64_t right_ms;
  int64_t history_ms;
} old_stream_options;

/* ptrt_model_info cut after vocab_size, as a hypothetical older caller declared it. */
typedef struct short_model_info {
  size_t struct_size;
  int32_t sample_rate_hz;
  int32_t num_mel_bins;
  int32_t encoder_dim;
  int32_t vocab_size;
} short_model_info;

typedef struct committed_text {
  int32_t ids[4096];
  size_t count;
  int last_seen;
} committed_text;

static void collect(void* user_data, const ptrt_stream_update* update) {
  committed_text* text = (committed_text*)user_data;
  size_t i;
  for (i = 0; i < update->num_committed && text->count < 4096; ++i) text->ids[text->count++] = update->committed[i].id;
  if (update->is_last) text->last_seen = 1;
}

/* Streams the audio through a stream made with the given options; writes the committed text. */
static ptrt_status stream_text(const ptrt_model* model, const ptrt_stream_options* options, const float* samples,
                               int64_t num_samples, char* out, size_t capacity) {
  ptrt_stream* stream = NULL;
  committed_text* text = (committed_text*)calloc(1, sizeof(committed_text));
  ptrt_status status = ptrt_stream_create_with_engine(model, NULL, options, &stream);
  int64_t at;
  for (at = 0; status == PTRT_OK && at < num_samples; at += 4000) {
    const int64_t n = num_samples - at < 4000 ? num_samples - at : 4000;
    status = ptrt_stream_push(stream, samples + at, n, 16000, collect, text);
  }
  if (status == PTRT_OK) status = ptrt_stream_finish(stream, collect, text);
  if (status == PTRT_OK && !text->last_seen) status = PTRT_ERROR_INTERNAL;
  if (status == PTRT_OK) status = ptrt_model_detokenize(model, text->ids, text->count, out, capacity, NULL);
  ptrt_stream_destroy(stream);
  free(text);
  return status;
}

int main(int argc, char** argv) {
  ptrt_model* model = NULL;
  float* samples = NULL;
  int64_t num_samples = 0;
  char current_text[1024] = "", old_text[1024] = "", nemo_text[1024] = "";
  unsigned char buffer[sizeof(ptrt_stream_options) + 64];
  old_stream_options old;
  ptrt_stream_options current;
  ptrt_stream* stream = NULL;

  if (argc != 4) {
    fprintf(stderr, "usage: test_c_abi_versioned_structs MODEL_DIR WAV NEMO_TRANSCRIPT_TXT\n");
    return 2;
  }
  CHECK(read_first_line(argv[3], nemo_text, sizeof(nemo_text)));
  CHECK(ptrt_model_load(argv[1], NULL, &model) == PTRT_OK);
  CHECK(ptrt_audio_load_wav(argv[2], 16000, &samples, &num_samples) == PTRT_OK);
  if (failures) return 1;

  /* A current caller, with a non-default chunk so that reading it is visible. */
  ptrt_stream_options_init(&current);
  CHECK(current.mode == PTRT_STREAM_MODE_BUFFERED && current.profile == NULL);
  current.chunk_ms = 800;
  CHECK(stream_text(model, &current, samples, num_samples, current_text, sizeof(current_text)) == PTRT_OK);
  printf("current struct (%zu bytes): %s\n", sizeof(ptrt_stream_options), current_text);
  /* The stream's final reads the sample's end as NeMo's offline decoding does. */
  CHECK(ends_with(current_text, last_words(nemo_text, 3)));

  /* The old caller's struct, followed in memory by bytes that are no valid mode or profile: the
   * library must read only old.struct_size bytes and default the rest. */
  old.struct_size = sizeof(old_stream_options);
  old.chunk_ms = 800;
  old.left_ms = current.left_ms;
  old.right_ms = current.right_ms;
  old.history_ms = current.history_ms;
  memset(buffer, 0xA5, sizeof(buffer));
  memcpy(buffer, &old, sizeof(old));
  CHECK(sizeof(old_stream_options) < sizeof(ptrt_stream_options));
  CHECK(stream_text(model, (const ptrt_stream_options*)(const void*)buffer, samples, num_samples, old_text,
                    sizeof(old_text)) == PTRT_OK);
  printf("old struct (%zu bytes): %s\n", sizeof(old_stream_options), old_text);
  CHECK(strcmp(old_text, current_text) == 0);

  /* The same bytes with the full struct_size: the 0xA5 mode is refused, naming the field. */
  ((old_stream_options*)(void*)buffer)->struct_size = sizeof(ptrt_stream_options);
  CHECK(ptrt_stream_create_with_engine(model, NULL, (const ptrt_stream_options*)(const void*)buffer, &stream) ==
        PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "options.mode") != NULL);
  CHECK(stream == NULL);

  /* Uninitialised (struct_size 0) and below the minimum: refused, naming the init function. */
  memset(&current, 0, sizeof(current));
  CHECK(ptrt_stream_create_with_engine(model, NULL, &current, &stream) == PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "call ptrt_stream_options_init first") != NULL);
  CHECK(strstr(ptrt_last_error(), "struct_size is 0") != NULL);
  current.struct_size = sizeof(size_t);
  CHECK(ptrt_stream_create_with_engine(model, NULL, &current, &stream) == PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "below the minimum 16") != NULL);
  {
    ptrt_engine_options engine;
    ptrt_session* session = NULL;
    memset(&engine, 0, sizeof(engine));
    CHECK(ptrt_session_create_with_engine(model, &engine, NULL, &session) == PTRT_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(ptrt_last_error(), "call ptrt_engine_options_init first") != NULL);
    /* The shortest engine options: struct_size and name. */
    engine.struct_size = sizeof(size_t) + sizeof(const char*);
    engine.name = "onnxruntime";
    engine.intra_op_threads = -7; /* beyond struct_size: never read */
    CHECK(ptrt_session_create_with_engine(model, &engine, NULL, &session) == PTRT_OK);
    ptrt_session_destroy(session);
    engine.struct_size = sizeof(engine);
    CHECK(ptrt_session_create_with_engine(model, &engine, NULL, &session) == PTRT_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(ptrt_last_error(), "intra_op_threads") != NULL);
    engine.intra_op_threads = 0;
    engine.name = "external";
    CHECK(ptrt_session_create_with_engine(model, &engine, NULL, &session) == PTRT_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(ptrt_last_error(), "ptrt_engine_vtable") != NULL);
  }

  /* A struct the library fills is written as a prefix too: nothing past the caller's struct_size. */
  {
    unsigned char info_buffer[sizeof(ptrt_model_info)];
    short_model_info* info = (short_model_info*)(void*)info_buffer;
    size_t i;
    int untouched = 1;
    memset(info_buffer, 0x5A, sizeof(info_buffer));
    info->struct_size = sizeof(short_model_info);
    CHECK(ptrt_model_get_info(model, (ptrt_model_info*)(void*)info_buffer) == PTRT_OK);
    CHECK(info->struct_size == sizeof(short_model_info));
    CHECK(info->sample_rate_hz == 16000);
    CHECK(info->vocab_size > 0);
    for (i = sizeof(short_model_info); i < sizeof(info_buffer); ++i) untouched &= info_buffer[i] == 0x5A;
    CHECK(untouched);
  }

  /* Cache-aware mode on a folder without a streaming export: refused naming the missing graph. */
  ptrt_stream_options_init(&current);
  current.mode = PTRT_STREAM_MODE_CACHE_AWARE;
  CHECK(ptrt_stream_create_with_engine(model, NULL, &current, &stream) != PTRT_OK);
  CHECK(strstr(ptrt_last_error(), "encoder_streaming") != NULL);
  printf("cache-aware without a streaming export: %s\n", ptrt_last_error());

  ptrt_audio_free(samples);
  ptrt_model_destroy(model);
  printf("%d failed\n", failures);
  return failures == 0 ? 0 : 1;
}
