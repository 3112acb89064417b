// Cache-aware streaming session: no heap allocation in the steady-state loop (over 1000+ encoder
// calls, both profiles), push-size independence, the window schedule, state and input errors, the
// worker thread. Runs the tiny streaming exports' real contract, features, decoder weights and
// vocabulary from <repo>/.cache (built by the Python tests; skipped with a message when absent);
// the engine is a deterministic C++ function of the window and the caches that obeys the contract,
// so the whole C++ loop (StreamingEncoderRunner checks included) runs without ONNX Runtime.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include <cmath>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "parakeet_trt/cache_aware_streaming.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "test_streams.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

std::string export_dir(const std::string& profile) {
  return std::string(PTRT_SOURCE_DIR) + "/.cache/streaming_exports/tiny-seed1234-b3-" + profile;
}

bool have(const std::string& profile) {
  if (std::ifstream(export_dir(profile) + "/model_meta.json").good()) return true;
  std::printf("SKIP %s: no tiny streaming export (run tests/test_streaming_cache_aware.py first)\n", profile.c_str());
  return false;
}

// outputs[d][t] = 3 sin(0.7 d + mean of the window's column P + 8 t + 0.1 * cache_time[0]); the
// caches carry a running value, so the output depends on the stream's history as a real graph's
// does. Lengths follow the contract's rules. Allocation-free.
class FormulaStreamingEncoder final : public Engine {
 public:
  explicit FormulaStreamingEncoder(const StreamingContract& s) : s_(s) {}
  void run(const TensorView* inputs, size_t, TensorView* outputs, size_t) override {
    const float* window = static_cast<const float*>(inputs[0].data);
    const int64_t n_mels = inputs[0].shape[1], frames = inputs[0].shape[2];
    const int64_t length = *static_cast<const int64_t*>(inputs[1].data);
    const float* cache_time = static_cast<const float*>(inputs[3].data);
    const int64_t cache_len = *static_cast<const int64_t*>(inputs[4].data);
    float* out = static_cast<float*>(outputs[0].data);
    const int64_t d_model = outputs[0].shape[1], t_out = outputs[0].shape[2];
    const float history = cache_time[0];
    float last_mean = 0.f;
    for (int64_t t = 0; t < t_out; ++t) {
      const int64_t f = std::min<int64_t>(s_.pre_encode_cache_size + t * s_.subsampling_factor, frames - 1);
      float mean = 0.f;
      for (int64_t m = 0; m < n_mels; ++m) mean += window[m * frames + f];
      mean /= static_cast<float>(n_mels);
      last_mean = mean;
      for (int64_t d = 0; d < d_model; ++d) out[d * t_out + t] = 3.f * std::sin(0.7f * static_cast<float>(d) + mean + 0.1f * history);
    }
    *static_cast<int64_t*>(outputs[1].data) = s_.expected_encoded_length(length);
    const int64_t cc = outputs[2].num_elements(), ct = outputs[3].num_elements();
    std::fill(static_cast<float*>(outputs[2].data), static_cast<float*>(outputs[2].data) + cc, 0.f);
    float* next_time = static_cast<float*>(outputs[3].data);
    std::fill(next_time, next_time + ct, 0.f);
    next_time[0] = 0.5f * history + 0.5f * std::tanh(last_mean);
    *static_cast<int64_t*>(outputs[4].data) = s_.next_cache_len(cache_len);
    ++calls;
  }
  std::string description() const override { return "formula streaming encoder (test)"; }
  int64_t calls = 0;

 private:
  StreamingContract s_;
};

using ptrt_test::test_audio;

struct Run : ptrt_test::StreamRun {
  int64_t calls = 0;
};

