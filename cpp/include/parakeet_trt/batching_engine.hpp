// Cross-stream batching: an Engine decorator that many streams (each on its own inference thread)
// share, so that encoder calls arriving together run as ONE call of the inner engine on the batch
// dimension, and each caller gets its own slice back.
//
// Policy (up to max_inflight batches run at once; no thread of its own: a waiting caller leads):
// * Calls queue in arrival order. When no other leader is gathering and fewer than max_inflight
//   batches run, the thread of a queued call becomes the leader: it takes every queued call whose tensors have the same names, dtypes and
//   shapes past dimension 0 as the oldest queued call (up to max_batch), concatenates them on
//   dimension 0, runs the inner engine once and copies each caller's rows of every output back. Calls
//   queued while batches run form the next batch without any wait (continuous batching).
// * The leader waits up to window_ms for more calls of its shape, but only while fewer are queued
//   than the callers active in the last kActiveCallerMs (threads that called recently) whose calls
//   are not already running, so a lone stream never waits: its calls run at once.
// * Unequal shapes (a buffered stream's first windows, an offline utterance) are never padded: they
//   run in their own batch, in arrival order. Padding a buffered window would change its result
//   (the graph attends over every frame of the tensor), so equal-shape stacking is the only batching
//   that keeps each stream's output what it would be alone, up to float rounding of batched kernels.
// * Every tensor is batched on dimension 0 (the encoder graphs: audio_signal [B, feat, T], length [B],
//   outputs [B, d, T'], encoded_lengths [B]); a call with a rank-0 tensor runs alone.
// * A failed batch is retried call by call, so one caller's bad input fails only that caller.
//
// Threads: run() may be called from any number of threads at once (that is its purpose).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>
#include <chrono>

#include "parakeet_trt/engine.hpp"

namespace parakeet_trt {

struct BatchingOptions {
  // How long the first call of a batch may wait for other callers' calls (0..100 ms; 0: batch only
  // the calls that queued while the previous batch ran).
  double window_ms = 5.0;
  // Most calls stacked into one inner call (1..1024; 1: no batching).
  int32_t max_batch = 32;
  // Batches that may run on the inner engine at once (1..64). 1 suits a GPU (one batch fills it); on a
  // CPU a second batch fills the cores while one call's less parallel operators run.
  int32_t max_inflight = 1;

  // Error(kInvalidArgument) naming the field and its range.
  void validate() const;
};

// What a BatchingEngine did so far.
struct BatchingStats {
  int64_t calls = 0;           // run() calls
  int64_t batches = 0;         // inner engine calls (retries of a failed batch not counted)
  int64_t batched_calls = 0;   // calls that ran in a batch of two or more
  int64_t largest_batch = 0;   // most calls in one inner call
  int64_t window_waits = 0;    // batches whose leader waited for more calls
};

class BatchingEngine final : public Engine {
 public:
  // A caller that called within this many ms counts as active (the leader may wait for it).
  static constexpr int64_t kActiveCallerMs = 2000;

  BatchingEngine(std::shared_ptr<Engine> inner, const BatchingOptions& options);

  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override;
  std::string description() const override;

  BatchingStats stats() const;
  const BatchingOptions& options() const { return options_; }

 private:
  struct Call;
  using Clock = std::chrono::steady_clock;

  std::vector<Call*> take_batch(std::unique_lock<std::mutex>& lock);
  void execute(const std::vector<Call*>& batch);
  void execute_stacked(const std::vector<Call*>& batch);  // allocates its stacking buffers per batch
  size_t active_callers(Clock::time_point now);

  std::shared_ptr<Engine> inner_;
  BatchingOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Call*> queue_;                                        // guarded by mutex_
  bool gathering_ = false;                                         // a leader is forming a batch
  int32_t inflight_ = 0;                                           // batches running on the inner engine
  size_t inflight_calls_ = 0;                                      // calls in those batches
  std::unordered_map<std::thread::id, Clock::time_point> callers_;  // last call per thread
  BatchingStats stats_;
};

}  // namespace parakeet_trt
