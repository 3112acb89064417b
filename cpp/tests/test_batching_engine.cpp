// Cross-stream batching (parakeet_trt/batching_engine.hpp): calls of equal shapes from many threads
// are stacked into fewer inner calls and every caller gets exactly its own rows back; unequal shapes
// run on their own; a lone caller never waits for the window; a failing call fails only its caller.
// Run under TSan and ASan in CI.
#include <atomic>
#include <chrono>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "parakeet_trt/batching_engine.hpp"
#include "parakeet_trt/errors.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

// x [B, W] float, length [B] int64 -> y [B, W] = 2x + row's length, y_length [B] = length + 1.
// Row-wise, so a batched call must give each row what it would alone. Spends `busy` per call;
// throws for a NaN input. Records the batch sizes it saw.
class RowEngine final : public Engine {
 public:
  explicit RowEngine(std::chrono::microseconds busy) : busy_(busy) {}
  void run(const TensorView* inputs, size_t, TensorView* outputs, size_t) override {
    const int64_t batch = inputs[0].shape[0], width = inputs[0].shape[1];
    const float* x = static_cast<const float*>(inputs[0].data);
    const int64_t* length = static_cast<const int64_t*>(inputs[1].data);
    for (int64_t i = 0; i < batch * width; ++i)
      if (std::isnan(x[i])) throw std::runtime_error("NaN in x");
    const int64_t now_running = running.fetch_add(1) + 1;
    int64_t most = most_running.load();
    while (now_running > most && !most_running.compare_exchange_weak(most, now_running)) {
    }
    std::this_thread::sleep_for(busy_);
    running.fetch_sub(1);
    float* y = static_cast<float*>(outputs[0].data);
    int64_t* y_length = static_cast<int64_t*>(outputs[1].data);
    for (int64_t b = 0; b < batch; ++b) {
      for (int64_t w = 0; w < width; ++w) y[b * width + w] = 2.f * x[b * width + w] + static_cast<float>(length[b]);
      y_length[b] = length[b] + 1;
    }
    calls.fetch_add(1);
    int64_t seen = largest.load();
    while (batch > seen && !largest.compare_exchange_weak(seen, batch)) {
    }
  }
  std::string description() const override { return "rows"; }

  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> largest{0};
  std::atomic<int64_t> running{0}, most_running{0};  // inner calls at once

 private:
  std::chrono::microseconds busy_;
};

// One caller's call: width `width`, its own values; true when every output row is right.
bool call_once(Engine& engine, int64_t width, float base, int64_t len) {
  std::vector<float> x(static_cast<size_t>(width)), y(static_cast<size_t>(width), -1.f);
  for (int64_t w = 0; w < width; ++w) x[w] = base + static_cast<float>(w);
  int64_t y_length = -1;
  TensorView inputs[2] = {{"x", DType::kFloat32, 2, {1, width}, x.data()}, {"length", DType::kInt64, 1, {1}, &len}};
  TensorView outputs[2] = {{"y", DType::kFloat32, 2, {1, width}, y.data()},
                           {"y_length", DType::kInt64, 1, {1}, &y_length}};
  engine.run(inputs, 2, outputs, 2);
  bool ok = y_length == len + 1;
  for (int64_t w = 0; w < width; ++w) ok = ok && y[w] == 2.f * x[w] + static_cast<float>(len);
  return ok;
}

// kThreads callers, kCalls each, widths from `width_of(thread)`; returns the wrong results.
template <typename WidthOf>
int hammer(Engine& engine, int threads, int calls, WidthOf width_of) {
  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < calls; ++i)
        if (!call_once(engine, width_of(t), static_cast<float>(1000 * t + i), t + i)) wrong.fetch_add(1);
    });
  for (std::thread& th : pool) th.join();
  return wrong.load();
}

void test_equal_shapes_are_stacked_and_split_back() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(2000));
  BatchingEngine engine(inner, BatchingOptions{5.0, 32});
  constexpr int kThreads = 8, kCalls = 40;
  PTRT_CHECK_EQ(hammer(engine, kThreads, kCalls, [](int) { return int64_t{16}; }), 0);
  const BatchingStats stats = engine.stats();
  PTRT_CHECK_EQ(stats.calls, int64_t{kThreads * kCalls});
  PTRT_CHECK_EQ(stats.batches, inner->calls.load());
  PTRT_CHECK(stats.batches < stats.calls / 2);  // most calls shared an inner call
  PTRT_CHECK(stats.largest_batch >= 4);
  PTRT_CHECK_EQ(inner->largest.load(), stats.largest_batch);
  PTRT_CHECK_EQ(inner->most_running.load(), int64_t{1});  // max_inflight 1: one batch at a time
}

