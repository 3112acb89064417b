// pybind11 bindings of the transcript state: type and error conversion only. Events become the
// protocol's dicts (docs/PATCH_PROTOCOL.md) so that Python writes them to JSON unchanged.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "parakeet_trt/model.hpp"
#include "parakeet_trt/transcript.hpp"

namespace py = pybind11;
using namespace parakeet_trt;

namespace {

const char* event_type_name(TranscriptEventType type) {
  switch (type) {
    case TranscriptEventType::kPatch: return "patch";
    case TranscriptEventType::kFinal: return "final";
    case TranscriptEventType::kSnapshot: return "snapshot";
  }
  return "unknown";
}

py::list words_to_list(const std::vector<TranscriptWord>& words) {
  py::list out;
  for (const TranscriptWord& w : words) {
    py::dict d;
    d["word"] = w.text;
    d["start_s"] = w.start_s;
    d["end_s"] = w.end_s;
    d["committed"] = w.committed;
    out.append(d);
  }
  return out;
}

}  // namespace

py::dict event_to_dict(const TranscriptEvent& e) {
  py::dict d;
  d["type"] = event_type_name(e.type);
  d["seq"] = e.seq;
  switch (e.type) {
    case TranscriptEventType::kPatch:
      d["committed_len"] = e.committed_len;
      d["replace_from"] = e.replace_from;
      d["text"] = e.text;
      d["audio_end_s"] = e.audio_end_s;
      break;
    case TranscriptEventType::kFinal:
      d["segment"] = e.segment;
      d["text"] = e.text;
      d["start_s"] = e.start_s;
      d["end_s"] = e.end_s;
      d["audio_end_s"] = e.audio_end_s;
      break;
    case TranscriptEventType::kSnapshot:
      d["committed_len"] = e.committed_len;
      d["text"] = e.text;
      d["next_segment"] = e.segment;
      d["audio_end_s"] = e.audio_end_s;
      break;
  }
  d["words"] = words_to_list(e.words);
  return d;
}

py::list events_to_list(const std::vector<TranscriptEvent>& events) {
  py::list out;
  for (const TranscriptEvent& e : events) out.append(event_to_dict(e));
  return out;
}

namespace {

// Token lists (ids, frames, durations) as the streaming dicts carry them.
std::vector<TokenEmission> to_tokens(const std::vector<int>& ids, const std::vector<int64_t>& frames,
                                     const std::vector<int>& durations, const char* what) {
  if (frames.size() != ids.size() || durations.size() != ids.size()) {
    throw std::invalid_argument(std::string(what) + ": token_ids, token_frames and token_durations differ in length (" +
                                std::to_string(ids.size()) + ", " + std::to_string(frames.size()) + ", " +
                                std::to_string(durations.size()) + ")");
  }
  std::vector<TokenEmission> out;
  for (size_t i = 0; i < ids.size(); ++i) out.push_back(TokenEmission{ids[i], frames[i], durations[i], 0.0f});
  return out;
}

std::vector<TokenEmission> dict_tokens(const py::dict& d, const char* what) {
  return to_tokens(d["token_ids"].cast<std::vector<int>>(), d["token_frames"].cast<std::vector<int64_t>>(),
                   d["token_durations"].cast<std::vector<int>>(), what);
}

}  // namespace

void bind_transcript(py::module_& m) {
  py::class_<TranscriptState>(m, "TranscriptState")
      .def(py::init([](const std::shared_ptr<Model>& mdl, int stable_updates, int64_t max_lag_ms, int max_window_tokens,
                       int64_t endpoint_blank_ms, int64_t endpoint_vad_ms, bool endpoint_require_both,
                       bool commit_whole_words) {
             TranscriptOptions o;
             o.stable_updates = stable_updates;
             o.max_lag_ms = max_lag_ms;
             o.max_window_tokens = max_window_tokens;
             o.endpoint_blank_ms = endpoint_blank_ms;
             o.endpoint_vad_ms = endpoint_vad_ms;
             o.endpoint_require_both = endpoint_require_both;
             o.commit_whole_words = commit_whole_words;
             return new TranscriptState(mdl->vocabulary(), mdl->meta().encoder.frame_stride_s, o);
           }),
           py::arg("model"), py::arg("stable_updates") = TranscriptOptions{}.stable_updates,
           py::arg("max_lag_ms") = TranscriptOptions{}.max_lag_ms,
           py::arg("max_window_tokens") = TranscriptOptions{}.max_window_tokens,
           py::arg("endpoint_blank_ms") = TranscriptOptions{}.endpoint_blank_ms,
           py::arg("endpoint_vad_ms") = TranscriptOptions{}.endpoint_vad_ms,
           py::arg("endpoint_require_both") = TranscriptOptions{}.endpoint_require_both,
           py::arg("commit_whole_words") = TranscriptOptions{}.commit_whole_words)
      .def(
          "apply_step",
          [](TranscriptState& s, const py::dict& stable, const py::dict& tail, double audio_end_s, double vad_silence_ms) {
            const auto st = dict_tokens(stable, "apply_step() stable");
            const auto tl = dict_tokens(tail, "apply_step() tail");
            return events_to_list(s.apply_step(st.data(), static_cast<int64_t>(st.size()), tl.data(),
                                               static_cast<int64_t>(tl.size()), audio_end_s, vad_silence_ms));
          },
          py::arg("stable"), py::arg("tail"), py::arg("audio_end_s"), py::arg("vad_silence_ms") = -1.0)
      .def(
          "apply_hypothesis",
          [](TranscriptState& s, const std::vector<int>& ids, const std::vector<int64_t>& frames,
             const std::vector<int>& durations, double audio_end_s, double vad_silence_ms) {
            const auto tokens = to_tokens(ids, frames, durations, "apply_hypothesis()");
            return events_to_list(
                s.apply_hypothesis(tokens.data(), static_cast<int64_t>(tokens.size()), audio_end_s, vad_silence_ms));
          },
          py::arg("token_ids"), py::arg("token_frames"), py::arg("token_durations"), py::arg("audio_end_s"),
          py::arg("vad_silence_ms") = -1.0)
      .def("endpoint", [](TranscriptState& s, double audio_end_s) { return events_to_list(s.endpoint(audio_end_s)); },
           py::arg("audio_end_s"))
      .def("finish", [](TranscriptState& s, double audio_end_s) { return events_to_list(s.finish(audio_end_s)); },
           py::arg("audio_end_s"))
      .def("snapshot", [](const TranscriptState& s) { return event_to_dict(s.snapshot()); })
      .def_property_readonly("committed_text", &TranscriptState::committed_text)
      .def_property_readonly("partial_text", &TranscriptState::partial_text)
      .def_property_readonly("display_text", &TranscriptState::display_text)
      .def_property_readonly("committed_len", &TranscriptState::committed_chars)
      .def_property_readonly("num_committed_tokens", &TranscriptState::num_committed_tokens)
      .def_property_readonly("num_window_tokens", &TranscriptState::num_window_tokens)
      .def_property_readonly("words", [](const TranscriptState& s) { return words_to_list(s.words()); })
      .def_property_readonly("last_seq", &TranscriptState::last_seq)
      .def_property_readonly("segments", &TranscriptState::segments)
      .def_property_readonly("alignment_conflicts", &TranscriptState::alignment_conflicts)
      .def_property_readonly("live_edge_s", &TranscriptState::live_edge_s)
      .def_property_readonly("finished", &TranscriptState::finished);
}
