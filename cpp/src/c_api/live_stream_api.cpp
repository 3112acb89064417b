// The C ABI's live stream (ptrt_live_stream_*): a thin wrapper over parakeet_trt::LiveStream.
// The producer's calls touch only the LiveStream (which is safe for one producer and one consumer);
// the consumer's calls also own the views below.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "c_api/c_api_support.hpp"
#include "parakeet_trt/candidate_windows.hpp"

using namespace parakeet_trt;
using namespace parakeet_trt::c_api;

struct ptrt_live_stream {
  std::unique_ptr<LiveStream> stream;
  int32_t sample_rate_hz = 0;
  // Consumer side: the last event taken and the C views of it (valid until the next consumer call).
  LiveEvent event;
  std::vector<ptrt_token> committed, tail;
  EventViews transcript;
  std::vector<const char*> redecoded;
  std::vector<std::string> candidates;          // per transcript event: JSON, "" when none
  std::vector<const char*> candidates_view;
  std::string notices;
  std::vector<TranscriptEvent> snapshot;
  EventViews snapshot_view;
};

namespace {

ptrt_status to_live_options(const char* fn, const ptrt_stream_options* stream_options,
                            const ptrt_transcript_options* transcript_options, const ptrt_live_stream_options* options,
                            LiveStreamOptions& out) {
  ptrt_status read = to_stream_options(fn, stream_options, out.stream);
  if (read == PTRT_OK) read = to_transcript_options(fn, transcript_options, out.transcript);
  if (read != PTRT_OK) return read;
  ptrt_live_stream_options c;
  read = PTRT_READ_OPTIONS(fn, options, ptrt_live_stream_options, ring_ms, c);
  if (read != PTRT_OK) return read;
  out.ring_ms = c.ring_ms;
  out.event_slots = c.event_slots;
  out.final_redecode = c.final_redecode != 0;
  out.redecode_pre_roll_ms = c.redecode_pre_roll_ms;
  out.redecode_post_roll_ms = c.redecode_post_roll_ms;
  out.segment_on_endpoint = c.segment_on_endpoint != 0;
  out.segment_silence_ms = c.segment_silence_ms;
  out.segment_pre_roll_ms = c.segment_pre_roll_ms;
  if (c.aggregator != nullptr && c.aggregator[0] != '\0') out.aggregator.strategy = c.aggregator;
  if (c.lanes != nullptr && c.lanes[0] != '\0') out.lanes = parse_lanes(c.lanes);
  out.aggregator.commit_lag_ms = c.commit_lag_ms;
  out.aggregator.final_timeout_ms = c.final_timeout_ms;
  out.aggregator.stall_ms = c.stall_ms;
  out.aggregator.agreement_passes = c.agreement_passes;
  out.aggregator.fast_lane = c.fast_lane;
  out.aggregator.commit_lane = c.commit_lane;
  return PTRT_OK;
}

void fill_options(const LiveStreamOptions& d, ptrt_live_stream_options* options) {
  *options = ptrt_live_stream_options{};
  options->struct_size = sizeof(ptrt_live_stream_options);
  options->ring_ms = d.ring_ms;
  options->event_slots = d.event_slots;
  options->final_redecode = d.final_redecode ? 1 : 0;
  options->redecode_pre_roll_ms = d.redecode_pre_roll_ms;
  options->redecode_post_roll_ms = d.redecode_post_roll_ms;
  options->segment_on_endpoint = d.segment_on_endpoint ? 1 : 0;
  options->segment_silence_ms = d.segment_silence_ms;
  options->segment_pre_roll_ms = d.segment_pre_roll_ms;
  // The strategy names are static strings; lanes NULL means the default lane list.
  options->aggregator = d.aggregator.strategy == "v2" ? "v2" : d.aggregator.strategy == "v3" ? "v3" : "v1";
  options->lanes = nullptr;
  options->commit_lag_ms = d.aggregator.commit_lag_ms;
  options->final_timeout_ms = d.aggregator.final_timeout_ms;
  options->stall_ms = d.aggregator.stall_ms;
  options->agreement_passes = d.aggregator.agreement_passes;
  options->fast_lane = d.aggregator.fast_lane;
  options->commit_lane = d.aggregator.commit_lane;
}

ptrt_live_stream* new_live_stream(const ptrt_model* model, std::shared_ptr<Engine> encoder,
                                  const LiveStreamOptions& options) {
  auto handle = std::make_unique<ptrt_live_stream>();
  handle->sample_rate_hz = model->model->meta().features.sample_rate_hz;
  handle->stream = std::make_unique<LiveStream>(model->model, std::move(encoder), options);
  return handle.release();
}

// Lanes on engines the library makes: the streaming encoder for cache-aware lanes, else the offline one.
ptrt_live_stream* new_live_stream(const ptrt_model* model, const EngineOptions& engine, const LiveStreamOptions& options) {
  auto handle = std::make_unique<ptrt_live_stream>();
  handle->sample_rate_hz = model->model->meta().features.sample_rate_hz;
  handle->stream = std::make_unique<LiveStream>(
      model->model,
      [model, engine](int, const LaneOptions& lane) {
        return shared_engine(model, lane.kind == "cache_aware" ? "encoder_streaming" : "encoder", engine);
      },
      options);
  return handle.release();
}

const char* empty() { return ""; }

}  // namespace

