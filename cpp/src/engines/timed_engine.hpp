// A decorator engine for benchmarks: forwards run() to another engine and counts the calls, the
// wall-clock nanoseconds spent in them and the CPU nanoseconds of the calling thread in them
// (atomics, so streams on several threads may share it). CPU time is immune to preemption by other
// processes; it excludes the engine's own worker threads, if any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "parakeet_trt/engine.hpp"

namespace parakeet_trt {

class TimedEngine final : public Engine {
 public:
  explicit TimedEngine(std::shared_ptr<Engine> inner);

  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override;
  std::string description() const override;

  int64_t calls() const { return calls_.load(std::memory_order_relaxed); }
  int64_t nanoseconds() const { return nanoseconds_.load(std::memory_order_relaxed); }
  int64_t thread_cpu_nanoseconds() const { return cpu_nanoseconds_.load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<Engine> inner_;
  std::atomic<int64_t> calls_{0};
  std::atomic<int64_t> nanoseconds_{0};
  std::atomic<int64_t> cpu_nanoseconds_{0};
};

}  // namespace parakeet_trt