Run stream(const std::string& profile, const std::vector<float>& audio, int64_t block) {
  auto model = Model::load(export_dir(profile));
  auto engine = std::make_shared<FormulaStreamingEncoder>(model->contract().streaming);
  CacheAwareStreamingSession s(model, engine);
  Run run;
  static_cast<ptrt_test::StreamRun&>(run) = ptrt_test::stream_through(s, audio, block);
  run.calls = engine->calls;
  for (int64_t tail : run.step_tails) PTRT_CHECK_EQ(tail, int64_t{0});
  return run;
}

void steady_state_allocates_nothing(const std::string& profile) {
  if (!have(profile)) return;
  auto model = Model::load(export_dir(profile));
  const StreamingContract& c = model->contract().streaming;
  auto engine = std::make_shared<FormulaStreamingEncoder>(c);
  CacheAwareStreamingSession s(model, engine);
  const int64_t block = c.advance_frames_per_call * model->meta().features.hop_length;  // one window per push
  const int64_t warm = 20, total = warm + 1050;
  const std::vector<float> audio = test_audio(block * total, 7);
  int64_t steps = 0, tokens = 0;
  auto on_step = [&](const StreamingStep& st) {
    ++steps;
    tokens += st.num_committed;
  };
  // Warm-up: the attention cache fills to its cap (cache_len grows by `shift` per call).
  for (int64_t i = 0; i < warm; ++i) s.push(audio.data() + i * block, block, on_step);
  const int64_t warm_steps = steps, warm_calls = engine->calls;
  int64_t allocations = -1;
  {
    ptrt_test::AllocationCounter counter;
    for (int64_t i = warm; i < total; ++i) s.push(audio.data() + i * block, block, on_step);
    allocations = counter.count();
  }
  std::printf("  %s steady state: %lld windows (encoder calls %lld), %lld tokens, %lld allocations\n", profile.c_str(),
              static_cast<long long>(steps - warm_steps), static_cast<long long>(engine->calls - warm_calls),
              static_cast<long long>(tokens), static_cast<long long>(allocations));
  PTRT_CHECK(steps - warm_steps >= 1000);
  PTRT_CHECK_EQ(engine->calls - warm_calls, steps - warm_steps);
  PTRT_CHECK(tokens > 0);
  PTRT_CHECK_EQ(allocations, 0);
}

void test_steady_state_allocates_nothing_cache_aware() { steady_state_allocates_nothing("cache_aware"); }
void test_steady_state_allocates_nothing_chunk_isolated() { steady_state_allocates_nothing("chunk_isolated"); }

void push_size_does_not_change_the_result(const std::string& profile) {
  if (!have(profile)) return;
  const std::vector<float> audio = test_audio(16000 * 5 + 333, 3);
  const Run a = stream(profile, audio, 1), b = stream(profile, audio, 37), c = stream(profile, audio, 16000);
  PTRT_CHECK(!a.ids.empty());
  PTRT_CHECK(a.ids == b.ids && b.ids == c.ids);
  PTRT_CHECK(a.frames == b.frames && b.frames == c.frames);
  PTRT_CHECK(a.step_ends == b.step_ends && b.step_ends == c.step_ends);
  PTRT_CHECK(a.step_tokens == b.step_tokens && b.step_tokens == c.step_tokens);
  // NeMo's schedule: windows every `advance` frames while the window start is inside the stream's
  // T = 1 + n / hop frames, the last chunk at least one encoder frame long.
  auto model = Model::load(export_dir(profile));
  const StreamingContract& s = model->contract().streaming;
  const int64_t T = 1 + static_cast<int64_t>(audio.size()) / 160;
  int64_t windows = 0;
  for (int64_t b0 = 0; b0 < T && (b0 == 0 || T - b0 >= s.subsampling_factor); b0 += s.advance_frames_per_call) ++windows;
  PTRT_CHECK_EQ(static_cast<int64_t>(a.step_ends.size()), windows);
  PTRT_CHECK_EQ(a.calls, windows);
  PTRT_CHECK_EQ(a.step_ends.back(), static_cast<int64_t>(audio.size()));
  for (size_t i = 1; i < a.frames.size(); ++i) PTRT_CHECK(a.frames[i] >= a.frames[i - 1]);
}

