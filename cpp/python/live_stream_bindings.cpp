// pybind11 bindings of the engine factory, the stream options' defaults and LiveStream: type,
// ownership and error conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "candidate_conversion.hpp"
#include "engine_conversion.hpp"
#include "parakeet_trt/decoding.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/model.hpp"

#include <map>

namespace py = pybind11;
using namespace parakeet_trt;
using parakeet_trt_python::as_engine;
using parakeet_trt_python::EngineHandle;
using parakeet_trt_python::windows_to_list;

py::dict emissions_to_dict(const TokenEmission* tokens, int64_t count);  // bindings.cpp
py::dict event_to_dict(const TranscriptEvent& e);                        // transcript_bindings.cpp

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// The live stream's thread may call a Python engine (which takes the GIL): destroy it without the GIL.
struct GilFreeDelete {
  void operator()(LiveStream* stream) const {
    py::gil_scoped_release release;
    delete stream;
  }
};

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kInvalidAudio: return "invalid_audio";
    case ErrorCode::kModel: return "model";
    case ErrorCode::kContractViolation: return "contract_violation";
    case ErrorCode::kEngine: return "engine";
    case ErrorCode::kState: return "state";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

// Every option default, from the C++ structs (the one place they are defined).
py::dict option_defaults() {
  const LiveStreamOptions live;
  const EngineOptions engine;
  const DecodingOptions decoding;
  py::dict stream, transcript, l, e, d;
  stream["mode"] = live.stream.mode;
  stream["chunk_ms"] = live.stream.buffered.chunk_ms;
  stream["left_ms"] = live.stream.buffered.left_ms;
  stream["right_ms"] = live.stream.buffered.right_ms;
  stream["history_ms"] = live.stream.buffered.history_ms;
  stream["profile"] = live.stream.cache_aware.profile;
  transcript["stable_updates"] = live.transcript.stable_updates;
  transcript["max_lag_ms"] = live.transcript.max_lag_ms;
  transcript["max_window_tokens"] = live.transcript.max_window_tokens;
  transcript["endpoint_blank_ms"] = live.transcript.endpoint_blank_ms;
  transcript["endpoint_vad_ms"] = live.transcript.endpoint_vad_ms;
  transcript["endpoint_require_both"] = live.transcript.endpoint_require_both;
  transcript["commit_whole_words"] = live.transcript.commit_whole_words;
  l["ring_ms"] = live.ring_ms;
  l["event_slots"] = live.event_slots;
  l["final_redecode"] = live.final_redecode;
  l["redecode_pre_roll_ms"] = live.redecode_pre_roll_ms;
  l["redecode_post_roll_ms"] = live.redecode_post_roll_ms;
  l["segment_on_endpoint"] = live.segment_on_endpoint;
  l["segment_silence_ms"] = live.segment_silence_ms;
  l["segment_pre_roll_ms"] = live.segment_pre_roll_ms;
  l["lanes"] = format_lanes(live.lanes_to_run());
  l["lanes_retained_ms"] = live.lanes_retained_ms;
  py::dict a;
  a["aggregator"] = live.aggregator.strategy;
  a["fast_lane"] = live.aggregator.fast_lane;
  a["commit_lane"] = live.aggregator.commit_lane;
  a["agreement_passes"] = live.aggregator.agreement_passes;
  a["commit_lag_ms"] = live.aggregator.commit_lag_ms;
  a["final_timeout_ms"] = live.aggregator.final_timeout_ms;
  a["stall_ms"] = live.aggregator.stall_ms;
  e["name"] = engine.name;
  e["providers"] = engine.providers;
  e["intra_op_threads"] = engine.intra_op_threads;
  e["device_id"] = engine.device_id;
  d["strategy"] = decoding.strategy;
  d["beam_size"] = decoding.beam_size;
  d["nbest"] = decoding.nbest;
  d["max_beam_size"] = DecodingOptions::kMaxBeamSize;
  d["max_nbest"] = DecodingOptions::kMaxNBest;
  py::dict out;
  out["stream"] = stream;
  out["transcript"] = transcript;
  out["live"] = l;
  out["aggregator"] = a;
  const LiveStreamOptions captions = captions_options();
  py::dict c;
  c["segment_on_endpoint"] = captions.segment_on_endpoint;
  c["aggregator"] = captions.aggregator.strategy;
  c["lanes"] = format_lanes(captions.lanes);
  c["candidate_lanes"] = std::string(kCandidateLanes);
  out["captions"] = c;
  out["engine"] = e;
  out["decoding"] = d;
  return out;
}

