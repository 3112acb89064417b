#include "parakeet_trt/caption_lanes.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "core/encoder_runner.hpp"
#include "core/option_range.hpp"
#include "core/offline_decode.hpp"
#include "parakeet_trt/decoder_step.hpp"
#include "parakeet_trt/features.hpp"
#include "parakeet_trt/tdt_beam_decoder.hpp"

namespace parakeet_trt {

namespace {

int64_t parse_int(const std::string& lane, const std::string& key, const std::string& value) {
  size_t used = 0;
  long long parsed = 0;
  try {
    parsed = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size()) {
    throw std::invalid_argument("lane '" + lane + "': " + key + " must be an integer, got '" + value + "'");
  }
  return parsed;
}

}  // namespace

void StreamOptions::validate() const {
  if (mode != "buffered" && mode != "cache_aware") {
    throw std::invalid_argument("mode must be 'buffered' or 'cache_aware', got '" + mode + "'");
  }
  if (!cache_aware.profile.empty() && cache_aware.profile != "cache_aware" && cache_aware.profile != "chunk_isolated") {
    throw std::invalid_argument("profile must be '', 'cache_aware' or 'chunk_isolated', got '" + cache_aware.profile +
                                "'");
  }
}

std::unique_ptr<StreamingSession> make_streaming_session(std::shared_ptr<const Model> model,
                                                         std::shared_ptr<Engine> encoder, const StreamOptions& options) {
  options.validate();
  if (options.mode == "cache_aware") {
    return std::make_unique<CacheAwareStreamingSession>(std::move(model), std::move(encoder), options.cache_aware);
  }
  return std::make_unique<BufferedStreamingSession>(std::move(model), std::move(encoder), options.buffered);
}

std::string LaneOptions::error_prefix() const { return "lane '" + (name.empty() ? kind : name) + "': "; }

void LaneOptions::validate() const {
  const std::string lane = error_prefix();
  if (kind != "buffered" && kind != "cache_aware" && kind != "redecode") {
    throw std::invalid_argument(lane + "kind must be 'buffered', 'cache_aware' or 'redecode', got '" + kind + "'");
  }
  if (kind != "redecode") {
    StreamOptions s = stream;
    s.mode = kind;
    s.validate();
  }
  check_option_range(lane + "redecode_every_ms", redecode_every_ms, 40, 10000);
  check_option_range(lane + "redecode_window_ms", redecode_window_ms, 1000, 120000);
  if (decoding != "greedy" && decoding != "beam") {
    throw std::invalid_argument(lane + "decoding must be 'greedy' or 'beam', got '" + decoding + "'");
  }
  if (decoding == "beam" && kind != "redecode") {
    throw std::invalid_argument(lane + "decoding 'beam' needs a redecode lane (streaming lanes decode greedily)");
  }
  check_option_range(lane + "beam_size", beam_size, 1, kMaxBeamSize);
  if (!(weight > 0.0 && weight <= 100.0)) {
    throw std::invalid_argument(lane + "weight must be in (0, 100], got " + std::to_string(weight));
  }
}

std::vector<LaneOptions> parse_lanes(const std::string& spec) {
  std::vector<LaneOptions> lanes;
  std::stringstream lanes_in(spec);
  std::string text;
  while (std::getline(lanes_in, text, ',')) {
    std::stringstream parts(text);
    std::string part;
    LaneOptions lane;
    bool first = true;
    while (std::getline(parts, part, ':')) {
      if (first) {
        lane.kind = part;
        first = false;
        continue;
      }
      const size_t eq = part.find('=');
      if (eq == std::string::npos) {
        throw std::invalid_argument("lane '" + text + "': expected key=value, got '" + part + "'");
      }
      const std::string key = part.substr(0, eq), value = part.substr(eq + 1);
      if (key == "chunk") lane.stream.buffered.chunk_ms = parse_int(text, key, value);
      else if (key == "left") lane.stream.buffered.left_ms = parse_int(text, key, value);
      else if (key == "right") lane.stream.buffered.right_ms = parse_int(text, key, value);
      else if (key == "profile") lane.stream.cache_aware.profile = value;
      else if (key == "every") lane.redecode_every_ms = parse_int(text, key, value);
      else if (key == "window") lane.redecode_window_ms = parse_int(text, key, value);
      else if (key == "decoding") lane.decoding = value;
      else if (key == "beam") lane.beam_size = static_cast<int>(parse_int(text, key, value));
      else if (key == "weight") {
        try {
          lane.weight = std::stod(value);
        } catch (const std::exception&) {
          throw std::invalid_argument("lane '" + text + "': weight must be a number, got '" + value + "'");
        }
      } else if (key == "name") lane.name = value;
      else {
        throw std::invalid_argument("lane '" + text + "': unknown key '" + key +
                                    "' (chunk, left, right, profile, every, window, decoding, beam, weight, name)");
      }
    }
    if (first || lane.kind.empty()) throw std::invalid_argument("empty lane in '" + spec + "'");
    lane.stream.mode = lane.kind == "cache_aware" ? "cache_aware" : "buffered";
    lane.validate();
    lanes.push_back(std::move(lane));
  }
  if (lanes.empty()) throw std::invalid_argument("lanes: at least one lane, got '" + spec + "'");
  return lanes;
}

std::string format_lanes(const std::vector<LaneOptions>& lanes) {
  std::ostringstream out;
  for (size_t i = 0; i < lanes.size(); ++i) {
    const LaneOptions& l = lanes[i];
    if (i) out << ',';
    out << l.kind;
    if (l.kind == "buffered") {
      out << ":chunk=" << l.stream.buffered.chunk_ms << ":left=" << l.stream.buffered.left_ms
          << ":right=" << l.stream.buffered.right_ms;
    } else if (l.kind == "cache_aware") {
      if (!l.stream.cache_aware.profile.empty()) out << ":profile=" << l.stream.cache_aware.profile;
    } else {
      out << ":every=" << l.redecode_every_ms << ":window=" << l.redecode_window_ms << ":decoding=" << l.decoding;
      if (l.decoding == "beam") out << ":beam=" << l.beam_size;
    }
    out << ":weight=" << l.weight;
    if (!l.name.empty()) out << ":name=" << l.name;
  }
  return out.str();
}

// One thread: a streaming lane, or the redecode lanes that share one encoder call per pass.
struct CaptionLanes::Worker {
  std::vector<int> lanes;
  std::string kind;
  std::shared_ptr<Engine> encoder;
  std::thread thread;
  // Position (under mutex_): the segment being read, the samples of it consumed so far.
  int64_t segment = -1;
  int64_t cursor = 0;
  bool exited = false;
  // Counters (stats() reads them from any thread; updated before the hypothesis they count is published).
  std::atomic<int64_t> encoder_calls{0}, hypotheses{0}, skipped{0}, compute_ns{0};
  bool failed = false;
  ErrorCode error_code = ErrorCode::kInternal;
  std::string error;
  // Streaming lanes (worker thread only).
  std::unique_ptr<StreamingSession> session;
  std::vector<TokenEmission> committed;
  // Redecode lanes (worker thread only).
  std::unique_ptr<FeatureExtractor> features;
  std::unique_ptr<EncoderRunner> runner;
  std::unique_ptr<DecoderStep> step;
  std::unique_ptr<TdtGreedyDecoder> greedy;
  std::vector<std::unique_ptr<TdtBeamDecoder>> beams;  // per lane (nullptr for greedy lanes)
  std::vector<float> feature_buffer, projected, window;
  std::vector<BeamHypothesis> nbest;
};

CaptionLanes::CaptionLanes(std::shared_ptr<const Model> model, std::vector<LaneOptions> lanes, const EngineFor& engine_for,
                           std::function<void()> on_hypothesis, int64_t max_retained_ms)
    : model_(std::move(model)),
      lanes_(std::move(lanes)),
      on_hypothesis_(std::move(on_hypothesis)),
      max_retained_samples_(max_retained_ms * model_->meta().features.sample_rate_hz / 1000) {
  if (lanes_.empty() || lanes_.size() > 16) {
    throw std::invalid_argument("lanes: 1 to 16 lanes, got " + std::to_string(lanes_.size()));
  }
  check_option_range("max_retained_ms", max_retained_ms, 1000, 3600000);
  std::map<std::string, int> names;
  for (LaneOptions& lane : lanes_) {
    lane.stream.mode = lane.kind == "cache_aware" ? "cache_aware" : "buffered";
    lane.validate();
    if (lane.name.empty()) lane.name = lane.kind == "redecode" && lane.decoding == "beam" ? "redecode-beam" : lane.kind;
    const int seen = names[lane.name]++;
    if (seen) lane.name += "-" + std::to_string(seen + 1);
  }
  // Redecode lanes with the same cadence, window and engine share a worker (one encoder call per pass).
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    const LaneOptions& lane = lanes_[static_cast<size_t>(i)];
    std::shared_ptr<Engine> encoder = engine_for(i, lane);
    if (!encoder) throw std::invalid_argument("lane '" + lane.name + "': no encoder engine");
    Worker* shared = nullptr;
    if (lane.kind == "redecode") {
      for (auto& w : workers_) {
        const LaneOptions& first = lanes_[static_cast<size_t>(w->lanes.front())];
        if (w->kind == "redecode" && w->encoder == encoder && first.redecode_every_ms == lane.redecode_every_ms &&
            first.redecode_window_ms == lane.redecode_window_ms) {
          shared = w.get();
        }
      }
    }
    if (shared) {
      shared->lanes.push_back(i);
      continue;
    }
    auto worker = std::make_unique<Worker>();
    worker->lanes.push_back(i);
    worker->kind = lane.kind;
    worker->encoder = std::move(encoder);
    workers_.push_back(std::move(worker));
  }
  for (auto& w : workers_) {
    if (w->kind != "redecode") {
      // A streaming lane's settings against the model (chunk a whole number of encoder frames, ...) are
      // refused here, when the stream is made, not when its first segment starts.
      const LaneOptions& lane = lanes_[static_cast<size_t>(w->lanes.front())];
      try {
        make_streaming_session(model_, w->encoder, lane.stream);
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument("lane '" + lane.name + "': " + e.what());
      }
      continue;
    }
    w->features = std::make_unique<FeatureExtractor>(model_->meta().features);
    w->runner = std::make_unique<EncoderRunner>(model_, w->encoder);
    w->step = std::make_unique<NativeDecoderStep>(model_->native_decoder_weights());
    w->greedy = std::make_unique<TdtGreedyDecoder>(model_->meta().decoding, *w->step);
    for (int lane : w->lanes) {
      const LaneOptions& o = lanes_[static_cast<size_t>(lane)];
      if (o.decoding == "beam") {
        TdtBeamConfig beam;
        beam.beam_size = o.beam_size;
        w->beams.push_back(std::make_unique<TdtBeamDecoder>(model_->meta().decoding, beam, *w->step));
      } else {
        w->beams.push_back(nullptr);
      }
    }
  }
  live_workers_ = static_cast<int>(workers_.size());
  for (auto& w : workers_) {
    Worker* worker = w.get();
    worker->thread = std::thread([this, worker] { run_worker(*worker); });
  }
}

