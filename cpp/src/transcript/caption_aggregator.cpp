#include "parakeet_trt/caption_aggregator.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <stdexcept>
#include <utility>

#include "core/option_range.hpp"
namespace parakeet_trt {

namespace {

std::string trimmed(std::string s) {
  const size_t b = s.find_first_not_of(' ');
  if (b == std::string::npos) return std::string();
  const size_t e = s.find_last_not_of(' ');
  return s.substr(b, e - b + 1);
}

}  // namespace

void AggregatorOptions::validate(int num_lanes) const {
  if (strategy != "v1" && strategy != "v2" && strategy != "v3") {
    throw std::invalid_argument("aggregator must be 'v1', 'v2' or 'v3', got '" + strategy + "'");
  }
  check_option_range("fast_lane", fast_lane, 0, num_lanes - 1);
  check_option_range("commit_lane", commit_lane, -1, num_lanes - 1);
  check_option_range("agreement_passes", agreement_passes, 1, 8);
  check_option_range("commit_lag_ms", commit_lag_ms, 0, 10000);
  check_option_range("final_timeout_ms", final_timeout_ms, 100, 60000);
  check_option_range("stall_ms", stall_ms, 200, 60000);
}

CaptionAggregator::CaptionAggregator(std::shared_ptr<const Vocabulary> vocabulary, std::vector<LaneOptions> lanes,
                                     AggregatorOptions options, int64_t frame_samples, int sample_rate_hz)
    : vocabulary_(std::move(vocabulary)),
      lanes_(std::move(lanes)),
      options_(std::move(options)),
      frame_samples_(frame_samples),
      sample_rate_hz_(sample_rate_hz) {
  options_.validate(static_cast<int>(lanes_.size()));
  const size_t n = lanes_.size();
  failed_.assign(n, 0);
  latest_.assign(n, LaneHypothesis());
  for (LaneHypothesis& h : latest_) h.segment = -1;
  final_seen_.assign(n, 0);
  stall_reported_.assign(n, 0);
  fail_reported_.assign(n, 0);
  heard_until_.assign(n, 0);
  heard_at_s_.assign(n, 0.0);
}

std::unique_ptr<CaptionAggregator> make_aggregator(std::shared_ptr<const Vocabulary> vocabulary,
                                                   std::vector<LaneOptions> lanes, const AggregatorOptions& options,
                                                   int64_t frame_samples, int sample_rate_hz) {
  options.validate(static_cast<int>(lanes.size()));
  if (options.strategy == "v2") {
    return std::make_unique<LocalAgreementAggregator>(std::move(vocabulary), std::move(lanes), options, frame_samples,
                                                      sample_rate_hz);
  }
  if (options.strategy == "v3") {
    return std::make_unique<RoverAggregator>(std::move(vocabulary), std::move(lanes), options, frame_samples,
                                             sample_rate_hz);
  }
  throw std::invalid_argument("aggregator 'v1' passes one lane through the transcript: it has no aggregator object");
}

// ---- bookkeeping ---------------------------------------------------------------------------------

void CaptionAggregator::segment_started(int64_t segment, int64_t origin) {
  if (open_ && !finalized_) {
    // The bus opened the next segment before this one's final: queue it (finalize() moves on).
    queued_.push_back({segment, origin});
    return;
  }
  segment_ = segment;
  origin_ = origin;
  // No lane hears the pause before a segment: every lane is caught up to its origin, so a lane that has
  // not yet delivered for this segment is judged from here, not from the previous segment's audio.
  for (int64_t& heard : heard_until_) heard = std::max(heard, origin);
  open_ = true;
  ended_ = false;
  finalized_ = false;
  std::fill(final_seen_.begin(), final_seen_.end(), 0);
  for (LaneHypothesis& h : latest_) {
    h.segment = -1;
    h.tokens.clear();
    h.token_confidence.clear();
  }
  passes_.clear();
  committed_start_frame_ = -1;
  committed_end_frame_ = origin / frame_samples_;
  committed_word_.clear();
}

void CaptionAggregator::segment_ended(int64_t segment, double now_s, std::vector<AggregatorDecision>& out) {
  if (!queued_.empty() && queued_.back().id == segment) {
    queued_.back().ended = true;
    queued_.back().ended_at_s = now_s;
    return;
  }
  if (segment != segment_ || !open_) return;
  ended_ = true;
  ended_at_s_ = now_s;
  maybe_finalize(now_s, out);
}

std::vector<LaneNotice> CaptionAggregator::take_notices() {
  std::vector<LaneNotice> out;
  out.swap(notices_);
  return out;
}

void CaptionAggregator::notice(int lane, const std::string& kind, const std::string& message) {
  std::vector<char>& reported = kind == "failed" ? fail_reported_ : stall_reported_;
  if (reported[static_cast<size_t>(lane)]) return;
  reported[static_cast<size_t>(lane)] = 1;
  notices_.push_back({lanes_[static_cast<size_t>(lane)].name, kind, message});
}

bool CaptionAggregator::all_lanes_failed() const {
  return std::all_of(failed_.begin(), failed_.end(), [](char f) { return f != 0; });
}

const LaneHypothesis* CaptionAggregator::latest(int lane) const {
  const LaneHypothesis& h = latest_[static_cast<size_t>(lane)];
  if (failed_[static_cast<size_t>(lane)] || h.segment != segment_) return nullptr;
  return &h;
}

bool CaptionAggregator::lagging(int lane) const {
  // Behind the freshest lane by stall_ms of audio AND silent for stall_ms of wall time: a lane that
  // is merely slower (a file played faster than real time) keeps delivering and is not stalled.
  int64_t newest = 0;
  for (size_t i = 0; i < lanes_.size(); ++i) {
    if (!failed_[i]) newest = std::max(newest, heard_until_[i]);
  }
  const size_t l = static_cast<size_t>(lane);
  return realtime_ && newest - heard_until_[l] > options_.stall_ms * sample_rate_hz_ / 1000 &&
         now_s_ - heard_at_s_[l] > static_cast<double>(options_.stall_ms) / 1000.0;
}

int CaptionAggregator::commit_lane() const {
  const int wanted = options_.commit_lane < 0 ? static_cast<int>(lanes_.size()) - 1 : options_.commit_lane;
  if (!failed_[static_cast<size_t>(wanted)] && !lagging(wanted)) return wanted;
  // The committing lane failed or lags: the freshest live lane commits instead.
  int best = -1;
  for (int i = static_cast<int>(lanes_.size()) - 1; i >= 0; --i) {
    if (!failed_[static_cast<size_t>(i)] && (best < 0 || heard_until_[static_cast<size_t>(i)] > heard_until_[static_cast<size_t>(best)])) {
      best = i;
    }
  }
  return best < 0 ? wanted : best;
}

int CaptionAggregator::source_lane() const {
  const int commit = commit_lane();
  if (latest(commit) && (!ended_ || final_seen_[static_cast<size_t>(commit)])) return commit;
  if (ended_) {  // finalizing without the committing lane: a lane that finished the segment
    for (int i = static_cast<int>(lanes_.size()) - 1; i >= 0; --i) {
      if (latest(i) && final_seen_[static_cast<size_t>(i)] && latest(i)->segment_final) return i;
    }
  }
  return latest(commit) ? commit : freshest_lane();
}

int CaptionAggregator::freshest_lane() const {
  int best = -1;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    const LaneHypothesis* h = latest(i);
    if (h && (best < 0 || h->audio_end_sample > latest(best)->audio_end_sample)) best = i;
  }
  return best;
}


