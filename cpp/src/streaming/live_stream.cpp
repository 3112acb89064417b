#include "parakeet_trt/live_stream.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "core/option_range.hpp"
#include "parakeet_trt/candidate_windows.hpp"
namespace parakeet_trt {

namespace {

// Ends the producer's exclusive section however write() leaves.
struct WriterGuard {
  std::atomic<int>& writers;
  ~WriterGuard() { writers.fetch_sub(1); }
};

}  // namespace

std::vector<LaneOptions> LiveStreamOptions::lanes_to_run() const {
  return lanes.empty() ? std::vector<LaneOptions>{LaneOptions()} : lanes;
}

void LiveStreamOptions::validate() const {
  stream.validate();
  transcript.validate();
  check_option_range("ring_ms", ring_ms, 1, 600000);
  check_option_range("event_slots", event_slots, 2, 65536);
  check_option_range("redecode_pre_roll_ms", redecode_pre_roll_ms, 0, 10000);
  check_option_range("redecode_post_roll_ms", redecode_post_roll_ms, 0, 10000);
  if (final_redecode && stream.mode != "buffered") {
    throw std::invalid_argument("final_redecode needs the buffered mode (a cache-aware stream keeps no audio history)");
  }
  check_option_range("segment_silence_ms", segment_silence_ms, 80, 60000);
  check_option_range("segment_pre_roll_ms", segment_pre_roll_ms, 0, 5000);
  if (final_redecode && stream.buffered.history_ms <= 0) {
    throw std::invalid_argument("final_redecode needs history_ms > 0 (the audio the re-decode reads)");
  }
  const std::vector<LaneOptions> lane_list = lanes_to_run();
  aggregator.validate(static_cast<int>(lane_list.size()));
  for (const LaneOptions& lane : lane_list) lane.validate();
  if (aggregator.strategy != "v1") {
    // Any redecode lane may end up committing (the aggregator falls back to the freshest live lane):
    // a word has to reach the commit lag before it leaves the lane's window.
    for (const LaneOptions& lane : lane_list) {
      if (lane.kind == "redecode" && lane.redecode_window_ms < aggregator.commit_lag_ms + lane.redecode_every_ms) {
        throw std::invalid_argument(lane.error_prefix() + "redecode_window_ms (" +
                                    std::to_string(lane.redecode_window_ms) +
                                    ") must be at least commit_lag_ms + redecode_every_ms (" +
                                    std::to_string(aggregator.commit_lag_ms + lane.redecode_every_ms) +
                                    " ms): a word must reach the commit lag before it leaves the window");
      }
    }
    if (!segment_on_endpoint) {
      throw std::invalid_argument("aggregator '" + aggregator.strategy +
                                  "' needs segment_on_endpoint (its lanes decode one VAD segment at a time)");
    }
    if (final_redecode) {
      throw std::invalid_argument("final_redecode is aggregator v1's: v2 and v3 finalize from the lanes' whole-segment passes");
    }
    check_option_range("lanes_retained_ms", lanes_retained_ms, 1000, 3600000);
  }
}

LiveStreamOptions captions_options() {
  LiveStreamOptions o;
  o.segment_on_endpoint = true;
  o.aggregator.strategy = "v2";
  // One greedy redecode lane (every 240 ms, window 12 s). A beam lane commits worse in real time
  // (18.4% against 17.7%: its passes disagree more, docs/LIVE_CAPTIONS.md); with an LLM lane
  // with_candidate_lanes() adds one for its n-best.
  o.lanes = {LaneOptions()};
  return o;
}

const char* const kCandidateLanes = "redecode:decoding=beam:beam=4,redecode";

LiveStreamOptions with_candidate_lanes(LiveStreamOptions options) {
  const AggregatorOptions defaults;
  const bool default_lanes =
      format_lanes(options.lanes_to_run()) == format_lanes(captions_options().lanes_to_run());
  if (options.aggregator.strategy != "v2" || !default_lanes || options.aggregator.fast_lane != defaults.fast_lane ||
      options.aggregator.commit_lane != defaults.commit_lane)
    return options;
  options.lanes = parse_lanes(kCandidateLanes);
  options.aggregator.fast_lane = 1;
  options.aggregator.commit_lane = 1;
  return options;
}

namespace {

LiveStream::SessionFactory factory_of(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                                      const LiveStreamOptions& options) {
  options.validate();
  StreamOptions stream = options.stream;
  return [model = std::move(model), encoder = std::move(encoder), stream] {
    return make_streaming_session(model, encoder, stream);
  };
}

LiveStream::SessionFactory once(std::unique_ptr<StreamingSession> session, const LiveStreamOptions& options) {
  if (options.segment_on_endpoint) {
    throw std::invalid_argument("segment_on_endpoint needs a session factory (a fresh session per segment)");
  }
  auto held = std::make_shared<std::unique_ptr<StreamingSession>>(std::move(session));
  return [held] {
    if (!*held) throw Error(ErrorCode::kInternal, "LiveStream: the one session was already taken");
    return std::move(*held);
  };
}

}  // namespace

LiveStream::Parts LiveStream::session_parts(SessionFactory make_session) {
  Parts parts;
  parts.first = make_session();
  if (!parts.first) throw std::invalid_argument("LiveStream: the session factory returned no session");
  parts.model = parts.first->shared_model();
  parts.make_session = std::move(make_session);
  return parts;
}

LiveStream::LiveStream(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder,
                       const LiveStreamOptions& options)
    : LiveStream(options.aggregator.strategy == "v1"
                     ? session_parts(factory_of(std::move(model), std::move(encoder), options))
                     : Parts{std::move(model), nullptr, nullptr,
                             [encoder](int, const LaneOptions&) { return encoder; }},
                 options) {}

LiveStream::LiveStream(std::shared_ptr<const Model> model, const CaptionLanes::EngineFor& engine_for,
                       const LiveStreamOptions& options)
    : LiveStream(Parts{std::move(model), nullptr, nullptr, engine_for}, options) {
  if (options.aggregator.strategy == "v1") {
    throw std::invalid_argument("LiveStream(model, engine_for, options) runs lanes: aggregator 'v2' or 'v3'");
  }
}

LiveStream::LiveStream(std::unique_ptr<StreamingSession> session, const LiveStreamOptions& options)
    : LiveStream(session_parts(once(std::move(session), options)), options) {}

LiveStream::LiveStream(SessionFactory make_session, const LiveStreamOptions& options)
    : LiveStream(session_parts(std::move(make_session)), options) {}

LiveStream::LiveStream(Parts parts, const LiveStreamOptions& options)
    : options_((options.validate(), options)),
      model_(parts.model),
      frame_samples_(static_cast<int64_t>(parts.model->meta().features.hop_length) *
                     parts.model->meta().encoder.subsampling_factor),
      sample_rate_hz_(parts.model->meta().features.sample_rate_hz),
      make_session_(std::move(parts.make_session)),
      session_(std::move(parts.first)),
      // The model's vocabulary, shared (aliasing pointer): a stream copies nothing read-only.
      hypothesis_(std::shared_ptr<const Vocabulary>(parts.model, &parts.model->vocabulary())),
      transcript_(std::shared_ptr<const Vocabulary>(parts.model, &parts.model->vocabulary()),
                  parts.model->meta().encoder.frame_stride_s, options.transcript),
      ring_(options.ring_ms * parts.model->meta().features.sample_rate_hz / 1000),
      block_(static_cast<size_t>(std::max<int64_t>(session_ ? session_->samples_needed() + 1 : 0, 4096))),
      vad_marks_(4096) {
  if (options_.aggregator.strategy != "v1") {
    // The single-stream settings are not used by lanes, but a bad value is still refused by name.
    options_.stream.buffered.validate(model_->meta().encoder.frame_stride_s * 1000.0);
    if (session_ || !parts.engine_for) {
      throw std::invalid_argument("aggregator '" + options_.aggregator.strategy +
                                  "' runs lanes on the model's engines, not on a session made elsewhere");
    }
    const std::vector<LaneOptions> lanes = options_.lanes_to_run();
    lanes_ = std::make_unique<CaptionLanes>(
        model_, lanes, parts.engine_for,
        [this] {
          lane_ready_.store(true);
          { std::lock_guard<std::mutex> lock(mutex_); }
          audio_cv_.notify_one();
        },
        options_.lanes_retained_ms);
    aggregator_ = make_aggregator(std::shared_ptr<const Vocabulary>(model_, &model_->vocabulary()), lanes_->lanes(),
                                  options_.aggregator, frame_samples_, sample_rate_hz_);
  }
  const size_t capacity = session_ ? static_cast<size_t>(session_->max_tokens_per_step()) : 0;
  slots_.resize(static_cast<size_t>(options_.event_slots));
  for (LiveEvent& e : slots_) {
    e.committed.reserve(capacity);
    e.tail.reserve(capacity);
    e.transcript.reserve(4);
    e.redecoded_text.reserve(4);
  }
  shifted_committed_.reserve(capacity);
  shifted_tail_.reserve(capacity);
  if (options_.segment_on_endpoint) {
    // Between segments: the pre-roll plus one encoder frame (the segment start is frame-aligned).
    idle_tail_.reserve(static_cast<size_t>(options_.segment_pre_roll_ms * sample_rate_hz_ / 1000 + frame_samples_ +
                                           static_cast<int64_t>(block_.size())));
    in_segment_ = false;  // the first segment starts at the first speech
  }
  last_snapshot_ = transcript_.snapshot();
  // Lanes always segment (validate() requires segment_on_endpoint).
  void (LiveStream::*loop)() = options_.segment_on_endpoint ? &LiveStream::run_segmented : &LiveStream::run;
  thread_ = std::thread([this, loop] { run_guarded(loop); });
}

const StreamingSession& LiveStream::session() const {
  if (!session_) throw Error(ErrorCode::kState, "session(): a stream with lanes has no single session (see lane_stats())");
  return *session_;
}

std::vector<LaneStats> LiveStream::lane_stats() const {
  return lanes_ ? lanes_->stats() : std::vector<LaneStats>();
}

LiveStream::~LiveStream() { shutdown(); }

void LiveStream::shutdown() {
  close();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    abandoned_ = true;
  }
  space_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lanes_) lanes_->stop();
}

