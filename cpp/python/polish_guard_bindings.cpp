// pybind11 bindings of the LLM lane's guardrails (polish_guard.hpp): dicts in the candidate format of
// docs/PATCH_PROTOCOL.md ("polish") in, the verdict as a dict out. Conversion only.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"
#include "candidate_conversion.hpp"

namespace py = pybind11;
using namespace parakeet_trt;
using namespace parakeet_trt_python;

namespace {

py::dict result_to_dict(const PolishResult& r) {
  py::dict d;
  d["accepted"] = r.accepted;
  d["rejection"] = polish_rejection_name(r.rejection);
  d["reason"] = r.reason;
  d["text"] = r.text;
  d["words"] = words_to_list(r.words);
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
  m.def(
      "polish_slots",
      [](const py::list& heard, const py::list& candidates, double editable_start_s, double editable_end_s) {
        PolishRequest request{to_words(heard, "heard"), to_windows(candidates), editable_start_s, editable_end_s};
        validate_polish_request(request);
        py::list out;
        for (const PolishSlot& slot : polish_slots(request)) {
          py::object window = slot.window < 0 ? py::object(py::none()) : py::object(py::int_(slot.window));
          out.append(py::make_tuple(window, slot.heard_begin, slot.heard_end));
        }
        return out;
      },
      py::arg("heard"), py::arg("candidates"), py::arg("editable_start_s"), py::arg("editable_end_s"),
      "The heard words as check_polish reads them: [(window index or None, first heard word, end)], in order.");
  m.def("normalize_word", [](const std::string& word) { return normalize_word(word); }, py::arg("word"),
        "A word as the polish guard compares it: punctuation removed, lower-cased.");
}