// ---- words and the commit point -----------------------------------------------------------------

std::vector<CaptionAggregator::WordSpan> CaptionAggregator::words_of(const std::vector<TokenEmission>& tokens,
                                                                     const std::vector<float>& confidence) const {
  std::vector<WordSpan> words;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (words.empty() || vocabulary_->starts_word(tokens[i].token_id)) {
      WordSpan w;
      w.first = i;
      w.start_frame = tokens[i].frame;
      words.push_back(w);
    }
    WordSpan& w = words.back();
    ++w.count;
    w.end_frame = tokens[i].frame + std::max(1, tokens[i].duration);
    if (i < confidence.size()) w.confidence = std::min<double>(w.confidence, confidence[i]);
  }
  for (WordSpan& w : words) {
    std::vector<TokenEmission> piece(tokens.begin() + static_cast<std::ptrdiff_t>(w.first),
                                     tokens.begin() + static_cast<std::ptrdiff_t>(w.first + w.count));
    w.text = trimmed(vocabulary_->detokenize(piece));
  }
  return words;
}

std::vector<TokenEmission> CaptionAggregator::after_commit(const std::vector<TokenEmission>& tokens) const {
  if (committed_start_frame_ < 0) return tokens;
  for (const WordSpan& w : words_of(tokens, {})) {
    const bool same_word = w.text == committed_word_ && std::llabs(w.start_frame - committed_start_frame_) <= 2;
    if (w.start_frame >= committed_end_frame_ - 1 && !same_word) {
      return std::vector<TokenEmission>(tokens.begin() + static_cast<std::ptrdiff_t>(w.first), tokens.end());
    }
  }
  return {};
}