int64_t LiveStream::write(const float* samples, int64_t num_samples, double vad_silence_ms, bool drop_overflow) {
  if (writers_.fetch_add(1) != 0) {
    writers_.fetch_sub(1);
    throw Error(ErrorCode::kState,
                "write() from two threads at once: a live stream has one producer (serialize the writers)");
  }
  WriterGuard guard{writers_};
  if (failed_.load()) throw Error(failure_code_, "the stream stopped: " + failure_);
  if (closed_.load()) throw Error(ErrorCode::kState, "write() after close(): the stream is closed");
  if (num_samples < 0) throw Error(ErrorCode::kInvalidArgument, "write(): negative sample count");
  if (num_samples == 0) return 0;
  if (samples == nullptr) throw Error(ErrorCode::kInvalidArgument, "write(): null samples");
  validate_audio(samples, num_samples);
  const int64_t stored = ring_.write(samples, num_samples);
  if (drop_overflow) {
    dropped_ += num_samples - stored;
    written_ += num_samples;
  } else {
    written_ += stored;
  }
  stored_end_ += stored;
  // A full mark ring only coarsens endpoint timing (the next mark carries the newer silence).
  if (stored > 0) {
    const VadMark mark{stored_end_, vad_silence_ms};
    vad_marks_.write(&mark, 1);  // a full mark ring coarsens VAD timing: the next mark covers this audio
  }
  { std::lock_guard<std::mutex> lock(mutex_); }  // orders the notify after the thread's predicate check
  audio_cv_.notify_one();
  return stored;
}

