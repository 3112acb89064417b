// Buffered streaming session: no heap allocation in the steady-state loop, chunking independence,
// NeMo's buffer bookkeeping, state errors. Runs the packaged model's real features, decoder weights
// and vocabulary; the encoder is a deterministic C++ engine (a fixed function of the features), so
// the whole C++ loop is exercised without ONNX Runtime (which is reached from Python only).
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <atomic>
#include <thread>
#include <vector>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/features.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/streaming.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/transcript.hpp"
#include "test_streams.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

const char* kModelDir = PTRT_SOURCE_DIR "/python/parakeet_trt/models/random-weights-test";

using ptrt_test::FormulaEncoder;
using ptrt_test::test_audio;

using Run = ptrt_test::StreamRun;

Run stream(const std::shared_ptr<const Model>& model, const std::vector<float>& audio, int64_t block,
           BufferedStreamingConfig cfg) {
  BufferedStreamingSession s(model, std::make_shared<FormulaEncoder>(*model), cfg);
  return ptrt_test::stream_through(s, audio, block);
}

void test_steady_state_allocates_nothing() {
  auto model = Model::load(kModelDir);
  auto engine = std::make_shared<FormulaEncoder>(*model);
  BufferedStreamingConfig cfg;
  cfg.chunk_ms = 160;
  cfg.left_ms = 1600;
  cfg.right_ms = 320;
  cfg.history_ms = 4000;
  BufferedStreamingSession s(model, engine, cfg);
  const int64_t block = 2560;  // one 160 ms chunk per push after the first step
  const std::vector<float> audio = test_audio(block * 1100, 7);
  int64_t steps = 0, tokens = 0;
  auto on_step = [&](const StreamingStep& st) {
    ++steps;
    tokens += st.num_committed;
  };
  // Warm-up: the buffer grows to its full left context (10 steps), the encoder runner's output
  // buffer reaches its steady size.
  for (int i = 0; i < 50; ++i) s.push(audio.data() + i * block, block, on_step);
  const int64_t warm_steps = steps;
  int64_t allocations = -1;
  {
    ptrt_test::AllocationCounter counter;
    for (int i = 50; i < 1100; ++i) s.push(audio.data() + i * block, block, on_step);
    allocations = counter.count();
  }
  std::printf("  steady state: %lld steps, %lld tokens, %lld allocations\n", static_cast<long long>(steps - warm_steps),
              static_cast<long long>(tokens), static_cast<long long>(allocations));
  PTRT_CHECK(steps - warm_steps >= 1000);
  PTRT_CHECK(tokens > 0);
  PTRT_CHECK_EQ(allocations, 0);
}

void test_push_size_does_not_change_the_result() {
  auto model = Model::load(kModelDir);
  BufferedStreamingConfig cfg;
  cfg.chunk_ms = 240;
  cfg.left_ms = 800;
  cfg.right_ms = 160;
  const std::vector<float> audio = test_audio(16000 * 7 + 333, 3);
  const Run a = stream(model, audio, 1, cfg), b = stream(model, audio, 37, cfg), c = stream(model, audio, 16000, cfg);
  PTRT_CHECK(!a.ids.empty());
  PTRT_CHECK(a.ids == b.ids && b.ids == c.ids);
  PTRT_CHECK(a.frames == b.frames && b.frames == c.frames);
  PTRT_CHECK(a.step_ends == b.step_ends && b.step_ends == c.step_ends);
  // NeMo's schedule: first step at C + R samples, then every C, the last at the end of the audio.
  const int64_t C = 3 * 1280, R = 2 * 1280;
  PTRT_CHECK_EQ(a.step_ends.front(), C + R);
  for (size_t i = 1; i + 1 < a.step_ends.size(); ++i) PTRT_CHECK_EQ(a.step_ends[i] - a.step_ends[i - 1], C);
  PTRT_CHECK_EQ(a.step_ends.back(), static_cast<int64_t>(audio.size()));
  // Token frames are global and non-decreasing.
  for (size_t i = 1; i < a.frames.size(); ++i) PTRT_CHECK(a.frames[i] >= a.frames[i - 1]);
}

