// A streaming session (any mode) on its own inference thread: audio in through a lock-free ring, events out
// through a bounded queue.
//
//   producer (audio callback, any thread)      inference thread                consumer
//   write(samples) --> SpscRing<float> --> session.push / finish --> event slots --> next_event()
//
// * write() validates the block (NaN/Inf refused whole, InvalidAudio, nothing stored), then stores
//   what fits in the ring. Overflow: the samples that do not fit are DROPPED and counted
//   (dropped_samples(), and the next event's dropped_samples field); the producer never blocks.
//   The stream then continues with the samples that were stored, so the decoded timeline no
//   longer equals wall-clock time by exactly the dropped amount, which the counter reports.
// * Events are never dropped: when all event slots are full the inference thread waits for the
//   consumer (back-pressure), and the audio ring absorbs the delay until it overflows as above.
// * close() asks the thread to drain the ring, run the session's last step and emit the final
//   event (is_last). An engine error stops the thread with an error event; what was committed
//   before stays committed.
// * Steady state allocates nothing: the ring, the read block, the event slots and their token
//   buffers are sized at construction (a Python engine allocates in Python).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parakeet_trt/spsc_ring.hpp"
#include "parakeet_trt/streaming.hpp"

namespace parakeet_trt {

struct StreamingEvent {
  enum class Kind { kStep = 0, kError = 1 };
  Kind kind = Kind::kStep;
  int64_t seq = 0;                      // 1, 2, 3, ... per worker
  std::vector<TokenEmission> committed; // tokens committed by this step
  std::vector<TokenEmission> tail;      // speculative tail after this step
  int64_t audio_end_sample = 0;
  int64_t decoded_frames = 0;
  int64_t dropped_samples = 0;          // ring overflow so far
  bool is_last = false;
  std::string error;                    // kError: the message (allocates; the stream is over anyway)
};

class StreamingWorker {
 public:
  // ring_ms: audio the ring holds (default 10 s); event_slots: events the consumer may lag behind.
  StreamingWorker(std::unique_ptr<StreamingSession> session, int64_t ring_ms = 10000, int event_slots = 64);
  ~StreamingWorker();  // shutdown()
  StreamingWorker(const StreamingWorker&) = delete;
  StreamingWorker& operator=(const StreamingWorker&) = delete;

  // Producer. Returns the samples stored (< num_samples on overflow). Throws InvalidAudio for
  // NaN/Inf (nothing stored), Error(kState) after close().
  int64_t write(const float* samples, int64_t num_samples);
  // Producer: end of audio. Idempotent.
  void close();
  // close(), stop waiting for the consumer (later events are discarded) and join the thread.
  // Idempotent. Call it without holding a lock the engine needs (Python: without the GIL).
  void shutdown();

  // Consumer: waits up to timeout_ms (< 0: forever) for the next event and swaps it into `out`
  // (reuse one StreamingEvent to keep this allocation-free). Returns false on timeout, or when the
  // stream is over and every event has been taken (then done() is true).
  bool next_event(StreamingEvent& out, int64_t timeout_ms);
  bool done() const;

  int64_t dropped_samples() const { return dropped_.load(); }
  const StreamingSession& session() const { return *session_; }

 private:
  void run();
  void emit(const StreamingStep& step);
  void emit_error(const std::string& message);
  bool wait_for_slot(std::unique_lock<std::mutex>& lock);  // false once abandoned

  std::unique_ptr<StreamingSession> session_;
  SpscRing<float> ring_;
  std::vector<float> block_;
  std::vector<StreamingEvent> slots_;
  int64_t head_ = 0, tail_ = 0, seq_ = 0;  // slot indices (guarded by mutex_)
  bool finished_ = false;                  // the thread emitted its last event
  bool abandoned_ = false;                 // shutdown(): no consumer any more
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> dropped_{0};
  mutable std::mutex mutex_;
  std::condition_variable events_cv_;  // consumer waits for events
  std::condition_variable space_cv_;   // inference thread waits for a free slot
  std::condition_variable audio_cv_;   // inference thread waits for audio
  std::thread thread_;
};

}  // namespace parakeet_trt