extern "C" {

void ptrt_live_stream_options_init(ptrt_live_stream_options* options) {
  if (options) fill_options(LiveStreamOptions(), options);
}

void ptrt_live_stream_options_init_captions(ptrt_live_stream_options* options) {
  if (options) fill_options(captions_options(), options);
}

void ptrt_live_stream_options_init_candidates(ptrt_live_stream_options* options) {
  if (!options) return;
  fill_options(with_candidate_lanes(captions_options()), options);
  options->lanes = kCandidateLanes;
}

void ptrt_live_event_init(ptrt_live_event* event) {
  if (!event) return;
  *event = ptrt_live_event{};
  event->struct_size = sizeof(ptrt_live_event);
}

ptrt_status ptrt_live_stream_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                                const ptrt_stream_options* stream_options,
                                                const ptrt_transcript_options* transcript_options,
                                                const ptrt_live_stream_options* options, ptrt_live_stream** out_stream) {
  static const char* const fn = "ptrt_live_stream_create_with_engine";
  PTRT_REQUIRE(out_stream, "ptrt_live_stream_create_with_engine: out_stream must not be NULL");
  *out_stream = nullptr;
  PTRT_REQUIRE(model, "ptrt_live_stream_create_with_engine: model must not be NULL");
  return guarded([&] {
    LiveStreamOptions live;
    ptrt_status read = to_live_options(fn, stream_options, transcript_options, options, live);
    EngineOptions engine;
    if (read == PTRT_OK) read = to_engine_options(fn, engine_options, engine);
    if (read != PTRT_OK) return read;
    live.validate();
    *out_stream = live.aggregator.strategy == "v1"
                      ? new_live_stream(model, shared_engine(model, stream_graph(live.stream), engine), live)
                      : new_live_stream(model, engine, live);
    return PTRT_OK;
  });
}

ptrt_status ptrt_live_stream_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                                    const ptrt_stream_options* stream_options,
                                    const ptrt_transcript_options* transcript_options,
                                    const ptrt_live_stream_options* options, ptrt_live_stream** out_stream) {
  if (out_stream) *out_stream = nullptr;
  std::shared_ptr<ExternalEngine> engine;
  const ptrt_status adopted = adopt_engine("ptrt_live_stream_create", model, encoder, out_stream != nullptr, engine);
  if (adopted != PTRT_OK) return adopted;
  return guarded([&] {
    LiveStreamOptions live;
    const ptrt_status read = to_live_options("ptrt_live_stream_create", stream_options, transcript_options, options, live);
    if (read != PTRT_OK) return read;
    *out_stream = new_live_stream(model, engine, live);
    return PTRT_OK;
  });
}

void ptrt_live_stream_destroy(ptrt_live_stream* stream) { delete stream; }

ptrt_status ptrt_live_stream_write(ptrt_live_stream* stream, const float* samples, int64_t num_samples,
                                   int32_t sample_rate_hz, double vad_silence_ms, int32_t drop_overflow,
                                   int64_t* out_stored) {
  PTRT_REQUIRE(stream, "ptrt_live_stream_write: stream must not be NULL");
  PTRT_REQUIRE(samples || num_samples == 0, "ptrt_live_stream_write: samples is NULL with num_samples > 0");
  if (out_stored) *out_stored = 0;
  return guarded([&] {
    if (sample_rate_hz != stream->sample_rate_hz) {
      return fail(PTRT_ERROR_INVALID_AUDIO, "sample rate " + std::to_string(sample_rate_hz) + " Hz is not the model's " +
                                                std::to_string(stream->sample_rate_hz) + " Hz; resample before calling");
    }
    const int64_t stored = stream->stream->write(samples, num_samples, vad_silence_ms, drop_overflow != 0);
    if (out_stored) *out_stored = stored;
    return PTRT_OK;
  });
}

