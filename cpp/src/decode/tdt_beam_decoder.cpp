#include "parakeet_trt/tdt_beam_decoder.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

namespace parakeet_trt {
namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& expected, const std::string& actual) {
  throw std::invalid_argument(field + ": expected " + expected + ", got " + actual);
}

constexpr uint64_t kHashSeed = 1469598103934665603ull;  // FNV-1a offset basis
constexpr uint64_t kHashPrime = 1099511628211ull;

// log_softmax over `count` values, accumulated in double, each result rounded to float.
void log_softmax(const float* x, int count, float* out) {
  double m = x[0];
  for (int i = 1; i < count; ++i) m = std::max(m, static_cast<double>(x[i]));
  double sum = 0.0;
  for (int i = 0; i < count; ++i) sum += std::exp(static_cast<double>(x[i]) - m);
  const double lse = m + std::log(sum);
  for (int i = 0; i < count; ++i) out[i] = static_cast<float>(static_cast<double>(x[i]) - lse);
}

// torch.logaddexp on float32 (the CPU kernel's formula).
float logaddexp(float a, float b) {
  if (std::isinf(a) && a == b) return a;
  const float m = std::max(a, b);
  return m + std::log1p(std::exp(-std::fabs(a - b)));
}

// Stable insertion sort of a short list: descending (or ascending) by key(element).
template <typename T, typename Key>
void stable_sort_by(std::vector<T>& items, Key key, bool descending) {
  for (size_t i = 1; i < items.size(); ++i) {
    T x = items[i];
    const auto kx = key(x);
    size_t j = i;
    while (j > 0 && (descending ? key(items[j - 1]) < kx : kx < key(items[j - 1]))) {
      items[j] = items[j - 1];
      --j;
    }
    items[j] = x;
  }
}

}  // namespace

void TdtBeamConfig::validate() const {
  if (beam_size < 1) invalid("TdtBeamConfig.beam_size", ">= 1", std::to_string(beam_size));
  if (!(softmax_temperature > 0.0f) || !std::isfinite(softmax_temperature)) {
    invalid("TdtBeamConfig.softmax_temperature", "a finite value > 0", std::to_string(softmax_temperature));
  }
  if (max_expansions_per_frame < 1) {
    invalid("TdtBeamConfig.max_expansions_per_frame", ">= 1", std::to_string(max_expansions_per_frame));
  }
}

std::vector<WordConfidence> word_confidences(const Vocabulary& vocabulary, const BeamHypothesis& hypothesis) {
  std::vector<TokenEmission> emissions;
  emissions.reserve(hypothesis.tokens.size());
  for (const BeamToken& t : hypothesis.tokens) emissions.push_back({t.token_id, t.frame, t.duration, t.token_logprob});
  std::vector<WordConfidence> out;
  for (const Word& w : vocabulary.words(emissions, 1.0)) {
    double confidence = 1.0;
    for (size_t i = w.first_token; i < w.first_token + w.num_tokens; ++i) {
      confidence = std::min(confidence, std::exp(static_cast<double>(hypothesis.tokens[i].token_logprob)));
    }
    out.push_back({w.text, confidence, w.first_token, w.num_tokens});
  }
  return out;
}