// Keeps a copy of every encoder input (the session's normalized features), then runs FormulaEncoder.
class RecordingEncoder final : public Engine {
 public:
  explicit RecordingEncoder(const Model& model) : formula_(model) {}
  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override {
    const float* features = static_cast<const float*>(inputs[0].data);
    const int64_t frames = inputs[0].shape[2];
    calls.push_back({frames, std::vector<float>(features, features + inputs[0].shape[1] * frames)});
    formula_.run(inputs, num_inputs, outputs, num_outputs);
  }
  std::string description() const override { return "recording encoder (test)"; }
  std::vector<std::pair<int64_t, std::vector<float>>> calls;  // (feature frames, [n_mels][frames])

 private:
  FormulaEncoder formula_;
};

void test_features_equal_a_full_computation_of_each_buffer() {
  // Log-mel frames reused from the ring and the audio ring's wrap-around give exactly the features of
  // the buffer computed from scratch (FeatureExtractor::compute), bit for bit, at every regular step:
  // 240/800/160 over 7 s wraps both rings many times.
  auto model = Model::load(kModelDir);
  auto engine = std::make_shared<RecordingEncoder>(*model);
  BufferedStreamingConfig cfg = {240, 800, 160, 0};
  BufferedStreamingSession s(model, engine, cfg);
  const std::vector<float> audio = test_audio(16000 * 7 + 333, 5);
  std::vector<int64_t> step_ends;
  auto on_step = [&](const StreamingStep& st) { step_ends.push_back(st.audio_end_sample); };
  for (size_t i = 0; i < audio.size(); i += 777) {
    s.push(audio.data() + i, std::min<int64_t>(777, static_cast<int64_t>(audio.size() - i)), on_step);
  }
  s.finish(on_step);
  PTRT_CHECK_EQ(engine->calls.size(), step_ends.size());
  FeatureExtractor fx(model->meta().features);
  const int64_t hop = model->meta().features.hop_length;
  int compared = 0, differing = 0;
  for (size_t k = 0; k + 1 < step_ends.size(); ++k) {  // regular steps: the buffer is whole hops
    const int64_t frames = engine->calls[k].first, total = (frames - 1) * hop;
    std::vector<float> expected(engine->calls[k].second.size());
    fx.compute(audio.data() + step_ends[k] - total, total, expected.data());
    ++compared;
    differing += expected != engine->calls[k].second;
  }
  PTRT_CHECK(compared > 20);
  PTRT_CHECK_EQ(differing, 0);
}

void test_state_and_input_errors() {
  auto model = Model::load(kModelDir);
  auto engine = std::make_shared<FormulaEncoder>(*model);
  BufferedStreamingConfig cfg;
  cfg.chunk_ms = 100;
  PTRT_CHECK_THROWS(BufferedStreamingSession(model, engine, cfg), std::invalid_argument, "multiple of the encoder frame");
  cfg.chunk_ms = 160;
  BufferedStreamingSession s(model, engine, cfg);
  auto ignore = [](const StreamingStep&) {};
  std::vector<float> audio = test_audio(8000, 1);
  audio[99] = NAN;
  PTRT_CHECK_THROWS(s.push(audio.data(), 8000, ignore), InvalidAudio, "sample 99 is NaN");
  PTRT_CHECK_EQ(s.samples_received(), 0);
  s.push(audio.data(), 0, ignore);
  s.push(audio.data(), 99, ignore);
  PTRT_CHECK_EQ(s.samples_received(), 99);
  s.finish(ignore);
  PTRT_CHECK_THROWS(s.push(audio.data(), 10, ignore), Error, "after finish");
  PTRT_CHECK_THROWS(s.finish(ignore), Error, "already closed");
  PTRT_CHECK_THROWS(s.redecode(0, 5000), InvalidAudio, "retains samples");
}

class FailingEncoder final : public Engine {
 public:
  void run(const TensorView*, size_t, TensorView*, size_t) override { throw std::runtime_error("device lost"); }
  std::string description() const override { return "failing encoder (test)"; }
};

BufferedStreamingConfig worker_config() {
  BufferedStreamingConfig cfg;
  cfg.chunk_ms = 240;
  cfg.left_ms = 800;
  cfg.right_ms = 160;
  return cfg;
}

