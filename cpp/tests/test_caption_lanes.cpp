// Engine lanes and aggregators (caption_lanes.hpp, caption_aggregator.hpp) in a LiveStream: the
// patch protocol holds for v2 and v3, a lane that fails or stalls is reported once while the others
// carry the captions, every lane failing ends the stream with a clear error, and the aggregators'
// rules (no commit without agreement or before the lag; ROVER voting) on hand-made hypotheses.
// Runs the packaged random-weight model's features, decoder and vocabulary with the deterministic
// C++ FormulaEncoder (no ONNX Runtime), so it also runs under TSan and ASan.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "parakeet_trt/caption_aggregator.hpp"
#include "parakeet_trt/caption_lanes.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/live_stream.hpp"
#include "parakeet_trt/model.hpp"
#include "test_streams.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;
using ptrt_test::FormulaEncoder;

namespace {

const char* kModelDir = PTRT_SOURCE_DIR "/python/parakeet_trt/models/random-weights-test";

// Wraps an engine: throws after `fail_after` calls, or sleeps `delay_ms` per call.
class FaultyEncoder final : public Engine {
 public:
  FaultyEncoder(std::shared_ptr<Engine> inner, int64_t fail_after, int64_t delay_ms)
      : inner_(std::move(inner)), fail_after_(fail_after), delay_ms_(delay_ms) {}
  void run(const TensorView* inputs, size_t num_inputs, TensorView* outputs, size_t num_outputs) override {
    if (fail_after_ >= 0 && calls_++ >= fail_after_) throw Error(ErrorCode::kEngine, "injected engine failure");
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
    inner_->run(inputs, num_inputs, outputs, num_outputs);
  }
  std::string description() const override { return "faulty encoder (test)"; }