TdtBeamDecoder::TdtBeamDecoder(TdtDecodingConfig decoding, TdtBeamConfig beam, DecoderStep& step)
    : decoding_(std::move(decoding)), beam_(beam), step_(step) {
  decoding_.validate();
  beam_.validate();
  const int num_durations = static_cast<int>(decoding_.durations.size());
  const int64_t expected = static_cast<int64_t>(decoding_.vocab_size) + 1 + num_durations;
  if (step_.num_outputs() != expected) {
    invalid("TdtBeamDecoder: step.num_outputs()",
            std::to_string(expected) + " (vocab_size + 1 + " + std::to_string(num_durations) + " durations)",
            std::to_string(step_.num_outputs()));
  }
  // NeMo: zero_duration_idx = durations.index(0) (first), min_non_zero_duration_idx = argmin over
  // the non-zero durations (first of the smallest).
  int min_nonzero = -1;
  for (int i = 0; i < num_durations; ++i) {
    const int d = decoding_.durations[static_cast<size_t>(i)];
    if (d == 0 && zero_duration_index_ < 0) zero_duration_index_ = i;
    if (d > 0 && (min_nonzero < 0 || d < decoding_.durations[static_cast<size_t>(min_nonzero)])) min_nonzero = i;
  }
  if (min_nonzero < 0) {
    invalid("TdtBeamDecoder: durations", "at least one duration > 0 (a blank must advance)", "only zeros");
  }
  min_nonzero_duration_index_ = min_nonzero;
  joint_hidden_ = step_.joint_hidden();
  logits_.assign(static_cast<size_t>(expected), 0.0f);
  logp_.assign(static_cast<size_t>(decoding_.vocab_size) + 1, 0.0f);
  dlogp_.assign(static_cast<size_t>(num_durations), 0.0f);
  const int width = std::min(beam_.beam_size, decoding_.vocab_size);
  top_tokens_.assign(static_cast<size_t>(width), 0);
  top_durations_.assign(static_cast<size_t>(std::min(width, num_durations)), 0);
  pair_scores_.assign(top_tokens_.size() * top_durations_.size(), 0.0f);
  top_pairs_.assign(top_tokens_.size(), 0);
  states_.push_back(step_.make_state());  // slot 0: the zero state before SOS
  state_live_.push_back(1);
}

int TdtBeamDecoder::new_state_slot() {
  if (!free_states_.empty()) {
    const int slot = free_states_.back();
    free_states_.pop_back();
    state_live_[static_cast<size_t>(slot)] = 1;
    return slot;
  }
  states_.push_back(step_.make_state());  // allocation: only while the pool grows
  state_live_.push_back(1);
  free_states_.reserve(states_.size());  // collect_states never grows it
  return static_cast<int>(states_.size()) - 1;
}

// Frees every pool slot no hypothesis in hyps_ or kept_ refers to (slot 0 stays).
void TdtBeamDecoder::collect_states() {
  std::fill(state_live_.begin(), state_live_.end(), 0);
  state_live_[0] = 1;
  for (const std::vector<Hyp>* list : {&hyps_, &kept_}) {
    for (const Hyp& h : *list) {
      state_live_[static_cast<size_t>(h.state_in)] = 1;
      if (h.state_out >= 0) state_live_[static_cast<size_t>(h.state_out)] = 1;
    }
  }
  free_states_.clear();
  for (size_t i = states_.size(); i-- > 1;) {
    if (!state_live_[i]) free_states_.push_back(static_cast<int>(i));
  }
}

bool TdtBeamDecoder::same_sequence(const Hyp& a, const Hyp& b) const {
  if (a.length != b.length || a.hash != b.hash) return false;
  int x = a.node, y = b.node;
  while (x != y) {  // equal nodes share the rest of the chain
    if (x < 0 || y < 0) return false;
    const Node& nx = nodes_[static_cast<size_t>(x)];
    const Node& ny = nodes_[static_cast<size_t>(y)];
    if (nx.token != ny.token) return false;
    x = nx.parent;
    y = ny.parent;
  }
  return true;
}

// The k largest of values[0, count), largest first; equal values: the lower index first.
void TdtBeamDecoder::top_k(const float* values, int count, int k, int* indices) const {
  if (k <= 0) return;
  int filled = 0;
  for (int i = 0; i < count; ++i) {
    const float v = values[i];
    if (filled == k && !(v > values[indices[k - 1]])) continue;
    int pos = filled < k ? filled++ : k - 1;
    while (pos > 0 && v > values[indices[pos - 1]]) {
      indices[pos] = indices[pos - 1];
      --pos;
    }
    indices[pos] = i;
  }
}