void test_worker_thread_gives_the_session_result() {
  auto model = Model::load(kModelDir);
  const std::vector<float> audio = test_audio(16000 * 7 + 333, 3);
  const Run direct = stream(model, audio, 16000, worker_config());
  LiveStream worker(std::make_unique<BufferedStreamingSession>(model, std::make_shared<FormulaEncoder>(*model),
                                                                   worker_config()),
                         ptrt_test::live_options(10000, 4));  // 4 slots: the inference thread must wait for this consumer
  std::vector<int> ids;
  std::vector<int64_t> ends;
  int64_t last_seq = 0;
  LiveEvent event;
  auto drain = [&](int64_t timeout_ms) {
    while (worker.next_event(event, timeout_ms)) {
      PTRT_CHECK(event.kind == LiveEvent::Kind::kStep);
      PTRT_CHECK_EQ(event.seq, last_seq + 1);
      last_seq = event.seq;
      for (const TokenEmission& t : event.committed) ids.push_back(t.token_id);
      ends.push_back(event.audio_end_sample);
      if (event.is_last) break;
    }
  };
  for (size_t i = 0; i < audio.size(); i += 1000) {
    worker.write(audio.data() + i, std::min<int64_t>(1000, static_cast<int64_t>(audio.size() - i)));
    drain(0);
  }
  worker.close();
  drain(-1);
  PTRT_CHECK(worker.done());
  PTRT_CHECK(ids == direct.ids);
  PTRT_CHECK(ends == direct.step_ends);
  PTRT_CHECK_EQ(worker.dropped_samples(), 0);
  PTRT_CHECK_THROWS(worker.write(audio.data(), 10), Error, "after close");
}

void test_worker_overflow_is_counted_and_errors_stop_the_stream() {
  auto model = Model::load(kModelDir);
  const std::vector<float> audio = test_audio(16000, 5);
  {
    // A 100 ms ring takes 1600 samples of a 1 s block: the rest is dropped and counted.
    LiveStream worker(std::make_unique<BufferedStreamingSession>(
                               model, std::make_shared<FormulaEncoder>(*model), worker_config()), ptrt_test::live_options(100, 4));
    const int64_t stored = worker.write(audio.data(), 16000);
    PTRT_CHECK(stored <= 1600);
    PTRT_CHECK_EQ(worker.dropped_samples(), 16000 - stored);
    std::vector<float> bad(10, 0.f);
    bad[3] = INFINITY;
    PTRT_CHECK_THROWS(worker.write(bad.data(), 10), InvalidAudio, "sample 3 is infinite");
    worker.close();
    LiveEvent event;
    bool saw_last = false;
    while (worker.next_event(event, -1)) {
      PTRT_CHECK_EQ(event.dropped_samples, 16000 - stored);
      saw_last = saw_last || event.is_last;
    }
    PTRT_CHECK(saw_last);
  }
  {
    LiveStream worker(std::make_unique<BufferedStreamingSession>(model, std::make_shared<FailingEncoder>(),
                                                                     worker_config()),
                      ptrt_test::live_options(10000, 64));
    worker.write(audio.data(), 16000);
    LiveEvent event;
    PTRT_CHECK(worker.next_event(event, -1));
    PTRT_CHECK(event.kind == LiveEvent::Kind::kError);
    PTRT_CHECK(event.error.find("device lost") != std::string::npos);
    PTRT_CHECK(!worker.next_event(event, 100));
    PTRT_CHECK(worker.done());
  }
}