void test_batches_in_flight_are_bounded() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(3000));
  BatchingEngine engine(inner, BatchingOptions{1.0, 4, 2});
  PTRT_CHECK_EQ(hammer(engine, 12, 20, [](int) { return int64_t{8}; }), 0);
  PTRT_CHECK(inner->most_running.load() <= 2);
  PTRT_CHECK_EQ(inner->most_running.load(), int64_t{2});  // 12 callers, batches of 4: two ran at once
  PTRT_CHECK(inner->largest.load() <= 4);
}

void test_max_batch_is_respected() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(2000));
  BatchingEngine engine(inner, BatchingOptions{5.0, 3});
  PTRT_CHECK_EQ(hammer(engine, 8, 20, [](int) { return int64_t{4}; }), 0);
  PTRT_CHECK(inner->largest.load() <= 3);
  PTRT_CHECK_EQ(engine.stats().largest_batch, inner->largest.load());
}

void test_unequal_shapes_run_separately() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(1000));
  BatchingEngine engine(inner, BatchingOptions{2.0, 32});
  // Every thread its own width: nothing may stack, every result still right.
  PTRT_CHECK_EQ(hammer(engine, 6, 15, [](int t) { return int64_t{3 + t}; }), 0);
  PTRT_CHECK_EQ(inner->largest.load(), int64_t{1});
  PTRT_CHECK_EQ(engine.stats().batched_calls, int64_t{0});
  PTRT_CHECK_EQ(engine.stats().batches, int64_t{6 * 15});
}

void test_lone_caller_does_not_wait() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(0));
  BatchingEngine engine(inner, BatchingOptions{100.0, 32});
  constexpr int kCalls = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCalls; ++i) PTRT_CHECK(call_once(engine, 8, static_cast<float>(i), i));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Waiting the 100 ms window per call would take 2 s; alone, the calls run at once.
  PTRT_CHECK(seconds < 0.5);
  PTRT_CHECK_EQ(engine.stats().window_waits, int64_t{0});
  std::printf("  lone caller: %.1f us per call through the batching engine\n", seconds / kCalls * 1e6);
}

void test_failing_call_fails_only_its_caller() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(2000));
  BatchingEngine engine(inner, BatchingOptions{20.0, 32});
  std::atomic<int> wrong{0}, failures{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < 6; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        if (t == 0 && i % 2 == 0) {
          float x[4] = {1.f, NAN, 3.f, 4.f}, y[4];
          int64_t len = 1, y_len = 0;
          TensorView in[2] = {{"x", DType::kFloat32, 2, {1, 4}, x}, {"length", DType::kInt64, 1, {1}, &len}};
          TensorView out[2] = {{"y", DType::kFloat32, 2, {1, 4}, y}, {"y_length", DType::kInt64, 1, {1}, &y_len}};
          try {
            engine.run(in, 2, out, 2);
          } catch (const std::runtime_error& e) {
            if (std::string(e.what()) == "NaN in x") failures.fetch_add(1);
          }
        } else if (!call_once(engine, 4, static_cast<float>(t * 100 + i), i)) {
          wrong.fetch_add(1);
        }
      }
    });
  for (std::thread& th : pool) th.join();
  PTRT_CHECK_EQ(failures.load(), 5);
  PTRT_CHECK_EQ(wrong.load(), 0);
}

void test_options_are_checked() {
  auto inner = std::make_shared<RowEngine>(std::chrono::microseconds(0));
  PTRT_CHECK_THROWS(BatchingEngine(inner, BatchingOptions{-1.0, 4}), Error, "window_ms must be in 0..100");
  PTRT_CHECK_THROWS(BatchingEngine(inner, BatchingOptions{5.0, 0}), Error, "max_batch must be in 1..1024");
  PTRT_CHECK_THROWS(BatchingEngine(inner, BatchingOptions{5.0, 4, 0}), Error, "max_inflight must be in 1..64");
  PTRT_CHECK_THROWS(BatchingEngine(nullptr, BatchingOptions{}), Error, "needs an engine");
  PTRT_CHECK_EQ(BatchingEngine(inner, BatchingOptions{}).description(), std::string("batching (window 5 ms, max 32) rows"));
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"equal_shapes_are_stacked_and_split_back", &test_equal_shapes_are_stacked_and_split_back},
      {"max_batch_is_respected", &test_max_batch_is_respected},
      {"batches_in_flight_are_bounded", &test_batches_in_flight_are_bounded},
      {"unequal_shapes_run_separately", &test_unequal_shapes_run_separately},
      {"lone_caller_does_not_wait", &test_lone_caller_does_not_wait},
      {"failing_call_fails_only_its_caller", &test_failing_call_fails_only_its_caller},
      {"options_are_checked", &test_options_are_checked},
  });
}