void CaptionAggregator::note_committed(const std::vector<TokenEmission>& tokens) {
  const std::vector<WordSpan> words = words_of(tokens, {});
  if (words.empty()) return;
  committed_word_ = words.back().text;
  committed_start_frame_ = words.back().start_frame;
  committed_end_frame_ = words.back().end_frame;
}

// ---- decisions ----------------------------------------------------------------------------------

void CaptionAggregator::on_hypothesis(const LaneHypothesis& h, double now_s, std::vector<AggregatorDecision>& out) {
  const size_t lane = static_cast<size_t>(h.lane);
  now_s_ = std::max(now_s_, now_s);
  heard_at_s_[lane] = now_s_;  // 0 until a lane's first hypothesis: never heard
  if (h.failed) {
    failed_[lane] = 1;
    notice(h.lane, "failed", h.error);
    maybe_finalize(now_s, out);
    return;
  }
  if (!open_ || h.segment < segment_ || (h.segment == segment_ && finalized_)) return;  // late: already final
  heard_until_[lane] = std::max(heard_until_[lane], h.audio_end_sample);
  if (h.segment > segment_) {
    final_seen_[lane] = 1;  // the lane is done with the open segment
    future_.push_back(h);
    maybe_finalize(now_s, out);
    return;
  }
  latest_[lane] = h;
  heard_until_[lane] = std::max(heard_until_[lane], h.audio_end_sample);
  if (h.segment_final) final_seen_[lane] = 1;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (!failed_[static_cast<size_t>(i)] && lagging(i)) {
      notice(i, "stalled",
             "lane '" + lanes_[static_cast<size_t>(i)].name + "' is more than " + std::to_string(options_.stall_ms) +
                 " ms of audio behind the freshest lane; the other lanes carry the captions");
    }
  }
  if (ended_) {
    const size_t before = out.size();  // out may hold decisions of earlier hypotheses of this batch
    maybe_finalize(now_s, out);
    if (finalized_ || out.size() != before) return;
  }
  if (h.lane == commit_lane()) {
    commit_from_pass(now_s, out);
  } else {
    AggregatorDecision d;
    d.segment = segment_;
    d.window = after_commit(partial());
    d.audio_end_sample = h.audio_end_sample;
    out.push_back(std::move(d));
  }
}

void CaptionAggregator::commit_from_pass(double /*now_s*/, std::vector<AggregatorDecision>& out) {
  const LaneHypothesis* clock = latest(commit_lane());
  if (clock == nullptr) return;
  const std::vector<TokenEmission> pass = after_commit(combine());
  const std::vector<WordSpan> words = words_of(pass, {});
  std::vector<std::string> texts;
  for (const WordSpan& w : words) texts.push_back(w.text);
  passes_.push_back(texts);
  while (passes_.size() > static_cast<size_t>(options_.agreement_passes)) passes_.erase(passes_.begin());
  size_t agreed = 0;
  if (passes_.size() == static_cast<size_t>(options_.agreement_passes)) {
    agreed = texts.size();
    for (const auto& p : passes_) {
      size_t k = 0;
      while (k < std::min(agreed, p.size()) && p[k] == texts[k]) ++k;
      agreed = k;
    }
  }
  // Only words the pass decoded audio past by commit_lag_ms (never a speculative tail).
  const int64_t edge_frame = clock->audio_end_sample / frame_samples_;
  const int64_t lag_frames = options_.commit_lag_ms * sample_rate_hz_ / 1000 / frame_samples_;
  size_t commit = 0;
  while (commit < agreed && words[commit].end_frame <= edge_frame - lag_frames) ++commit;
  // Faster than real time (a file): which passes run depends on timing, so only the whole-segment
  // pass commits; the committed text is then the same on every run.
  if (!realtime_) commit = 0;
  // A redecode lane's window is capped: words about to leave it (within kLeavingMarginMs of its far
  // end) commit as they stand, but never a word nearer the live edge than the commit lag (with a
  // short window the margin would otherwise reach past the edge and commit the speculative tail).
  const LaneOptions& clock_lane = lanes_[static_cast<size_t>(commit_lane())];
  if (clock_lane.kind == "redecode" && realtime_) {
    constexpr int64_t kLeavingMarginMs = 3000;
    const int64_t behind_ms = std::max(clock_lane.redecode_window_ms - kLeavingMarginMs, options_.commit_lag_ms);
    const int64_t leaving = edge_frame - behind_ms * sample_rate_hz_ / 1000 / frame_samples_;
    size_t forced = 0;
    while (forced < words.size() && words[forced].end_frame <= leaving) ++forced;
    if (forced > commit) {
      commit = forced;
      passes_.clear();
    }
  }
  AggregatorDecision d;
  d.segment = segment_;
  if (commit > 0) {
    const size_t end = words[commit - 1].first + words[commit - 1].count;
    d.commit.assign(pass.begin(), pass.begin() + static_cast<std::ptrdiff_t>(end));
    note_committed(d.commit);
    for (auto& p : passes_) p.erase(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(std::min(commit, p.size())));
  }
  d.window = after_commit(partial());
  int64_t edge = clock->audio_end_sample;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (const LaneHypothesis* h = latest(i)) edge = std::max(edge, h->audio_end_sample);
  }
  d.audio_end_sample = edge;
  out.push_back(std::move(d));
}