void LiveStream::close() {
  closed_.store(true);
  { std::lock_guard<std::mutex> lock(mutex_); }
  audio_cv_.notify_one();
}

bool LiveStream::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return finished_ && head_ == tail_;
}

bool LiveStream::next_event(LiveEvent& out, int64_t timeout_ms) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto ready = [this] { return head_ != tail_ || finished_; };
  if (timeout_ms < 0) events_cv_.wait(lock, ready);
  else if (!events_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), ready)) return false;
  if (head_ == tail_) return false;
  LiveEvent& slot = slots_[static_cast<size_t>(tail_ % static_cast<int64_t>(slots_.size()))];
  std::swap(out, slot);
  ++tail_;
  lock.unlock();
  space_cv_.notify_one();
  return true;
}

TranscriptEvent LiveStream::snapshot() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return last_snapshot_;
}

bool LiveStream::wait_for_slot(std::unique_lock<std::mutex>& lock) {
  space_cv_.wait(lock, [this] { return abandoned_ || head_ - tail_ < static_cast<int64_t>(slots_.size()); });
  return !abandoned_;
}

double LiveStream::vad_silence_at(int64_t sample) {
  // Segmented streams read the marks in their loop (run_segmented): the last one read applies.
  if (options_.segment_on_endpoint) return last_mark_.silence_ms;
  // Marks arrive in stream order; the newest one at or before `sample` gives the trailing silence.
  VadMark mark;
  while (vad_marks_.available() > 0 && next_mark_.end_sample <= sample) {
    last_mark_ = next_mark_;
    if (vad_marks_.read(&mark, 1) != 1) break;
    next_mark_ = mark;
  }
  if (next_mark_.end_sample <= sample) last_mark_ = next_mark_;
  return last_mark_.silence_ms;
}

