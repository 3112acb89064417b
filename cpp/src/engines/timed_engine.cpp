#include "engines/timed_engine.hpp"

#include <time.h>

#include <chrono>
#include <stdexcept>

namespace parakeet_trt {

namespace {

int64_t thread_cpu_ns() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// Adds one call's wall and CPU time to the counters when it ends, returning or throwing.
class CallTimer {
 public:
  CallTimer(std::atomic<int64_t>& calls, std::atomic<int64_t>& wall_ns, std::atomic<int64_t>& cpu_ns)
      : calls_(calls), wall_ns_(wall_ns), cpu_ns_(cpu_ns), wall_start_(std::chrono::steady_clock::now()),
        cpu_start_(thread_cpu_ns()) {}
  ~CallTimer() {
    const auto wall = std::chrono::steady_clock::now() - wall_start_;
    cpu_ns_.fetch_add(thread_cpu_ns() - cpu_start_, std::memory_order_relaxed);
    wall_ns_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count(), std::memory_order_relaxed);
    calls_.fetch_add(1, std::memory_order_relaxed);
  }
  CallTimer(const CallTimer&) = delete;
  CallTimer& operator=(const CallTimer&) = delete;

 private:
  std::atomic<int64_t>& calls_;
  std::atomic<int64_t>& wall_ns_;
  std::atomic<int64_t>& cpu_ns_;
  std::chrono::steady_clock::time_point wall_start_;
  int64_t cpu_start_;
};

}  // namespace

TimedEngine::TimedEngine(std::shared_ptr<Engine> inner) : inner_(std::move(inner)) {
  if (!inner_) throw std::invalid_argument("TimedEngine needs an engine to time, got none");
}

void TimedEngine::run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) {
  CallTimer timer(calls_, nanoseconds_, cpu_nanoseconds_);
  inner_->run(inputs, num_inputs, outputs, num_outputs);
}

std::string TimedEngine::description() const { return "timed " + inner_->description(); }

}  // namespace parakeet_trt