void test_live_stream_refuses_writes_after_an_error_and_a_second_producer() {
  auto model = Model::load(kModelDir);
  const std::vector<float> audio = test_audio(16000, 5);
  {
    LiveStream stream(std::make_unique<BufferedStreamingSession>(model, std::make_shared<FailingEncoder>(),
                                                                 worker_config()),
                      ptrt_test::live_options(10000, 64));
    stream.write(audio.data(), 16000);
    LiveEvent event;
    PTRT_CHECK(stream.next_event(event, -1));
    PTRT_CHECK(event.kind == LiveEvent::Kind::kError);
    PTRT_CHECK(event.error_code == ErrorCode::kEngine);
    // A producer waiting for room must not wait forever: the stream's error comes back.
    PTRT_CHECK_THROWS(stream.write(audio.data(), 100), Error, "device lost");
  }
  {
    // Two producers at once: every write either stores (all or part, the rest counted as dropped) or
    // is refused with kState. Nothing is lost silently.
    LiveStream stream(std::make_unique<BufferedStreamingSession>(model, std::make_shared<FormulaEncoder>(*model),
                                                                 worker_config()),
                      ptrt_test::live_options(60000, 64));
    std::atomic<int64_t> stored{0}, refused{0}, attempted{0};
    auto producer = [&] {
      for (int i = 0; i < 2000; ++i) {
        attempted += 160;
        try {
          stored += stream.write(audio.data(), 160);
        } catch (const Error& e) {
          PTRT_CHECK(e.code() == ErrorCode::kState);
          refused += 160;
        }
      }
    };
    std::thread a(producer), b(producer);
    a.join();
    b.join();
    PTRT_CHECK_EQ(stored.load() + refused.load() + stream.dropped_samples(), attempted.load());
    PTRT_CHECK_EQ(stream.samples_written(), stored.load() + stream.dropped_samples());
    stream.close();
    LiveEvent event;
    int64_t last_end = 0;
    while (stream.next_event(event, -1)) last_end = event.audio_end_sample;
    PTRT_CHECK_EQ(last_end, stored.load());  // every stored sample was decoded
  }
}

void test_live_stream_transcript_equals_the_state_fed_by_the_session() {
  auto model = Model::load(kModelDir);
  const std::vector<float> audio = test_audio(16000 * 6 + 101, 9);
  // The reference: the same session's steps fed to a TranscriptState on this thread.
  BufferedStreamingSession direct(model, std::make_shared<FormulaEncoder>(*model), worker_config());
  TranscriptState reference(model->vocabulary(), model->meta().encoder.frame_stride_s);
  std::vector<std::string> expected;
  auto record = [&](const StreamingStep& st) {
    const double end_s = static_cast<double>(st.audio_end_sample) / 16000.0;
    for (const TranscriptEvent& e :
         reference.apply_step(st.committed, st.num_committed, st.tail, st.num_tail, end_s, -1.0)) {
      expected.push_back(std::to_string(static_cast<int>(e.type)) + ":" + e.text);
    }
    if (st.is_last) {
      for (const TranscriptEvent& e : reference.finish(end_s)) {
        expected.push_back(std::to_string(static_cast<int>(e.type)) + ":" + e.text);
      }
    }
  };
  direct.push(audio.data(), static_cast<int64_t>(audio.size()), record);
  direct.finish(record);

  LiveStream stream(std::make_unique<BufferedStreamingSession>(model, std::make_shared<FormulaEncoder>(*model),
                                                               worker_config()),
                    ptrt_test::live_options(10000, 4));
  for (size_t i = 0; i < audio.size(); i += 999) {
    stream.write(audio.data() + i, std::min<int64_t>(999, static_cast<int64_t>(audio.size() - i)));
  }
  stream.close();
  std::vector<std::string> got;
  LiveEvent event;
  std::string committed_text;
  while (stream.next_event(event, -1)) {
    PTRT_CHECK(event.kind == LiveEvent::Kind::kStep);
    for (const TranscriptEvent& e : event.transcript) got.push_back(std::to_string(static_cast<int>(e.type)) + ":" + e.text);
    committed_text += event.committed_text_added;
  }
  PTRT_CHECK(!expected.empty());
  PTRT_CHECK(got == expected);
  PTRT_CHECK_EQ(stream.snapshot().text, reference.committed_text());
  PTRT_CHECK_EQ(committed_text, reference.committed_text());
  PTRT_CHECK_EQ(stream.alignment_conflicts(), reference.alignment_conflicts());
}

