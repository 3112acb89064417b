// pybind11 bindings of the LLM lane's guardrails (polish_guard.hpp): dicts in the candidate format of
// docs/PATCH_PROTOCOL.md ("polish") in, the verdict as a dict out. Conversion only.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"

namespace py = pybind11;
using namespace parakeet_trt;

namespace {

py::object required(const py::dict& d, const char* key, const std::string& what) {
  if (!d.contains(key)) throw Error(ErrorCode::kInvalidArgument, what + " has no '" + key + "'");
  return d[key];
}

template <typename T>
T field(const py::dict& d, const char* key, const std::string& what) {
  try {
    return required(d, key, what).cast<T>();
  } catch (const py::cast_error&) {
    throw Error(ErrorCode::kInvalidArgument, what + ": '" + key + "' has the wrong type");
  }
}

std::vector<GuardWord> to_words(const py::handle& list, const std::string& what) {
  std::vector<GuardWord> out;
  size_t i = 0;
  for (const py::handle& item : list) {
    const std::string name = what + " word " + std::to_string(i++);
    if (!py::isinstance<py::dict>(item)) throw Error(ErrorCode::kInvalidArgument, name + " is not a dict");
    const py::dict d = py::reinterpret_borrow<py::dict>(item);
    out.push_back({field<std::string>(d, "word", name), field<double>(d, "start_s", name), field<double>(d, "end_s", name)});
  }
  return out;
}

std::vector<CandidateWindow> to_windows(const py::list& list) {
  std::vector<CandidateWindow> out;
  size_t k = 0;
  for (const py::handle& item : list) {
    const std::string name = "candidate window " + std::to_string(k++);
    if (!py::isinstance<py::dict>(item)) throw Error(ErrorCode::kInvalidArgument, name + " is not a dict");
    const py::dict d = py::reinterpret_borrow<py::dict>(item);
    CandidateWindow w{field<double>(d, "start_s", name), field<double>(d, "end_s", name), {}};
    size_t a = 0;
    for (const py::handle& alt : required(d, "alternatives", name)) {
      const std::string alt_name = name + " alternative " + std::to_string(a++);
      if (!py::isinstance<py::dict>(alt)) throw Error(ErrorCode::kInvalidArgument, alt_name + " is not a dict");
      const py::dict ad = py::reinterpret_borrow<py::dict>(alt);
      w.alternatives.push_back({to_words(required(ad, "words", alt_name), alt_name),
                                ad.contains("source") ? field<std::string>(ad, "source", alt_name) : std::string(),
                                ad.contains("score") ? field<double>(ad, "score", alt_name) : 0.0});
    }
    out.push_back(std::move(w));
  }
  return out;
}

py::dict result_to_dict(const PolishResult& r) {
  py::dict d;
  d["accepted"] = r.accepted;
  d["rejection"] = polish_rejection_name(r.rejection);
  d["reason"] = r.reason;
  d["text"] = r.text;
  py::list words;
  for (const GuardWord& w : r.words) words.append(py::dict(py::arg("word") = w.text, py::arg("start_s") = w.start_s,
                                                           py::arg("end_s") = w.end_s));
  d["words"] = words;
  py::list edits;
  for (const PolishEdit& e : r.edits) {
    py::dict ed(py::arg("kind") = polish_edit_kind_name(e.kind), py::arg("word") = e.word,
                py::arg("before") = e.before, py::arg("after") = e.after);
    if (e.kind == PolishEditKind::kChoice) {
      ed["window"] = e.window;
      ed["alternative"] = e.alternative;
      ed["source"] = e.source;
    }
    edits.append(ed);
  }
  d["edits"] = edits;
  return d;
}

}  // namespace

void bind_polish_guard(py::module_& m) {
  m.def(
      "check_polish",
      [](const py::list& heard, const py::list& candidates, double editable_start_s, double editable_end_s,
         const std::string& polished) {
        PolishRequest request{to_words(heard, "heard"), to_windows(candidates), editable_start_s, editable_end_s};
        PolishResult result;
        {
          py::gil_scoped_release release;
          result = check_polish(request, polished);
        }
        return result_to_dict(result);
      },
      py::arg("heard"), py::arg("candidates"), py::arg("editable_start_s"), py::arg("editable_end_s"),
      py::arg("polished"),
      "Checks an LLM's polished text against the heard words and the candidate windows (the guardrails of "
      "docs/PATCH_PROTOCOL.md, 'polish'); returns {accepted, rejection, reason, text, words, edits}.");
  m.def("normalize_word", [](const std::string& word) { return normalize_word(word); }, py::arg("word"),
        "A word as the polish guard compares it: punctuation removed, lower-cased.");
}