CaptionLanes::~CaptionLanes() { stop(); }

void CaptionLanes::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    closed_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void CaptionLanes::start_segment(int64_t segment, int64_t origin) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!segments_.empty() && !segments_.back().ended) segments_.back().ended = true;
    Segment s;
    s.id = segment;
    s.origin = origin;
    segments_.push_back(std::move(s));
    trim_retained();
  }
  work_cv_.notify_all();
}

void CaptionLanes::append(const float* samples, int64_t num_samples) {
  if (num_samples <= 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (segments_.empty() || segments_.back().ended) {
      throw Error(ErrorCode::kState, "CaptionLanes::append outside a segment");
    }
    segments_.back().samples.insert(segments_.back().samples.end(), samples, samples + num_samples);
    retained_samples_ += num_samples;
    trim_retained();
  }
  work_cv_.notify_all();
}

void CaptionLanes::end_segment(bool read_all) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!segments_.empty()) {
      segments_.back().ended = true;
      segments_.back().read_all = read_all;
    }
  }
  work_cv_.notify_all();
}

void CaptionLanes::close() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!segments_.empty()) segments_.back().ended = true;
    closed_ = true;
  }
  work_cv_.notify_all();
}

bool CaptionLanes::pop(LaneHypothesis& out) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (results_.empty()) return false;
  out = std::move(results_.front());
  results_.pop_front();
  return true;
}

