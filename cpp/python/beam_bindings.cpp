// pybind11 bindings of the TDT beam decoder: type, ownership and error conversion only.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <stdexcept>
#include <vector>

#include "parakeet_trt/decoding.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/tdt_beam_decoder.hpp"

namespace py = pybind11;
using namespace parakeet_trt;

py::dict emissions_to_dict(const TokenEmission* tokens, int64_t count);  // bindings.cpp

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

// The decoder with the step it borrows and the model it reads (owned together).
struct BeamDecoderHandle {
  BeamDecoderHandle(std::shared_ptr<Model> mdl, const TdtBeamConfig& beam)
      : model(std::move(mdl)), step(model->native_decoder_weights()), decoder(model->meta().decoding, beam, step) {}
  std::shared_ptr<Model> model;
  NativeDecoderStep step;
  TdtBeamDecoder decoder;
};

py::dict hypothesis_to_dict(const Model& model, const BeamHypothesis& h) {
  std::vector<int> ids, durations;
  std::vector<int64_t> frames;
  std::vector<float> token_logprobs, duration_logprobs;
  std::vector<TokenEmission> emissions;
  for (const BeamToken& t : h.tokens) {
    ids.push_back(t.token_id);
    frames.push_back(t.frame);
    durations.push_back(t.duration);
    token_logprobs.push_back(t.token_logprob);
    duration_logprobs.push_back(t.duration_logprob);
    emissions.push_back({t.token_id, t.frame, t.duration, t.token_logprob});
  }
  py::list words;
  for (const WordConfidence& w : word_confidences(model.vocabulary(), h)) {
    py::dict d;
    d["word"] = w.word;
    d["confidence"] = w.confidence;
    d["first_token"] = w.first_token;
    d["num_tokens"] = w.num_tokens;
    words.append(d);
  }
  py::dict out;
  out["token_ids"] = ids;
  out["token_frames"] = frames;
  out["token_durations"] = durations;
  out["score"] = h.score;
  out["sort_key"] = h.sort_key;
  out["last_frame"] = h.last_frame;
  out["token_logprobs"] = token_logprobs;
  out["duration_logprobs"] = duration_logprobs;
  out["text"] = model.vocabulary().detokenize(emissions);
  out["words"] = words;
  return out;
}

}  // namespace

// One n-best entry of a transcript (OfflineRecognizer.transcribe with decoding "beam").
py::dict hypothesis_to_dict(const Hypothesis& h) {
  py::dict out = emissions_to_dict(h.tokens.data(), static_cast<int64_t>(h.tokens.size()));
  std::vector<float> logprobs;
  for (const TokenEmission& t : h.tokens) logprobs.push_back(t.score);
  py::list words;
  for (size_t i = 0; i < h.words.size(); ++i) {
    py::dict d;
    d["word"] = h.words[i].text;
    d["start_s"] = h.words[i].start_s;
    d["end_s"] = h.words[i].end_s;
    d["confidence"] = h.word_confidences[i];
    words.append(d);
  }
  out["text"] = h.text;
  out["score"] = h.score;
  out["token_logprobs"] = logprobs;
  out["words"] = words;
  return out;
}

void bind_beam(py::module_& m) {
  py::class_<BeamDecoderHandle>(m, "TdtBeamDecoder")
      .def(py::init([](std::shared_ptr<Model> mdl, int beam_size, bool score_norm, float softmax_temperature,
                       int max_expansions_per_frame) {
             TdtBeamConfig beam;
             beam.beam_size = beam_size;
             beam.score_norm = score_norm;
             beam.softmax_temperature = softmax_temperature;
             beam.max_expansions_per_frame = max_expansions_per_frame;
             return new BeamDecoderHandle(std::move(mdl), beam);
           }),
           py::arg("model"), py::arg("beam_size") = 4, py::arg("score_norm") = true,
           py::arg("softmax_temperature") = 1.0f, py::arg("max_expansions_per_frame") = TdtBeamConfig{}.max_expansions_per_frame)
      .def_property_readonly("beam_size", [](const BeamDecoderHandle& h) { return h.decoder.beam().beam_size; })
      .def_property_readonly("peak_expansions_per_frame",
                             [](const BeamDecoderHandle& h) { return h.decoder.peak_expansions_per_frame(); })
      .def_property_readonly("expansion_bound_reached",
                             [](const BeamDecoderHandle& h) { return h.decoder.expansion_bound_reached(); })
      .def(
          "decode",
          [](BeamDecoderHandle& h, const FloatArray& projected, int64_t num_frames) {
            if (projected.ndim() != 2 || projected.shape(1) != h.decoder.joint_hidden() || num_frames < 0 ||
                num_frames > projected.shape(0)) {
              throw std::invalid_argument("projected must be [frames, joint_hidden] with 0 <= num_frames <= frames");
            }
            std::vector<BeamHypothesis> nbest;
            {
              py::gil_scoped_release release;
              h.decoder.decode(projected.data(), num_frames, nbest);
            }
            py::list out;
            for (const BeamHypothesis& hyp : nbest) out.append(hypothesis_to_dict(*h.model, hyp));
            return out;
          },
          py::arg("projected"), py::arg("num_frames"),
          "NeMo's TDT beam search (strategy 'beam') on projected encoder frames: the n-best list, best first.");
}
