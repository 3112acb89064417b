#include "parakeet_trt/batching_engine.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <sstream>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {

namespace {

size_t element_bytes(DType dtype) { return dtype == DType::kInt64 ? 8 : 4; }

// Bytes of one row (dimension 0 index) of a tensor.
size_t row_bytes(const TensorView& t) {
  size_t n = element_bytes(t.dtype);
  for (int32_t i = 1; i < t.rank; ++i) n *= static_cast<size_t>(t.shape[i]);
  return n;
}

bool same_layout(const TensorView& a, const TensorView& b) {
  if (a.dtype != b.dtype || a.rank != b.rank || std::strcmp(a.name, b.name) != 0) return false;
  for (int32_t i = 1; i < a.rank; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}

bool batchable(const TensorView* tensors, size_t count) {
  for (size_t i = 0; i < count; ++i)
    if (tensors[i].rank < 1 || tensors[i].shape[0] < 1) return false;
  return true;
}

}  // namespace

struct BatchingEngine::Call {
  const TensorView* inputs;
  size_t num_inputs;
  TensorView* outputs;
  size_t num_outputs;
  bool batchable;
  bool taken = false;  // in a batch (a leader removed it from the queue)
  bool done = false;
  std::exception_ptr error;

  bool stacks_with(const Call& other) const {
    if (!batchable || !other.batchable || num_inputs != other.num_inputs || num_outputs != other.num_outputs)
      return false;
    for (size_t i = 0; i < num_inputs; ++i)
      if (!same_layout(inputs[i], other.inputs[i])) return false;
    for (size_t i = 0; i < num_outputs; ++i)
      if (!same_layout(outputs[i], other.outputs[i])) return false;
    return true;
  }
};

void BatchingOptions::validate() const {
  if (!(window_ms >= 0.0 && window_ms <= 100.0)) {
    std::ostringstream os;
    os << "BatchingOptions.window_ms must be in 0..100 ms, got " << window_ms;
    throw Error(ErrorCode::kInvalidArgument, os.str());
  }
  if (max_batch < 1 || max_batch > 1024)
    throw Error(ErrorCode::kInvalidArgument,
                "BatchingOptions.max_batch must be in 1..1024 (1: no batching), got " + std::to_string(max_batch));
  if (max_inflight < 1 || max_inflight > 64)
    throw Error(ErrorCode::kInvalidArgument,
                "BatchingOptions.max_inflight must be in 1..64, got " + std::to_string(max_inflight));
}

BatchingEngine::BatchingEngine(std::shared_ptr<Engine> inner, const BatchingOptions& options)
    : inner_(std::move(inner)), options_(options) {
  options_.validate();
  if (!inner_) throw Error(ErrorCode::kInvalidArgument, "BatchingEngine needs an engine to batch for, got none");
}

std::string BatchingEngine::description() const {
  std::ostringstream os;
  os << "batching (window " << options_.window_ms << " ms, max " << options_.max_batch;
  if (options_.max_inflight > 1) os << ", " << options_.max_inflight << " in flight";
  os << ") " << inner_->description();
  return os.str();
}

BatchingStats BatchingEngine::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

size_t BatchingEngine::active_callers(Clock::time_point now) {
  const auto horizon = now - std::chrono::milliseconds(kActiveCallerMs);
  for (auto it = callers_.begin(); it != callers_.end();) it = it->second < horizon ? callers_.erase(it) : std::next(it);
  return callers_.size();
}

void BatchingEngine::run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) {
  Call call{inputs, num_inputs, outputs, num_outputs,
            batchable(inputs, num_inputs) && batchable(outputs, num_outputs), false, false, nullptr};
  std::unique_lock<std::mutex> lock(mutex_);
  callers_[std::this_thread::get_id()] = Clock::now();
  ++stats_.calls;
  queue_.push_back(&call);
  changed_.notify_all();
  while (!call.done) {
    // Only a caller whose call still waits in the queue leads (a taken call's thread just waits for it).
    if (call.taken || gathering_ || inflight_ >= options_.max_inflight) {
      changed_.wait(lock);
      continue;
    }
    gathering_ = true;
    const std::vector<Call*> batch = take_batch(lock);
    gathering_ = false;
    ++inflight_;
    inflight_calls_ += batch.size();
    changed_.notify_all();  // another caller may gather the next batch while this one runs
    lock.unlock();
    execute(batch);  // never throws: errors are stored in each call
    lock.lock();
    for (Call* c : batch) c->done = true;
    --inflight_;
    inflight_calls_ -= batch.size();
    changed_.notify_all();
  }
  lock.unlock();
  if (call.error) std::rethrow_exception(call.error);
}