 private:
  std::shared_ptr<Engine> inner_;
  int64_t fail_after_, delay_ms_;
  std::atomic<int64_t> calls_{0};
};

struct Played {
  std::vector<LiveEvent> events;
  std::vector<LaneNotice> notices;
  std::string committed, finals;
  int num_finals = 0;
  bool error = false, write_failed = false;
  std::string error_message;
  double close_to_last_s = 0.0;
};

// Three "sentences" (2 s of test signal) with 1.2 s pauses, written in 20 ms blocks with the VAD
// silence a VAD would report; `realtime` sleeps block_sleep_ms after each 20 ms block (20: real time)
// so lanes make intermediate passes.
Played play(LiveStream& stream, bool realtime, int block_sleep_ms = 5) {
  Played p;
  std::thread consumer([&] {
    LiveEvent e;
    while (stream.next_event(e, -1)) {
      for (const LaneNotice& n : e.notices) p.notices.push_back(n);
      for (const TranscriptEvent& t : e.transcript) {
        if (t.type == TranscriptEventType::kFinal) {
          p.finals += t.text;
          ++p.num_finals;
        }
      }
      if (e.kind == LiveEvent::Kind::kError) {
        p.error = true;
        p.error_message = e.error;
      }
      p.events.push_back(e);
      if (e.is_last) break;
    }
  });
  const int64_t block = 320;
  double silence_ms = 1000.0;
  for (int sentence = 0; sentence < 3; ++sentence) {
    const std::vector<float> speech = ptrt_test::test_audio(32000, 11 + sentence);
    std::vector<float> pause_samples(19200, 0.0f);
    for (size_t i = 0; i < pause_samples.size(); ++i) pause_samples[i] = 0.001f * static_cast<float>((i * 7919) % 13) - 0.006f;
    const std::vector<float>& pause = pause_samples;
    for (const std::vector<float>* part : {&speech, &pause}) {
      const bool is_speech = part == &speech;
      for (size_t i = 0; i < part->size(); i += block) {
        const int64_t n = std::min<int64_t>(block, static_cast<int64_t>(part->size() - i));
        silence_ms = is_speech ? 0.0 : silence_ms + 1000.0 * static_cast<double>(n) / 16000.0;
        int64_t written = 0;
        while (written < n && !p.write_failed) {
          try {
            written += stream.write(part->data() + i + written, n - written, silence_ms, false);
          } catch (const Error&) {
            p.write_failed = true;  // the stream stopped on an error: its error event says why
          }
          if (written < n) std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        if (realtime) std::this_thread::sleep_for(std::chrono::milliseconds(block_sleep_ms));
      }
      if (!is_speech) silence_ms = 1000.0;
    }
  }
  const auto closed = std::chrono::steady_clock::now();
  stream.close();
  consumer.join();
  p.close_to_last_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - closed).count();
  p.committed = stream.snapshot().text;
  return p;
}

// The patch protocol: committed_len never decreases, no patch reaches into committed text, the
// committed prefix never changes, and the finals concatenated are the committed text.
void check_protocol(const Played& p) {
  std::string display;
  int64_t committed = 0;
  std::string committed_prefix;
  for (const LiveEvent& e : p.events) {
    for (const TranscriptEvent& t : e.transcript) {
      if (t.type != TranscriptEventType::kPatch) continue;
      PTRT_CHECK(t.replace_from >= committed);
      PTRT_CHECK(t.committed_len >= committed);
      PTRT_CHECK(static_cast<size_t>(t.replace_from) <= display.size());
      display = display.substr(0, static_cast<size_t>(t.replace_from)) + t.text;  // ASCII-safe for this check
      PTRT_CHECK(display.compare(0, committed_prefix.size(), committed_prefix) == 0);
      committed = t.committed_len;
      committed_prefix = display.substr(0, static_cast<size_t>(committed));
    }
  }
  PTRT_CHECK_EQ(p.finals, p.committed);
}

std::vector<LaneOptions> lanes(const std::string& spec) { return parse_lanes(spec); }

LiveStreamOptions lane_options(const std::string& strategy, const std::string& spec) {
  LiveStreamOptions o = captions_options();
  o.aggregator.strategy = strategy;
  o.lanes = lanes(spec);
  return o;
}

void test_candidate_lanes_replace_only_the_default_lanes() {
  const LiveStreamOptions captions = captions_options();
  const LiveStreamOptions candidates = with_candidate_lanes(captions);
  PTRT_CHECK_EQ(format_lanes(candidates.lanes), format_lanes(parse_lanes(kCandidateLanes)));
  PTRT_CHECK_EQ(candidates.lanes.size(), size_t{2});
  PTRT_CHECK(candidates.lanes[0].decoding == "beam" && candidates.lanes[1].decoding == "greedy");
  PTRT_CHECK(candidates.aggregator.fast_lane == 1 && candidates.aggregator.commit_lane == 1);
  candidates.validate();
  LiveStreamOptions empty = captions;  // no lanes: the default one redecode lane
  empty.lanes.clear();
  PTRT_CHECK_EQ(format_lanes(with_candidate_lanes(empty).lanes), format_lanes(candidates.lanes));
  // A lane set, aggregator or lane choice the caller made stays.
  for (LiveStreamOptions chosen : {lane_options("v2", "buffered:chunk=320:right=320,redecode"),
                                   lane_options("v3", "redecode"), captions}) {
    if (chosen.aggregator.strategy == "v2" && chosen.lanes.size() == 1) chosen.aggregator.commit_lane = 0;
    const LiveStreamOptions kept = with_candidate_lanes(chosen);
    PTRT_CHECK_EQ(format_lanes(kept.lanes), format_lanes(chosen.lanes));
    PTRT_CHECK(kept.aggregator.fast_lane == chosen.aggregator.fast_lane &&
               kept.aggregator.commit_lane == chosen.aggregator.commit_lane);
  }
}

void test_v2_and_v3_keep_the_patch_protocol() {
  auto model = Model::load(kModelDir);
  auto encoder = std::make_shared<FormulaEncoder>(*model);
  for (const char* strategy : {"v2", "v3"}) {
    for (const char* spec : {"redecode", "buffered:chunk=320:right=320,redecode:every=160,redecode:every=160:decoding=beam:beam=2"}) {
      LiveStream stream(model, encoder, lane_options(strategy, spec));
      const Played p = play(stream, true);
      PTRT_CHECK(!p.error);
      PTRT_CHECK_EQ(p.num_finals, 3);
      PTRT_CHECK(!p.committed.empty());
      PTRT_CHECK(p.notices.empty());
      check_protocol(p);
      for (const LaneStats& lane : stream.lane_stats()) {
        PTRT_CHECK(lane.hypotheses > 0);
        PTRT_CHECK(!lane.failed);
      }
    }
  }
}

void test_redecode_lanes_share_one_encoder_call_per_pass() {
  auto model = Model::load(kModelDir);
  auto encoder = std::make_shared<FormulaEncoder>(*model);
  LiveStream stream(model, encoder, lane_options("v3", "redecode:every=160,redecode:every=160:decoding=beam:beam=2"));
  const Played p = play(stream, false);
  PTRT_CHECK(!p.error);
  const std::vector<LaneStats> stats = stream.lane_stats();
  PTRT_CHECK_EQ(stats.size(), static_cast<size_t>(2));
  PTRT_CHECK_EQ(stats[0].encoder_calls, stats[1].encoder_calls);  // the worker's calls, reported per lane
  PTRT_CHECK(!stats[0].shares_encoder && stats[1].shares_encoder);
  PTRT_CHECK_EQ(encoder->calls.load(), stats[0].encoder_calls);     // one encoder call serves both decoders
  PTRT_CHECK_EQ(stats[0].hypotheses, stats[1].hypotheses);
}

void test_a_failing_lane_is_reported_once_and_the_captions_go_on() {
  auto model = Model::load(kModelDir);
  auto good = std::make_shared<FormulaEncoder>(*model);
  auto bad = std::make_shared<FaultyEncoder>(std::make_shared<FormulaEncoder>(*model), 2, 0);
  for (const char* strategy : {"v2", "v3"}) {
    LiveStreamOptions o = lane_options(strategy, "redecode:every=160,redecode:every=320:name=flaky");
    LiveStream stream(model, [&](int lane, const LaneOptions&) -> std::shared_ptr<Engine> {
      return lane == 1 ? std::shared_ptr<Engine>(bad) : std::shared_ptr<Engine>(good);
    }, o);
    const Played p = play(stream, true);
    PTRT_CHECK(!p.error);
    PTRT_CHECK_EQ(p.notices.size(), static_cast<size_t>(1));
    for (const LaneNotice& n : p.notices) {
      PTRT_CHECK_EQ(n.lane + " " + n.kind, std::string("flaky failed"));
      PTRT_CHECK(n.message.find("injected engine failure") != std::string::npos);
    }
    PTRT_CHECK_EQ(p.num_finals, 3);
    PTRT_CHECK(!p.committed.empty());
    check_protocol(p);
  }
}

void test_a_stalled_lane_does_not_hold_the_captions() {
  auto model = Model::load(kModelDir);
  auto good = std::make_shared<FormulaEncoder>(*model);
  auto slow = std::make_shared<FaultyEncoder>(std::make_shared<FormulaEncoder>(*model), -1, 5000);
  LiveStreamOptions o = lane_options("v2", "redecode:every=160,redecode:every=320:name=slow");
  o.aggregator.final_timeout_ms = 400;
  LiveStream stream(model, [&](int lane, const LaneOptions&) -> std::shared_ptr<Engine> {
    return lane == 1 ? std::shared_ptr<Engine>(slow) : std::shared_ptr<Engine>(good);
  }, o);
  const Played p = play(stream, true, 20);  // real time: lanes have wall-clock deadlines
  PTRT_CHECK(!p.error);
  PTRT_CHECK_EQ(p.num_finals, 3);
  PTRT_CHECK(!p.committed.empty());
  PTRT_CHECK_EQ(p.notices.size(), static_cast<size_t>(1));
  for (const LaneNotice& n : p.notices) {
    PTRT_CHECK_EQ(n.lane + " " + n.kind, std::string("slow stalled"));
  }
  // The last final does not wait for the slow lane's 5 s call.
  PTRT_CHECK(p.close_to_last_s < 4.0);
  check_protocol(p);
}

void test_every_lane_failing_ends_the_stream_with_an_error() {
  auto model = Model::load(kModelDir);
  auto bad = std::make_shared<FaultyEncoder>(std::make_shared<FormulaEncoder>(*model), 0, 0);
  LiveStream stream(model, bad, lane_options("v2", "redecode"));
  const Played p = play(stream, false);
  PTRT_CHECK(p.error);
  PTRT_CHECK(p.error_message.find("every lane failed") != std::string::npos);
  PTRT_CHECK(p.error_message.find("injected engine failure") != std::string::npos);
  bool threw = false;
  try {
    const float x[4] = {0, 0, 0, 0};
    stream.write(x, 4);
  } catch (const Error& e) {
    threw = e.code() == ErrorCode::kEngine;
  }
  PTRT_CHECK(threw);
}

void test_options_are_validated() {
  auto model = Model::load(kModelDir);
  auto encoder = std::make_shared<FormulaEncoder>(*model);
  LiveStreamOptions o = lane_options("v2", "redecode");
  o.segment_on_endpoint = false;
  PTRT_CHECK_THROWS(LiveStream(model, encoder, o), std::invalid_argument, "needs segment_on_endpoint");
  // A streaming lane's chunk that is no whole number of encoder frames: refused when the stream is made.
  PTRT_CHECK_THROWS(LiveStream(model, encoder, lane_options("v2", "buffered:chunk=100,redecode")), std::invalid_argument,
                    "lane 'buffered': chunk_ms must be a positive multiple of the encoder frame");
  // A redecode window shorter than the commit lag (900 ms) plus one pass (240 ms): words would leave it
  // before they may commit.
  PTRT_CHECK_THROWS(LiveStream(model, encoder, lane_options("v2", "redecode:window=1000")), std::invalid_argument,
                    "lane 'redecode': redecode_window_ms (1000) must be at least commit_lag_ms + redecode_every_ms (1140 ms)");
  LiveStream(model, encoder, lane_options("v2", "redecode:window=1140")).close();
  PTRT_CHECK_THROWS(parse_lanes("redecode:every=5"), std::invalid_argument, "redecode_every_ms");
  PTRT_CHECK_THROWS(parse_lanes("magic"), std::invalid_argument, "kind must be");
  PTRT_CHECK_THROWS(parse_lanes("buffered:decoding=beam"), std::invalid_argument, "needs a redecode lane");
  PTRT_CHECK_THROWS(parse_lanes("redecode:colour=blue"), std::invalid_argument, "unknown key");
  PTRT_CHECK_THROWS(parse_lanes(""), std::invalid_argument, "at least one lane");
  const std::string spec = "buffered:chunk=560:left=10000:right=560:weight=1,redecode:every=240:window=12000:decoding=beam:beam=4:weight=2";
  PTRT_CHECK_EQ(format_lanes(parse_lanes(spec)), spec);
}

// ---- aggregator rules on hand-made hypotheses --------------------------------------------------

// Token ids of whole words in the model's vocabulary (pieces starting a word, then continuations).
std::vector<int> word_starting_ids(const Vocabulary& v, int count) {
  std::vector<int> ids;
  for (int id = 0; id < static_cast<int>(v.size()) && static_cast<int>(ids.size()) < count; ++id) {
    if (v.starts_word(id) && v.detokenize({TokenEmission{id, 0, 1, 0.f}}).size() > 1) ids.push_back(id);
  }
  return ids;
}

LaneHypothesis hyp(int lane, const std::vector<int>& ids, const std::vector<int64_t>& frames, int64_t edge_frame) {
  LaneHypothesis h;
  h.lane = lane;
  h.segment = 1;
  for (size_t i = 0; i < ids.size(); ++i) h.tokens.push_back(TokenEmission{ids[i], frames[i], 2, 0.f});
  h.audio_end_sample = edge_frame * 1280;
  return h;
}

// A v2 aggregator over the lanes of `spec` with an 800 ms (10-frame) commit lag, segment 1 open, and
// `count` whole-word token ids of the model's vocabulary.
struct V2Case {
  std::shared_ptr<const Vocabulary> vocab;
  std::vector<int> w;
  std::unique_ptr<LocalAgreementAggregator> agg;
};

V2Case v2_case(const std::string& spec, int count) {
  auto model = Model::load(kModelDir);
  V2Case c;
  c.vocab = std::shared_ptr<const Vocabulary>(model, &model->vocabulary());
  c.w = word_starting_ids(*c.vocab, count);
  PTRT_CHECK_EQ(c.w.size(), static_cast<size_t>(count));
  AggregatorOptions o;
  o.strategy = "v2";
  o.commit_lag_ms = 800;
  c.agg = std::make_unique<LocalAgreementAggregator>(c.vocab, lanes(spec), o, 1280, 16000);
  c.agg->segment_started(1, 0);
  return c;
}

void test_v2_commits_only_agreed_words_behind_the_lag() {
  V2Case c = v2_case("redecode", 4);
  const std::vector<int>& w = c.w;
  LocalAgreementAggregator& agg = *c.agg;
  std::vector<AggregatorDecision> out;
  // Pass 1: nothing agreed yet.
  agg.on_hypothesis(hyp(0, {w[0], w[1]}, {2, 6}, 20), 0.0, out);
  PTRT_CHECK_EQ(out.size(), static_cast<size_t>(1));
  PTRT_CHECK(out[0].commit.empty());
  PTRT_CHECK_EQ(out[0].window.size(), static_cast<size_t>(2));
  // Pass 2 agrees on both words; only the first ends 10 frames (the lag) behind the edge at 22.
  out.clear();
  agg.on_hypothesis(hyp(0, {w[0], w[1], w[2]}, {2, 12, 16}, 22), 0.1, out);
  PTRT_CHECK_EQ(out[0].commit.size(), static_cast<size_t>(1));  // w0 ends at 4 <= 12; w1 ends at 14 > 12
  PTRT_CHECK_EQ(out[0].commit[0].token_id, w[0]);
  // Pass 3 disagrees on w1 (w3 instead): no commit although it lags.
  out.clear();
  agg.on_hypothesis(hyp(0, {w[0], w[3], w[2]}, {2, 12, 16}, 40), 0.2, out);
  PTRT_CHECK(out[0].commit.empty());
  // The committed first word, decoded again, is not shown again.
  PTRT_CHECK_EQ(out[0].window.size(), static_cast<size_t>(2));
  PTRT_CHECK_EQ(out[0].window[0].token_id, w[3]);
  // The segment ends: its final pass commits the rest.
  out.clear();
  LaneHypothesis last = hyp(0, {w[0], w[3], w[2]}, {3, 12, 16}, 44);  // w0 shifted by a frame: the same word
  last.segment_final = true;
  agg.segment_ended(1, 0.3, out);
  PTRT_CHECK(out.empty());
  agg.on_hypothesis(last, 0.4, out);
  PTRT_CHECK_EQ(out.size(), static_cast<size_t>(1));
  PTRT_CHECK(out[0].endpoint);
  PTRT_CHECK_EQ(out[0].commit.size(), static_cast<size_t>(2));
  PTRT_CHECK_EQ(out[0].commit[0].token_id, w[3]);
  PTRT_CHECK(agg.idle());
}

void test_a_short_redecode_window_never_commits_the_speculative_tail() {
  // A 2 s window: its far end's 3 s margin would reach past the live edge.
  V2Case c = v2_case("redecode:window=2000", 3);
  const std::vector<int>& w = c.w;
  LocalAgreementAggregator& agg = *c.agg;
  std::vector<AggregatorDecision> out;
  // One pass, edge at frame 20: w0 and w1 end at least the lag behind it and are about to leave the
  // window (commit as they stand); w2 ends 2 frames before the edge and stays the partial.
  agg.on_hypothesis(hyp(0, {w[0], w[1], w[2]}, {2, 6, 16}, 20), 0.0, out);
  PTRT_CHECK_EQ(out.size(), static_cast<size_t>(1));
  PTRT_CHECK_EQ(out[0].commit.size(), static_cast<size_t>(2));
  PTRT_CHECK_EQ(out[0].window.size(), static_cast<size_t>(1));
  if (out[0].window.size() == 1) PTRT_CHECK_EQ(out[0].window[0].token_id, w[2]);
}

void test_a_pause_between_segments_is_not_a_stall() {
  // Two lanes finish a segment; after a 10 s pause the faster lane delivers first for the next one.
  // The slower lane was silent through the pause, but it is not behind: nothing was there to hear.
  auto model = Model::load(kModelDir);
  auto vocab = std::shared_ptr<const Vocabulary>(model, &model->vocabulary());
  const std::vector<int> w = word_starting_ids(*vocab, 2);
  AggregatorOptions o;
  o.strategy = "v2";
  LocalAgreementAggregator agg(vocab, lanes("redecode,redecode"), o, 1280, 16000);
  std::vector<AggregatorDecision> out;
  agg.segment_started(1, 0);
  agg.segment_ended(1, 0.5, out);
  for (int lane = 0; lane < 2; ++lane) {
    LaneHypothesis last = hyp(lane, {w[0], w[1]}, {2, 6}, 20);
    last.segment_final = true;
    agg.on_hypothesis(last, 0.6, out);
  }
  PTRT_CHECK(agg.idle());
  const int64_t origin_frame = 125;  // 10 s
  agg.segment_started(2, origin_frame * 1280);
  LaneHypothesis first = hyp(0, {w[0]}, {origin_frame + 2}, origin_frame + 5);
  first.segment = 2;
  agg.on_hypothesis(first, 10.5, out);
  PTRT_CHECK(agg.take_notices().empty());
  // A real stall in the new segment is still reported: 1.6 s of audio behind and silent for 2 s.
  LaneHypothesis later = hyp(0, {w[0], w[1]}, {origin_frame + 2, origin_frame + 10}, origin_frame + 20);
  later.segment = 2;
  agg.on_hypothesis(later, 12.6, out);
  const std::vector<LaneNotice> notices = agg.take_notices();
  PTRT_CHECK_EQ(notices.size(), static_cast<size_t>(1));
  PTRT_CHECK_EQ(notices[0].kind, std::string("stalled"));
}

// The window start of a segment's last redecode pass over 3 s of audio with a 1 s window.
int64_t final_pass_window_start(bool read_all) {
  auto model = Model::load(kModelDir);
  std::shared_ptr<Engine> encoder = std::make_shared<FormulaEncoder>(*model);
  CaptionLanes lanes(model, parse_lanes("redecode:window=1000"), [&](int, const LaneOptions&) { return encoder; },
                     [] {}, 60000);
  const std::vector<float> audio(48000, 0.01f);
  lanes.start_segment(0, 0);
  lanes.append(audio.data(), static_cast<int64_t>(audio.size()));
  lanes.end_segment(read_all);
  lanes.close();
  int64_t start = -1;
  for (int i = 0; i < 500 && !lanes.drained(); ++i) {
    LaneHypothesis h;
    while (lanes.pop(h)) {
      if (h.segment_final) start = h.window_start_frame;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  LaneHypothesis h;
  while (lanes.pop(h)) {
    if (h.segment_final) start = h.window_start_frame;
  }
  return start;
}

void test_the_last_pass_reads_the_whole_segment_only_when_asked() {
  // In real time the cap holds for every pass (bounded cost); faster than real time the last pass reads
  // the whole segment, as only it commits there.
  const int64_t capped = final_pass_window_start(false), whole = final_pass_window_start(true);
  PTRT_CHECK_EQ(whole, static_cast<int64_t>(0));
  PTRT_CHECK(capped >= 20);  // 3 s - 1 s = 2 s = 25 encoder frames of 80 ms, frame-aligned
}

void test_v3_votes_by_time_and_weight() {
  auto model = Model::load(kModelDir);
  auto vocab = std::shared_ptr<const Vocabulary>(model, &model->vocabulary());
  const std::vector<int> w = word_starting_ids(*vocab, 4);
  AggregatorOptions o;
  o.strategy = "v3";
  o.commit_lane = 0;
  RoverAggregator agg(vocab, lanes("redecode,redecode:every=480,buffered"), o, 1280, 16000);
  agg.segment_started(1, 0);
  std::vector<AggregatorDecision> out;
  // Lanes 1 and 2 say w1 where the reference (lane 0) says w2; lanes 1 and 2 also drop the
  // reference's last word w3 while covering its time; lane 2 adds w0 at the start alone.
  agg.on_hypothesis(hyp(1, {w[0 + 1]}, {10}, 40), 0.0, out);
  agg.on_hypothesis(hyp(2, {w[0], w[1]}, {1, 10}, 40), 0.0, out);
  out.clear();
  agg.on_hypothesis(hyp(0, {w[2], w[3]}, {10, 20}, 40), 0.0, out);
  PTRT_CHECK_EQ(out.size(), static_cast<size_t>(1));
  const std::vector<TokenEmission>& shown = out[0].window;
  PTRT_CHECK_EQ(shown.size(), static_cast<size_t>(1));  // w0: 1 vote against 2 empties; w3: 1 against 2
  PTRT_CHECK_EQ(shown[0].token_id, w[1]);                // 2 votes against 1
}

}  // namespace

int main() {
  return ptrt_test::run_tests({
      {"v2_and_v3_keep_the_patch_protocol", &test_v2_and_v3_keep_the_patch_protocol},
      {"redecode_lanes_share_one_encoder_call_per_pass", &test_redecode_lanes_share_one_encoder_call_per_pass},
      {"a_failing_lane_is_reported_once_and_the_captions_go_on", &test_a_failing_lane_is_reported_once_and_the_captions_go_on},
      {"a_stalled_lane_does_not_hold_the_captions", &test_a_stalled_lane_does_not_hold_the_captions},
      {"a_pause_between_segments_is_not_a_stall", &test_a_pause_between_segments_is_not_a_stall},
      {"the_last_pass_reads_the_whole_segment_only_when_asked", &test_the_last_pass_reads_the_whole_segment_only_when_asked},
      {"every_lane_failing_ends_the_stream_with_an_error", &test_every_lane_failing_ends_the_stream_with_an_error},
      {"options_are_validated", &test_options_are_validated},
      {"candidate_lanes_replace_only_the_default_lanes", &test_candidate_lanes_replace_only_the_default_lanes},
      {"v2_commits_only_agreed_words_behind_the_lag", &test_v2_commits_only_agreed_words_behind_the_lag},
      {"a_short_redecode_window_never_commits_the_speculative_tail", &test_a_short_redecode_window_never_commits_the_speculative_tail},
      {"v3_votes_by_time_and_weight", &test_v3_votes_by_time_and_weight},
  });
}
