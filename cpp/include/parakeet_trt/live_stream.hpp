// One live stream: everything a caption stream needs, in one object that Python (BackgroundStream,
// the live pipeline's engine lane), the C ABI (ptrt_live_stream_*), Rust and the server wrap.
//
//   producer thread                 inference thread (owned)                                consumer thread
//   write(samples, vad) --> SpscRing --> StreamingSession.push/finish --> TranscriptState --> event slots --> next_event()
//                                        (buffered | cache_aware)        (commit policy,      (bounded,
//                                        + audio history: re-decode       endpoints, patches)  back-pressure)
//                                          of each final's segment
//
// Options are defined once, here (StreamOptions, TranscriptOptions, LiveStreamOptions): the C ABI's
// *_options_init, the Python classes' defaults and the CLI's help read these defaults.
//
// Threads: one producer thread (write/close; a second thread writing concurrently gets
// Error(kState), it is never silently merged), one consumer thread (next_event/snapshot), any thread
// for the counters. The model and the engine may be shared with any number of other streams.
//
// * write() validates the block (NaN/Inf refused whole, nothing stored), then stores what fits in the
//   ring. Overflow: the samples that do not fit are DROPPED and counted; the next event carries
//   dropped_samples, and the stream's clock (audio_end_s of every later event) counts dropped samples
//   as if they had been decoded silence-free: stream time stays equal to wall-clock audio time.
// * After the stream stopped on an error, write() throws that error (its code and message), so a
//   producer that waits for room never waits forever.
// * Events are never dropped: when every slot is full the inference thread waits for the consumer.
// * close() drains the ring, runs the last step(s), finishes the transcript; the last event has is_last.
// * Steady state allocates nothing in the stream loop itself (ring, slots and token buffers are sized at
//   creation); transcript events carry text (std::string), which may allocate when it grows.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parakeet_trt/cache_aware_streaming.hpp"
#include "parakeet_trt/caption_aggregator.hpp"
#include "parakeet_trt/caption_lanes.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"
#include "parakeet_trt/spsc_ring.hpp"
#include "parakeet_trt/stream_hypothesis.hpp"
#include "parakeet_trt/streaming.hpp"
#include "parakeet_trt/transcript.hpp"

