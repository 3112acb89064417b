#include "parakeet_trt/transcript.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "parakeet_trt/errors.hpp"

namespace parakeet_trt {
namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Longest common prefix of two UTF-8 strings, in bytes, ending on a character boundary of both.
size_t common_prefix_bytes(const std::string& a, const std::string& b) {
  size_t n = 0;
  const size_t limit = std::min(a.size(), b.size());
  while (n < limit && a[n] == b[n]) ++n;
  while (n > 0 && ((n < a.size() && is_continuation_byte(a[n])) || (n < b.size() && is_continuation_byte(b[n])))) --n;
  return n;
}

// Byte offset of the code point `chars` of a UTF-8 string (its size when it has fewer).
size_t byte_offset_of_char(const std::string& text, int64_t chars) {
  size_t i = 0;
  for (int64_t seen = 0; i < text.size(); ++i) {
    if (!is_continuation_byte(text[i])) {
      if (seen == chars) return i;
      ++seen;
    }
  }
  return text.size();
}

size_t common_token_prefix(const std::vector<TokenEmission>& a, const std::vector<TokenEmission>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n].token_id == b[n].token_id) ++n;
  return n;
}

}  // namespace

int64_t utf8_length(const std::string& text) {
  int64_t n = 0;
  for (char c : text) n += is_continuation_byte(c) ? 0 : 1;
  return n;
}

void TranscriptOptions::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("transcript options: " + what);
  };
  require(stable_updates >= 0, "stable_updates must be >= 0 (0 turns the rule off), got " + std::to_string(stable_updates));
  require(max_lag_ms >= 0, "max_lag_ms must be >= 0 (0 turns the rule off), got " + std::to_string(max_lag_ms));
  require(max_window_tokens >= 0,
          "max_window_tokens must be >= 0 (0 turns the rule off), got " + std::to_string(max_window_tokens));
  require(endpoint_blank_ms >= 0, "endpoint_blank_ms must be >= 0 (0 turns it off), got " + std::to_string(endpoint_blank_ms));
  require(endpoint_vad_ms >= 0, "endpoint_vad_ms must be >= 0 (0 turns it off), got " + std::to_string(endpoint_vad_ms));
}

TranscriptState::TranscriptState(Vocabulary vocabulary, double frame_stride_s, TranscriptOptions options)
    : TranscriptState(std::make_shared<const Vocabulary>(std::move(vocabulary)), frame_stride_s, options) {}

TranscriptState::TranscriptState(std::shared_ptr<const Vocabulary> vocabulary, double frame_stride_s,
                                 TranscriptOptions options)
    : vocabulary_(std::move(vocabulary)), frame_stride_s_(frame_stride_s), options_(options) {
  options_.validate();
  if (!(frame_stride_s_ > 0.0) || !std::isfinite(frame_stride_s_)) {
    throw std::invalid_argument("transcript: frame_stride_s must be a finite positive number of seconds, got " +
                                std::to_string(frame_stride_s_));
  }
  if (!vocabulary_ || vocabulary_->size() == 0) throw std::invalid_argument("transcript: the vocabulary is empty");
}

void TranscriptState::check_open(const char* what, double audio_end_s) {
  if (finished_) throw Error(ErrorCode::kState, std::string(what) + " after finish(): the transcript is closed");
  if (!std::isfinite(audio_end_s) || audio_end_s < 0.0) {
    throw std::invalid_argument(std::string(what) + ": audio_end_s must be a finite time >= 0 s, got " +
                                std::to_string(audio_end_s));
  }
  if (audio_end_s + 1e-9 < live_edge_s_) {
    throw std::invalid_argument(std::string(what) + ": audio_end_s " + std::to_string(audio_end_s) +
                                " s goes back before the live edge " + std::to_string(live_edge_s_) + " s");
  }
}

void TranscriptState::check_tokens(const TokenEmission* tokens, int64_t n, const char* what) const {
  if (n < 0) throw std::invalid_argument(std::string(what) + ": negative token count");
  if (n > 0 && tokens == nullptr) throw std::invalid_argument(std::string(what) + ": null tokens");
  for (int64_t i = 0; i < n; ++i) {
    const TokenEmission& t = tokens[i];
    if (t.token_id < 0 || static_cast<size_t>(t.token_id) >= vocabulary_->size()) {
      throw std::invalid_argument(std::string(what) + ": token " + std::to_string(i) + " has id " +
                                  std::to_string(t.token_id) + ", outside the vocabulary of " +
                                  std::to_string(vocabulary_->size()));
    }
    if (t.frame < 0 || t.duration < 0) {
      throw std::invalid_argument(std::string(what) + ": token " + std::to_string(i) +
                                  " has a negative frame or duration");
    }
  }
}

