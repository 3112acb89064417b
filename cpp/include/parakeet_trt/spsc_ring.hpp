// A bounded lock-free single-producer / single-consumer ring of samples.
//
// One thread writes (the audio callback or whoever pushes), one thread reads (the inference
// thread). Capacity is fixed at construction; nothing allocates afterwards. Indices are
// monotonically increasing 64-bit counters (no wrap-around ambiguity for centuries of audio);
// acquire/release ordering publishes the samples with the index.
//
// Overflow policy: write() stores what fits and returns that count; the caller decides what the
// rest means. The streaming worker drops the newest samples of a block that does not fit and
// counts them (an audio callback must never block).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace parakeet_trt {

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(int64_t capacity) : data_(static_cast<size_t>(capacity)) {
    if (capacity <= 0) throw std::invalid_argument("SpscRing capacity must be > 0");
  }

  int64_t capacity() const { return static_cast<int64_t>(data_.size()); }
  // Producer side: how many items fit now.
  int64_t free_space() const { return capacity() - (head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire)); }
  // Consumer side: how many items can be read now.
  int64_t available() const { return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_relaxed); }

  // Producer: copies up to count items; returns how many were stored.
  int64_t write(const T* items, int64_t count) {
    const int64_t head = head_.load(std::memory_order_relaxed);
    const int64_t n = std::min(count, capacity() - (head - tail_.load(std::memory_order_acquire)));
    copy_in(head, items, n);
    head_.store(head + n, std::memory_order_release);
    return n;
  }

  // Consumer: copies up to count items out; returns how many were read.
  int64_t read(T* out, int64_t count) {
    const int64_t tail = tail_.load(std::memory_order_relaxed);
    const int64_t n = std::min(count, head_.load(std::memory_order_acquire) - tail);
    const int64_t cap = capacity();
    const int64_t first = std::min(n, cap - tail % cap);
    std::memcpy(out, data_.data() + tail % cap, static_cast<size_t>(first) * sizeof(T));
    std::memcpy(out + first, data_.data(), static_cast<size_t>(n - first) * sizeof(T));
    tail_.store(tail + n, std::memory_order_release);
    return n;
  }

 private:
  void copy_in(int64_t head, const T* items, int64_t n) {
    const int64_t cap = capacity();
    const int64_t first = std::min(n, cap - head % cap);
    std::memcpy(data_.data() + head % cap, items, static_cast<size_t>(first) * sizeof(T));
    std::memcpy(data_.data(), items + first, static_cast<size_t>(n - first) * sizeof(T));
  }

  std::vector<T> data_;
  alignas(64) std::atomic<int64_t> head_{0};  // written by the producer
  alignas(64) std::atomic<int64_t> tail_{0};  // written by the consumer
};

}  // namespace parakeet_trt
