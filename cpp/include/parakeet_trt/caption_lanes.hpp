// Engine lanes (issue 14): several decoders of the same audio, each on its own thread, fed the
// same segments by a live stream's bus, each producing time-aligned hypotheses of the open segment
// for an aggregator (caption_aggregator.hpp).
//
//   bus (LiveStream's inference thread)          lane workers (one thread each)           bus again
//   start_segment / append / end_segment --> segment audio (shared, retained) --> hypotheses --> pop()
//                                                      |   buffered:    a fresh StreamingSession per segment,
//                                                      |                one hypothesis per step (committed + tail)
//                                                      |   cache_aware: the same, on the streaming encoder
//                                                      |   redecode:    an offline decode of the segment's audio every
//                                                      |                `redecode_every_ms` of new audio and once at its end,
//                                                      |                over at most `redecode_window_ms` ending at the live
//                                                      |                edge (the aggregator commits words before they leave it);
//                                                      |                the last pass reads the whole segment
//
// Shared encoder, several decoders: redecode lanes with equal cadence and window run on ONE worker
// and one encoder call per pass; each lane decodes the same projected frames with its own decoder
// (greedy, or TDT beam search with n-best and word confidences). encoder_calls() counts the calls.
//
// Failures: a lane whose engine throws stops; its last hypothesis says failed (with the error) and
// the other lanes go on. A slow lane never blocks the bus: the bus only reads finished hypotheses.
// A redecode lane that falls behind skips passes, never a segment: each pass decodes the newest
// window, and every segment gets its whole-segment pass once it ended. A streaming lane decodes every
// sample in order, so it lags. Segments are retained until
// every live lane has finished them, at most `max_retained_ms` of audio: past it the oldest
// finished segment is dropped and a lane still reading it skips to the next one (counted).
//
// Allocation: lanes allocate (hypothesis vectors, the pass' window copy); the bus allocates per
// segment. Not the allocation-free path of one buffered stream (LiveStream with aggregator v1).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parakeet_trt/engine.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/streaming.hpp"
#include "parakeet_trt/cache_aware_streaming.hpp"