bool CaptionLanes::drained() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return live_workers_ == 0 && results_.empty();
}

std::vector<LaneStats> CaptionLanes::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LaneStats> out(lanes_.size());
  for (const auto& w : workers_) {
    for (size_t k = 0; k < w->lanes.size(); ++k) {
      LaneStats& s = out[static_cast<size_t>(w->lanes[k])];
      s.name = lanes_[static_cast<size_t>(w->lanes[k])].name;
      s.kind = w->kind;
      s.encoder_calls = w->encoder_calls;
      s.hypotheses = w->hypotheses;
      s.skipped_segments = w->skipped;
      s.shares_encoder = k > 0;
      s.compute_s = k == 0 ? static_cast<double>(w->compute_ns.load()) * 1e-9 : 0.0;
      s.failed = w->failed;
      s.error = w->error;
    }
  }
  return out;
}

const CaptionLanes::Segment* CaptionLanes::find(int64_t id) const {
  for (const Segment& s : segments_) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

void CaptionLanes::trim_retained() {
  // Drop finished segments every live worker has moved past; past the cap, the oldest finished
  // segment goes even if a lagging worker still reads it (it skips to the next one).
  while (!segments_.empty() && segments_.front().ended) {
    const int64_t id = segments_.front().id;
    bool needed = false;
    for (const auto& w : workers_) {
      if (!w->failed && !w->exited && w->segment <= id) needed = true;
    }
    if (needed && retained_samples_ <= max_retained_samples_) break;
    retained_samples_ -= static_cast<int64_t>(segments_.front().samples.size());
    segments_.pop_front();
  }
}

void CaptionLanes::publish(LaneHypothesis h) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    results_.push_back(std::move(h));
  }
  if (on_hypothesis_) on_hypothesis_();
}

