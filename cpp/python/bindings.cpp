// pybind11 bindings: type, ownership and error conversion only. No logic lives here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <utility>
#include <vector>

#include "core/streaming_encoder_runner.hpp"
#include "parakeet_trt/cache_aware_streaming.hpp"
#include "parakeet_trt/errors.hpp"
#include "parakeet_trt/model.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "parakeet_trt/streaming.hpp"
#include "parakeet_trt/stream_hypothesis.hpp"
#include "engine_conversion.hpp"

namespace py = pybind11;
using namespace parakeet_trt;
using parakeet_trt_python::as_engine;

py::dict emissions_to_dict(const TokenEmission* tokens, int64_t count);  // also live_stream_bindings.cpp
py::dict hypothesis_to_dict(const Hypothesis& h);                         // beam_bindings.cpp

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

int step_width(const TdtGreedyDecoder& decoder) { return decoder.joint_hidden(); }

py::dict transcript_to_dict(const Transcript& t) {
  std::vector<int> ids, durations;
  std::vector<int64_t> frames;
  std::vector<float> scores;
  for (const TokenEmission& e : t.tokens) {
    ids.push_back(e.token_id);
    frames.push_back(e.frame);
    durations.push_back(e.duration);
    scores.push_back(e.score);
  }
  py::list words;
  for (const Word& w : t.words) {
    py::dict d;
    d["word"] = w.text;
    d["start_s"] = w.start_s;
    d["end_s"] = w.end_s;
    words.append(d);
  }
  py::list nbest;
  for (const Hypothesis& h : t.nbest) nbest.append(hypothesis_to_dict(h));
  py::dict out;
  out["text"] = t.text;
  out["nbest"] = nbest;
  out["token_ids"] = ids;
  out["token_frames"] = frames;
  out["token_durations"] = durations;
  out["token_scores"] = scores;
  out["words"] = words;
  out["num_encoder_frames"] = t.num_encoder_frames;
  out["audio_duration_s"] = t.audio_duration_s;
  return out;
}

// A step's views copied out while the session still owns them (they change on the next step).
struct StepRecord {
  std::vector<TokenEmission> committed, tail;
  int64_t audio_end_sample, decoded_frames;
  bool is_last;
  std::string committed_text, tail_text;  // with a hypothesis: its texts after this step
  int64_t whole_word_tokens = 0;
};

py::list steps_to_list(const std::vector<StepRecord>& steps) {
  py::list out;
  for (const StepRecord& s : steps) {
    py::dict d;
    d["committed"] = emissions_to_dict(s.committed.data(), static_cast<int64_t>(s.committed.size()));
    d["tail"] = emissions_to_dict(s.tail.data(), static_cast<int64_t>(s.tail.size()));
    d["audio_end_sample"] = s.audio_end_sample;
    d["decoded_frames"] = s.decoded_frames;
    d["is_last"] = s.is_last;
    d["committed_text"] = s.committed_text;
    d["tail_text"] = s.tail_text;
    d["whole_word_tokens"] = s.whole_word_tokens;
    out.append(d);
  }
  return out;
}

// Records each step; with a hypothesis, also applies the step to it and records its texts.
auto step_recorder(std::vector<StepRecord>& steps, StreamHypothesis* hypothesis) {
  return [&steps, hypothesis](const StreamingStep& s) {
    StepRecord r{std::vector<TokenEmission>(s.committed, s.committed + s.num_committed),
                 std::vector<TokenEmission>(s.tail, s.tail + s.num_tail), s.audio_end_sample, s.decoded_frames,
                 s.is_last};
    if (hypothesis) {
      hypothesis->apply(s);
      r.committed_text = hypothesis->committed_text();
      r.tail_text = hypothesis->tail_text();
      r.whole_word_tokens = hypothesis->whole_word_tokens();
    }
    steps.push_back(std::move(r));
  };
}

FloatArray checked_1d(const FloatArray& a, const char* what) {
  if (a.ndim() != 1) throw std::invalid_argument(std::string(what) + " must be 1-D, got " + std::to_string(a.ndim()) + "-D");
  return a;
}

}  // namespace

