// The candidate format of docs/PATCH_PROTOCOL.md ("polish", "Candidate input") as Python sees it
// (internal to the bindings): lists of dicts to and from GuardWord / CandidateWindow. Conversion only.
#pragma once

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/polish_guard.hpp"

namespace parakeet_trt_python {

namespace py = pybind11;
using namespace parakeet_trt;

inline py::object required(const py::dict& d, const char* key, const std::string& what) {
  if (!d.contains(key)) throw Error(ErrorCode::kInvalidArgument, what + " has no '" + key + "'");
  return d[key];
}

template <typename T>
inline T field(const py::dict& d, const char* key, const std::string& what) {
  try {
    return required(d, key, what).cast<T>();
  } catch (const py::cast_error&) {
    throw Error(ErrorCode::kInvalidArgument, what + ": '" + key + "' has the wrong type");
  }
}

inline std::vector<GuardWord> to_words(const py::handle& list, const std::string& what) {
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

inline std::vector<CandidateWindow> to_windows(const py::list& list) {
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

inline py::list words_to_list(const std::vector<GuardWord>& words) {
  py::list out;
  for (const GuardWord& w : words) {
    out.append(py::dict(py::arg("word") = w.text, py::arg("start_s") = w.start_s, py::arg("end_s") = w.end_s));
  }
  return out;
}

inline py::list windows_to_list(const std::vector<CandidateWindow>& windows) {
  py::list out;
  for (const CandidateWindow& w : windows) {
    py::list alternatives;
    for (const CandidateAlternative& a : w.alternatives) {
      alternatives.append(py::dict(py::arg("words") = words_to_list(a.words), py::arg("source") = a.source,
                                   py::arg("score") = a.score));
    }
    out.append(py::dict(py::arg("start_s") = w.start_s, py::arg("end_s") = w.end_s,
                        py::arg("alternatives") = alternatives));
  }
  return out;
}

}  // namespace parakeet_trt_python