// Reads keyword options onto the C++ structs; an unknown key is a TypeError naming it.
template <typename T>
void take(py::dict& kw, const char* key, T& field) {
  if (kw.contains(key)) {
    field = kw[key].cast<T>();
    PyDict_DelItemString(kw.ptr(), key);
  }
}

LiveStreamOptions live_options_from(py::dict kw) {
  LiveStreamOptions o;
  take(kw, "mode", o.stream.mode);
  take(kw, "chunk_ms", o.stream.buffered.chunk_ms);
  take(kw, "left_ms", o.stream.buffered.left_ms);
  take(kw, "right_ms", o.stream.buffered.right_ms);
  take(kw, "history_ms", o.stream.buffered.history_ms);
  take(kw, "profile", o.stream.cache_aware.profile);
  take(kw, "stable_updates", o.transcript.stable_updates);
  take(kw, "max_lag_ms", o.transcript.max_lag_ms);
  take(kw, "max_window_tokens", o.transcript.max_window_tokens);
  take(kw, "endpoint_blank_ms", o.transcript.endpoint_blank_ms);
  take(kw, "endpoint_vad_ms", o.transcript.endpoint_vad_ms);
  take(kw, "endpoint_require_both", o.transcript.endpoint_require_both);
  take(kw, "commit_whole_words", o.transcript.commit_whole_words);
  take(kw, "ring_ms", o.ring_ms);
  take(kw, "event_slots", o.event_slots);
  take(kw, "final_redecode", o.final_redecode);
  take(kw, "redecode_pre_roll_ms", o.redecode_pre_roll_ms);
  take(kw, "redecode_post_roll_ms", o.redecode_post_roll_ms);
  take(kw, "segment_on_endpoint", o.segment_on_endpoint);
  take(kw, "segment_silence_ms", o.segment_silence_ms);
  take(kw, "segment_pre_roll_ms", o.segment_pre_roll_ms);
  take(kw, "lanes_retained_ms", o.lanes_retained_ms);
  take(kw, "aggregator", o.aggregator.strategy);
  take(kw, "fast_lane", o.aggregator.fast_lane);
  take(kw, "commit_lane", o.aggregator.commit_lane);
  take(kw, "agreement_passes", o.aggregator.agreement_passes);
  take(kw, "commit_lag_ms", o.aggregator.commit_lag_ms);
  take(kw, "final_timeout_ms", o.aggregator.final_timeout_ms);
  take(kw, "stall_ms", o.aggregator.stall_ms);
  std::string lanes;
  take(kw, "lanes", lanes);
  if (!lanes.empty()) o.lanes = parse_lanes(lanes);
  if (py::len(kw) != 0) {
    throw py::type_error("LiveStream: unknown option(s) " + std::string(py::str(py::list(kw.attr("keys")()))));
  }
  return o;
}

py::dict live_event_to_dict(const LiveEvent& e) {
  py::dict d;
  d["type"] = e.kind == LiveEvent::Kind::kError ? "error" : "step";
  d["seq"] = e.seq;
  d["committed"] = emissions_to_dict(e.committed.data(), static_cast<int64_t>(e.committed.size()));
  d["tail"] = emissions_to_dict(e.tail.data(), static_cast<int64_t>(e.tail.size()));
  d["committed_text_added"] = e.committed_text_added;
  d["tail_text"] = e.tail_text;
  py::list events;
  size_t final_index = 0;
  for (const TranscriptEvent& t : e.transcript) {
    py::dict event = event_to_dict(t);
    if (t.type == TranscriptEventType::kFinal) {
      if (final_index < e.redecoded_text.size()) event["redecoded_text"] = e.redecoded_text[final_index];
      if (final_index < e.candidates.size() && !e.candidates[final_index].empty()) {
        event["candidates"] = windows_to_list(e.candidates[final_index]);
      }
      ++final_index;
    }
    events.append(event);
  }
  d["events"] = events;
  d["audio_end_sample"] = e.audio_end_sample;
  d["decoded_frames"] = e.decoded_frames;
  d["dropped_samples"] = e.dropped_samples;
  d["is_last"] = e.is_last;
  d["error"] = e.error;
  d["error_code"] = e.kind == LiveEvent::Kind::kError ? error_code_name(e.error_code) : "";
  py::list notices;
  for (const LaneNotice& n : e.notices) {
    py::dict notice;
    notice["lane"] = n.lane;
    notice["kind"] = n.kind;
    notice["message"] = n.message;
    notices.append(notice);
  }
  d["lane_notices"] = notices;
  return d;
}

}  // namespace

