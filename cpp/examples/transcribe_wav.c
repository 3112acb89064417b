/*
 * Transcribes a WAV file with an exported model folder, in C99 through parakeet_trt.h only:
 *
 *   transcribe_wav MODEL_DIR FILE.wav [ENGINE]
 *
 * ENGINE is "onnxruntime" (default) or "tensorrt". The audio may be 16/24/32-bit PCM or float, any
 * channel count, any rate: the library reads, downmixes and resamples it to the model's rate.
 * Prints the model and audio on the first lines and the transcript on the last stdout line.
 * libonnxruntime.so is found as ptrt_engine_options describes ($PTRT_ONNXRUNTIME_LIBRARY, the
 * onnxruntime Python package beside the library, or the loader path). Exit status: 0 ok, 1 error,
 * 2 usage.
 */
#include <stdio.h>
#include <string.h>

#include "parakeet_trt/parakeet_trt.h"

static int report(const char* what, ptrt_status status) {
  fprintf(stderr, "transcribe_wav: %s: %s: %s\n", what, ptrt_status_name(status), ptrt_last_error());
  return 1;
}

int main(int argc, char** argv) {
  ptrt_model* model = NULL;
  ptrt_session* session = NULL;
  ptrt_model_info info;
  ptrt_engine_options engine;
  ptrt_transcript transcript;
  float* samples = NULL;
  int64_t num_samples = 0;
  ptrt_status status;
  int exit_code = 1;

  if (argc < 3 || argc > 4 || strcmp(argv[1], "--help") == 0) {
    fprintf(stderr, "usage: transcribe_wav MODEL_DIR FILE.wav [onnxruntime|tensorrt]\n");
    return 2;
  }
  status = ptrt_model_load(argv[1], NULL, &model);
  if (status != PTRT_OK) return report("loading the model", status);
  ptrt_model_info_init(&info);
  status = ptrt_model_get_info(model, &info);
  if (status != PTRT_OK) {
    report("reading the model info", status);
    goto done;
  }
  status = ptrt_audio_load_wav(argv[2], info.sample_rate_hz, &samples, &num_samples);
  if (status != PTRT_OK) {
    report("reading the audio", status);
    goto done;
  }
  printf("model %s (%d Hz), audio %.3f s\n", info.model_name, info.sample_rate_hz,
         (double)num_samples / info.sample_rate_hz);

  ptrt_engine_options_init(&engine);
  if (argc == 4) engine.name = argv[3];
  status = ptrt_session_create_with_engine(model, &engine, NULL, &session);
  if (status != PTRT_OK) {
    report("creating the session", status);
    goto done;
  }
  status = ptrt_session_transcribe(session, samples, num_samples, info.sample_rate_hz, &transcript);
  if (status != PTRT_OK) {
    report("transcribing", status);
    goto done;
  }
  printf("%zu tokens, %zu words, %lld encoder frames\n", transcript.num_tokens, transcript.num_words,
         (long long)transcript.num_encoder_frames);
  printf("%s\n", transcript.text);
  exit_code = 0;

done:
  ptrt_session_destroy(session);
  ptrt_audio_free(samples);
  ptrt_model_destroy(model);
  return exit_code;
}