void CaptionLanes::run_worker(Worker& worker) {
  std::unique_lock<std::mutex> lock(mutex_);
  try {
    if (worker.kind == "redecode") run_redecode(worker, lock);
    else run_streaming(worker, lock);
  } catch (const std::exception& e) {
    if (!lock.owns_lock()) lock.lock();
    worker.failed = true;
    const Error* error = dynamic_cast<const Error*>(&e);
    worker.error_code = error ? error->code() : ErrorCode::kEngine;
    worker.error = e.what();
    std::vector<LaneHypothesis> failures;
    for (int lane : worker.lanes) {
      LaneHypothesis h;
      h.lane = lane;
      h.segment = worker.segment;
      h.failed = true;
      h.error_code = worker.error_code;
      h.error = worker.error;
      failures.push_back(std::move(h));
    }
    for (LaneHypothesis& h : failures) results_.push_back(std::move(h));
  }
  if (!lock.owns_lock()) lock.lock();
  worker.exited = true;
  --live_workers_;
  trim_retained();
  lock.unlock();
  if (on_hypothesis_) on_hypothesis_();
}

void CaptionLanes::run_streaming(Worker& worker, std::unique_lock<std::mutex>& lock) {
  const LaneOptions& options = lanes_[static_cast<size_t>(worker.lanes.front())];
  const int lane = worker.lanes.front();
  std::vector<float> block;
  std::vector<TokenEmission> tail;
  int64_t origin = 0, frame_offset = 0, segment = -1;
  auto emit = [&](const StreamingStep& step, bool final) {
    for (int64_t i = 0; i < step.num_committed; ++i) {
      TokenEmission t = step.committed[i];
      t.frame += frame_offset;
      worker.committed.push_back(t);
    }
    LaneHypothesis h;
    h.lane = lane;
    h.segment = segment;
    h.tokens = worker.committed;
    for (int64_t i = 0; i < step.num_tail; ++i) {
      TokenEmission t = step.tail[i];
      t.frame += frame_offset;
      h.tokens.push_back(t);
    }
    h.window_start_frame = frame_offset;
    h.audio_end_sample = origin + step.audio_end_sample;
    h.segment_final = final;
    ++worker.encoder_calls;  // one encoder call and one hypothesis per step
    ++worker.hypotheses;
    publish(std::move(h));
  };
  for (;;) {
    // The next segment to read: the one after `segment`, or the oldest retained one after it.
    const Segment* s = nullptr;
    work_cv_.wait(lock, [&] {
      if (stopping_) return true;
      for (const Segment& seg : segments_) {
        if (seg.id > segment) return true;
      }
      return closed_;
    });
    if (stopping_) return;
    for (const Segment& seg : segments_) {
      if (seg.id > segment) {
        s = &seg;
        break;
      }
    }
    if (s == nullptr) return;  // closed, nothing left
    if (segment >= 0 && s->id > segment + 1) worker.skipped += s->id - segment - 1;
    segment = s->id;
    worker.segment = segment;
    worker.cursor = 0;
    origin = s->origin;
    const int64_t frame = model_->meta().encoder.subsampling_factor * model_->meta().features.hop_length;
    frame_offset = origin / frame;
    worker.committed.clear();
    lock.unlock();
    worker.session = make_streaming_session(model_, worker.encoder, options.stream);
    lock.lock();
    for (;;) {
      s = find(segment);
      if (s == nullptr) {  // dropped under us (the lane lagged past max_retained_ms)
        ++worker.skipped;
        break;
      }
      work_cv_.wait(lock, [&] {
        const Segment* cur = find(segment);
        return stopping_ || cur == nullptr || cur->ended ||
               static_cast<int64_t>(cur->samples.size()) > worker.cursor;
      });
      if (stopping_) return;
      s = find(segment);
      if (s == nullptr) {
        ++worker.skipped;
        break;
      }
      const int64_t available = static_cast<int64_t>(s->samples.size());
      const bool ended = s->ended;
      block.assign(s->samples.begin() + worker.cursor, s->samples.begin() + available);
      worker.cursor = available;
      lock.unlock();
      const auto t0 = std::chrono::steady_clock::now();
      if (!block.empty()) {
        worker.session->push(block.data(), static_cast<int64_t>(block.size()),
                             [&](const StreamingStep& step) { emit(step, false); });
      }
      if (ended) worker.session->finish([&](const StreamingStep& step) { emit(step, step.is_last); });
      worker.compute_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      lock.lock();
      if (ended) break;
    }
    trim_retained();
  }
}