void test_push_size_does_not_change_the_result_cache_aware() { push_size_does_not_change_the_result("cache_aware"); }
void test_push_size_does_not_change_the_result_chunk_isolated() { push_size_does_not_change_the_result("chunk_isolated"); }

void test_state_and_input_errors() {
  if (!have("cache_aware")) return;
  auto model = Model::load(export_dir("cache_aware"));
  auto engine = std::make_shared<FormulaStreamingEncoder>(model->contract().streaming);
  CacheAwareStreamingConfig wrong;
  wrong.profile = "chunk_isolated";
  PTRT_CHECK_THROWS(CacheAwareStreamingSession(model, engine, wrong), ContractViolation, "streaming.profile");
  auto offline = Model::load(PTRT_SOURCE_DIR "/python/parakeet_trt/models/random-weights-test");
  PTRT_CHECK_THROWS(CacheAwareStreamingSession(offline, engine), ContractViolation, "engines.encoder_streaming");

  CacheAwareStreamingSession s(model, engine);
  int64_t steps = 0;
  auto count = [&](const StreamingStep&) { ++steps; };
  std::vector<float> audio = test_audio(40000, 1);
  s.push(audio.data(), 30000, count);
  const int64_t before = steps;
  PTRT_CHECK(before > 0);
  audio[30000 + 99] = NAN;
  PTRT_CHECK_THROWS(s.push(audio.data() + 30000, 10000, count), InvalidAudio, "sample 99 is NaN");
  PTRT_CHECK_EQ(s.samples_received(), 30000);
  PTRT_CHECK_EQ(steps, before);
  s.push(audio.data(), 0, count);
  PTRT_CHECK_THROWS(s.redecode(0, 100), Error, "keeps no audio history");
  s.finish(count);
  PTRT_CHECK_THROWS(s.push(audio.data(), 10, count), Error, "after finish");
  PTRT_CHECK_THROWS(s.finish(count), Error, "already closed");
}

void test_worker_thread_gives_the_session_result() {
  if (!have("cache_aware")) return;
  const std::vector<float> audio = test_audio(16000 * 4 + 77, 3);
  const Run direct = stream("cache_aware", audio, 16000);
  auto model = Model::load(export_dir("cache_aware"));
  LiveStream worker(std::make_unique<CacheAwareStreamingSession>(
                             model, std::make_shared<FormulaStreamingEncoder>(model->contract().streaming)),
                         ptrt_test::live_options(10000, 4));
  std::vector<int> ids;
  std::vector<int64_t> ends;
  LiveEvent event;
  for (size_t i = 0; i < audio.size(); i += 1000) {
    worker.write(audio.data() + i, std::min<int64_t>(1000, static_cast<int64_t>(audio.size() - i)));
  }
  worker.close();
  while (worker.next_event(event, -1)) {
    PTRT_CHECK(event.kind == LiveEvent::Kind::kStep);
    for (const TokenEmission& t : event.committed) ids.push_back(t.token_id);
    ends.push_back(event.audio_end_sample);
    if (event.is_last) break;
  }
  PTRT_CHECK(ids == direct.ids);
  PTRT_CHECK(ends == direct.step_ends);
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"steady_state_allocates_nothing_cache_aware", &test_steady_state_allocates_nothing_cache_aware},
      {"steady_state_allocates_nothing_chunk_isolated", &test_steady_state_allocates_nothing_chunk_isolated},
      {"push_size_does_not_change_the_result_cache_aware", &test_push_size_does_not_change_the_result_cache_aware},
      {"push_size_does_not_change_the_result_chunk_isolated", &test_push_size_does_not_change_the_result_chunk_isolated},
      {"state_and_input_errors", &test_state_and_input_errors},
      {"worker_thread_gives_the_session_result", &test_worker_thread_gives_the_session_result},
  });
}