void LiveStream::emit_step(const StreamingStep& session_step, bool stream_last, bool segment_end) {
  // Session steps count from the segment's origin; the transcript, the hypothesis and the consumer
  // see stream time (frame-aligned origin: frames shift by a whole number).
  StreamingStep step = session_step;
  if (origin_ != 0) {
    shifted_committed_.assign(step.committed, step.committed + step.num_committed);
    shifted_tail_.assign(step.tail, step.tail + step.num_tail);
    for (TokenEmission& t : shifted_committed_) t.frame += frame_offset_;
    for (TokenEmission& t : shifted_tail_) t.frame += frame_offset_;
    step.committed = shifted_committed_.data();
    step.tail = shifted_tail_.data();
    step.audio_end_sample += origin_;
    step.decoded_frames += frame_offset_;
  }
  step.is_last = stream_last || segment_end;  // a segment's end completes its last word
  const double rate = session_->model().meta().features.sample_rate_hz;
  const double audio_end_s = static_cast<double>(step.audio_end_sample) / rate;
  const double silence = vad_silence_at(step.audio_end_sample);
  // The transcript runs here, on the inference thread: the consumer only receives its events.
  const std::vector<TranscriptEvent>* events =
      &transcript_.apply_step(step.committed, step.num_committed, step.tail, step.num_tail, audio_end_s, silence);
  std::vector<TranscriptEvent> merged;
  if (stream_last || segment_end) {
    merged = *events;
    const std::vector<TranscriptEvent>& closing =
        stream_last ? transcript_.finish(audio_end_s) : transcript_.endpoint(audio_end_s);
    merged.insert(merged.end(), closing.begin(), closing.end());
    events = &merged;
  }
  conflicts_.store(transcript_.alignment_conflicts());
  const size_t text_before = hypothesis_.committed_text().size();
  hypothesis_.apply(step);
  std::unique_lock<std::mutex> lock(mutex_);
  if (!wait_for_slot(lock)) return;
  LiveEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
  lock.unlock();  // the slot is ours until head_ moves past it
  reset_slot(e, LiveEvent::Kind::kStep, stream_last);
  e.committed_text_added.assign(hypothesis_.committed_text(), text_before, std::string::npos);
  e.tail_text = hypothesis_.tail_text();
  e.committed.assign(step.committed, step.committed + step.num_committed);
  e.tail.assign(step.tail, step.tail + step.num_tail);
  e.transcript = *events;
  for (const TranscriptEvent& t : e.transcript) {
    if (t.type != TranscriptEventType::kFinal) continue;
    std::string text;
    if (options_.final_redecode) {
      // The segment's audio, in the current session's samples (a segment never reaches before its origin).
      const int64_t pre = options_.redecode_pre_roll_ms * static_cast<int64_t>(rate) / 1000;
      const int64_t post = options_.redecode_post_roll_ms * static_cast<int64_t>(rate) / 1000;
      const int64_t begin = std::max<int64_t>(origin_, static_cast<int64_t>(t.start_s * rate) - pre) - origin_;
      const int64_t end =
          std::min<int64_t>(session_->samples_received(), static_cast<int64_t>(t.end_s * rate) + post - origin_);
      try {
        if (end > begin) text = session_->redecode(begin, end).text;
      } catch (const InvalidAudio&) {
        text.clear();  // the segment is no longer retained: the committed text stands
      }
    }
    e.redecoded_text.push_back(std::move(text));
  }
  e.audio_end_sample = step.audio_end_sample;
  e.decoded_frames = step.decoded_frames;
  lock.lock();
  publish(e, lock, stream_last);
}