void CaptionLanes::run_redecode(Worker& worker, std::unique_lock<std::mutex>& lock) {
  const LaneOptions& first = lanes_[static_cast<size_t>(worker.lanes.front())];
  const ModelMeta& meta = model_->meta();
  const int64_t rate = meta.features.sample_rate_hz;
  const int64_t frame = meta.encoder.subsampling_factor * meta.features.hop_length;
  const int64_t every = first.redecode_every_ms * rate / 1000;
  const int64_t window = first.redecode_window_ms * rate / 1000;
  int64_t segment = -1, last_pass_end = 0;
  for (;;) {
    work_cv_.wait(lock, [&] {
      if (stopping_) return true;
      for (const Segment& seg : segments_) {
        if (seg.id > segment) return true;
      }
      return closed_;
    });
    if (stopping_) return;
    const Segment* s = nullptr;
    for (const Segment& seg : segments_) {
      if (seg.id > segment) {
        s = &seg;
        break;
      }
    }
    if (s == nullptr) return;
    segment = s->id;
    worker.segment = segment;
    last_pass_end = 0;
    for (;;) {
      work_cv_.wait(lock, [&] {
        const Segment* cur = find(segment);
        // An ended segment gets its final pass at once (a lagging lane skips the passes in between).
        if (stopping_ || cur == nullptr || cur->ended) return true;
        return static_cast<int64_t>(cur->samples.size()) - last_pass_end >= every;
      });
      if (stopping_) return;
      s = find(segment);
      if (s == nullptr) {
        ++worker.skipped;
        break;
      }
      const bool ended = s->ended, read_all = s->read_all;
      // Passes end on multiples of `every` from the segment's start (the newest one reached; a lane
      // that keeps up decodes every one), so the same audio gives the same passes whatever the
      // arrival timing; the segment's last pass reads up to its end.
      const int64_t received = static_cast<int64_t>(s->samples.size());
      const int64_t available = ended ? received : received / every * every;
      // CONTRACT: the window starts on an encoder frame of the stream (origin is frame-aligned).
      // Past the window the oldest audio is left out (in real time the aggregator commits words before
      // they leave it). Faster than real time only the last pass commits, so it reads the whole segment
      // (read_all), or the words before the window would be lost.
      int64_t start = ended && read_all ? 0 : std::max<int64_t>(0, available - window);
      start = std::max<int64_t>(0, start / frame * frame);
      worker.window.assign(s->samples.begin() + start, s->samples.begin() + available);
      const int64_t origin = s->origin;
      last_pass_end = available;
      lock.unlock();
      const auto t0 = std::chrono::steady_clock::now();
      std::vector<LaneHypothesis> out;
      if (!worker.window.empty()) {
        Transcript greedy = recognize_offline(*model_, *worker.features, *worker.runner, *worker.step, *worker.greedy,
                                              worker.window.data(), static_cast<int64_t>(worker.window.size()),
                                              worker.feature_buffer, worker.projected);
        const int64_t frame_offset = (origin + start) / frame;
        for (size_t k = 0; k < worker.lanes.size(); ++k) {
          LaneHypothesis h;
          h.lane = worker.lanes[k];
          h.segment = segment;
          h.window_start_frame = frame_offset;
          h.audio_end_sample = origin + available;
          h.segment_final = ended;
          if (worker.beams[k] == nullptr) {
            h.tokens = greedy.tokens;
          } else {
            worker.beams[k]->decode(worker.projected.data(), greedy.num_encoder_frames, worker.nbest);
            for (size_t n = 0; n < worker.nbest.size(); ++n) {
              std::vector<TokenEmission> tokens;
              for (const BeamToken& b : worker.nbest[n].tokens) {
                tokens.push_back(TokenEmission{b.token_id, b.frame, b.duration, b.token_logprob});
                if (n == 0) h.token_confidence.push_back(std::exp(b.token_logprob));
              }
              if (n == 0) h.tokens = std::move(tokens);
              else h.alternatives.push_back(std::move(tokens));
            }
          }
          for (TokenEmission& t : h.tokens) t.frame += frame_offset;
          for (auto& alt : h.alternatives) {
            for (TokenEmission& t : alt) t.frame += frame_offset;
          }
          out.push_back(std::move(h));
        }
      } else if (ended) {
        for (int lane : worker.lanes) {
          LaneHypothesis h;
          h.lane = lane;
          h.segment = segment;
          h.audio_end_sample = origin + available;
          h.segment_final = true;
          out.push_back(std::move(h));
        }
      }
      worker.compute_ns += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
      if (!worker.window.empty()) ++worker.encoder_calls;
      worker.hypotheses += static_cast<int64_t>(out.size());
      for (LaneHypothesis& h : out) publish(std::move(h));
      lock.lock();
      if (ended) break;
    }
    trim_retained();
  }
}

}  // namespace parakeet_trt