std::vector<BatchingEngine::Call*> BatchingEngine::take_batch(std::unique_lock<std::mutex>& lock) {
  const size_t max_batch = static_cast<size_t>(options_.max_batch);
  auto stackable = [this, max_batch] {
    size_t n = 0;
    for (const Call* c : queue_)
      if (c == queue_.front() || c->stacks_with(*queue_.front())) n += 1;
    return std::min(n, max_batch);
  };
  if (options_.window_ms > 0.0 && max_batch > 1 && queue_.front()->batchable) {
    const auto deadline =
        Clock::now() + std::chrono::microseconds(static_cast<int64_t>(options_.window_ms * 1000.0));
    bool waited = false;
    // Wait only for active callers whose calls are not running already: a lone stream never waits.
    auto expected = [this, max_batch] {
      const size_t active = active_callers(Clock::now());
      return std::min(active - std::min(inflight_calls_, active), max_batch);
    };
    while (stackable() < expected()) {
      waited = true;
      if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    if (waited) ++stats_.window_waits;
  }
  std::vector<Call*> batch{queue_.front()};
  queue_.pop_front();
  batch.front()->taken = true;
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < max_batch;) {
    if ((*it)->stacks_with(*batch.front())) {
      (*it)->taken = true;
      batch.push_back(*it);
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  ++stats_.batches;
  if (batch.size() > 1) stats_.batched_calls += static_cast<int64_t>(batch.size());
  stats_.largest_batch = std::max<int64_t>(stats_.largest_batch, static_cast<int64_t>(batch.size()));
  return batch;
}

void BatchingEngine::execute(const std::vector<Call*>& batch) {
  if (batch.size() > 1) {
    try {
      execute_stacked(batch);
      return;
    } catch (...) {
      // Retried one by one below: only the caller whose input fails gets the error.
    }
  }
  for (Call* c : batch) {
    try {
      inner_->run(c->inputs, c->num_inputs, c->outputs, c->num_outputs);
    } catch (...) {
      c->error = std::current_exception();
    }
  }
}

void BatchingEngine::execute_stacked(const std::vector<Call*>& batch) {
  const Call& first = *batch.front();
  std::vector<std::vector<unsigned char>> input_rows(first.num_inputs), output_rows(first.num_outputs);
  auto stack = [&batch](const TensorView* (*pick)(const Call&, size_t), size_t count,
                        std::vector<std::vector<unsigned char>>& rows, bool copy_in) {
    std::vector<TensorView> views(count);
    for (size_t i = 0; i < count; ++i) {
      views[i] = *pick(*batch.front(), i);
      int64_t total = 0;
      for (const Call* c : batch) total += pick(*c, i)->shape[0];
      views[i].shape[0] = total;
      rows[i].resize(row_bytes(views[i]) * static_cast<size_t>(total));
      views[i].data = rows[i].data();
      if (!copy_in) continue;
      size_t offset = 0;
      for (const Call* c : batch) {
        const TensorView* t = pick(*c, i);
        const size_t n = row_bytes(*t) * static_cast<size_t>(t->shape[0]);
        std::memcpy(rows[i].data() + offset, t->data, n);
        offset += n;
      }
    }
    return views;
  };
  std::vector<TensorView> inputs = stack([](const Call& c, size_t i) { return &c.inputs[i]; }, first.num_inputs,
                                         input_rows, true);
  std::vector<TensorView> outputs = stack([](const Call& c, size_t i) -> const TensorView* { return &c.outputs[i]; },
                                          first.num_outputs, output_rows, false);
  inner_->run(inputs.data(), inputs.size(), outputs.data(), outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    size_t offset = 0;
    for (Call* c : batch) {
      TensorView& t = c->outputs[i];
      const size_t n = row_bytes(t) * static_cast<size_t>(t.shape[0]);
      std::memcpy(t.data, output_rows[i].data() + offset, n);
      offset += n;
    }
  }
}

}  // namespace parakeet_trt