void LiveStream::reset_slot(LiveEvent& e, LiveEvent::Kind kind, bool is_last) {
  e.kind = kind;
  e.committed.clear();
  e.tail.clear();
  e.committed_text_added.clear();
  e.tail_text.clear();
  e.transcript.clear();
  e.redecoded_text.clear();
  e.candidates.clear();
  e.audio_end_sample = 0;
  e.decoded_frames = 0;
  e.dropped_samples = dropped_.load();
  e.is_last = is_last;
  e.error_code = ErrorCode::kInternal;
  e.error.clear();
  e.notices.swap(pending_notices_);  // a reused slot must not repeat old notices; pending ones go out now
  pending_notices_.clear();
}

void LiveStream::publish(LiveEvent& e, std::unique_lock<std::mutex>& lock, bool stream_last) {
  e.seq = ++seq_;
  ++head_;
  if (stream_last) finished_ = true;
  last_snapshot_ = transcript_.snapshot();
  lock.unlock();
  events_cv_.notify_all();
}

void LiveStream::emit_transcript_only(const std::vector<TranscriptEvent>& events, bool stream_last) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!wait_for_slot(lock)) return;
  LiveEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
  reset_slot(e, LiveEvent::Kind::kStep, stream_last);
  e.transcript = events;
  e.redecoded_text.assign(events.size(), std::string());
  e.audio_end_sample = read_end_;
  e.decoded_frames = read_end_ / frame_samples_;
  publish(e, lock, stream_last);
}

void LiveStream::emit_error(ErrorCode code, const std::string& message) {
  failure_code_ = code;
  failure_ = message;
  failed_.store(true);
  // Committed text stays committed: close the transcript before reporting the failure.
  if (lanes_) lanes_->stop();
  std::vector<TranscriptEvent> closing;
  if (!transcript_.finished()) {
    try {
      closing = transcript_.finish(transcript_.live_edge_s());
    } catch (const std::exception&) {
      closing.clear();
    }
  }
  std::unique_lock<std::mutex> lock(mutex_);
  if (!wait_for_slot(lock)) return;
  LiveEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
  reset_slot(e, LiveEvent::Kind::kError, true);
  e.seq = ++seq_;
  e.transcript = std::move(closing);
  e.redecoded_text.assign(e.transcript.size(), std::string());
  e.audio_end_sample = session_ ? origin_ + session_->samples_consumed() : read_end_;
  e.decoded_frames = e.audio_end_sample / frame_samples_;
  e.error_code = code;
  e.error = message;
  ++head_;
  finished_ = true;
  last_snapshot_ = transcript_.snapshot();
  lock.unlock();
  events_cv_.notify_all();
}

void LiveStream::run_guarded(void (LiveStream::*loop)()) {
  try {
    (this->*loop)();
  } catch (const Error& e) {
    emit_error(e.code(), e.what());
  } catch (const std::invalid_argument& e) {
    emit_error(ErrorCode::kInvalidArgument, e.what());
  } catch (const std::exception& e) {
    emit_error(ErrorCode::kInternal, e.what());
  }
}

void LiveStream::run() {
  auto on_step = [this](const StreamingStep& step) { emit_step(step, step.is_last, false); };
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
}

void LiveStream::take_audio(const float* samples, int64_t n) {
  if (in_segment_ && lanes_) {
    lanes_->append(samples, n);
  } else if (in_segment_) {
    session_->push(samples, n, [this](const StreamingStep& step) { emit_step(step, false, false); });
  } else {
    // Between segments only the tail is kept: the pre-roll of the next segment.
    const size_t keep = idle_tail_.capacity();
    idle_tail_.insert(idle_tail_.end(), samples, samples + n);
    if (idle_tail_.size() > keep) idle_tail_.erase(idle_tail_.begin(), idle_tail_.end() - static_cast<std::ptrdiff_t>(keep));
  }
  read_end_ += n;
}