const std::vector<TranscriptEvent>& TranscriptState::apply_step(const TokenEmission* stable, int64_t num_stable,
                                                                const TokenEmission* tail, int64_t num_tail,
                                                                double audio_end_s, double vad_silence_ms) {
  check_open("apply_step()", audio_end_s);
  check_tokens(stable, num_stable, "apply_step() stable");
  check_tokens(tail, num_tail, "apply_step() tail");
  live_edge_s_ = audio_end_s;
  stable_.insert(stable_.end(), stable, stable + num_stable);
  tail_.assign(tail, tail + num_tail);
  return align_and_update(vad_silence_ms);
}

const std::vector<TranscriptEvent>& TranscriptState::apply_hypothesis(const TokenEmission* tokens, int64_t num_tokens,
                                                                      double audio_end_s, double vad_silence_ms) {
  check_open("apply_hypothesis()", audio_end_s);
  check_tokens(tokens, num_tokens, "apply_hypothesis()");
  live_edge_s_ = audio_end_s;
  // Everything is speculative: the whole committed text is compared with the hypothesis' front.
  stable_.clear();
  stable_anchor_ = 0;
  unconfirmed_.assign(committed_.begin(), committed_.end());
  tail_.assign(tokens, tokens + num_tokens);
  return align_and_update(vad_silence_ms);
}

const std::vector<TranscriptEvent>& TranscriptState::apply_decision(const TokenEmission* commit, int64_t num_commit,
                                                                    const TokenEmission* window, int64_t num_window,
                                                                    double audio_end_s, bool endpoint) {
  check_open("apply_decision()", audio_end_s);
  check_tokens(commit, num_commit, "apply_decision() commit");
  check_tokens(window, num_window, "apply_decision() window");
  live_edge_s_ = std::max(live_edge_s_, audio_end_s);
  std::vector<TokenEmission> new_window(commit, commit + num_commit);
  new_window.insert(new_window.end(), window, window + num_window);
  // The aggregator owns the hypothesis: nothing is kept for alignment (from_stable marks every token).
  std::vector<char> from_stable(new_window.size(), 1);
  stable_.clear();
  tail_.clear();
  stable_anchor_ = 0;
  return update(std::move(new_window), std::move(from_stable), -1.0, endpoint ? Endpoint::kForced : Endpoint::kNone,
                static_cast<size_t>(num_commit));
}

void TranscriptState::skip_stable_before_committed_end() {
  const int64_t last_frame = committed_.empty() ? -1 : committed_.back().frame;
  while (stable_anchor_ < stable_.size() && stable_[stable_anchor_].frame <= last_frame) ++stable_anchor_;
}

const std::vector<TranscriptEvent>& TranscriptState::align_and_update(double vad_silence_ms) {
  bool conflict = false;
  // Stable tokens confirm what was committed from earlier tails, one for one; a different token
  // means the engine settled on other text: drop the expectation and continue after it in time.
  while (!unconfirmed_.empty() && stable_anchor_ < stable_.size()) {
    if (stable_[stable_anchor_].token_id == unconfirmed_.front().token_id) {
      unconfirmed_.pop_front();
      ++stable_anchor_;
    } else {
      conflict = true;
      unconfirmed_.clear();
      skip_stable_before_committed_end();
    }
  }
  size_t tail_start = 0;
  if (!unconfirmed_.empty()) {  // committed beyond the stable tokens: the tail must repeat it
    const bool repeats = unconfirmed_.size() <= tail_.size() &&
                         std::equal(unconfirmed_.begin(), unconfirmed_.end(), tail_.begin(),
                                    [](const TokenEmission& a, const TokenEmission& b) { return a.token_id == b.token_id; });
    if (repeats) tail_start = unconfirmed_.size();
    else conflict = true;
  }
  if (conflict) {
    ++conflicts_;
    const int64_t last_frame = committed_.empty() ? -1 : committed_.back().frame;
    tail_start = 0;
    while (tail_start < tail_.size() && tail_[tail_start].frame <= last_frame) ++tail_start;
  }
  std::vector<TokenEmission> window(stable_.begin() + static_cast<std::ptrdiff_t>(stable_anchor_), stable_.end());
  std::vector<char> from_stable(window.size(), 1);
  window.insert(window.end(), tail_.begin() + static_cast<std::ptrdiff_t>(tail_start), tail_.end());
  from_stable.resize(window.size(), 0);
  return update(std::move(window), std::move(from_stable), vad_silence_ms, Endpoint::kNone);
}