py::dict emissions_to_dict(const TokenEmission* tokens, int64_t count) {
  std::vector<int> ids, durations;
  std::vector<int64_t> frames;
  for (int64_t i = 0; i < count; ++i) {
    ids.push_back(tokens[i].token_id);
    frames.push_back(tokens[i].frame);
    durations.push_back(tokens[i].duration);
  }
  py::dict out;
  out["token_ids"] = ids;
  out["token_frames"] = frames;
  out["token_durations"] = durations;
  return out;
}

void bind_transcript(py::module_& m);   // transcript_bindings.cpp
void bind_live_stream(py::module_& m);  // live_stream_bindings.cpp
void bind_beam(py::module_& m);         // beam_bindings.cpp
void bind_bench(py::module_& m);        // bench_bindings.cpp
void bind_polish_guard(py::module_& m); // polish_guard_bindings.cpp
void bind_batching(py::module_& m);     // batching_bindings.cpp
void bind_batch_transcriber(py::module_& m);  // batch_transcriber_bindings.cpp

// For batch_transcriber_bindings.cpp (transcript_to_dict is this file's own).
py::dict transcript_dict(const Transcript& t) { return transcript_to_dict(t); }

namespace {
// The module's exception class of each error code, filled when the module is initialised.
std::vector<std::pair<ErrorCode, PyObject*>> error_classes;
PyObject* base_error_class = nullptr;
}  // namespace

// The Python class an Error becomes, by its code (the subclasses carry theirs). The module's exception
// translator and batch_transcriber_bindings.cpp (which returns errors instead of raising them) use it.
PyObject* python_error_class(const Error& e) {
  for (const auto& [code, cls] : error_classes)
    if (code == e.code()) return cls;
  return base_error_class;
}