// One expansion of max_hyp at frame t (the body of NeMo's `while len(hyps) > 0`, before the merge).
void TdtBeamDecoder::expand(const Hyp& max_hyp_in, const float* frame, int64_t t) {
  Hyp max_hyp = max_hyp_in;
  const int vocab = decoding_.vocab_size;
  const int blank = decoding_.blank_id;
  const int num_durations = static_cast<int>(decoding_.durations.size());
  if (max_hyp.state_out < 0) {  // score_hypothesis: feed the last token (SOS: blank = zero input)
    const int slot = new_state_slot();
    const int last = max_hyp.node < 0 ? blank : nodes_[static_cast<size_t>(max_hyp.node)].token;
    step_.predict(last, states_[static_cast<size_t>(max_hyp.state_in)], states_[static_cast<size_t>(slot)]);
    max_hyp.state_out = slot;
  }
  step_.joint(frame, states_[static_cast<size_t>(max_hyp.state_out)], logits_.data());
  for (float& z : logits_) z = z / beam_.softmax_temperature;
  log_softmax(logits_.data(), vocab + 1, logp_.data());
  log_softmax(logits_.data() + vocab + 1, num_durations, dlogp_.data());

  const int beam = std::min(beam_.beam_size, vocab);
  const int beam_k = std::min(beam, vocab - 1);
  const int dbeam_k = static_cast<int>(top_durations_.size());
  top_k(logp_.data(), vocab, beam_k, top_tokens_.data());
  top_k(dlogp_.data(), num_durations, dbeam_k, top_durations_.data());
  for (int i = 0; i < dbeam_k; ++i) {
    for (int j = 0; j < beam_k; ++j) {
      pair_scores_[static_cast<size_t>(i * beam_k + j)] = dlogp_[static_cast<size_t>(top_durations_[i])] +
                                                          logp_[static_cast<size_t>(top_tokens_[j])];
    }
  }
  top_k(pair_scores_.data(), dbeam_k * beam_k, beam_k, top_pairs_.data());

  for (int p = 0; p < beam_k; ++p) {
    const int pair = top_pairs_[static_cast<size_t>(p)];
    const int token = top_tokens_[static_cast<size_t>(pair % beam_k)];
    const int duration_index = top_durations_[static_cast<size_t>(pair / beam_k)];
    const int duration = decoding_.durations[static_cast<size_t>(duration_index)];
    nodes_.push_back(Node{max_hyp.node, token, t, duration, logp_[static_cast<size_t>(token)],
                          dlogp_[static_cast<size_t>(duration_index)]});
    Hyp h;
    h.score = max_hyp.score + pair_scores_[static_cast<size_t>(pair)];
    h.last_frame = max_hyp.last_frame + duration;
    h.node = static_cast<int>(nodes_.size()) - 1;
    h.length = max_hyp.length + 1;
    h.hash = (max_hyp.hash ^ static_cast<uint64_t>(token + 1)) * kHashPrime;
    h.state_in = max_hyp.state_out;
    h.state_out = -1;
    (duration == 0 ? hyps_ : kept_).push_back(h);
  }
  for (int i = 0; i < dbeam_k; ++i) {
    int duration_index = top_durations_[static_cast<size_t>(i)];
    if (duration_index == zero_duration_index_) {
      if (dbeam_k != 1) continue;
      duration_index = min_nonzero_duration_index_;
    }
    Hyp h = max_hyp;
    const float with_blank = max_hyp.score + logp_[static_cast<size_t>(blank)];
    h.score = with_blank + dlogp_[static_cast<size_t>(duration_index)];
    h.last_frame = max_hyp.last_frame + decoding_.durations[static_cast<size_t>(duration_index)];
    kept_.push_back(h);
  }
}