namespace parakeet_trt {

struct LiveStreamOptions {
  StreamOptions stream;
  TranscriptOptions transcript;
  int64_t ring_ms = 10000;     // audio the ring holds (1..600000)
  int32_t event_slots = 64;    // events the consumer may lag behind (2..65536)
  // Each final also carries the offline decode of its segment's audio (buffered mode; needs
  // stream.buffered.history_ms covering the segment). Pre/post roll widen the segment's range.
  bool final_redecode = false;
  int64_t redecode_pre_roll_ms = 200;
  int64_t redecode_post_roll_ms = 300;
  // Segment-aware streaming (issue 14): when the producer's VAD reports segment_silence_ms of trailing
  // silence, the segment's session runs its last step, the transcript emits the segment's final, and
  // the audio after it is held back (only the last segment_pre_roll_ms are kept). When speech resumes,
  // the next segment starts in a fresh session with the pre-roll before the onset (frame-aligned), so
  // no sentence is decoded with earlier ones in its left context and the pause never reaches the
  // encoder. Audio without VAD information (vad_silence_ms < 0) counts as speech.
  bool segment_on_endpoint = false;
  // 900 ms: with Silero VAD it cuts at sentence pauses, not inside them (docs/DECISION_LOG.md)
  int64_t segment_silence_ms = 900;   // 80..60000
  int64_t segment_pre_roll_ms = 320;  // 0..5000; 320 ms: the onset VAD reports lags the first phoneme
  // Lanes and the aggregator (issue 14, caption_lanes.hpp, caption_aggregator.hpp). Aggregator "v1"
  // runs `stream` as the one lane through the transcript's commit policy (TranscriptOptions); "v2" and
  // "v3" run `lanes` (each on its own thread) and need segment_on_endpoint: the aggregator's decisions
  // drive the transcript, and the transcript's commit and endpoint rules are not used.
  AggregatorOptions aggregator;
  std::vector<LaneOptions> lanes;  // v2, v3: at least one; empty: the single lane "redecode"
  // Audio the lanes may hold for a lane that lags (1000..3600000 ms).
  int64_t lanes_retained_ms = 60000;
  // The lanes v2 and v3 run: `lanes`, or the single default lane "redecode" when it is empty.
  std::vector<LaneOptions> lanes_to_run() const;
  // Throws std::invalid_argument naming the field.
  void validate() const;
};

// The live captions' defaults (`parakeet-trt live`, the server, the live pipeline): segment-aware,
// aggregator v2 over one redecode lane (partials from its passes, commits by local agreement of two
// consecutive passes once a word is commit_lag_ms behind the live edge, the whole-segment pass at the
// endpoint). Measured in docs/LIVE_REPORT.md (tools/live_report.py); docs/DECISION_LOG.md says why.
// LiveStreamOptions' own defaults stay the single buffered stream (v1) that BackgroundStream and
// the C ABI's older callers get.
LiveStreamOptions captions_options();

// The lanes a stream whose finals an LLM lane polishes runs instead of the captions' default one: a
// beam redecode lane first (its 1-best and n-best are the finals' candidate windows; a shared worker
// publishes its lanes' passes in order, so its whole-segment pass is there when the committing lane's
// pass finalizes the segment), then the greedy lane, which shows (fast_lane 1) and commits (commit_lane
// 1): a beam lane that commits is worse in real time (docs/LIVE_CAPTIONS.md).
extern const char* const kCandidateLanes;
// `options` with the candidate lanes (and fast_lane = commit_lane = 1) when it runs the captions'
// default lanes (aggregator v2, the default lane list however it is written, "" included, default fast
// and commit lane); any other lane set stays as it is.
LiveStreamOptions with_candidate_lanes(LiveStreamOptions options);

// What one step of the stream produced (or its error), as the consumer receives it.
struct LiveEvent {
  enum class Kind { kStep = 0, kError = 1 };
  Kind kind = Kind::kStep;
  int64_t seq = 0;                              // 1, 2, 3, ... per stream
  std::vector<TokenEmission> committed;         // the engine tokens this step committed (never revised)
  std::vector<TokenEmission> tail;              // the engine's speculative tail after this step
  std::string committed_text_added;             // whole words the engine's committed tokens completed (append)
  std::string tail_text;                        // the open word and the speculative tail (replace)
  std::vector<TranscriptEvent> transcript;      // the transcript events this step caused (patch, final)
  std::vector<std::string> redecoded_text;      // per final in `transcript` (same order): its re-decode, "" if none
  // per final in `transcript` (same order; lanes only, else empty): where the segment's other decodes
  // disagree with the final's words (candidate_windows.hpp), for the LLM lane
  std::vector<std::vector<CandidateWindow>> candidates;
  int64_t audio_end_sample = 0;                 // stream samples consumed (dropped samples included)
  int64_t decoded_frames = 0;
  int64_t dropped_samples = 0;                  // ring overflow so far
  bool is_last = false;
  ErrorCode error_code = ErrorCode::kInternal;  // kError
  std::string error;                            // kError: the message
  std::vector<LaneNotice> notices;              // lanes that failed or stalled since the last event (each once)
};

class LiveStream {
 public:
  // encoder: the engine of options.stream.mode (v1), or of every lane (v2, v3; cache-aware lanes need
  // the constructor below when the lanes mix graphs).
  LiveStream(std::shared_ptr<const Model> model, std::shared_ptr<Engine> encoder, const LiveStreamOptions& options);
  // Lanes with their own engines (v2, v3): engine_for(lane, options) gives each lane its encoder.
  LiveStream(std::shared_ptr<const Model> model, const CaptionLanes::EngineFor& engine_for,
             const LiveStreamOptions& options);
  // Sessions made elsewhere (tests, external engines): make_session is called for the first session
  // and, with segment_on_endpoint, once per later segment. The options' stream part is ignored.
  using SessionFactory = std::function<std::unique_ptr<StreamingSession>()>;
  LiveStream(SessionFactory make_session, const LiveStreamOptions& options);
  // One session made elsewhere (no segment_on_endpoint: there is no second session to make).
  LiveStream(std::unique_ptr<StreamingSession> session, const LiveStreamOptions& options);
  ~LiveStream();  // shutdown()
  LiveStream(const LiveStream&) = delete;
  LiveStream& operator=(const LiveStream&) = delete;

  // Producer. Returns the samples stored (< num_samples when the ring is full). The rest is dropped and
  // counted (a live source that cannot wait), or with drop_overflow = false left to the caller, who
  // writes it again later (a file or pipe that can wait: nothing is counted as dropped).
  // vad_silence_ms: trailing VAD silence at the block's last sample (< 0: unknown), for endpoints.
  // Throws InvalidAudio (NaN/Inf; nothing stored), Error(kState) after close() or when another thread
  // is writing, and the stream's own error once it has stopped on one.
  int64_t write(const float* samples, int64_t num_samples, double vad_silence_ms = -1.0, bool drop_overflow = true);
  // Producer: end of audio. Idempotent.
  void close();
  // Consumer: waits up to timeout_ms (< 0: forever) for the next event and swaps it into `out`
  // (reuse one LiveEvent). False on timeout, or when the stream is over and drained (done()).
  bool next_event(LiveEvent& out, int64_t timeout_ms);
  // Consumer: the transcript as one snapshot event (a client that resyncs), as of the last event taken.
  TranscriptEvent snapshot() const;
  // close(), stop waiting for the consumer, join the thread. Idempotent. Without locks an engine needs.
  void shutdown();