void LiveStream::finish_segment(bool stream_last) {
  if (lanes_) {
    lanes_->end_segment(/*read_all=*/!aggregator_->realtime());
    decisions_.clear();
    aggregator_->segment_ended(segment_id_, now_s(), decisions_);
    apply_decisions(decisions_, false);
    in_segment_ = false;
    idle_tail_.clear();
    return;
  }
  session_->finish([&](const StreamingStep& step) {
    emit_step(step, stream_last && step.is_last, !stream_last && step.is_last);
  });
  in_segment_ = false;
  idle_tail_.clear();
}

void LiveStream::start_segment() {
  const int64_t rate = sample_rate_hz_;
  const int64_t frame = frame_samples_;
  const int64_t earliest = read_end_ - static_cast<int64_t>(idle_tail_.size());
  const double silence = last_mark_.silence_ms > 0 ? last_mark_.silence_ms : 0.0;
  const int64_t onset = read_end_ - static_cast<int64_t>(silence * static_cast<double>(rate) / 1000.0);
  // CONTRACT: a segment starts on an encoder-frame boundary of the stream.
  // WHY: token frames of the segment's session then shift to stream frames by a whole number.
  int64_t start = (std::max<int64_t>(0, onset - options_.segment_pre_roll_ms * rate / 1000) / frame) * frame;
  if (start < earliest) start = (earliest + frame - 1) / frame * frame;
  if (start > read_end_) return;  // not a whole frame of pre-roll yet: start at the next VAD mark
  if (lanes_) {
    ++segment_id_;
    aggregator_->segment_started(segment_id_, start);  // before the lanes can answer for it
    lanes_->start_segment(segment_id_, start);
  } else if (session_->samples_received() != 0) {
    session_ = make_session_();  // a fresh session per segment
  }
  origin_ = start;
  frame_offset_ = start / frame;
  in_segment_ = true;
  const int64_t skip = start - earliest;
  const int64_t n = static_cast<int64_t>(idle_tail_.size()) - skip;
  const int64_t end = read_end_;
  read_end_ = start;  // take_audio counts the pre-roll again from the segment's start
  if (n > 0) take_audio(idle_tail_.data() + skip, n);
  read_end_ = end;
  idle_tail_.clear();
}

void LiveStream::on_vad(double silence_ms) {
  const bool silent = silence_ms >= static_cast<double>(options_.segment_silence_ms);
  if (in_segment_ && silent) {
    finish_segment(false);
  } else if (!in_segment_ && !silent) {
    start_segment();
  }
}

