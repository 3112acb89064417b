/* C99 against the public header only: decoding options and the n-best accessor (issue 14 item 4).
 * Transcribes the packaged demo sample greedily and with beam search on one session; the beam's
 * best hypothesis is the transcript, the list is ordered and bounded by nbest, every word carries a
 * probability; bad options and indices are refused naming the problem. Runs the native onnxruntime
 * engine: needs PTRT_ONNXRUNTIME_LIBRARY (scripts/test.sh sets it).
 *   test_c_abi_nbest MODEL_DIR WAV NEMO_TRANSCRIPT_TXT (NeMo's greedy transcript of WAV) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_abi_check.h"
#include "parakeet_trt/parakeet_trt.h"

/* ptrt_hypothesis cut after text: an older caller's prefix; the library must write only that. */
typedef struct short_hypothesis {
  size_t struct_size;
  const char* text;
} short_hypothesis;

static size_t count_words(const char* text) {
  size_t n = 0;
  int in_word = 0;
  for (; *text; ++text) {
    if (*text == ' ') in_word = 0;
    else if (!in_word) { in_word = 1; ++n; }
  }
  return n;
}

int main(int argc, char** argv) {
  ptrt_model* model = NULL;
  ptrt_session* session = NULL;
  float* samples = NULL;
  int64_t num_samples = 0;
  ptrt_transcript transcript;
  ptrt_decoding_options decoding;
  ptrt_hypothesis hypothesis;
  char greedy_text[1024] = "", nemo_text[1024] = "";
  size_t count = 99, i, w;
  double previous_key = 0.0;

  if (argc != 4) {
    fprintf(stderr, "usage: test_c_abi_nbest MODEL_DIR WAV NEMO_TRANSCRIPT_TXT\n");
    return 2;
  }
  CHECK(read_first_line(argv[3], nemo_text, sizeof(nemo_text)));
  CHECK(ptrt_model_load(argv[1], NULL, &model) == PTRT_OK);
  CHECK(ptrt_audio_load_wav(argv[2], 16000, &samples, &num_samples) == PTRT_OK);
  CHECK(ptrt_session_create_with_engine(model, NULL, NULL, &session) == PTRT_OK);
  if (failures) return 1;

  /* Defaults: greedy, beam size 4, one hypothesis; greedy lists no n-best. */
  ptrt_decoding_options_init(&decoding);
  CHECK(decoding.strategy == PTRT_DECODING_GREEDY && decoding.beam_size == 4 && decoding.nbest == 1);
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, NULL, &transcript) == PTRT_OK);
  strncpy(greedy_text, transcript.text, sizeof(greedy_text) - 1);
  printf("greedy: %s\n", greedy_text);
  CHECK(strcmp(greedy_text, nemo_text) == 0); /* greedy reads the sample as NeMo does */
  CHECK(ptrt_session_num_hypotheses(session, &count) == PTRT_OK && count == 0);

  /* Beam search, 3 best. */
  decoding.strategy = PTRT_DECODING_BEAM;
  decoding.nbest = 3;
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, &decoding, &transcript) ==
        PTRT_OK);
  printf("beam 4: %s\n", transcript.text);
  /* (Beam 4 may find a likelier path than greedy's; NeMo's search does the same on the same encoder
   * output, tests/test_beam_search.py. Both end the sample the same way.) */
  CHECK(ends_with(transcript.text, last_words(nemo_text, 2)));
  CHECK(ptrt_session_num_hypotheses(session, &count) == PTRT_OK);
  CHECK(count >= 2 && count <= 3);
  for (i = 0; i < count; ++i) {
    ptrt_hypothesis_init(&hypothesis);
    CHECK(ptrt_session_get_hypothesis(session, i, &hypothesis) == PTRT_OK);
    printf("  %zu. [%.4f] %s\n", i + 1, hypothesis.score, hypothesis.text);
    CHECK(hypothesis.score < 0.0);
    CHECK(hypothesis.num_words == count_words(hypothesis.text) && hypothesis.num_tokens >= hypothesis.num_words);
    for (w = 0; w < hypothesis.num_words; ++w) {
      if (!(hypothesis.word_confidences[w] > 0.0 && hypothesis.word_confidences[w] <= 1.0)) {
        printf("FAIL word %zu confidence %f\n", w, hypothesis.word_confidences[w]);
        failures++;
      }
    }
    if (i == 0) {
      CHECK(strcmp(hypothesis.text, transcript.text) == 0);
      CHECK(hypothesis.num_tokens == transcript.num_tokens &&
            memcmp(hypothesis.tokens, transcript.tokens, transcript.num_tokens * sizeof(ptrt_token)) == 0);
    } else {
      /* NeMo's order: by score / (tokens + 1), descending. (Two entries may share their tokens and
       * differ in where the path ends: NeMo merges only equal sequences ending at the same frame.) */
      CHECK(hypothesis.score / (double)(hypothesis.num_tokens + 1) <= previous_key + 1e-9);
    }
    previous_key = hypothesis.score / (double)(hypothesis.num_tokens + 1);
  }
  {
    /* An older, shorter ptrt_hypothesis gets its prefix only: the bytes after it stay. */
    unsigned char buffer[sizeof(ptrt_hypothesis)];
    short_hypothesis* old = (short_hypothesis*)(void*)buffer;
    memset(buffer, 0xA5, sizeof(buffer));
    old->struct_size = sizeof(short_hypothesis);
    CHECK(ptrt_session_get_hypothesis(session, 0, (ptrt_hypothesis*)(void*)buffer) == PTRT_OK);
    CHECK(strcmp(old->text, transcript.text) == 0 && old->struct_size == sizeof(short_hypothesis));
    CHECK(buffer[sizeof(short_hypothesis)] == 0xA5 && buffer[sizeof(buffer) - 1] == 0xA5);
  }

  /* Refusals name the problem and keep the last result. */
  ptrt_hypothesis_init(&hypothesis);
  CHECK(ptrt_session_get_hypothesis(session, count, &hypothesis) == PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "past the n-best list") != NULL);
  decoding.beam_size = 0;
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, &decoding, &transcript) ==
        PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "beam_size must be in [1, 64], got 0") != NULL);
  CHECK(ptrt_session_num_hypotheses(session, &count) == PTRT_OK && count >= 2);
  decoding.beam_size = 4;
  decoding.strategy = 7;
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, &decoding, &transcript) ==
        PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "decoding.strategy") != NULL);
  decoding.strategy = PTRT_DECODING_GREEDY;
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, &decoding, &transcript) ==
        PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "needs strategy 'beam'") != NULL);
  memset(&decoding, 0, sizeof(decoding));
  CHECK(ptrt_session_transcribe_with_decoding(session, samples, num_samples, 16000, &decoding, &transcript) ==
        PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "call ptrt_decoding_options_init first") != NULL);
  memset(&hypothesis, 0, sizeof(hypothesis));
  CHECK(ptrt_session_get_hypothesis(session, 0, &hypothesis) == PTRT_ERROR_INVALID_ARGUMENT);
  CHECK(strstr(ptrt_last_error(), "call ptrt_hypothesis_init first") != NULL);

  /* Plain ptrt_session_transcribe is greedy and clears the list. */
  CHECK(ptrt_session_transcribe(session, samples, num_samples, 16000, &transcript) == PTRT_OK);
  CHECK(strcmp(transcript.text, greedy_text) == 0);
  CHECK(ptrt_session_num_hypotheses(session, &count) == PTRT_OK && count == 0);

  ptrt_session_destroy(session);
  ptrt_audio_free(samples);
  ptrt_model_destroy(model);
  printf("%s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