PYBIND11_MODULE(_core, m) {
  m.doc() = "parakeet_trt C++ core (features, TDT decoding, engines). Use the parakeet_trt package API.";
  m.attr("__version__") = PTRT_VERSION_STRING;

  // Exception hierarchy: ParakeetError is the base; one translator raises each Error as the class of its code.
  static py::exception<Error> base_error(m, "ParakeetError", PyExc_RuntimeError);
  static py::exception<ModelError> model_error(m, "ModelError", base_error.ptr());
  static py::exception<InvalidAudio> audio_error(m, "InvalidAudioError", base_error.ptr());
  static py::exception<EngineError> engine_error(m, "EngineError", base_error.ptr());
  static py::exception<ContractViolation> contract_error(m, "ContractViolation", base_error.ptr());
  static py::exception<Error> unavailable_error(m, "UnavailableError", base_error.ptr());
  base_error_class = base_error.ptr();
  error_classes = {{ErrorCode::kContractViolation, contract_error.ptr()}, {ErrorCode::kInvalidArgument, PyExc_ValueError},
                   {ErrorCode::kUnavailable, unavailable_error.ptr()},   {ErrorCode::kInvalidAudio, audio_error.ptr()},
                   {ErrorCode::kModel, model_error.ptr()},               {ErrorCode::kEngine, engine_error.ptr()}};
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      py::set_error(python_error_class(e), e.what());
    }
  });

  py::class_<Model, std::shared_ptr<Model>>(m, "Model")
      .def_static(
          "load",
          [](const std::string& directory, bool verify_hashes, bool full_verify) {
            ModelLoadOptions options;
            options.verify_hashes = verify_hashes;
            options.full_verify = full_verify;
            return std::const_pointer_cast<Model>(Model::load(directory, options));
          },
          py::arg("directory"), py::arg("verify_hashes") = true, py::arg("full_verify") = false)
      .def_property_readonly("hash_checks", &Model::hash_checks)
      .def_property_readonly("encoder_precision", [](const Model& mdl) { return mdl.meta().encoder_graph.precision; })
      .def_property_readonly("directory", &Model::directory)
      .def_property_readonly("name", [](const Model& mdl) { return mdl.meta().model_name; })
      .def_property_readonly("sample_rate_hz", [](const Model& mdl) { return mdl.meta().features.sample_rate_hz; })
      .def_property_readonly("n_mels", [](const Model& mdl) { return mdl.meta().features.n_mels; })
      .def_property_readonly("encoder_dim", [](const Model& mdl) { return mdl.meta().encoder.d_model; })
      .def_property_readonly("vocab_size", [](const Model& mdl) { return mdl.meta().decoding.vocab_size; })
      .def_property_readonly("blank_id", [](const Model& mdl) { return mdl.meta().decoding.blank_id; })
      .def_property_readonly("durations", [](const Model& mdl) { return mdl.meta().decoding.durations; })
      .def_property_readonly("max_symbols", [](const Model& mdl) { return mdl.meta().decoding.max_symbols; })
      .def_property_readonly("frame_stride_s", [](const Model& mdl) { return mdl.meta().encoder.frame_stride_s; })
      .def_property_readonly("max_encoder_frames", [](const Model& mdl) { return mdl.meta().encoder.max_encoder_frames; })
      .def_property_readonly("encoder_file", [](const Model& mdl) { return mdl.meta().encoder_graph.file; })
      .def_property_readonly("decoder_joint_file", [](const Model& mdl) { return mdl.meta().decoder_joint_graph.file; })
      .def_property_readonly("artifact_sha256", [](const Model& mdl) { return mdl.meta().artifact_sha256; })
      .def("encoded_length", [](const Model& mdl, int64_t frames) { return mdl.meta().encoder.encoded_length(frames); })
      .def_property_readonly("contract_file", [](const Model& mdl) { return mdl.meta().contract_file; })
      .def_property_readonly("has_encoder", [](const Model& mdl) { return mdl.contract().has_engine("encoder"); })
      .def_property_readonly("streaming_profile", [](const Model& mdl) -> py::object {
        if (!mdl.contract().streaming.present) return py::none();
        return py::str(mdl.contract().streaming.profile);
      })
      .def("token_text", [](const Model& mdl, int id) { return mdl.vocabulary().token_text(id); })
      .def("piece", [](const Model& mdl, int id) { return mdl.vocabulary().piece(id); })
      .def(
          "detokenize",
          [](const Model& mdl, const std::vector<int>& ids) {
            std::vector<TokenEmission> tokens;
            tokens.reserve(ids.size());
            for (int id : ids) tokens.push_back({id, 0, 0, 0.f});
            return mdl.vocabulary().detokenize(tokens);
          },
          py::arg("token_ids"), "Text of a token sequence (SentencePiece rules, as transcripts render it).")
      .def(
          "render",
          [](const Model& mdl, const std::vector<int>& ids, const std::vector<int64_t>& frames,
             const std::vector<int>& durations) {
            if (frames.size() != ids.size() || durations.size() != ids.size()) {
              throw std::invalid_argument("render(): token_ids, token_frames and token_durations differ in length");
            }
            Transcript t;
            for (size_t i = 0; i < ids.size(); ++i) t.tokens.push_back({ids[i], frames[i], durations[i], 0.f});
            t.text = mdl.vocabulary().detokenize(t.tokens);
            t.words = mdl.vocabulary().words(t.tokens, mdl.meta().encoder.frame_stride_s);
            return transcript_to_dict(t);
          },
          py::arg("token_ids"), py::arg("token_frames"), py::arg("token_durations"),
          "Transcript dict (text, words with times) of decoded tokens.");

  py::class_<FeatureExtractor>(m, "FeatureExtractor")
      .def(py::init([](const Model& mdl) { return new FeatureExtractor(mdl.meta().features); }), py::arg("model"))
      .def("num_frames", &FeatureExtractor::num_frames)
      .def("num_valid_frames", &FeatureExtractor::num_valid_frames)
      .def(
          "compute",
          [](FeatureExtractor& fx, const FloatArray& samples) {
            checked_1d(samples, "samples");
            validate_audio(samples.data(), samples.shape(0));
            const int64_t frames = fx.num_frames(samples.shape(0));
            FloatArray out({static_cast<py::ssize_t>(fx.config().n_mels), static_cast<py::ssize_t>(frames)});
            {
              py::gil_scoped_release release;
              fx.compute(samples.data(), samples.shape(0), out.mutable_data());
            }
            return py::make_tuple(out, fx.num_valid_frames(samples.shape(0)));
          },
          py::arg("samples"), "NeMo log-mel features [n_mels, num_frames] and the number of valid frames.")
      .def_property_readonly("mel_filterbank", [](const FeatureExtractor& fx) {
        const auto& fb = fx.mel_filterbank();
        FloatArray out({static_cast<py::ssize_t>(fx.config().n_mels), static_cast<py::ssize_t>(fx.config().n_fft / 2 + 1)});
        std::memcpy(out.mutable_data(), fb.data(), fb.size() * sizeof(float));
        return out;
      });

  py::class_<PredictorState>(m, "PredictorState")
      .def_property_readonly("h", [](const PredictorState& s) { return FloatArray(s.h.size(), s.h.data()); })
      .def_property_readonly("c", [](const PredictorState& s) { return FloatArray(s.c.size(), s.c.data()); })
      .def_property_readonly("projected",
                             [](const PredictorState& s) { return FloatArray(s.projected.size(), s.projected.data()); });

  py::class_<NativeDecoderStep>(m, "NativeDecoderStep")
      .def(py::init([](const Model& mdl) { return new NativeDecoderStep(mdl.native_decoder_weights()); }), py::arg("model"))
      .def("make_state", &NativeDecoderStep::make_state)
      .def(
          "project_encoder",
          [](NativeDecoderStep& step, const FloatArray& encoder_out) {
            if (encoder_out.ndim() != 2 || encoder_out.shape(0) != step.encoder_dim()) {
              throw std::invalid_argument("encoder_out must be [encoder_dim, num_frames]");
            }
            FloatArray out({encoder_out.shape(1), static_cast<py::ssize_t>(step.joint_hidden())});
            step.project_encoder(encoder_out.data(), encoder_out.shape(1), out.mutable_data());
            return out;
          },
          py::arg("encoder_out"))
      .def(
          "predict",
          [](NativeDecoderStep& step, int token, const PredictorState& state) {
            PredictorState next = step.make_state();
            step.predict(token, state, next);
            return next;
          },
          py::arg("token"), py::arg("state"))
      .def(
          "joint",
          [](NativeDecoderStep& step, const FloatArray& projected_frame, const PredictorState& state) {
            checked_1d(projected_frame, "projected_frame");
            if (projected_frame.shape(0) != step.joint_hidden()) throw std::invalid_argument("projected_frame has the wrong size");
            FloatArray logits(static_cast<py::ssize_t>(step.num_outputs()));
            step.joint(projected_frame.data(), state, logits.mutable_data());
            return logits;
          },
          py::arg("projected_frame"), py::arg("state"));

  py::class_<TdtGreedyDecoder>(m, "TdtGreedyDecoder")
      .def(py::init([](const Model& mdl, NativeDecoderStep& step) { return new TdtGreedyDecoder(mdl.meta().decoding, step); }),
           py::arg("model"), py::arg("step"), py::keep_alive<1, 3>())
      .def(
          "decode",
          [](TdtGreedyDecoder& decoder, const FloatArray& projected, int64_t num_frames) {
            if (projected.ndim() != 2 || projected.shape(1) != step_width(decoder) || num_frames < 0 ||
                num_frames > projected.shape(0)) {
              throw std::invalid_argument("projected must be [frames, joint_hidden] with num_frames <= frames");
            }
            std::vector<TokenEmission> emissions;
            {
              py::gil_scoped_release release;
              DecoderCarry carry = decoder.make_carry();
              decoder.decode(projected.data(), num_frames, carry, emissions);
            }
            std::vector<int> ids, durations;
            std::vector<int64_t> frames;
            for (const TokenEmission& e : emissions) {
              ids.push_back(e.token_id);
              frames.push_back(e.frame);
              durations.push_back(e.duration);
            }
            return py::make_tuple(ids, frames, durations);
          },
          py::arg("projected"), py::arg("num_frames"), "Decode one utterance; returns (token_ids, frames, durations).");

  py::class_<StreamingEncoderRunner>(m, "StreamingEncoderRunner")
      .def(py::init([](std::shared_ptr<Model> mdl, py::object engine) {
             return new StreamingEncoderRunner(mdl, as_engine(std::move(engine)));
           }),
           py::arg("model"), py::arg("engine"))
      .def(
          "run",
          [](StreamingEncoderRunner& runner, const FloatArray& window, int64_t length) {
            if (window.ndim() != 2) throw std::invalid_argument("window must be [n_mels, window_frames]");
            StreamingEncoderOutput out;
            {
              py::gil_scoped_release release;
              out = runner.run(window.data(), window.shape(0), window.shape(1), length);
            }
            FloatArray frames({static_cast<py::ssize_t>(runner.profile().d_model), static_cast<py::ssize_t>(out.num_frames)});
            std::memcpy(frames.mutable_data(), out.data, static_cast<size_t>(frames.size()) * sizeof(float));
            py::dict d;
            d["outputs"] = frames;
            d["encoded_length"] = out.num_valid_frames;
            d["cache_len"] = out.cache_len;
            return d;
          },
          py::arg("window"), py::arg("length"),
          "One call: window [n_mels, window_frames], valid length -> {outputs [d_model, frames], encoded_length, cache_len}.")
      .def("reset", &StreamingEncoderRunner::reset)
      .def_property_readonly("calls", &StreamingEncoderRunner::calls)
      .def_property_readonly("cache_len", &StreamingEncoderRunner::cache_len)
      .def_property_readonly("profile", [](const StreamingEncoderRunner& r) { return r.profile().profile; })
      .def_property_readonly("window_frames", [](const StreamingEncoderRunner& r) { return r.profile().window_frames; })
      .def_property_readonly("advance_frames", [](const StreamingEncoderRunner& r) { return r.profile().advance_frames_per_call; })
      .def_property_readonly("pre_encode_cache_frames", [](const StreamingEncoderRunner& r) { return r.profile().pre_encode_cache_size; })
      .def_property_readonly("min_length", [](const StreamingEncoderRunner& r) { return r.profile().min_length; })
      .def_property_readonly("output_frames", [](const StreamingEncoderRunner& r) { return r.profile().output_frames_per_call; });

  py::class_<OfflineRecognizer>(m, "OfflineRecognizer")
      .def(py::init([](std::shared_ptr<Model> mdl, py::object engine) {
             return new OfflineRecognizer(mdl, as_engine(std::move(engine)));
           }),
           py::arg("model"), py::arg("encoder_engine"))
      .def(
          "transcribe",
          [](OfflineRecognizer& rec, const FloatArray& samples, const std::string& decoding, int beam_size, int nbest) {
            checked_1d(samples, "samples");
            DecodingOptions options;
            options.strategy = decoding;
            options.beam_size = beam_size;
            options.nbest = nbest;
            Transcript t;
            {
              py::gil_scoped_release release;
              t = rec.transcribe(samples.data(), samples.shape(0), options);
            }
            return transcript_to_dict(t);
          },
          py::arg("samples"), py::arg("decoding") = DecodingOptions{}.strategy,
          py::arg("beam_size") = DecodingOptions{}.beam_size, py::arg("nbest") = DecodingOptions{}.nbest,
          "Transcribe mono float32 audio at the model's sample rate; decoding 'greedy' or 'beam' (with an n-best "
          "list of up to nbest hypotheses under 'nbest').");

  py::class_<StreamHypothesis>(m, "StreamHypothesis")
      .def(py::init([](const std::shared_ptr<Model>& mdl) {
             return new StreamHypothesis(std::shared_ptr<const Vocabulary>(mdl, &mdl->vocabulary()));
           }),
           py::arg("model"), "Committed tokens and whole-word texts of a stream (pass it to push/finish).")
      .def_property_readonly("committed_text", &StreamHypothesis::committed_text)
      .def_property_readonly("tail_text", &StreamHypothesis::tail_text)
      .def_property_readonly("num_committed", [](const StreamHypothesis& h) { return h.committed_tokens().size(); })
      .def("committed", [](const StreamHypothesis& h) {
        return emissions_to_dict(h.committed_tokens().data(), static_cast<int64_t>(h.committed_tokens().size()));
      });

  // Every streaming mode shares push/finish/redecode and the counters (StreamingSession).
  py::class_<StreamingSession>(m, "StreamingSessionBase")
      .def(
          "push",
          [](StreamingSession& s, const FloatArray& samples, StreamHypothesis* hypothesis) {
            checked_1d(samples, "samples");
            std::vector<StepRecord> steps;
            {
              py::gil_scoped_release release;
              s.push(samples.data(), samples.shape(0), step_recorder(steps, hypothesis));
            }
            return steps_to_list(steps);
          },
          py::arg("samples"), py::arg("hypothesis") = nullptr,
          "Append mono float32 samples; returns the steps they completed (list of dicts; with a hypothesis, "
          "also its committed_text and tail_text after each step).")
      .def(
          "finish",
          [](StreamingSession& s, StreamHypothesis* hypothesis) {
            std::vector<StepRecord> steps;
            {
              py::gil_scoped_release release;
              s.finish(step_recorder(steps, hypothesis));
            }
            return steps_to_list(steps);
          },
          py::arg("hypothesis") = nullptr,
          "Run the remaining step(s) and close the stream; returns them (the last has is_last).")
      .def(
          "redecode",
          [](StreamingSession& s, int64_t begin, int64_t end) {
            Transcript t;
            {
              py::gil_scoped_release release;
              t = s.redecode(begin, end);
            }
            return transcript_to_dict(t);
          },
          py::arg("begin_sample"), py::arg("end_sample"), "Offline transcription of retained samples [begin, end).")
      .def_property_readonly("finished", &StreamingSession::finished)
      .def_property_readonly("samples_received", &StreamingSession::samples_received)
      .def_property_readonly("samples_consumed", &StreamingSession::samples_consumed)
      .def_property_readonly("steps", &StreamingSession::steps)
      .def_property_readonly("encoder_frame_samples", &StreamingSession::encoder_frame_samples);

  py::class_<BufferedStreamingSession, StreamingSession>(m, "BufferedStreamingSession")
      .def(py::init([](std::shared_ptr<Model> mdl, py::object engine, int64_t chunk_ms, int64_t left_ms,
                       int64_t right_ms, int64_t history_ms) {
             BufferedStreamingConfig cfg;
             cfg.chunk_ms = chunk_ms;
             cfg.left_ms = left_ms;
             cfg.right_ms = right_ms;
             cfg.history_ms = history_ms;
             return new BufferedStreamingSession(mdl, as_engine(std::move(engine)), cfg);
           }),
           py::arg("model"), py::arg("encoder_engine"), py::arg("chunk_ms"), py::arg("left_ms"), py::arg("right_ms"),
           py::arg("history_ms") = 30000);

  py::class_<CacheAwareStreamingSession, StreamingSession>(m, "CacheAwareStreamingSession")
      .def(py::init([](std::shared_ptr<Model> mdl, py::object engine, const std::string& profile) {
             CacheAwareStreamingConfig cfg;
             cfg.profile = profile;
             return new CacheAwareStreamingSession(mdl, as_engine(std::move(engine)), cfg);
           }),
           py::arg("model"), py::arg("streaming_encoder_engine"), py::arg("profile") = "")
      .def_property_readonly("profile", &CacheAwareStreamingSession::profile)
      .def_property_readonly("window_frames", &CacheAwareStreamingSession::window_frames)
      .def_property_readonly("advance_frames", &CacheAwareStreamingSession::advance_frames)
      .def_property_readonly("encoder_calls", &CacheAwareStreamingSession::encoder_calls);

  bind_transcript(m);
  bind_live_stream(m);
  bind_beam(m);
  bind_bench(m);
  bind_polish_guard(m);
  bind_batching(m);
  bind_batch_transcriber(m);
}