void bind_live_stream(py::module_& m) {
  py::class_<EngineHandle>(m, "Engine", "A native engine made by the C++ factory (shareable across threads).")
      .def_property_readonly("description", [](const EngineHandle& h) { return h.engine->description(); });

  m.def(
      "make_engine",
      [](const std::shared_ptr<Model>& mdl, const std::string& graph, const std::string& name,
         const std::vector<std::string>& providers, int32_t intra_op_threads, int32_t device_id,
         const std::string& onnxruntime_library, const std::string& trt_engine_dir, bool allow_spinning) {
        EngineOptions o;
        o.allow_spinning = allow_spinning;
        o.name = name;
        o.providers = providers;
        o.intra_op_threads = intra_op_threads;
        o.device_id = device_id;
        o.onnxruntime_library = onnxruntime_library;
        o.trt_engine_dir = trt_engine_dir;
        py::gil_scoped_release release;
        return EngineHandle{mdl->engine(graph, o)};  // shared with every caller asking the same
      },
      py::arg("model"), py::arg("graph"), py::arg("name") = EngineOptions().name,
      py::arg("providers") = std::vector<std::string>(), py::arg("intra_op_threads") = 0, py::arg("device_id") = 0,
      py::arg("onnxruntime_library") = "", py::arg("trt_engine_dir") = "",
      py::arg("allow_spinning") = EngineOptions().allow_spinning,
      "The native engine running `graph` of the model (engine_factory.hpp).");
  m.def(
      "onnxruntime_available_providers",
      [](const std::string& onnxruntime_library) {
        EngineOptions o;
        o.onnxruntime_library = onnxruntime_library;
        return onnxruntime_available_providers(o);
      },
      py::arg("onnxruntime_library") = "", "Execution providers of the ONNX Runtime library the core loads.");
  m.def("option_defaults", &option_defaults, "Every stream, transcript, live-stream, engine and decoding option's default.");
  m.def(
      "with_candidate_lanes",
      [](const std::string& aggregator, const std::string& lanes, int fast_lane, int commit_lane) {
        LiveStreamOptions o;
        o.aggregator.strategy = aggregator;
        o.lanes = parse_lanes(lanes);
        o.aggregator.fast_lane = fast_lane;
        o.aggregator.commit_lane = commit_lane;
        const LiveStreamOptions out = with_candidate_lanes(o);
        const bool replaced = format_lanes(out.lanes) != format_lanes(o.lanes);
        return py::make_tuple(replaced ? std::string(kCandidateLanes) : lanes, out.aggregator.fast_lane,
                              out.aggregator.commit_lane);
      },
      py::arg("aggregator"), py::arg("lanes"), py::arg("fast_lane"), py::arg("commit_lane"),
      "(lanes, fast_lane, commit_lane) of a stream whose finals an LLM lane polishes (live_stream.hpp "
      "with_candidate_lanes): the captions' default lanes gain the beam candidate lane; chosen lanes stay.");

  py::class_<LiveStream, std::unique_ptr<LiveStream, GilFreeDelete>>(m, "LiveStream")
      .def(py::init([](const std::shared_ptr<Model>& mdl, py::object engine, py::object streaming_engine,
                       py::object lane_engines, py::kwargs kw) {
             const LiveStreamOptions options = live_options_from(py::dict(kw));
             std::shared_ptr<Engine> native = as_engine(std::move(engine));
             if (options.aggregator.strategy == "v1") {
               py::gil_scoped_release release;
               return std::unique_ptr<LiveStream, GilFreeDelete>(new LiveStream(mdl, native, options));
             }
             // Lanes: an engine per lane name (lane_engines), else the streaming engine for cache-aware
             // lanes and the encoder engine for the others.
             std::shared_ptr<Engine> streaming = streaming_engine.is_none() ? nullptr : as_engine(streaming_engine);
             std::map<std::string, std::shared_ptr<Engine>> by_name;
             if (!lane_engines.is_none()) {
               for (auto item : py::dict(lane_engines)) {
                 by_name[item.first.cast<std::string>()] = as_engine(py::reinterpret_borrow<py::object>(item.second));
               }
             }
             CaptionLanes::EngineFor engine_for = [native, streaming, by_name](int, const LaneOptions& lane) {
               const auto named = by_name.find(lane.name);
               if (named != by_name.end()) return named->second;
               if (lane.kind == "cache_aware") {
                 if (!streaming) {
                   throw std::invalid_argument("lane '" + lane.name + "' is cache_aware: it needs streaming_engine");
                 }
                 return streaming;
               }
               return native;
             };
             py::gil_scoped_release release;
             return std::unique_ptr<LiveStream, GilFreeDelete>(new LiveStream(mdl, engine_for, options));
           }),
           py::arg("model"), py::arg("encoder_engine"), py::arg("streaming_engine") = py::none(),
           py::arg("lane_engines") = py::none(),
           "A live stream (live_stream.hpp); keyword options as option_defaults() lists them. With aggregator "
           "'v2'/'v3', lanes run on encoder_engine (buffered, redecode), streaming_engine (cache_aware) or "
           "lane_engines[lane name].")
      .def("lane_stats",
           [](const LiveStream& s) {
             py::list out;
             for (const LaneStats& l : s.lane_stats()) {
               py::dict d;
               d["name"] = l.name;
               d["kind"] = l.kind;
               d["encoder_calls"] = l.encoder_calls;
               d["shares_encoder"] = l.shares_encoder;
               d["hypotheses"] = l.hypotheses;
               d["skipped_segments"] = l.skipped_segments;
               d["compute_s"] = l.compute_s;
               d["failed"] = l.failed;
               d["error"] = l.error;
               out.append(d);
             }
             return out;
           },
           "Per lane (aggregator v2/v3): encoder calls, hypotheses, compute seconds, failure.")
      .def_property_readonly("uses_lanes", &LiveStream::uses_lanes)
      .def(
          "write",
          [](LiveStream& s, const FloatArray& samples, double vad_silence_ms, bool lossless) {
            if (samples.ndim() != 1) throw std::invalid_argument("samples must be 1-D");
            py::gil_scoped_release release;
            return s.write(samples.data(), samples.shape(0), vad_silence_ms, !lossless);
          },
          py::arg("samples"), py::arg("vad_silence_ms") = -1.0, py::arg("lossless") = false,
          "Queue samples for the inference thread; returns how many fit. The rest is dropped and counted, or "
          "with lossless=True left to the caller to write again.")
      .def("close", &LiveStream::close, py::call_guard<py::gil_scoped_release>())
      .def(
          "next_event",
          [](LiveStream& s, int64_t timeout_ms) -> py::object {
            LiveEvent e;
            bool got;
            {
              py::gil_scoped_release release;
              got = s.next_event(e, timeout_ms);
            }
            if (!got) return py::none();
            return live_event_to_dict(e);
          },
          py::arg("timeout_ms") = -1, "Next event dict, or None on timeout / when the stream is over.")
      .def("snapshot", [](const LiveStream& s) { return event_to_dict(s.snapshot()); })
      .def_property_readonly("done", &LiveStream::done)
      .def_property_readonly("dropped_samples", &LiveStream::dropped_samples)
      .def_property_readonly("samples_written", &LiveStream::samples_written)
      .def_property_readonly("alignment_conflicts", &LiveStream::alignment_conflicts);
}
