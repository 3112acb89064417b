// The benchmarks' timing decorator (engines/timed_engine.hpp): it forwards every call unchanged, counts
// calls and time from several threads at once without losing any (run under TSan in CI), and counts a
// call whose engine throws before passing the error on.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "engines/timed_engine.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

// Doubles a float tensor, spending about `busy` of CPU first; throws when asked to.
class DoublingEngine final : public Engine {
 public:
  explicit DoublingEngine(std::chrono::microseconds busy, bool fail = false) : busy_(busy), fail_(fail) {}
  void run(const TensorView* inputs, size_t, TensorView* outputs, size_t) override {
    if (fail_) throw std::runtime_error("engine down");
    const auto until = std::chrono::steady_clock::now() + busy_;
    while (std::chrono::steady_clock::now() < until) {
    }
    const float* in = static_cast<const float*>(inputs[0].data);
    float* out = static_cast<float*>(outputs[0].data);
    for (int64_t i = 0; i < inputs[0].num_elements(); ++i) out[i] = 2.f * in[i];
  }
  std::string description() const override { return "doubling"; }

 private:
  std::chrono::microseconds busy_;
  bool fail_;
};

void run_once(Engine& engine, float value, float& result) {
  float in = value;
  TensorView input{"x", DType::kFloat32, 1, {1}, &in};
  TensorView output{"y", DType::kFloat32, 1, {1}, &result};
  engine.run(&input, 1, &output, 1);
}

void test_forwards_and_counts() {
  TimedEngine timed(std::make_shared<DoublingEngine>(std::chrono::microseconds(2000)));
  PTRT_CHECK_EQ(timed.description(), std::string("timed doubling"));
  float result = 0.f;
  run_once(timed, 21.f, result);
  PTRT_CHECK_EQ(result, 42.f);
  PTRT_CHECK_EQ(timed.calls(), 1);
  PTRT_CHECK(timed.nanoseconds() >= 2000000);          // at least the engine's 2 ms
  PTRT_CHECK(timed.thread_cpu_nanoseconds() > 0);      // the busy wait ran on this thread
  PTRT_CHECK(timed.thread_cpu_nanoseconds() <= timed.nanoseconds() + 1000000);
}

void test_counts_from_many_threads() {
  TimedEngine timed(std::make_shared<DoublingEngine>(std::chrono::microseconds(50)));
  constexpr int kThreads = 8, kCalls = 200;
  std::vector<std::thread> threads;
  std::vector<int> wrong(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&timed, &wrong, t] {
      for (int i = 0; i < kCalls; ++i) {
        float result = 0.f;
        run_once(timed, static_cast<float>(i), result);
        if (result != 2.f * static_cast<float>(i)) ++wrong[t];
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int t = 0; t < kThreads; ++t) PTRT_CHECK_EQ(wrong[t], 0);
  PTRT_CHECK_EQ(timed.calls(), kThreads * kCalls);
  PTRT_CHECK(timed.nanoseconds() >= int64_t{kThreads} * kCalls * 50000);
}

void test_failing_call_is_counted_and_rethrown() {
  TimedEngine timed(std::make_shared<DoublingEngine>(std::chrono::microseconds(0), true));
  float result = 0.f;
  PTRT_CHECK_THROWS(run_once(timed, 1.f, result), std::runtime_error, "engine down");
  PTRT_CHECK_EQ(timed.calls(), 1);
  PTRT_CHECK_THROWS(TimedEngine(nullptr), std::invalid_argument, "needs an engine");
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"forwards_and_counts", &test_forwards_and_counts},
      {"counts_from_many_threads", &test_counts_from_many_threads},
      {"failing_call_is_counted_and_rethrown", &test_failing_call_is_counted_and_rethrown},
  });
}
