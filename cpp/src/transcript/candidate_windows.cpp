// Candidate windows from whole-segment decodes (candidate_windows.hpp).
#include "parakeet_trt/candidate_windows.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "core/option_range.hpp"

namespace parakeet_trt {
namespace {

constexpr double kTolerance = 0.02;      // how far an alternative's word may reach outside its window (the guard's)
constexpr double kAfterMidpoint = 1e-4;  // a window starts just after its left neighbour's midpoint

double midpoint(const GuardWord& w) { return 0.5 * (w.start_s + w.end_s); }

// Positions on the heard sequence: heard word k is at 2k + 1, the gap before it at 2k (2n: after the last).
struct Aligned {
  std::vector<int64_t> position;  // per decode word
  std::vector<std::pair<int64_t, int64_t>> runs;  // [first, last] positions of each run of disagreement
};

// Word-level edit distance (substitution, insertion, deletion cost 1), matches preferred on ties.
Aligned align(const std::vector<std::string>& heard, const std::vector<std::string>& decode) {
  const size_t n = heard.size(), m = decode.size();
  std::vector<int32_t> cost((n + 1) * (m + 1));
  auto at = [&](size_t i, size_t j) -> int32_t& { return cost[i * (m + 1) + j]; };
  for (size_t i = 0; i <= n; ++i) at(i, 0) = static_cast<int32_t>(i);
  for (size_t j = 0; j <= m; ++j) at(0, j) = static_cast<int32_t>(j);
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      at(i, j) = std::min({at(i - 1, j - 1) + (heard[i - 1] == decode[j - 1] ? 0 : 1), at(i - 1, j) + 1, at(i, j - 1) + 1});
    }
  }
  Aligned out;
  out.position.assign(m, 0);
  // Backtrack: each step is a match (no disagreement) or an op at a position; consecutive ops form a run.
  std::vector<int64_t> ops;  // positions of disagreeing ops, from the end
  std::vector<char> breaks;  // a match (or the end) lies between this op and the one before it in backtrack order
  bool matched_since = true;
  size_t i = n, j = m;
  while (i > 0 || j > 0) {
    if (i > 0 && j > 0 && heard[i - 1] == decode[j - 1] && at(i, j) == at(i - 1, j - 1)) {
      out.position[j - 1] = 2 * static_cast<int64_t>(i - 1) + 1;
      --i, --j;
      matched_since = true;
      continue;
    }
    int64_t pos;
    if (i > 0 && j > 0 && at(i, j) == at(i - 1, j - 1) + 1) {  // substitution
      pos = 2 * static_cast<int64_t>(i - 1) + 1;
      out.position[j - 1] = pos;
      --i, --j;
    } else if (i > 0 && at(i, j) == at(i - 1, j) + 1) {  // a heard word the decode lacks
      pos = 2 * static_cast<int64_t>(i - 1) + 1;
      --i;
    } else {  // a decode word the heard words lack, in the gap before heard word i
      pos = 2 * static_cast<int64_t>(i);
      out.position[j - 1] = pos;
      --j;
    }
    ops.push_back(pos);
    breaks.push_back(matched_since);
    matched_since = false;
  }
  for (size_t k = 0; k < ops.size(); ++k) {  // backtrack order: a run closes where a match intervened
    if (k == 0 || breaks[k]) out.runs.emplace_back(ops[k], ops[k]);
    else out.runs.back().first = std::min(out.runs.back().first, ops[k]);
    out.runs.back().second = std::max(out.runs.back().second, ops[k]);
  }
  return out;
}