ptrt_status ptrt_live_stream_close(ptrt_live_stream* stream) {
  PTRT_REQUIRE(stream, "ptrt_live_stream_close: stream must not be NULL");
  return guarded([&] {
    stream->stream->close();
    return PTRT_OK;
  });
}

ptrt_status ptrt_live_stream_next_event(ptrt_live_stream* stream, int64_t timeout_ms, ptrt_live_event* out_event,
                                        int32_t* out_has_event) {
  PTRT_REQUIRE(stream && out_event && out_has_event,
               "ptrt_live_stream_next_event: stream, out_event and out_has_event must not be NULL");
  *out_has_event = 0;
  return guarded([&] {
    ptrt_live_event view;
    ptrt_live_event_init(&view);
    const size_t minimum = PTRT_PREFIX_MIN(ptrt_live_event, kind);
    if (out_event->struct_size < minimum) {  // checked before taking an event, so that none is lost
      return struct_size_too_small("ptrt_live_stream_next_event", "out_event", out_event->struct_size, minimum,
                                   "ptrt_live_event_init");
    }
    if (!stream->stream->next_event(stream->event, timeout_ms)) return PTRT_OK;
    const LiveEvent& e = stream->event;
    to_c_tokens(e.committed.data(), e.committed.size(), stream->committed);
    to_c_tokens(e.tail.data(), e.tail.size(), stream->tail);
    stream->transcript.publish(e.transcript);
    stream->redecoded.assign(e.transcript.size(), empty());
    stream->candidates.assign(e.transcript.size(), std::string());
    stream->candidates_view.assign(e.transcript.size(), empty());
    for (size_t i = 0, final_index = 0; i < e.transcript.size(); ++i) {
      if (e.transcript[i].type != TranscriptEventType::kFinal) continue;
      if (final_index < e.redecoded_text.size()) stream->redecoded[i] = e.redecoded_text[final_index].c_str();
      if (final_index < e.candidates.size() && !e.candidates[final_index].empty()) {
        stream->candidates[i] = candidate_windows_json(e.candidates[final_index]);
        stream->candidates_view[i] = stream->candidates[i].c_str();
      }
      ++final_index;
    }
    view.kind = e.kind == LiveEvent::Kind::kError ? PTRT_LIVE_EVENT_ERROR : PTRT_LIVE_EVENT_STEP;
    view.is_last = e.is_last ? 1 : 0;
    view.seq = e.seq;
    view.committed = stream->committed.data();
    view.num_committed = stream->committed.size();
    view.tail = stream->tail.data();
    view.num_tail = stream->tail.size();
    view.committed_text_added = e.committed_text_added.c_str();
    view.tail_text = e.tail_text.c_str();
    view.transcript = stream->transcript.data();
    view.num_transcript = stream->transcript.size();
    view.redecoded_text = stream->redecoded.data();
    view.audio_end_sample = e.audio_end_sample;
    view.decoded_frames = e.decoded_frames;
    view.dropped_samples = e.dropped_samples;
    view.error_status = e.kind == LiveEvent::Kind::kError ? static_cast<int32_t>(e.error_code) : PTRT_OK;
    view.error_message = e.kind == LiveEvent::Kind::kError ? e.error.c_str() : empty();
    stream->notices.clear();
    for (const LaneNotice& n : e.notices) {  // one line per notice: a multi-line message is joined
      std::string message = n.message;
      std::replace(message.begin(), message.end(), '\n', ' ');
      std::replace(message.begin(), message.end(), '\r', ' ');
      stream->notices += n.lane + " " + n.kind + ": " + message + "\n";
    }
    view.lane_notices = stream->notices.c_str();
    view.candidates_json = stream->candidates_view.data();
    *out_has_event = 1;
    return write_prefix("ptrt_live_stream_next_event", "out_event", view, minimum, "ptrt_live_event_init", out_event);
  });
}

ptrt_status ptrt_live_stream_snapshot(ptrt_live_stream* stream, const ptrt_transcript_event** out_event) {
  PTRT_REQUIRE(stream && out_event, "ptrt_live_stream_snapshot: stream and out_event must not be NULL");
  *out_event = nullptr;
  return guarded([&] {
    stream->snapshot = {stream->stream->snapshot()};
    stream->snapshot_view.publish(stream->snapshot);
    *out_event = stream->snapshot_view.data();
    return PTRT_OK;
  });
}

int32_t ptrt_live_stream_is_done(const ptrt_live_stream* stream) { return stream && stream->stream->done() ? 1 : 0; }

}  // extern "C"