void CaptionAggregator::maybe_finalize(double now_s, std::vector<AggregatorDecision>& out) {
  if (!open_ || finalized_ || !ended_) return;
  bool ready;
  if (options_.strategy == "v2") {
    ready = final_seen_[static_cast<size_t>(commit_lane())] != 0 || failed_[static_cast<size_t>(commit_lane())];
  } else {
    ready = true;
    for (size_t i = 0; i < lanes_.size(); ++i) {
      if (!failed_[i] && !final_seen_[i]) ready = false;
    }
  }
  if (!ready && (!realtime_ || now_s - ended_at_s_ < static_cast<double>(options_.final_timeout_ms) / 1000.0)) return;
  if (!ready) {
    for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
      if (!failed_[static_cast<size_t>(i)] && !final_seen_[static_cast<size_t>(i)]) {
        notice(i, "stalled",
               "lane '" + lanes_[static_cast<size_t>(i)].name + "' gave no final " +
                   std::to_string(options_.final_timeout_ms) + " ms after the segment ended; finalized without it");
      }
    }
  }
  finalize(out);
}

void CaptionAggregator::poll(double now_s, std::vector<AggregatorDecision>& out) {
  now_s_ = std::max(now_s_, now_s);
  maybe_finalize(now_s, out);
}

void CaptionAggregator::finalize(std::vector<AggregatorDecision>& out) {
  AggregatorDecision d;
  d.segment = segment_;
  d.commit = after_commit(combine());
  int64_t edge = origin_;
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (const LaneHypothesis* h = latest(i)) edge = std::max(edge, h->audio_end_sample);
  }
  d.audio_end_sample = edge;
  d.endpoint = true;
  d.decodes = segment_decodes(source_lane());
  out.push_back(std::move(d));
  finalized_ = true;
  if (queued_.empty()) return;
  // The next segment the bus opened meanwhile: replay what its lanes already sent.
  const QueuedSegment next = queued_.front();
  queued_.erase(queued_.begin());
  segment_started(next.id, next.origin);
  std::vector<LaneHypothesis> replay;
  std::vector<LaneHypothesis> keep;
  for (LaneHypothesis& h : future_) {
    if (h.segment == next.id) replay.push_back(std::move(h));
    else if (h.segment > next.id) keep.push_back(std::move(h));
  }
  future_ = std::move(keep);
  if (next.ended) {
    ended_ = true;
    ended_at_s_ = next.ended_at_s;
  }
  for (const LaneHypothesis& h : replay) on_hypothesis(h, next.ended_at_s, out);
}

std::vector<CandidateAlternative> CaptionAggregator::segment_decodes(int source) const {
  const double stride_s = static_cast<double>(frame_samples_) / sample_rate_hz_;
  auto words = [&](const std::vector<TokenEmission>& tokens) {
    std::vector<GuardWord> out;
    for (const Word& w : vocabulary_->words(tokens, stride_s)) out.push_back(GuardWord{w.text, w.start_s, w.end_s});
    return out;
  };
  auto summed_logprob = [](const std::vector<TokenEmission>& tokens) {
    double sum = 0.0;
    for (const TokenEmission& t : tokens) sum += t.score;
    return sum;
  };
  std::vector<CandidateAlternative> out;
  // The committing lane first, then the others in lane order; each lane's 1-best, then its n-best.
  // (Readings equal to the final's words give no alternative: candidate_windows drops them.)
  std::vector<int> order{source};
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (i != source) order.push_back(i);
  }
  for (int i : order) {
    const LaneHypothesis* h = i < 0 ? nullptr : latest(i);
    if (h == nullptr || !h->segment_final) continue;
    // Scores relative to the lane's own best (0); n-best entries below it by their log-probability gap.
    const double best = summed_logprob(h->tokens);
    out.push_back({words(h->tokens), "lane:" + lanes_[static_cast<size_t>(i)].name, 0.0});
    for (size_t k = 0; k < h->alternatives.size(); ++k) {
      out.push_back({words(h->alternatives[k]), "beam:" + lanes_[static_cast<size_t>(i)].name + ":" + std::to_string(k + 2),
                     summed_logprob(h->alternatives[k]) - best});
    }
  }
  return out;
}

