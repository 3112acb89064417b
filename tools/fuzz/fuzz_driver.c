/* Fuzz driver for the C ABI, built against libparakeet_trt (under ASan+UBSan by
 * tools/fuzz/run_fuzz.py). Reads cases named on the command line and feeds them to the library:
 *
 *   fuzz_driver audio MODEL_DIR FILE...   each FILE (a mutated WAV) is decoded by the small RIFF
 *                                         reader below (16-bit PCM, 32-bit float, or the raw bytes
 *                                         as float32) and goes through features, an offline
 *                                         session and a buffered stream
 *   fuzz_driver model DIR...              each DIR (a model folder with a mutated model_meta.json
 *                                         or contract) goes through ptrt_model_load and, when it
 *                                         loads, through the same calls on one second of noise
 *
 * The encoder engine is a synthetic stand-in that fills the pre-sized outputs with a fixed
 * pattern and the lengths with NeMo's formula: the fuzzed code is the core around the engine.
 * Before each case the driver prints "case <name>" (flushed), after it "done <status>", so the
 * harness can name the case of a crash or a hang. Exit status 0 unless a sanitizer aborts.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parakeet_trt/parakeet_trt.h"

#define MAX_SAMPLES (16000 * 30) /* longer cases are cut: the fuzzer is about parsing, not length */

static int g_subsampling = 8;

static int64_t encoded_length(int64_t length) {
  int f;
  for (f = g_subsampling; f > 1; f /= 2) {
    int64_t n = length - 1;
    length = (n >= 0 ? n / 2 : -((-n + 1) / 2)) + 1;
  }
  return length;
}

static ptrt_status synthetic_run(void* self, const ptrt_tensor* inputs, size_t num_inputs, ptrt_tensor* outputs,
                                 size_t num_outputs, char* error_message, size_t error_capacity) {
  size_t i, k;
  int64_t length = 0;
  (void)self;
  (void)error_message;
  (void)error_capacity;
  for (i = 0; i < num_inputs; ++i) {
    if (strcmp(inputs[i].name, "length") == 0 && inputs[i].dtype == PTRT_DTYPE_INT64) length = *(int64_t*)inputs[i].data;
  }
  for (i = 0; i < num_outputs; ++i) {
    int64_t count = 1;
    int32_t d;
    for (d = 0; d < outputs[i].rank; ++d) count *= outputs[i].shape[d];
    if (outputs[i].dtype == PTRT_DTYPE_FLOAT32) {
      float* out = (float*)outputs[i].data;
      for (k = 0; k < (size_t)count; ++k) out[k] = (float)sin(0.37 * (double)k);
    } else if (outputs[i].dtype == PTRT_DTYPE_INT64) {
      int64_t* out = (int64_t*)outputs[i].data;
      for (k = 0; k < (size_t)count; ++k) out[k] = encoded_length(length);
    } else {
      int32_t* out = (int32_t*)outputs[i].data;
      for (k = 0; k < (size_t)count; ++k) out[k] = (int32_t)encoded_length(length);
    }
  }
  return PTRT_OK;
}

static ptrt_engine_vtable synthetic_engine(void) {
  ptrt_engine_vtable e;
  memset(&e, 0, sizeof(e));
  e.struct_size = sizeof(e);
  e.run = synthetic_run;
  return e;
}