void LiveStream::run_segmented() {
  for (;;) {
    const bool closing = closed_.load();  // read before draining: audio written before close() is consumed
    // Audio is taken up to each VAD mark, then the mark decides: cut, start, or go on.
    for (;;) {
      VadMark mark;
      if (vad_marks_.read(&mark, 1) != 1) break;
      int64_t want = mark.end_sample - read_end_;
      while (want > 0) {
        const int64_t n = ring_.read(block_.data(), std::min<int64_t>(want, static_cast<int64_t>(block_.size())));
        if (n == 0) break;  // cannot happen: a mark is written after its audio
        take_audio(block_.data(), n);
        want -= n;
      }
      last_mark_ = mark;
      on_vad(mark.silence_ms);
    }
    if (lanes_) pump_lanes();
    if (closing) {
      int64_t n;  // audio whose mark was dropped (a full mark ring): taken as speech
      while ((n = ring_.read(block_.data(), static_cast<int64_t>(block_.size()))) > 0) take_audio(block_.data(), n);
      break;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    if (lanes_) {
      // The timeout serves the aggregator's deadlines (a lane that stalls at a segment's end).
      audio_cv_.wait_for(lock, std::chrono::milliseconds(20),
                         [this] { return vad_marks_.available() > 0 || closed_.load() || lane_ready_.load(); });
    } else {
      audio_cv_.wait(lock, [this] { return vad_marks_.available() > 0 || closed_.load(); });
    }
  }
  if (lanes_) {
    finish_lanes();
  } else if (in_segment_) {
    finish_segment(true);
  } else {
    const double end_s = static_cast<double>(read_end_) / sample_rate_hz_;
    emit_transcript_only(transcript_.finish(std::max(end_s, transcript_.live_edge_s())), true);
  }
}

double LiveStream::now_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void LiveStream::apply_decisions(std::vector<AggregatorDecision>& decisions, bool stream_last) {
  for (const LaneNotice& n : aggregator_->take_notices()) pending_notices_.push_back(n);
  if (aggregator_->all_lanes_failed()) {
    std::string why;
    for (const LaneStats& lane : lanes_->stats()) why += (why.empty() ? "" : "; ") + lane.name + ": " + lane.error;
    throw Error(ErrorCode::kEngine, "every lane failed (" + why + ")");
  }
  for (size_t i = 0; i < decisions.size(); ++i) {
    const AggregatorDecision& d = decisions[i];
    // Lanes lag each other: the transcript's live edge never goes back.
    const double edge_s = std::max(transcript_.live_edge_s(), static_cast<double>(d.audio_end_sample) / sample_rate_hz_);
    const size_t text_before = transcript_.committed_text().size();
    const std::vector<TranscriptEvent>& events = transcript_.apply_decision(
        d.commit.data(), static_cast<int64_t>(d.commit.size()), d.window.data(), static_cast<int64_t>(d.window.size()),
        edge_s, d.endpoint);
    const bool last = stream_last && i + 1 == decisions.size();
    if (events.empty() && pending_notices_.empty() && !last) continue;
    std::unique_lock<std::mutex> lock(mutex_);
    if (!wait_for_slot(lock)) return;
    LiveEvent& e = slots_[static_cast<size_t>(head_ % static_cast<int64_t>(slots_.size()))];
    lock.unlock();  // the slot is ours until head_ moves past it
    reset_slot(e, LiveEvent::Kind::kStep, last);
    e.committed = d.commit;
    e.tail = d.window;
    e.committed_text_added.assign(transcript_.committed_text(), text_before, std::string::npos);
    e.tail_text = transcript_.partial_text();
    e.transcript = events;
    e.redecoded_text.assign(events.size(), std::string());
    for (const TranscriptEvent& t : events) {
      if (t.type != TranscriptEventType::kFinal) continue;
      std::vector<GuardWord> heard;
      for (const TranscriptWord& w : t.words) heard.push_back(GuardWord{w.text, w.start_s, w.end_s});
      e.candidates.push_back(d.decodes.empty() ? std::vector<CandidateWindow>() : candidate_windows(heard, d.decodes));
    }
    e.audio_end_sample = static_cast<int64_t>(std::llround(edge_s * sample_rate_hz_));
    e.decoded_frames = e.audio_end_sample / frame_samples_;
    lock.lock();
    publish(e, lock, last);
  }
}

void LiveStream::pump_lanes() {
  lane_ready_.store(false);
  // Audio that arrives faster than real time (a file decoded as fast as it goes) waits for every lane.
  const double now = now_s();
  if (first_audio_at_s_ < 0.0 && read_end_ > 0) first_audio_at_s_ = now;
  if (first_audio_at_s_ >= 0.0) {
    const double heard_s = static_cast<double>(read_end_) / sample_rate_hz_;
    aggregator_->set_realtime(heard_s <= 1.5 * (now - first_audio_at_s_) + 0.3);
  }
  decisions_.clear();
  LaneHypothesis h;
  while (lanes_->pop(h)) aggregator_->on_hypothesis(h, now_s(), decisions_);
  aggregator_->poll(now_s(), decisions_);
  apply_decisions(decisions_, false);
}

void LiveStream::finish_lanes() {
  if (in_segment_) finish_segment(false);
  lanes_->close();
  // Drain: every lane finishes its segments; the aggregator finalizes them (or times out on a stalled lane).
  // A lane that is still busy (stalled) is not waited for once every segment is final.
  while (!aggregator_->idle()) {
    pump_lanes();
    if (aggregator_->idle()) break;
    std::unique_lock<std::mutex> lock(mutex_);
    audio_cv_.wait_for(lock, std::chrono::milliseconds(20), [this] { return lane_ready_.load(); });
  }
  pump_lanes();
  const double end_s = std::max(static_cast<double>(read_end_) / sample_rate_hz_, transcript_.live_edge_s());
  emit_transcript_only(transcript_.finish(end_s), true);
}

}  // namespace parakeet_trt