const std::vector<TranscriptEvent>& TranscriptState::endpoint(double audio_end_s) {
  check_open("endpoint()", audio_end_s);
  live_edge_s_ = audio_end_s;
  return update(window_, window_from_stable_, -1.0, Endpoint::kForced);
}

const std::vector<TranscriptEvent>& TranscriptState::finish(double audio_end_s) {
  check_open("finish()", audio_end_s);
  live_edge_s_ = audio_end_s;
  update(window_, window_from_stable_, -1.0, Endpoint::kForced);
  finished_ = true;
  return events_;
}

bool TranscriptState::endpoint_detected(double vad_silence_ms) const {
  const bool blank_on = options_.endpoint_blank_ms > 0, vad_on = options_.endpoint_vad_ms > 0;
  const bool blank = blank_on && (live_edge_s_ - last_token_end_s_) * 1000.0 >= static_cast<double>(options_.endpoint_blank_ms);
  const bool vad = vad_on && vad_silence_ms >= static_cast<double>(options_.endpoint_vad_ms);
  if (blank_on && vad_on && options_.endpoint_require_both) return blank && vad;
  return blank || vad;
}

size_t TranscriptState::ready_prefix(const std::vector<TokenEmission>& window) const {
  const double lag_edge_s = live_edge_s_ - static_cast<double>(options_.max_lag_ms) / 1000.0;
  size_t n = 0;
  for (; n < window.size(); ++n) {
    const bool stable = options_.stable_updates > 0 && window_age_[n] >= options_.stable_updates;
    const bool old = options_.max_lag_ms > 0 && token_end_s(window[n]) <= lag_edge_s + 1e-9;
    if (!stable && !old) break;
  }
  if (options_.max_window_tokens > 0 && window.size() - n > static_cast<size_t>(options_.max_window_tokens)) {
    n = window.size() - static_cast<size_t>(options_.max_window_tokens);
  }
  return n;
}

size_t TranscriptState::snap_to_word(const std::vector<TokenEmission>& window, size_t count) const {
  if (!options_.commit_whole_words) return count;
  // A commit of `count` tokens ends on a word boundary when the token after it opens a word.
  while (count > 0 && !(count < window.size() && vocabulary_->starts_word(window[count].token_id))) --count;
  return count;
}

std::vector<TranscriptWord> TranscriptState::words_of(const std::vector<TokenEmission>& tokens, bool committed) const {
  std::vector<TranscriptWord> out;
  for (const Word& w : vocabulary_->words(tokens, frame_stride_s_)) out.push_back({w.text, w.start_s, w.end_s, committed});
  return out;
}

std::vector<TranscriptWord> TranscriptState::words() const {
  std::vector<TranscriptWord> out = words_of(committed_, true);
  for (TranscriptWord& w : words_of(window_, false)) out.push_back(std::move(w));
  return out;
}

