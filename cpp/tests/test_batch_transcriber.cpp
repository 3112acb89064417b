// Batched offline transcription (parakeet_trt/batch_transcriber.hpp) on the packaged demo model and the
// native onnxruntime engine: every utterance's tokens equal OfflineRecognizer's (batch 1), at batch
// sizes that leave a short last batch; bad audio fails only its own utterance. The feature thread
// runs beside the encoder call (run under TSan and ASan in CI).
#include <cmath>
#include <memory>
#include <utility>
#include <vector>

#include "onnxruntime_test_support.hpp"
#include "parakeet_trt/batch_transcriber.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/errors.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

// Slices of the demo sample of different lengths and starts (utterances of 0.6 to 3.4 s).
std::vector<std::vector<float>> utterances(const std::vector<float>& speech) {
  std::vector<std::vector<float>> out;
  for (int i = 0; i < 7; ++i) {
    const size_t begin = static_cast<size_t>(i) * 4000;
    const size_t length = std::min(speech.size() - begin, static_cast<size_t>(10000 + i * 7000));
    out.emplace_back(speech.begin() + static_cast<std::ptrdiff_t>(begin),
                     speech.begin() + static_cast<std::ptrdiff_t>(begin + length));
  }
  return out;
}

std::vector<AudioSpan> spans_of(const std::vector<std::vector<float>>& audio) {
  std::vector<AudioSpan> spans;
  for (const auto& a : audio) spans.push_back({a.data(), static_cast<int64_t>(a.size())});
  return spans;
}

void test_batches_equal_batch_one() {
  if (!PTRT_CHECK(ptrt_test::onnxruntime_library_configured())) return;
  auto model = Model::load(ptrt_test::demo_model_dir());
  EngineOptions engine_options;
  engine_options.intra_op_threads = 1;
  std::shared_ptr<Engine> engine = make_engine(*model, "encoder", engine_options);
  const auto audio = utterances(ptrt_test::read_wav_pcm16(ptrt_test::demo_wav()));
  OfflineRecognizer alone(model, engine);
  std::vector<Transcript> expected;
  for (const auto& a : audio) expected.push_back(alone.transcribe(a.data(), static_cast<int64_t>(a.size())));
  PTRT_CHECK(!expected.back().tokens.empty());

  const std::pair<int32_t, int32_t> settings[] = {{1, 1}, {3, 1}, {4, 1}, {8, 1}, {1, 2}, {3, 2}, {2, 3}};
  for (const auto& [batch_size, workers] : settings) {
    // workers > 1: concurrent run() calls on the shared engine (TSan checks this test).
    BatchTranscriber transcriber(model, engine, BatchTranscribeOptions{batch_size, workers});
    const std::vector<BatchItem> items = transcriber.transcribe(spans_of(audio));
    PTRT_CHECK_EQ(items.size(), audio.size());
    PTRT_CHECK_EQ(transcriber.encoder_calls(), static_cast<int64_t>((audio.size() + batch_size - 1) / batch_size));
    for (size_t i = 0; i < items.size(); ++i) {
      PTRT_CHECK(!items[i].error);
      const Transcript& got = items[i].transcript;
      PTRT_CHECK_EQ(got.text, expected[i].text);
      PTRT_CHECK_EQ(got.num_encoder_frames, expected[i].num_encoder_frames);
      bool same = got.tokens.size() == expected[i].tokens.size();
      for (size_t t = 0; same && t < got.tokens.size(); ++t)
        same = got.tokens[t].token_id == expected[i].tokens[t].token_id &&
               got.tokens[t].frame == expected[i].tokens[t].frame &&
               got.tokens[t].duration == expected[i].tokens[t].duration;
      PTRT_CHECK(same);
    }
  }
}

void test_bad_audio_fails_only_its_utterance() {
  if (!PTRT_CHECK(ptrt_test::onnxruntime_library_configured())) return;
  auto model = Model::load(ptrt_test::demo_model_dir());
  std::shared_ptr<Engine> engine = make_engine(*model, "encoder", EngineOptions{});
  auto audio = utterances(ptrt_test::read_wav_pcm16(ptrt_test::demo_wav()));
  audio[1][500] = NAN;
  audio[2].clear();
  BatchTranscriber transcriber(model, engine, BatchTranscribeOptions{4});
  const std::vector<BatchItem> items = transcriber.transcribe(spans_of(audio));
  PTRT_CHECK_THROWS(std::rethrow_exception(items[1].error), InvalidAudio, "sample 500 is NaN");
  PTRT_CHECK_THROWS(std::rethrow_exception(items[2].error), InvalidAudio, "empty");
  OfflineRecognizer alone(model, engine);
  for (size_t i : {size_t{0}, size_t{3}, size_t{6}}) {
    PTRT_CHECK(!items[i].error);
    PTRT_CHECK_EQ(items[i].transcript.text,
                  alone.transcribe(audio[i].data(), static_cast<int64_t>(audio[i].size())).text);
  }
  PTRT_CHECK_THROWS(BatchTranscriber(model, engine, BatchTranscribeOptions{0}), Error, "batch_size must be in 1..256");
  PTRT_CHECK_THROWS(BatchTranscriber(model, engine, BatchTranscribeOptions{4, 0}), Error, "workers must be in 1..64");
  BatchTranscriber two_workers(model, engine, BatchTranscribeOptions{1, 2});
  const std::vector<BatchItem> again = two_workers.transcribe(spans_of(audio));
  PTRT_CHECK_THROWS(std::rethrow_exception(again[1].error), InvalidAudio, "sample 500 is NaN");
  PTRT_CHECK(!again[0].error && again[0].transcript.text == items[0].transcript.text);
  PTRT_CHECK(transcriber.transcribe({}).empty());
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"batches_equal_batch_one", &test_batches_equal_batch_one},
      {"bad_audio_fails_only_its_utterance", &test_bad_audio_fails_only_its_utterance},
  });
}