static unsigned char* read_all(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  unsigned char* data;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  data = (unsigned char*)malloc((size_t)n + 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

static uint32_t le32(const unsigned char* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint16_t le16(const unsigned char* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* Decodes a WAV as a careless reader would (bounds checked, everything else trusted). */
static float* decode(const unsigned char* data, size_t size, int64_t* num_samples) {
  size_t pos = 12, body = 0, length = size;
  int format = 3, bits = 32, channels = 1, c;
  int64_t i, n;
  float* out;
  if (size >= 12 && memcmp(data, "RIFF", 4) == 0) {
    while (pos + 8 <= size) {
      uint32_t chunk = le32(data + pos + 4);
      if (memcmp(data + pos, "fmt ", 4) == 0 && chunk >= 16 && pos + 8 + 16 <= size) {
        format = le16(data + pos + 8);
        channels = le16(data + pos + 10);
        bits = le16(data + pos + 22);
      } else if (memcmp(data + pos, "data", 4) == 0) {
        body = pos + 8;
        length = chunk < size - body ? chunk : size - body;
        break;
      }
      if (chunk > size) break;
      pos += 8 + (size_t)chunk + (chunk & 1);
    }
  }
  if (channels <= 0) channels = 1;
  if (format == 1 && bits == 16) {
    n = (int64_t)(length / 2 / (size_t)channels);
  } else {
    n = (int64_t)(length / 4 / (size_t)channels);
  }
  if (n > MAX_SAMPLES) n = MAX_SAMPLES;
  out = (float*)malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  for (i = 0; i < n; ++i) {
    float sum = 0.0f;
    for (c = 0; c < channels; ++c) {
      size_t at = body + (size_t)(i * channels + c) * (format == 1 && bits == 16 ? 2 : 4);
      if (format == 1 && bits == 16) {
        sum += (float)(int16_t)le16(data + at) / 32768.0f;
      } else {
        float v;
        memcpy(&v, data + at, 4); /* raw bytes: NaN, Inf, 1e38 and denormals all arrive */
        sum += v;
      }
    }
    out[i] = sum / (float)channels;
  }
  *num_samples = n;
  return out;
}

static void ignore_update(void* user, const ptrt_stream_update* update) {
  (void)user;
  (void)update;
}

/* Features, an offline session and a buffered stream on samples; returns the first non-OK status. */
static int exercise(const ptrt_model* model, const float* samples, int64_t n) {
  ptrt_model_info info;
  ptrt_engine_vtable engine = synthetic_engine();
  ptrt_session* session = NULL;
  ptrt_stream* stream = NULL;
  ptrt_transcript transcript;
  int64_t frames = 0, valid = 0, offset;
  int status, first = PTRT_OK;
  ptrt_model_info_init(&info);
  if (ptrt_model_get_info(model, &info) != PTRT_OK) return -1;
  g_subsampling = info.subsampling_factor;
  status = ptrt_model_feature_frames(model, n, &frames, &valid);
  if (status == PTRT_OK && frames > 0 && frames < 100000) {
    float* features = (float*)malloc(sizeof(float) * (size_t)(frames * info.num_mel_bins));
    status = ptrt_model_compute_features(model, samples, n, features, frames * info.num_mel_bins);
    free(features);
  }
  if (status != PTRT_OK && first == PTRT_OK) first = status;
  if (ptrt_session_create(model, &engine, NULL, &session) == PTRT_OK) {
    status = ptrt_session_transcribe(session, samples, n, info.sample_rate_hz, &transcript);
    if (status != PTRT_OK && first == PTRT_OK) first = status;
    ptrt_session_destroy(session);
  }
  engine = synthetic_engine();
  if (ptrt_stream_create(model, &engine, NULL, &stream) == PTRT_OK) {
    for (offset = 0; offset < n; offset += 4000) {
      int64_t block = n - offset < 4000 ? n - offset : 4000;
      status = ptrt_stream_push(stream, samples + offset, block, info.sample_rate_hz, ignore_update, NULL);
      if (status != PTRT_OK) break;
    }
    if (status == PTRT_OK) status = ptrt_stream_finish(stream, ignore_update, NULL);
    if (status != PTRT_OK && first == PTRT_OK) first = status;
    ptrt_stream_destroy(stream);
  }
  return first;
}

int main(int argc, char** argv) {
  int i;
  if (argc < 3 || (strcmp(argv[1], "audio") != 0 && strcmp(argv[1], "model") != 0)) {
    fprintf(stderr, "usage: fuzz_driver audio MODEL_DIR FILE... | fuzz_driver model DIR...\n");
    return 2;
  }
  if (strcmp(argv[1], "audio") == 0) {
    ptrt_model* model = NULL;
    if (ptrt_model_load(argv[2], NULL, &model) != PTRT_OK) {
      fprintf(stderr, "cannot load %s: %s\n", argv[2], ptrt_last_error());
      return 2;
    }
    for (i = 3; i < argc; ++i) {
      size_t size = 0;
      int64_t n = 0;
      unsigned char* data;
      float* samples;
      printf("case %s\n", argv[i]);
      fflush(stdout);
      data = read_all(argv[i], &size);
      if (!data) {
        printf("done unreadable\n");
        continue;
      }
      samples = decode(data, size, &n);
      printf("done %d\n", exercise(model, samples, n));
      fflush(stdout);
      free(samples);
      free(data);
    }
    ptrt_model_destroy(model);
  } else {
    float noise[16000];
    for (i = 0; i < 16000; ++i) noise[i] = 0.1f * (float)sin(0.05 * i) + 0.01f * (float)((i * 7919) % 200 - 100) / 100.0f;
    for (i = 2; i < argc; ++i) {
      ptrt_model* model = NULL;
      ptrt_model_options options;
      int status;
      printf("case %s\n", argv[i]);
      fflush(stdout);
      ptrt_model_options_init(&options);
      options.verify_hashes = i % 2; /* half the cases skip the hashes, to reach the parsers behind them */
      status = ptrt_model_load(argv[i], &options, &model);
      if (status == PTRT_OK) status = exercise(model, noise, 16000);
      ptrt_model_destroy(model);
      printf("done %d\n", status);
      fflush(stdout);
    }
  }
  return 0;
}