const std::vector<TranscriptEvent>& TranscriptState::update(std::vector<TokenEmission> new_window,
                                                            std::vector<char> from_stable, double vad_silence_ms,
                                                            Endpoint endpoint, size_t decided_commit) {
  events_.clear();
  const size_t unchanged = common_token_prefix(window_, new_window);
  std::vector<int> ages(new_window.size(), 1);
  for (size_t i = 0; i < unchanged; ++i) ages[i] = window_age_[i] + 1;
  window_age_ = std::move(ages);

  if (!new_window.empty()) last_token_end_s_ = token_end_s(new_window.back());
  else if (!committed_.empty()) last_token_end_s_ = token_end_s(committed_.back());
  const bool segment_open = !new_window.empty() || committed_.size() > segment_first_token_;
  if (endpoint == Endpoint::kNone && decided_commit == kByRules && segment_open && endpoint_detected(vad_silence_ms)) {
    endpoint = Endpoint::kDetected;
  }

  const size_t commit = endpoint != Endpoint::kNone  ? new_window.size()
                        : decided_commit != kByRules ? decided_commit
                                                     : snap_to_word(new_window, ready_prefix(new_window));

  // Texts: the previous committed prefix stays; everything after it is the region a patch may rewrite.
  const size_t old_committed_bytes = committed_text_.size();
  const int64_t old_committed_chars = committed_chars_;
  const bool continues = !committed_text_.empty();
  const std::vector<TokenEmission> newly(new_window.begin(), new_window.begin() + static_cast<std::ptrdiff_t>(commit));
  const std::string newly_text = vocabulary_->detokenize(newly, continues);
  committed_text_ += newly_text;
  committed_chars_ += utf8_length(newly_text);  // whole characters only (commits end on a token boundary)
  std::vector<TokenEmission> rest(new_window.begin() + static_cast<std::ptrdiff_t>(commit), new_window.end());
  std::string new_partial = vocabulary_->detokenize(rest, !committed_text_.empty());
  const std::string new_region = committed_text_.substr(old_committed_bytes) + new_partial;

  if (new_region != partial_text_ || commit > 0) {
    const std::vector<TokenEmission> kept(new_window.begin(), new_window.begin() + static_cast<std::ptrdiff_t>(unchanged));
    const int64_t token_prefix_chars = utf8_length(vocabulary_->detokenize(kept, continues));
    const int64_t text_prefix_chars = utf8_length(partial_text_.substr(0, common_prefix_bytes(partial_text_, new_region)));
    const int64_t keep_chars = std::min(token_prefix_chars, text_prefix_chars);
    TranscriptEvent patch;
    patch.type = TranscriptEventType::kPatch;
    patch.seq = ++seq_;
    patch.committed_len = committed_chars_;
    patch.replace_from = old_committed_chars + keep_chars;
    patch.text = new_region.substr(byte_offset_of_char(new_region, keep_chars));
    patch.audio_end_s = live_edge_s_;
    patch.words = words_of(newly, true);
    for (TranscriptWord& w : words_of(rest, false)) patch.words.push_back(std::move(w));
    events_.push_back(std::move(patch));
  }

  committed_.insert(committed_.end(), newly.begin(), newly.end());
  for (size_t i = 0; i < commit; ++i) {  // a window's stable tokens come first
    if (from_stable[i]) ++stable_anchor_;
    else unconfirmed_.push_back(new_window[i]);
  }
  from_stable.erase(from_stable.begin(), from_stable.begin() + static_cast<std::ptrdiff_t>(commit));
  window_from_stable_ = std::move(from_stable);
  window_ = std::move(rest);
  window_age_.erase(window_age_.begin(), window_age_.begin() + static_cast<std::ptrdiff_t>(commit));
  partial_text_ = std::move(new_partial);
  if (endpoint != Endpoint::kNone) emit_final();
  return events_;
}

void TranscriptState::emit_final() {
  if (committed_.size() <= segment_first_token_) return;
  const std::vector<TokenEmission> segment(committed_.begin() + static_cast<std::ptrdiff_t>(segment_first_token_),
                                           committed_.end());
  TranscriptEvent final_event;
  final_event.type = TranscriptEventType::kFinal;
  final_event.seq = ++seq_;
  final_event.committed_len = committed_chars_;
  final_event.text = committed_text_.substr(segment_first_byte_);
  final_event.audio_end_s = live_edge_s_;
  final_event.segment = segment_++;
  final_event.start_s = segment.front().frame * frame_stride_s_;
  final_event.end_s = 0.0;
  for (const TokenEmission& t : segment) final_event.end_s = std::max(final_event.end_s, token_end_s(t));
  final_event.words = words_of(segment, true);
  events_.push_back(std::move(final_event));
  segment_first_token_ = committed_.size();
  segment_first_byte_ = committed_text_.size();
}

TranscriptEvent TranscriptState::snapshot() const {
  TranscriptEvent s;
  s.type = TranscriptEventType::kSnapshot;
  s.seq = seq_;
  s.committed_len = committed_chars_;
  s.text = display_text();
  s.audio_end_s = live_edge_s_;
  s.segment = segment_;
  s.words = words();
  return s;
}

}  // namespace parakeet_trt