// ---- strategies ---------------------------------------------------------------------------------

std::vector<TokenEmission> LocalAgreementAggregator::combine() const {
  const int lane = source_lane();
  const LaneHypothesis* h = lane < 0 ? nullptr : latest(lane);
  return h ? h->tokens : std::vector<TokenEmission>();
}

std::vector<TokenEmission> LocalAgreementAggregator::partial() const {
  // The fast lane, unless it failed or lags: then the freshest live lane.
  const LaneHypothesis* fast = latest(options_.fast_lane);
  const int freshest = freshest_lane();
  if (freshest < 0) return {};
  const LaneHypothesis* fresh = latest(freshest);
  if (fast == nullptr ||
      fresh->audio_end_sample - fast->audio_end_sample > options_.stall_ms * sample_rate_hz_ / 1000) {
    return fresh->tokens;
  }
  return fast->tokens;
}

std::vector<TokenEmission> RoverAggregator::combine() const {
  struct Vote {
    double score = 0.0;
    double best = -1.0;
    std::vector<TokenEmission> tokens;
  };
  struct Slot {
    int64_t start = 0, end = 0;
    std::map<std::string, Vote> votes;
    std::vector<char> voted;
  };
  const int ref = commit_lane();
  std::vector<int> order;
  if (latest(ref)) order.push_back(ref);
  for (int i = 0; i < static_cast<int>(lanes_.size()); ++i) {
    if (i != ref && latest(i)) order.push_back(i);
  }
  std::vector<Slot> slots;
  for (int lane : order) {
    const LaneHypothesis& h = *latest(lane);
    const std::vector<TokenEmission> tokens = after_commit(h.tokens);
    // Confidences of the tokens after the commit point (the tail of h.token_confidence).
    std::vector<float> confidence;
    if (!h.token_confidence.empty()) {
      confidence.assign(h.token_confidence.end() - static_cast<std::ptrdiff_t>(tokens.size()), h.token_confidence.end());
    }
    const double weight = lanes_[static_cast<size_t>(lane)].weight;
    for (const WordSpan& w : words_of(tokens, confidence)) {
      int best = -1;
      int64_t best_overlap = 0;
      for (size_t s = 0; s < slots.size(); ++s) {
        const int64_t overlap = std::min(slots[s].end, w.end_frame) - std::max(slots[s].start, w.start_frame);
        if (overlap > best_overlap && !slots[s].voted[static_cast<size_t>(lane)]) {
          best = static_cast<int>(s);
          best_overlap = overlap;
        }
      }
      if (best < 0) {
        Slot slot;
        slot.start = w.start_frame;
        slot.end = w.end_frame;
        slot.voted.assign(lanes_.size(), 0);
        slots.push_back(std::move(slot));
        best = static_cast<int>(slots.size()) - 1;
      }
      Slot& slot = slots[static_cast<size_t>(best)];
      slot.voted[static_cast<size_t>(lane)] = 1;
      Vote& vote = slot.votes[w.text];
      const double score = weight * w.confidence;
      vote.score += score;
      if (score > vote.best) {
        vote.best = score;
        vote.tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(w.first),
                           tokens.begin() + static_cast<std::ptrdiff_t>(w.first + w.count));
      }
    }
  }
  std::sort(slots.begin(), slots.end(), [](const Slot& a, const Slot& b) { return a.start < b.start; });
  std::vector<TokenEmission> out;
  for (const Slot& slot : slots) {
    // Lanes that decoded this slot's audio without a word there vote for no word.
    double empty = 0.0;
    for (int lane : order) {
      const LaneHypothesis& h = *latest(lane);
      if (!slot.voted[static_cast<size_t>(lane)] && h.window_start_frame <= slot.start &&
          h.audio_end_sample / frame_samples_ >= slot.end) {
        empty += lanes_[static_cast<size_t>(lane)].weight;
      }
    }
    const Vote* winner = nullptr;
    for (const auto& entry : slot.votes) {
      if (winner == nullptr || entry.second.score > winner->score) winner = &entry.second;
    }
    if (winner && winner->score >= empty) {
      // A word never lands before the previous one (slots overlap at most partly).
      if (!out.empty() && winner->tokens.front().frame < out.back().frame) continue;
      out.insert(out.end(), winner->tokens.begin(), winner->tokens.end());
    }
  }
  return out;
}

}  // namespace parakeet_trt
