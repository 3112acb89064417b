#include "parakeet_trt/streaming_worker.hpp"

#include <chrono>
#include <utility>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

StreamingWorker::StreamingWorker(std::unique_ptr<StreamingSession> session, int64_t ring_ms, int event_slots)
    : session_(std::move(session)),
      ring_(std::max<int64_t>(1, ring_ms) * session_->model().meta().features.sample_rate_hz / 1000),
      block_(static_cast<size_t>(std::max<int64_t>(session_->samples_needed() + 1, 4096))) {
  if (ring_ms <= 0) throw std::invalid_argument("ring_ms must be > 0, got " + std::to_string(ring_ms));
  if (event_slots < 2) throw std::invalid_argument("event_slots must be >= 2, got " + std::to_string(event_slots));
  // A step commits (or puts in its tail) at most what the session's own buffers hold.
  const size_t capacity = static_cast<size_t>(session_->max_tokens_per_step());
  slots_.resize(static_cast<size_t>(event_slots));
  for (StreamingEvent& e : slots_) {
    e.committed.reserve(capacity);
    e.tail.reserve(capacity);
  }
  thread_ = std::thread([this] { run(); });
}

StreamingWorker::~StreamingWorker() { shutdown(); }

void StreamingWorker::shutdown() {
  close();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    abandoned_ = true;  // nobody will read further events: the thread stops waiting for free slots
  }
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

int64_t StreamingWorker::write(const float* samples, int64_t num_samples) {
  if (closed_.load()) throw Error(ErrorCode::kState, "write() after close(): the stream is closed");
  if (num_samples < 0) throw Error(ErrorCode::kInvalidArgument, "write(): negative sample count");
  if (num_samples == 0) return 0;
  validate_audio(samples, num_samples);
  const int64_t stored = ring_.write(samples, num_samples);
  if (stored < num_samples) dropped_ += num_samples - stored;
  { std::lock_guard<std::mutex> lock(mutex_); }  // orders the notify after the consumer's predicate check
  audio_cv_.notify_one();
  return stored;
}

void StreamingWorker::close() {
  closed_.store(true);
  { std::lock_guard<std::mutex> lock(mutex_); }
  audio_cv_.notify_one();
}

bool StreamingWorker::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_ && head_ == tail_;
}

bool StreamingWorker::next_event(StreamingEvent& out, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [this] { return head_ != tail_ || finished_; };
  if (timeout_ms < 0) events_cv_.wait(lock, ready);
  else if (!events_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready)) return false;
  if (head_ == tail_) return false;  // finished and drained
  StreamingEvent& slot = slots_[static_cast<size_t>(tail_ % static_cast<int64_t>(slots_.size()))];
  std::swap(out, slot);
  ++tail_;
  lock.unlock();
  space_cv_.notify_one();
  return true;
}

bool StreamingWorker::wait_for_slot(std::unique_lock<std::mutex>& lock) {
  space_cv_.wait(lock, [this] { return abandoned_ || head_ - tail_ < static_cast<int64_t>(slots_.size()); });
  return !abandoned_;
}

void StreamingWorker::emit(const StreamingStep& step) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!wait_for_slot(lock)) return;
  StreamingEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
  e.kind = StreamingEvent::Kind::kStep;
  e.seq = ++seq_;
  e.committed.assign(step.committed, step.committed + step.num_committed);
  e.tail.assign(step.tail, step.tail + step.num_tail);
  e.audio_end_sample = step.audio_end_sample;
  e.decoded_frames = step.decoded_frames;
  e.dropped_samples = dropped_.load();
  e.is_last = step.is_last;
  e.error.clear();
  ++head_;
  if (step.is_last) finished_ = true;
  lock.unlock();
  events_cv_.notify_all();
}

void StreamingWorker::emit_error(const std::string& message) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!wait_for_slot(lock)) return;
  StreamingEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
  e.kind = StreamingEvent::Kind::kError;
  e.seq = ++seq_;
  e.committed.clear();
  e.tail.clear();
  e.audio_end_sample = session_->samples_consumed();
  e.dropped_samples = dropped_.load();
  e.is_last = true;
  e.error = message;
  ++head_;
  finished_ = true;
  lock.unlock();
  events_cv_.notify_all();
}

void StreamingWorker::run() {
  auto on_step = [this](const StreamingStep& step) { emit(step); };
  try {
    for (;;) {
      const bool closing = closed_.load();  // read before draining: audio written before close() is consumed
      int64_t n;
      while ((n = ring_.read(block_.data(), static_cast<int64_t>(block_.size()))) > 0) {
        session_->push(block_.data(), n, on_step);
      }
      if (closing) break;
      std::unique_lock<std::mutex> lock(mutex_);
      audio_cv_.wait(lock, [this] { return ring_.available() > 0 || closed_.load(); });
    }
    session_->finish(on_step);
  } catch (const std::exception& e) {
    emit_error(e.what());
  }
}

}  // namespace parakeet_trt