namespace parakeet_trt {

// How a stream decodes: the mode and its settings (one lane, or aggregator v1's only lane).
struct StreamOptions {
  std::string mode = "buffered";     // "buffered" | "cache_aware"
  BufferedStreamingConfig buffered;  // chunk_ms 560, left_ms 10000, right_ms 560, history_ms 30000
  CacheAwareStreamingConfig cache_aware;  // profile "" (the export's)
  // Throws std::invalid_argument naming the field.
  void validate() const;
};

// The session a StreamOptions describes, on `encoder` (the offline encoder for buffered, the
// streaming encoder for cache_aware).
std::unique_ptr<StreamingSession> make_streaming_session(std::shared_ptr<const Model> model,
                                                         std::shared_ptr<Engine> encoder, const StreamOptions& options);

struct LaneOptions {
  static constexpr int kMaxBeamSize = 64;
  std::string name;                 // in notices and reports; "" -> kind (and decoding), made unique
  std::string kind = "redecode";    // "buffered" | "cache_aware" | "redecode"
  StreamOptions stream;             // buffered / cache_aware: the mode's settings (mode is set from kind)
  int64_t redecode_every_ms = 240;  // redecode: new audio between passes (40..10000)
  // redecode: the most audio one pass decodes (1000..120000; in a LiveStream at least the aggregator's
  // commit_lag_ms + redecode_every_ms, so a word reaches the lag inside it). A segment longer than this is decoded
  // over its newest window_ms only (the aggregator commits words about to leave the window), so a
  // pass costs at most one window however long the segment runs; the segment's last pass, once it
  // ended, reads the whole segment (faster than real time it is the only pass that commits).
  int64_t redecode_window_ms = 12000;
  std::string decoding = "greedy";  // redecode: "greedy" | "beam"
  int beam_size = 4;                // decoding "beam": 1..64
  double weight = 1.0;              // aggregator v3's vote weight (0..100]
  // Throws std::invalid_argument naming the field.
  void validate() const;
  // "lane 'NAME': " (the kind when unnamed), the start of every error about this lane.
  std::string error_prefix() const;
};

// Parses a lane list as the CLI writes it: comma-separated lanes, each `kind[:key=value...]`, e.g.
// "redecode", "buffered:chunk=560:right=560,redecode:every=240:window=12000:decoding=beam:beam=4:weight=2".
// Keys: chunk, left, right (buffered ms), profile (cache_aware), every, window, decoding, beam (redecode),
// weight, name. Throws std::invalid_argument naming the lane and key.
std::vector<LaneOptions> parse_lanes(const std::string& spec);
// The inverse (canonical form, every key written).
std::string format_lanes(const std::vector<LaneOptions>& lanes);

// One lane's view of the open segment. Token frames are stream frames.
struct LaneHypothesis {
  int lane = 0;
  int64_t segment = 0;                  // the bus' segment id
  std::vector<TokenEmission> tokens;    // the lane's whole hypothesis of the segment (from its window start)
  std::vector<float> token_confidence;  // per token (beam: its probability), empty when the decoder has none
  int64_t window_start_frame = 0;       // first frame the hypothesis covers
  int64_t audio_end_sample = 0;         // stream samples the hypothesis reflects
  bool segment_final = false;           // the lane's last hypothesis of the segment (the whole segment)
  bool failed = false;                  // the lane stopped: error_code and error say why; tokens empty
  ErrorCode error_code = ErrorCode::kInternal;
  std::string error;
  // n-best (beam lanes): the other hypotheses, best first after `tokens` (for the LLM lane).
  std::vector<std::vector<TokenEmission>> alternatives;
};

struct LaneStats {
  std::string name;
  std::string kind;
  int64_t encoder_calls = 0;   // shared-encoder lanes report their worker's calls
  bool shares_encoder = false; // its encoder calls are an earlier lane's (one worker, one call per pass)
  int64_t hypotheses = 0;
  int64_t skipped_segments = 0;
  double compute_s = 0.0;      // time in the lane's passes/steps (shared workers: once, on its first lane)
  bool failed = false;
  std::string error;
};

class CaptionLanes {
 public:
  // Engines per lane: engine_for(lane_index, options) gives the encoder a lane runs on (the offline
  // encoder for buffered and redecode lanes, the streaming encoder for cache_aware ones).
  using EngineFor = std::function<std::shared_ptr<Engine>(int lane, const LaneOptions&)>;
  // on_hypothesis is called on a lane's thread after it queued a hypothesis (wake the bus). Validates
  // the lanes (at least one, at most 16). max_retained_ms: audio kept for lanes that lag.
  CaptionLanes(std::shared_ptr<const Model> model, std::vector<LaneOptions> lanes, const EngineFor& engine_for,
               std::function<void()> on_hypothesis, int64_t max_retained_ms);
  ~CaptionLanes();  // stop(): joins the workers
  CaptionLanes(const CaptionLanes&) = delete;
  CaptionLanes& operator=(const CaptionLanes&) = delete;

  // Bus side (one thread). origin: the segment's first stream sample (frame-aligned).
  void start_segment(int64_t segment, int64_t origin);
  void append(const float* samples, int64_t num_samples);
  // read_all: the segment's last redecode pass reads all of it instead of the capped window. For input
  // faster than real time, where only that pass commits; in real time the aggregator commits words
  // before they leave the window, so the cap (and a pass's bounded cost) holds there.
  void end_segment(bool read_all = false);
  // No more audio: workers finish every segment, then exit. stop(): exit now (join).
  void close();
  void stop();

  // Takes the oldest queued hypothesis. Any thread (the bus).
  bool pop(LaneHypothesis& out);
  // All workers have exited (after close(): every segment done) and nothing is queued.
  bool drained() const;

  int num_lanes() const { return static_cast<int>(lanes_.size()); }
  const std::vector<LaneOptions>& lanes() const { return lanes_; }
  std::vector<LaneStats> stats() const;

 private:
  struct Segment {
    int64_t id = 0;
    int64_t origin = 0;            // stream sample of samples[0]
    std::vector<float> samples;
    bool ended = false;
    bool read_all = false;         // the last pass reads the whole segment (end_segment)
  };
  struct Worker;

  void run_worker(Worker& worker);
  void run_streaming(Worker& worker, std::unique_lock<std::mutex>& lock);
  void run_redecode(Worker& worker, std::unique_lock<std::mutex>& lock);
  void publish(LaneHypothesis h);
  void trim_retained();  // lock held
  const Segment* find(int64_t id) const;  // lock held; nullptr when dropped

  std::shared_ptr<const Model> model_;
  std::vector<LaneOptions> lanes_;
  std::function<void()> on_hypothesis_;
  int64_t max_retained_samples_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::deque<Segment> segments_;
  int64_t retained_samples_ = 0;
  bool closed_ = false, stopping_ = false;
  std::deque<LaneHypothesis> results_;
  std::vector<std::unique_ptr<Worker>> workers_;
  int live_workers_ = 0;
};

}  // namespace parakeet_trt