void append_json_string(std::string& out, const std::string& text) {
  out += '"';
  for (const unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void append_number(std::string& out, double value, const char* format) {
  char text[32];
  std::snprintf(text, sizeof text, format, std::isfinite(value) ? value : 0.0);
  out += text;
}

}  // namespace

std::string candidate_windows_json(const std::vector<CandidateWindow>& windows) {
  std::string out = "[";
  for (size_t k = 0; k < windows.size(); ++k) {
    out += k ? ", {\"start_s\": " : "{\"start_s\": ";
    append_number(out, windows[k].start_s, "%.4f");
    out += ", \"end_s\": ";
    append_number(out, windows[k].end_s, "%.4f");
    out += ", \"alternatives\": [";
    for (size_t a = 0; a < windows[k].alternatives.size(); ++a) {
      const CandidateAlternative& alt = windows[k].alternatives[a];
      out += a ? ", {\"words\": [" : "{\"words\": [";
      for (size_t w = 0; w < alt.words.size(); ++w) {
        out += w ? ", {\"word\": " : "{\"word\": ";
        append_json_string(out, alt.words[w].text);
        out += ", \"start_s\": ";
        append_number(out, alt.words[w].start_s, "%.4f");
        out += ", \"end_s\": ";
        append_number(out, alt.words[w].end_s, "%.4f");
        out += "}";
      }
      out += "], \"source\": ";
      append_json_string(out, alt.source);
      out += ", \"score\": ";
      append_number(out, alt.score, "%.6g");
      out += "}";
    }
    out += "]}";
  }
  return out + "]";
}

std::vector<CandidateWindow> candidate_windows(const std::vector<GuardWord>& heard,
                                               const std::vector<CandidateAlternative>& all_decodes,
                                               int max_alternatives, double max_score_gap) {
  check_option_range("candidate_windows max_alternatives", max_alternatives, 1, 16);
  if (!(max_score_gap >= 0.0)) {
    throw std::invalid_argument("candidate_windows max_score_gap must be >= 0, got " + std::to_string(max_score_gap));
  }
  std::vector<CandidateAlternative> likely;
  for (const CandidateAlternative& d : all_decodes) {
    if (d.score >= -max_score_gap) likely.push_back(d);
  }
  const std::vector<CandidateAlternative>& decodes = likely;
  std::vector<std::string> heard_norm(heard.size());
  for (size_t k = 0; k < heard.size(); ++k) heard_norm[k] = normalize_word(heard[k].text);
  std::vector<Aligned> aligned;
  std::vector<std::vector<std::string>> decode_norm(decodes.size());
  std::vector<std::pair<int64_t, int64_t>> extents;
  for (size_t d = 0; d < decodes.size(); ++d) {
    for (const GuardWord& w : decodes[d].words) decode_norm[d].push_back(normalize_word(w.text));
    aligned.push_back(align(heard_norm, decode_norm[d]));
    extents.insert(extents.end(), aligned.back().runs.begin(), aligned.back().runs.end());
  }
  // Runs that overlap or touch merge: between two windows lies at least one position in neither.
  std::sort(extents.begin(), extents.end());
  std::vector<std::pair<int64_t, int64_t>> merged;
  for (const auto& e : extents) {
    if (!merged.empty() && e.first <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, e.second);
    else merged.push_back(e);
  }
  const int64_t n = static_cast<int64_t>(heard.size());
  // Drafts: each merged run's heard words [i0, i1), its span, and every decode's reading there.
  struct Draft {
    int64_t i0, i1;
    double start, end;
    std::vector<std::vector<GuardWord>> readings;  // per decode
  };
  std::vector<Draft> drafts;
  for (const auto& [first, last] : merged) {
    Draft w{first / 2, (last + 1) / 2, std::numeric_limits<double>::infinity(),
            -std::numeric_limits<double>::infinity(), std::vector<std::vector<GuardWord>>(decodes.size())};
    if (w.i0 < w.i1) {
      w.start = heard[static_cast<size_t>(w.i0)].start_s;
      w.end = heard[static_cast<size_t>(w.i1 - 1)].end_s;
    }
    for (size_t d = 0; d < decodes.size(); ++d) {
      for (size_t j = 0; j < decodes[d].words.size(); ++j) {
        const int64_t p = aligned[d].position[j];
        if (p < first || p > last) continue;
        w.readings[d].push_back(decodes[d].words[j]);
        w.start = std::min(w.start, decodes[d].words[j].start_s);
        w.end = std::max(w.end, decodes[d].words[j].end_s);
      }
    }
    // No neighbouring heard word's midpoint inside.
    if (w.i0 > 0) w.start = std::max(w.start, midpoint(heard[static_cast<size_t>(w.i0 - 1)]) + kAfterMidpoint);
    if (w.i1 < n) w.end = std::min(w.end, midpoint(heard[static_cast<size_t>(w.i1)]));
    drafts.push_back(std::move(w));
  }
  // Neighbouring drafts that still overlap (their heard words are adjacent) meet halfway, each keeping
  // its own heard words' midpoints.
  for (size_t k = 1; k < drafts.size(); ++k) {
    Draft &a = drafts[k - 1], &b = drafts[k];
    if (b.start >= a.end) continue;
    double meet = 0.5 * (a.end + b.start);
    if (a.i1 > 0) meet = std::max(meet, midpoint(heard[static_cast<size_t>(a.i1 - 1)]) + kAfterMidpoint);
    if (b.i0 < b.i1) meet = std::min(meet, midpoint(heard[static_cast<size_t>(b.i0)]));
    a.end = std::min(a.end, meet);
    b.start = std::max(b.start, meet);
  }
  std::vector<CandidateWindow> windows;
  for (const Draft& w : drafts) {
    if (!(w.start < w.end) || (!windows.empty() && w.start < windows.back().end_s)) continue;
    bool heard_inside = true;  // exactly heard words [i0, i1) have their midpoint in [start, end)
    for (int64_t k = std::max<int64_t>(0, w.i0 - 1); k < std::min(n, w.i1 + 1); ++k) {
      const double mid = midpoint(heard[static_cast<size_t>(k)]);
      heard_inside = heard_inside && ((mid >= w.start && mid < w.end) == (k >= w.i0 && k < w.i1));
    }
    if (!heard_inside) continue;
    CandidateWindow window;
    window.start_s = w.start;
    window.end_s = w.end;
    std::vector<std::vector<std::string>> seen{
        std::vector<std::string>(heard_norm.begin() + w.i0, heard_norm.begin() + w.i1)};
    for (size_t d = 0; d < decodes.size() && static_cast<int>(window.alternatives.size()) < max_alternatives; ++d) {
      std::vector<std::string> norm;
      bool fits = true;
      for (const GuardWord& x : w.readings[d]) {
        norm.push_back(normalize_word(x.text));
        fits = fits && x.end_s >= x.start_s && x.start_s >= w.start - kTolerance && x.end_s <= w.end + kTolerance;
      }
      if (!fits || std::any_of(seen.begin(), seen.end(), [&](const auto& s) { return s == norm; })) continue;
      seen.push_back(norm);
      window.alternatives.push_back(CandidateAlternative{w.readings[d], decodes[d].source, decodes[d].score});
    }
    if (!window.alternatives.empty()) windows.push_back(std::move(window));
  }
  return windows;
}

}  // namespace parakeet_trt
