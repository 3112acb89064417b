// Beam search as a decoding option (decoding.hpp) on the packaged demo model with the native
// onnxruntime engine: the options' checks, OfflineRecognizer's greedy and beam results on one
// encoder output, and decode_beam (what a re-decode lane calls) equal to the recognizer's n-best.
// Equality with NeMo is tests/test_beam_search.py; the search's invariants test_tdt_beam_decoder.cpp.
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/encoder_runner.hpp"
#include "core/offline_decode.hpp"
#include "onnxruntime_test_support.hpp"
#include "parakeet_trt/decoding.hpp"
#include "parakeet_trt/engine_factory.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "test_support.hpp"

using namespace parakeet_trt;

namespace {

DecodingOptions beam(int beam_size, int nbest) {
  DecodingOptions o;
  o.strategy = "beam";
  o.beam_size = beam_size;
  o.nbest = nbest;
  return o;
}

void test_options_are_validated() {
  const DecodingOptions defaults;
  PTRT_CHECK_EQ(defaults.strategy, std::string("greedy"));
  PTRT_CHECK_EQ(defaults.beam_size, 4);
  PTRT_CHECK_EQ(defaults.nbest, 1);
  defaults.validate();
  beam(DecodingOptions::kMaxBeamSize, DecodingOptions::kMaxNBest).validate();
  DecodingOptions bad;
  bad.strategy = "Beam";
  PTRT_CHECK_THROWS(bad.validate(), std::invalid_argument, "strategy must be 'greedy' or 'beam', got 'Beam'");
  PTRT_CHECK_THROWS(beam(0, 1).validate(), std::invalid_argument, "beam_size must be in [1, 64], got 0");
  PTRT_CHECK_THROWS(beam(65, 1).validate(), std::invalid_argument, "beam_size must be in [1, 64], got 65");
  PTRT_CHECK_THROWS(beam(4, 0).validate(), std::invalid_argument, "nbest must be in [1, 64], got 0");
  DecodingOptions greedy_list;
  greedy_list.nbest = 2;
  PTRT_CHECK_THROWS(greedy_list.validate(), std::invalid_argument, "needs strategy 'beam'");
}

void test_recognizer_and_decode_beam_agree() {
  auto model = Model::load(ptrt_test::demo_model_dir());
  std::shared_ptr<Engine> encoder = make_engine(*model, "encoder", EngineOptions{});
  const std::vector<float> audio = ptrt_test::read_wav_pcm16(ptrt_test::demo_wav());
  const auto n = static_cast<int64_t>(audio.size());
  OfflineRecognizer recognizer(model, encoder);

  const Transcript greedy = recognizer.transcribe(audio.data(), n);
  PTRT_CHECK(greedy.nbest.empty());
  const Transcript best = recognizer.transcribe(audio.data(), n, beam(4, 3));
  PTRT_CHECK(best.nbest.size() >= 2 && best.nbest.size() <= 3);
  PTRT_CHECK_EQ(best.num_encoder_frames, greedy.num_encoder_frames);
  PTRT_CHECK_EQ(best.text, best.nbest[0].text);
  PTRT_CHECK_EQ(best.tokens.size(), best.nbest[0].tokens.size());
  PTRT_CHECK_EQ(best.words.size(), best.nbest[0].words.size());
  for (const Hypothesis& h : best.nbest) {
    PTRT_CHECK(std::isfinite(h.score) && h.score < 0.0f);
    PTRT_CHECK_EQ(h.word_confidences.size(), h.words.size());
    for (double c : h.word_confidences) PTRT_CHECK(c > 0.0 && c <= 1.0);
  }
  std::printf("  greedy: %s\n  beam 4: %s (score %.4f)\n", greedy.text.c_str(), best.text.c_str(), best.nbest[0].score);
  // Options changed between calls: the recognizer remakes its search; the same options give the same list.
  const Transcript one = recognizer.transcribe(audio.data(), n, beam(4, 1));
  PTRT_CHECK_EQ(one.nbest.size(), size_t{1});
  PTRT_CHECK_EQ(one.text, best.text);
  PTRT_CHECK_EQ(recognizer.transcribe(audio.data(), n, beam(4, 3)).nbest.size(), best.nbest.size());
  PTRT_CHECK_THROWS(recognizer.transcribe(audio.data(), n, beam(0, 1)), std::invalid_argument, "beam_size");

  // decode_beam on the same projected frames (the recognizer's own encode step) equals its n-best.
  FeatureExtractor features(model->meta().features);
  EncoderRunner runner(model, encoder);
  NativeDecoderStep step(model->native_decoder_weights());
  std::vector<float> feature_buffer, projected;
  Transcript encoded;
  const int64_t frames = encode_offline(*model, features, runner, step, audio.data(), n, feature_buffer, projected,
                                        encoded);
  PTRT_CHECK_EQ(frames, best.num_encoder_frames);
  const NBest lane = decode_beam(*model, projected.data(), frames, beam(4, 3));
  PTRT_CHECK_EQ(lane.size(), best.nbest.size());
  for (size_t i = 0; i < lane.size() && i < best.nbest.size(); ++i) {
    PTRT_CHECK_EQ(lane[i].text, best.nbest[i].text);
    PTRT_CHECK_EQ(lane[i].score, best.nbest[i].score);
    PTRT_CHECK(lane[i].word_confidences == best.nbest[i].word_confidences);
    for (size_t k = 0; k < lane[i].tokens.size() && k < best.nbest[i].tokens.size(); ++k) {
      PTRT_CHECK_EQ(lane[i].tokens[k].token_id, best.nbest[i].tokens[k].token_id);
      PTRT_CHECK_EQ(lane[i].tokens[k].frame, best.nbest[i].tokens[k].frame);
    }
  }
  const NBest empty = decode_beam(*model, nullptr, 0, beam(4, 3));
  PTRT_CHECK(empty.size() == 1 && empty[0].tokens.empty() && empty[0].score == 0.0f);
}

}  // namespace

int main() {
  if (!ptrt_test::onnxruntime_library_configured()) return 1;
  return ptrt_test::run_tests({
      {"options_are_validated", &test_options_are_validated},
      {"recognizer_and_decode_beam_agree", &test_recognizer_and_decode_beam_agree},
  });
}