// Speech, a pause, speech: with segment_on_endpoint the second sentence is decoded by a fresh session
// that starts at the frame-aligned pre-roll before its onset, exactly as that session run alone on
// that audio; the pause beyond the pre-roll never reaches an encoder; each segment ends in a final.
void test_segments_start_fresh_after_a_pause() {
  auto model = Model::load(kModelDir);
  const int64_t frame = 1280, block = 1280;
  const std::vector<float> speech1 = test_audio(frame * 30, 21), speech2 = test_audio(frame * 35, 22);
  const int64_t pause = frame * 25;  // 2 s
  std::vector<float> audio(speech1);
  audio.insert(audio.end(), static_cast<size_t>(pause), 0.f);
  const int64_t speech2_start = static_cast<int64_t>(audio.size());
  audio.insert(audio.end(), speech2.begin(), speech2.end());

  LiveStreamOptions o = ptrt_test::live_options(60000, 64);
  o.segment_on_endpoint = true;
  o.segment_silence_ms = 600;
  o.segment_pre_roll_ms = 320;
  o.transcript.endpoint_blank_ms = 0;  // finals only from the segments
  int sessions = 0;
  LiveStream stream(
      [&] {
        ++sessions;
        return std::make_unique<BufferedStreamingSession>(model, std::make_shared<FormulaEncoder>(*model),
                                                          worker_config());
      },
      o);
  double silence_ms = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(audio.size()); i += block) {
    const bool quiet = i >= static_cast<int64_t>(speech1.size()) && i < speech2_start;
    silence_ms = quiet ? silence_ms + 80.0 : 0.0;  // what an energy VAD reports at the block's end
    while (stream.write(audio.data() + i, block, silence_ms, false) == 0) std::this_thread::yield();
  }
  stream.close();
  std::vector<int> second_ids;
  int finals = 0;
  LiveEvent event;
  while (stream.next_event(event, -1)) {
    PTRT_CHECK(event.kind == LiveEvent::Kind::kStep);
    for (const TranscriptEvent& t : event.transcript) finals += t.type == TranscriptEventType::kFinal;
    if (finals >= 1) {
      for (const TokenEmission& t : event.committed) {
        if (t.frame * frame >= speech2_start - 5120) second_ids.push_back(t.token_id);
      }
    }
  }
  PTRT_CHECK_EQ(sessions, 2);
  PTRT_CHECK_EQ(finals, 2);
  // The second segment: onset at the end of speech2's first block, 320 ms before it, frame-aligned.
  const int64_t start = (speech2_start + block - 5120) / frame * frame;
  std::vector<float> tail(audio.begin() + start, audio.end());
  BufferedStreamingSession alone(model, std::make_shared<FormulaEncoder>(*model), worker_config());
  std::vector<int> expected;
  auto collect = [&](const StreamingStep& st) {
    for (int64_t k = 0; k < st.num_committed; ++k) expected.push_back(st.committed[k].token_id);
  };
  alone.push(tail.data(), static_cast<int64_t>(tail.size()), collect);
  alone.finish(collect);
  PTRT_CHECK(!expected.empty());
  PTRT_CHECK(second_ids == expected);
  // The second session received exactly the audio from its frame-aligned pre-roll on: the pause
  // before it reached no session.
  PTRT_CHECK_EQ(stream.session().samples_received(), static_cast<int64_t>(audio.size()) - start);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"steady_state_allocates_nothing", &test_steady_state_allocates_nothing},
      {"push_size_does_not_change_the_result", &test_push_size_does_not_change_the_result},
      {"features_equal_a_full_computation_of_each_buffer", &test_features_equal_a_full_computation_of_each_buffer},
      {"state_and_input_errors", &test_state_and_input_errors},
      {"worker_thread_gives_the_session_result", &test_worker_thread_gives_the_session_result},
      {"worker_overflow_is_counted_and_errors_stop_the_stream", &test_worker_overflow_is_counted_and_errors_stop_the_stream},
      {"live_stream_refuses_writes_after_an_error_and_a_second_producer",
       &test_live_stream_refuses_writes_after_an_error_and_a_second_producer},
      {"live_stream_transcript_equals_the_state_fed_by_the_session",
       &test_live_stream_transcript_equals_the_state_fed_by_the_session},
      {"segments_start_fresh_after_a_pause", &test_segments_start_fresh_after_a_pause},
  });
}