// NeMo merge_duplicate_hypotheses on kept_.
void TdtBeamDecoder::merge_kept() {
  stable_sort_by(kept_, [](const Hyp& h) { return h.score; }, /*descending=*/true);
  scratch_.clear();
  for (const Hyp& h : kept_) {
    bool merged = false;
    for (Hyp& k : scratch_) {
      if (k.last_frame == h.last_frame && same_sequence(k, h)) {
        k.score = logaddexp(k.score, h.score);
        merged = true;
        break;
      }
    }
    if (!merged) scratch_.push_back(h);
  }
  kept_.swap(scratch_);
}

void TdtBeamDecoder::decode(const float* projected, int64_t num_frames, std::vector<BeamHypothesis>& nbest) {
  if (num_frames < 0) invalid("TdtBeamDecoder::decode: num_frames", ">= 0", std::to_string(num_frames));
  if (num_frames > 0 && projected == nullptr) {
    invalid("TdtBeamDecoder::decode: projected", "non-null for num_frames = " + std::to_string(num_frames), "null");
  }
  const size_t beam = static_cast<size_t>(std::min(beam_.beam_size, decoding_.vocab_size));
  nodes_.clear();
  hyps_.clear();
  kept_.clear();
  kept_.push_back(Hyp{0.0f, 0, -1, 0, kHashSeed, 0, -1});
  peak_expansions_ = 0;
  bound_reached_ = false;

  for (int64_t t = 0; t < num_frames; ++t) {
    hyps_.clear();
    scratch_.clear();
    for (const Hyp& h : kept_) {
      if (h.last_frame == t) hyps_.push_back(h);
      else if (h.last_frame > t) scratch_.push_back(h);
    }
    kept_.swap(scratch_);
    collect_states();
    const float* frame = projected + t * joint_hidden_;
    int expansions = 0;
    while (!hyps_.empty()) {
      size_t best = 0;
      for (size_t i = 1; i < hyps_.size(); ++i) {
        if (hyps_[i].score > hyps_[best].score) best = i;
      }
      const Hyp max_hyp = hyps_[best];
      hyps_.erase(hyps_.begin() + static_cast<std::ptrdiff_t>(best));
      expand(max_hyp, frame, t);
      merge_kept();
      if (!hyps_.empty()) {
        float hyps_max = hyps_[0].score;
        for (const Hyp& h : hyps_) hyps_max = std::max(hyps_max, h.score);
        scratch_.clear();
        for (const Hyp& h : kept_) {
          if (h.score > hyps_max) scratch_.push_back(h);
        }
        if (scratch_.size() >= beam) {
          stable_sort_by(scratch_, [](const Hyp& h) { return h.score; }, /*descending=*/false);
          kept_.swap(scratch_);
          break;
        }
      } else {
        stable_sort_by(kept_, [](const Hyp& h) { return h.score; }, /*descending=*/true);
        if (kept_.size() > beam) kept_.resize(beam);
      }
      if (++expansions >= beam_.max_expansions_per_frame && !hyps_.empty()) {  // not in NeMo: see the header
        bound_reached_ = true;
        break;
      }
    }
    peak_expansions_ = std::max(peak_expansions_, expansions);
  }

  // sort_nbest, then the token lists (allocates the result).
  const bool norm = beam_.score_norm;
  auto key = [norm](const Hyp& h) {
    return norm ? static_cast<double>(h.score) / static_cast<double>(h.length + 1) : static_cast<double>(h.score);
  };
  stable_sort_by(kept_, key, /*descending=*/true);
  nbest.resize(kept_.size());
  for (size_t i = 0; i < kept_.size(); ++i) {
    const Hyp& h = kept_[i];
    BeamHypothesis& out = nbest[i];
    out.score = h.score;
    out.sort_key = key(h);
    out.last_frame = h.last_frame;
    out.tokens.resize(static_cast<size_t>(h.length));
    int node = h.node;
    for (size_t k = out.tokens.size(); k-- > 0;) {
      const Node& n = nodes_[static_cast<size_t>(node)];
      out.tokens[k] = BeamToken{n.token, n.frame, n.duration, n.token_logprob, n.duration_logprob};
      node = n.parent;
    }
  }
}

}  // namespace parakeet_trt