  bool done() const;
  int64_t dropped_samples() const { return dropped_.load(); }
  int64_t samples_written() const { return written_.load(); }
  // Times the transcript re-anchored after the engine revised a token it had committed from a tail.
  int64_t alignment_conflicts() const { return conflicts_.load(); }
  // v1 only (Error(kState) with lanes: each lane has its own sessions).
  const StreamingSession& session() const;
  // Per lane (v2, v3; empty for v1): encoder calls, hypotheses, compute time, failure.
  std::vector<LaneStats> lane_stats() const;
  bool uses_lanes() const { return lanes_ != nullptr; }
  const LiveStreamOptions& options() const { return options_; }

 private:
  // What a constructor resolved: the model, and either sessions (v1) or lane engines (v2, v3).
  struct Parts {
    std::shared_ptr<const Model> model;
    SessionFactory make_session;
    std::unique_ptr<StreamingSession> first;
    CaptionLanes::EngineFor engine_for;
  };
  LiveStream(Parts parts, const LiveStreamOptions& options);
  static Parts session_parts(SessionFactory make_session);

  // The inference thread: runs `loop`; an exception ends the stream with an error event.
  void run_guarded(void (LiveStream::*loop)());
  void run();
  // VAD segments; with lanes, the lanes' hypotheses go to the aggregator between marks.
  void run_segmented();
  // Lanes at the end of input: the last segment ends, every segment is finalized, the transcript closes.
  void finish_lanes();
  // Lanes: hands queued lane hypotheses and deadlines to the aggregator and applies its decisions.
  void pump_lanes();
  void apply_decisions(std::vector<AggregatorDecision>& decisions, bool stream_last);
  double now_s() const;
  // Feeds read audio to the current segment's session, or keeps it as pre-roll between segments.
  void take_audio(const float* samples, int64_t n);
  // The producer's VAD said `silence_ms` at the audio read so far: cut or start a segment.
  void on_vad(double silence_ms);
  void start_segment();
  void finish_segment(bool stream_last);
  // Session steps are relative to the segment's origin: shift them to stream time, then emit.
  void emit_step(const StreamingStep& step, bool stream_last, bool segment_end);
  void emit_transcript_only(const std::vector<TranscriptEvent>& events, bool stream_last);
  void emit_error(ErrorCode code, const std::string& message);
  // Hands the filled slot `e` to the consumer (lock held on entry, released on return).
  void publish(LiveEvent& e, std::unique_lock<std::mutex>& lock, bool stream_last);
  // Every field of a reused event slot cleared (capacities kept) and the pending lane notices moved in.
  // Inference thread only (it alone touches pending_notices_).
  void reset_slot(LiveEvent& e, LiveEvent::Kind kind, bool is_last);
  bool wait_for_slot(std::unique_lock<std::mutex>& lock);
  double vad_silence_at(int64_t sample);

  LiveStreamOptions options_;
  std::shared_ptr<const Model> model_;
  int64_t frame_samples_ = 0;
  int sample_rate_hz_ = 0;
  SessionFactory make_session_;
  std::unique_ptr<StreamingSession> session_;  // v1
  std::unique_ptr<CaptionLanes> lanes_;        // v2, v3
  std::unique_ptr<CaptionAggregator> aggregator_;
  int64_t segment_id_ = 0;
  std::atomic<bool> lane_ready_{false};
  double first_audio_at_s_ = -1.0;  // when the bus first read audio (lanes: real-time detection)
  std::vector<LaneNotice> pending_notices_;
  std::vector<AggregatorDecision> decisions_;
  // Segments (inference thread): the current session's sample 0 in stream samples (frame-aligned).
  int64_t origin_ = 0, frame_offset_ = 0, read_end_ = 0;
  bool in_segment_ = true;
  std::vector<float> idle_tail_;  // the last pre-roll (+ one frame) of audio between segments
  std::vector<TokenEmission> shifted_committed_, shifted_tail_;
  StreamHypothesis hypothesis_;
  TranscriptState transcript_;
  SpscRing<float> ring_;
  std::vector<float> block_;
  // Producer -> inference thread: (stream end sample, trailing VAD silence) per written block.
  struct VadMark { int64_t end_sample; double silence_ms; };
  SpscRing<VadMark> vad_marks_;
  VadMark last_mark_{0, -1.0}, next_mark_{0, -1.0};  // inference thread
  int64_t stored_end_ = 0;                           // producer: samples stored in the ring so far
  std::vector<LiveEvent> slots_;
  int64_t head_ = 0, tail_ = 0, seq_ = 0;
  bool finished_ = false, abandoned_ = false;
  std::atomic<bool> closed_{false};
  std::atomic<int> writers_{0};
  std::atomic<int64_t> dropped_{0}, written_{0}, conflicts_{0};
  std::atomic<bool> failed_{false};
  ErrorCode failure_code_ = ErrorCode::kInternal;
  std::string failure_;  // set once before failed_ (read after failed_ is seen)
  TranscriptEvent last_snapshot_;
  mutable std::mutex mutex_;
  std::condition_variable events_cv_, space_cv_, audio_cv_;
  std::thread thread_;
};

}  // namespace parakeet_trt
