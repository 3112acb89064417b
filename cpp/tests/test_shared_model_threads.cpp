// One model, one native encoder engine, many callers at once (issue 13, "Threads"): 8 live streams
// and an offline recognizer run on their own threads, each on a different slice of real speech, and
// every result must equal the same work run alone on one thread. Also checks that a stream holds no
// copy of the model's weights (the decoder weights are the model's one shared object).
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "onnxruntime_test_support.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

// An encoder that must never run (the weight-sharing check makes recognizers, not transcripts).
class NeverCalledEngine final : public Engine {
 public:
  void run(const TensorView*, size_t, TensorView*, size_t) override { throw EngineError("never called"); }
  std::string description() const override { return "never called"; }
};

struct StreamResult {
  std::vector<int> ids;
  std::string text;
  int events = 0;
};

LiveStreamOptions options_for(int index) {
  LiveStreamOptions o;
  o.stream.buffered.chunk_ms = index % 2 ? 560 : 320;  // two settings: sessions differ, the model does not
  o.stream.buffered.right_ms = index % 3 ? 560 : 160;
  o.stream.buffered.history_ms = 0;
  o.event_slots = 4;
  return o;
}

StreamResult run_stream(const std::shared_ptr<const Model>& model, const std::shared_ptr<Engine>& engine,
                        const std::vector<float>& audio, int index) {
  LiveStream stream(model, engine, options_for(index));
  StreamResult r;
  LiveEvent event;
  std::thread consumer([&] {
    while (stream.next_event(event, -1)) {
      for (const TokenEmission& t : event.committed) r.ids.push_back(t.token_id);
      r.text += event.committed_text_added;
      ++r.events;
    }
  });
  const int64_t block = 160 + 37 * index;  // each stream pushes its own block size
  for (int64_t offset = 0; offset < static_cast<int64_t>(audio.size());) {
    const int64_t n = std::min<int64_t>(block, static_cast<int64_t>(audio.size()) - offset);
    const int64_t stored = stream.write(audio.data() + offset, n, -1.0, /*drop_overflow=*/false);
    offset += stored;
    if (stored < n) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // lossless: wait for room
  }
  stream.close();
  consumer.join();
  PTRT_CHECK_EQ(stream.dropped_samples(), 0);
  return r;
}

void test_eight_streams_and_an_offline_caller_on_one_model() {
  if (!PTRT_CHECK(ptrt_test::onnxruntime_library_configured())) return;
  auto model = Model::load(ptrt_test::demo_model_dir());
  EngineOptions engine_options;
  engine_options.intra_op_threads = 1;
  std::shared_ptr<Engine> engine = make_engine(*model, "encoder", engine_options);
  const std::vector<float> speech = ptrt_test::read_wav_pcm16(ptrt_test::demo_wav());
  // Each caller gets its own slice (rotated start) of the sample.
  auto slice = [&](int index) {
    std::vector<float> a(speech.begin() + static_cast<std::ptrdiff_t>(index * 1600), speech.end());
    a.insert(a.end(), speech.begin(), speech.begin() + static_cast<std::ptrdiff_t>(index * 1600));
    return a;
  };
  constexpr int kStreams = 8;
  std::vector<StreamResult> alone(kStreams), together(kStreams);
  for (int i = 0; i < kStreams; ++i) alone[static_cast<size_t>(i)] = run_stream(model, engine, slice(i), i);
  OfflineRecognizer solo(model, engine);
  const Transcript offline_alone = solo.transcribe(speech.data(), static_cast<int64_t>(speech.size()));

  Transcript offline_together;
  std::vector<std::thread> threads;
  for (int i = 0; i < kStreams; ++i) {
    threads.emplace_back([&, i] { together[static_cast<size_t>(i)] = run_stream(model, engine, slice(i), i); });
  }
  threads.emplace_back([&] {
    OfflineRecognizer recognizer(model, engine);
    for (int round = 0; round < 3; ++round) {
      offline_together = recognizer.transcribe(speech.data(), static_cast<int64_t>(speech.size()));
    }
  });
  for (std::thread& t : threads) t.join();

  for (int i = 0; i < kStreams; ++i) {
    const StreamResult& a = alone[static_cast<size_t>(i)];
    const StreamResult& b = together[static_cast<size_t>(i)];
    PTRT_CHECK(a.ids.size() > 10);  // real speech: a real transcript, not an empty one
    PTRT_CHECK(a.ids == b.ids);
    PTRT_CHECK_EQ(a.text, b.text);
  }
  PTRT_CHECK_EQ(offline_together.text, offline_alone.text);
  PTRT_CHECK_EQ(offline_alone.text, ptrt_test::demo_nemo_transcript());
}

void test_streams_share_the_model_weights() {
  auto model = Model::load(ptrt_test::demo_model_dir());
  const auto weights = model->native_decoder_weights();
  const long before = weights.use_count();
  {
    OfflineRecognizer a(model, std::make_shared<NeverCalledEngine>());
    OfflineRecognizer b(model, std::make_shared<NeverCalledEngine>());
    // Each recognizer's decoder step holds a reference to the one weight object, not a copy.
    PTRT_CHECK_EQ(weights.use_count(), before + 2);
  }
  PTRT_CHECK_EQ(weights.use_count(), before);
  PTRT_CHECK(weights->bytes() > 0);
}

void test_the_model_shares_engines_by_options() {
  if (!PTRT_CHECK(ptrt_test::onnxruntime_library_configured())) return;
  auto model = Model::load(ptrt_test::demo_model_dir());
  EngineOptions one_thread;
  one_thread.intra_op_threads = 1;
  EngineOptions two_threads;
  two_threads.intra_op_threads = 2;
  std::shared_ptr<Engine> a = model->engine("encoder", one_thread);
  std::shared_ptr<Engine> b = model->engine("encoder", one_thread);
  std::shared_ptr<Engine> c = model->engine("encoder", two_threads);
  PTRT_CHECK(a.get() == b.get());  // same graph and options: one engine
  PTRT_CHECK(a.get() != c.get());
  a.reset();
  b.reset();
  // Nobody holds it: the model does not keep it alive (weak), a later caller gets a fresh one.
  std::shared_ptr<Engine> d = model->engine("encoder", one_thread);
  PTRT_CHECK(d != nullptr && d.get() != c.get());
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"eight_streams_and_an_offline_caller_on_one_model", &test_eight_streams_and_an_offline_caller_on_one_model},
      {"streams_share_the_model_weights", &test_streams_share_the_model_weights},
      {"the_model_shares_engines_by_options", &test_the_model_shares_engines_by_options},
  });
}
