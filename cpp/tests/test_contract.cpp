// Contract rules and the StreamingEncoderRunner's per-call checks, with a scripted engine: correct
// outputs pass without allocating; each corrupted output is a ContractViolation naming the field,
// and the runner stays stopped until reset(). Uses the tiny streaming exports under <repo>/.cache
// (built by the Python tests); skipped with a message when they are absent.
#define PTRT_TEST_COUNT_ALLOCATIONS
#include "test_support.hpp"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "core/streaming_encoder_runner.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"

using namespace parakeet_trt;

namespace {

std::string repo_dir() {
  std::string f = __FILE__;
  return f.substr(0, f.rfind("/cpp/tests/"));
}

std::string export_dir(const std::string& profile) {
  return repo_dir() + "/.cache/streaming_exports/tiny-seed1234-b3-" + profile;
}

bool have(const std::string& dir) { return std::ifstream(dir + "/model_meta.json").good(); }

// Fills the outputs the way the contract says a correct graph does, then applies one corruption.
class ScriptedEngine final : public Engine {
 public:
  explicit ScriptedEngine(const StreamingContract& s) : s_(s) {}
  std::string corrupt;  // "", "cache_len", "encoded", "nan"
  void run(const TensorView* inputs, size_t, TensorView* outputs, size_t) override {
    const int64_t length = *static_cast<const int64_t*>(inputs[1].data);
    const int64_t cache_len = *static_cast<const int64_t*>(inputs[4].data);
    float* out = static_cast<float*>(outputs[0].data);
    std::fill(out, out + outputs[0].num_elements(), 0.5f);
    *static_cast<int64_t*>(outputs[1].data) = s_.expected_encoded_length(length) + (corrupt == "encoded" ? 1 : 0);
    float* cc = static_cast<float*>(outputs[2].data);
    std::fill(cc, cc + outputs[2].num_elements(), 0.0f);
    float* ct = static_cast<float*>(outputs[3].data);
    std::fill(ct, ct + outputs[3].num_elements(), corrupt == "nan" ? NAN : 0.0f);
    *static_cast<int64_t*>(outputs[4].data) = s_.next_cache_len(cache_len) + (corrupt == "cache_len" ? 7 : 0);
  }
  std::string description() const override { return "scripted engine"; }

 private:
  StreamingContract s_;
};

void test_rules() {
  StreamingContract s;
  s.subsampling_factor = 8;
  s.drop_extra_pre_encoded = 2;
  s.valid_out_len = 8;
  s.cache_keep_per_call = 8;
  s.cache_size = 32;
  PTRT_CHECK_EQ(s.expected_encoded_length(137), int64_t{8});  // 9 + 8*16 frames -> 18 - 2 -> clamp 8
  PTRT_CHECK_EQ(s.expected_encoded_length(17), int64_t{1});
  PTRT_CHECK_EQ(s.expected_encoded_length(16), int64_t{0});
  PTRT_CHECK_EQ(s.next_cache_len(0), int64_t{8});
  PTRT_CHECK_EQ(s.next_cache_len(30), int64_t{32});
}

void run_profile(const std::string& profile) {
  if (!have(export_dir(profile))) {
    std::printf("SKIP %s: no tiny streaming export (run the Python tests first)\n", profile.c_str());
    return;
  }
  auto model = Model::load(export_dir(profile));
  const StreamingContract& s = model->contract().streaming;
  PTRT_CHECK_EQ(s.profile, profile);
  auto engine = std::make_shared<ScriptedEngine>(s);
  StreamingEncoderRunner runner(model, engine);
  std::vector<float> window(static_cast<size_t>(model->contract().n_mels * s.window_frames), 0.1f);
  int64_t expected_cache = 0;
  {
    ptrt_test::AllocationCounter counter;
    for (int call = 0; call < 6; ++call) {
      StreamingEncoderOutput out = runner.run(window.data(), model->contract().n_mels, s.window_frames, s.window_frames);
      expected_cache = s.next_cache_len(expected_cache);
      if (out.cache_len != expected_cache || out.num_valid_frames != s.output_frames_per_call) PTRT_CHECK(false);
    }
    PTRT_CHECK_EQ(counter.count(), int64_t{0});
  }
  if (profile == "chunk_isolated") PTRT_CHECK_EQ(expected_cache, int64_t{0});
  else PTRT_CHECK_EQ(expected_cache, s.cache_size);

  const int64_t mels = model->contract().n_mels;
  PTRT_CHECK_THROWS(runner.run(window.data(), mels - 1, s.window_frames, s.window_frames), ContractViolation,
                    "feature count");
  PTRT_CHECK_THROWS(runner.run(window.data(), mels, s.window_frames - 1, s.window_frames), ContractViolation,
                    "window frames");
  PTRT_CHECK_THROWS(runner.run(window.data(), mels, s.window_frames, s.min_length - 1), Error, "length must be");
  for (const char* corruption : {"cache_len", "encoded", "nan"}) {
    runner.reset();
    engine->corrupt = corruption;
    const char* field = std::string(corruption) == "cache_len" ? "cache_last_channel_next_len (call 0"
                        : std::string(corruption) == "encoded" ? "encoded_lengths"
                                                               : "cache_last_time_next: expected finite";
    PTRT_CHECK_THROWS(runner.run(window.data(), mels, s.window_frames, s.window_frames), ContractViolation, field);
    PTRT_CHECK_THROWS(runner.run(window.data(), mels, s.window_frames, s.window_frames), Error, "reset()");
  }
  engine->corrupt = "";
  runner.reset();
  runner.run(window.data(), mels, s.window_frames, s.window_frames);
  PTRT_CHECK_EQ(runner.calls(), int64_t{1});
}

void test_chunk_isolated() { run_profile("chunk_isolated"); }
void test_cache_aware() { run_profile("cache_aware"); }

void test_offline_model_has_no_streaming_runner() {
  std::string dir = repo_dir() + "/python/parakeet_trt/models/random-weights-test";
  auto model = Model::load(dir);
  PTRT_CHECK(!model->contract().streaming.present);
  PTRT_CHECK_THROWS(StreamingEncoderRunner(model, std::make_shared<ScriptedEngine>(StreamingContract{})),
                    ContractViolation, "engines.encoder_streaming");
}

}  // namespace

int main() {
  return ptrt_test::run_tests({{"rules", &test_rules},
                               {"chunk_isolated", &test_chunk_isolated},
                               {"cache_aware", &test_cache_aware},
                               {"offline_model_has_no_streaming_runner", &test_offline_model_has_no_streaming_runner}});
}
