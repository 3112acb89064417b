// The C ABI: converts types, ownership and errors; no logic of its own. Models, engines, sessions,
// streams and transcript states here; live streams in live_stream_api.cpp, audio in audio_api.cpp.
#include "parakeet_trt/parakeet_trt.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "c_api/c_api_support.hpp"
#include "parakeet_trt/cache_aware_streaming.hpp"
#include "parakeet_trt/recognizer.hpp"
#include "parakeet_trt/streaming.hpp"

using namespace parakeet_trt;
using namespace parakeet_trt::c_api;

struct ptrt_session {
  // Borrowed C views of one token and word list (the transcript's or an n-best entry's).
  struct Views {
    std::vector<ptrt_token> tokens;
    std::vector<ptrt_word> words;
    void assign(const std::vector<parakeet_trt::TokenEmission>& t, const std::vector<parakeet_trt::Word>& w);
  };
  std::shared_ptr<const Model> model;
  std::unique_ptr<OfflineRecognizer> recognizer;
  Transcript transcript;  // backs the borrowed views
  Views views;
  std::vector<Views> nbest;  // of transcript.nbest
};

void ptrt_session::Views::assign(const std::vector<parakeet_trt::TokenEmission>& t,
                                 const std::vector<parakeet_trt::Word>& w) {
  parakeet_trt::c_api::to_c_tokens(t.data(), t.size(), tokens);
  words.clear();
  for (const parakeet_trt::Word& word : w) words.push_back(ptrt_word{word.text.c_str(), word.start_s, word.end_s});
}

struct ptrt_stream {
  std::unique_ptr<StreamingSession> session;  // buffered or cache-aware
  std::vector<ptrt_token> committed, tail;  // reserved at creation: steps allocate nothing
};

namespace parakeet_trt::c_api {

namespace {

const EngineOptions& default_engine_options() {
  static const EngineOptions defaults;  // backs the default name's storage for every init
  return defaults;
}

}  // namespace

ptrt_status adopt_engine(const char* function, const ptrt_model* model, const ptrt_engine_vtable* encoder,
                         bool has_out, std::shared_ptr<ExternalEngine>& engine) {
  if (!model || !encoder || !has_out) {
    if (encoder && encoder->destroy && encoder->struct_size >= sizeof(ptrt_engine_vtable)) {
      encoder->destroy(encoder->self);
    }
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(function) + ": model, encoder and the output pointer must not be NULL");
  }
  try {
    engine = std::make_shared<ExternalEngine>(*encoder);  // owns encoder->self from here on
  } catch (const std::bad_alloc&) {
    if (encoder->destroy) encoder->destroy(encoder->self);  // never constructed: release it here
    return fail(PTRT_ERROR_INTERNAL, "out of memory");
  } catch (const Error& e) {  // incomplete vtable: the constructor already released self
    return fail(static_cast<ptrt_status>(static_cast<int>(e.code())), e.what());
  }
  return PTRT_OK;
}

ptrt_status to_engine_options(const char* fn, const ptrt_engine_options* options, EngineOptions& out) {
  ptrt_engine_options c;
  const ptrt_status read = PTRT_READ_OPTIONS(fn, options, ptrt_engine_options, name, c);
  if (read != PTRT_OK) return read;
  const EngineOptions& d = default_engine_options();
  out.name = text_or(c.name, d.name);
  if (out.name == "external") {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": engine_options.name \"external\": an external engine "
                                             "is passed as a ptrt_engine_vtable (ptrt_session_create, ptrt_stream_create)");
  }
  out.providers.clear();
  const std::string providers = text_or(c.providers, "");
  for (size_t begin = 0; begin <= providers.size();) {
    size_t end = providers.find(',', begin);
    if (end == std::string::npos) end = providers.size();
    std::string item = providers.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (!item.empty()) out.providers.push_back(item);
    begin = end + 1;
  }
  out.intra_op_threads = c.intra_op_threads;
  out.device_id = c.device_id;
  out.onnxruntime_library = text_or(c.onnxruntime_library, d.onnxruntime_library);
  out.trt_engine_dir = text_or(c.trt_engine_dir, d.trt_engine_dir);
  if (c.allow_spinning != 0 && c.allow_spinning != 1) {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": engine_options.allow_spinning must be 0 or 1, got " +
                                                 std::to_string(c.allow_spinning));
  }
  out.allow_spinning = c.allow_spinning != 0;
  return PTRT_OK;
}

std::shared_ptr<Engine> shared_engine(const ptrt_model* model, const std::string& graph, const EngineOptions& options) {
  return model->model->engine(graph, options);
}

ptrt_status to_stream_options(const char* fn, const ptrt_stream_options* options, StreamOptions& out) {
  ptrt_stream_options c;
  const ptrt_status read = PTRT_READ_OPTIONS(fn, options, ptrt_stream_options, chunk_ms, c);
  if (read != PTRT_OK) return read;
  if (c.mode != PTRT_STREAM_MODE_BUFFERED && c.mode != PTRT_STREAM_MODE_CACHE_AWARE) {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": options.mode " + std::to_string(c.mode) +
                                                 " is neither PTRT_STREAM_MODE_BUFFERED (0) nor "
                                                 "PTRT_STREAM_MODE_CACHE_AWARE (1)");
  }
  out.mode = c.mode == PTRT_STREAM_MODE_CACHE_AWARE ? "cache_aware" : "buffered";
  out.buffered.chunk_ms = c.chunk_ms;
  out.buffered.left_ms = c.left_ms;
  out.buffered.right_ms = c.right_ms;
  out.buffered.history_ms = c.history_ms;
  out.cache_aware.profile = text_or(c.profile, "");
  return PTRT_OK;
}

std::string stream_graph(const StreamOptions& options) {
  return options.mode == "cache_aware" ? "encoder_streaming" : "encoder";
}

void to_c_tokens(const TokenEmission* tokens, size_t count, std::vector<ptrt_token>& out) {
  out.clear();
  for (size_t i = 0; i < count; ++i) out.push_back(ptrt_token{tokens[i].token_id, tokens[i].duration, tokens[i].frame});
}

void EventViews::publish(const std::vector<TranscriptEvent>& events) {
  events_.clear();
  words_.clear();
  for (const TranscriptEvent& e : events) {
    std::vector<ptrt_word> words;
    for (const TranscriptWord& w : e.words) words.push_back(ptrt_word{w.text.c_str(), w.start_s, w.end_s});
    words_.push_back(std::move(words));
    ptrt_transcript_event v{};
    v.type = static_cast<int32_t>(e.type);
    v.seq = e.seq;
    v.committed_len = e.committed_len;
    v.replace_from = e.replace_from;
    v.text = e.text.c_str();
    v.text_size = e.text.size();
    v.audio_end_s = e.audio_end_s;
    v.segment = e.segment;
    v.start_s = e.start_s;
    v.end_s = e.end_s;
    v.words = words_.back().data();
    v.num_words = words_.back().size();
    events_.push_back(v);
  }
}

ptrt_status to_transcript_options(const char* fn, const ptrt_transcript_options* options, TranscriptOptions& out) {
  ptrt_transcript_options c;
  const ptrt_status read = PTRT_READ_OPTIONS(fn, options, ptrt_transcript_options, stable_updates, c);
  if (read != PTRT_OK) return read;
  out.stable_updates = c.stable_updates;
  out.max_window_tokens = c.max_window_tokens;
  out.max_lag_ms = c.max_lag_ms;
  out.endpoint_blank_ms = c.endpoint_blank_ms;
  out.endpoint_vad_ms = c.endpoint_vad_ms;
  out.endpoint_require_both = c.endpoint_require_both != 0;
  out.commit_whole_words = c.commit_whole_words != 0;
  return PTRT_OK;
}

}  // namespace parakeet_trt::c_api

extern "C" {

const char* ptrt_version(void) { return PTRT_VERSION_STRING; }
int32_t ptrt_abi_version(void) { return PTRT_ABI_VERSION; }
const char* ptrt_last_error(void) { return last_error().c_str(); }

const char* ptrt_status_name(ptrt_status status) {
  switch (status) {
    case PTRT_OK: return "PTRT_OK";
    case PTRT_ERROR_INVALID_ARGUMENT: return "PTRT_ERROR_INVALID_ARGUMENT";
    case PTRT_ERROR_INVALID_AUDIO: return "PTRT_ERROR_INVALID_AUDIO";
    case PTRT_ERROR_MODEL: return "PTRT_ERROR_MODEL";
    case PTRT_ERROR_CONTRACT_VIOLATION: return "PTRT_ERROR_CONTRACT_VIOLATION";
    case PTRT_ERROR_ENGINE: return "PTRT_ERROR_ENGINE";
    case PTRT_ERROR_STATE: return "PTRT_ERROR_STATE";
    case PTRT_ERROR_UNAVAILABLE: return "PTRT_ERROR_UNAVAILABLE";
    case PTRT_ERROR_INTERNAL: return "PTRT_ERROR_INTERNAL";
  }
  return "PTRT_STATUS_UNKNOWN";
}

void ptrt_model_options_init(ptrt_model_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
  options->verify_hashes = 1;
}

ptrt_status ptrt_model_load(const char* model_dir, const ptrt_model_options* options, ptrt_model** out_model) {
  PTRT_REQUIRE(model_dir && out_model, "ptrt_model_load: model_dir and out_model must not be NULL");
  *out_model = nullptr;
  ptrt_model_options opts;
  const ptrt_status read = PTRT_READ_OPTIONS("ptrt_model_load", options, ptrt_model_options, verify_hashes, opts);
  if (read != PTRT_OK) return read;
  return guarded([&] {
    ModelLoadOptions load_options;
    load_options.verify_hashes = opts.verify_hashes != 0;
    auto handle = std::make_unique<ptrt_model>();
    handle->model = Model::load(model_dir, load_options);
    *out_model = handle.release();
    return PTRT_OK;
  });
}

void ptrt_model_destroy(ptrt_model* model) { delete model; }

void ptrt_model_info_init(ptrt_model_info* info) {
  if (!info) return;
  std::memset(info, 0, sizeof(*info));
  info->struct_size = sizeof(*info);
}

ptrt_status ptrt_model_get_info(const ptrt_model* model, ptrt_model_info* info) {
  PTRT_REQUIRE(model && info, "ptrt_model_get_info: model and info must not be NULL");
  const ModelMeta& meta = model->model->meta();
  ptrt_model_info full;
  ptrt_model_info_init(&full);
  full.sample_rate_hz = meta.features.sample_rate_hz;
  full.num_mel_bins = meta.features.n_mels;
  full.encoder_dim = meta.encoder.d_model;
  full.vocab_size = meta.decoding.vocab_size;
  full.blank_id = meta.decoding.blank_id;
  full.max_symbols = meta.decoding.max_symbols;
  full.subsampling_factor = meta.encoder.subsampling_factor;
  full.frame_stride_s = meta.encoder.frame_stride_s;
  full.max_encoder_frames = meta.encoder.max_encoder_frames;
  full.model_name = meta.model_name.c_str();
  return write_prefix("ptrt_model_get_info", "info", full, PTRT_PREFIX_MIN(ptrt_model_info, sample_rate_hz),
                      "ptrt_model_info_init", info);
}

ptrt_status ptrt_model_feature_frames(const ptrt_model* model, int64_t num_samples, int64_t* out_num_frames,
                                      int64_t* out_num_valid_frames) {
  PTRT_REQUIRE(model && out_num_frames && out_num_valid_frames, "ptrt_model_feature_frames: NULL argument");
  PTRT_REQUIRE(num_samples >= 0, "ptrt_model_feature_frames: num_samples must be >= 0");
  return guarded([&] {
    FeatureExtractor extractor(model->model->meta().features);
    *out_num_frames = extractor.num_frames(num_samples);
    *out_num_valid_frames = extractor.num_valid_frames(num_samples);
    return PTRT_OK;
  });
}

ptrt_status ptrt_model_compute_features(const ptrt_model* model, const float* samples, int64_t num_samples,
                                        float* out_features, int64_t capacity) {
  PTRT_REQUIRE(model && out_features, "ptrt_model_compute_features: model and out_features must not be NULL");
  return guarded([&] {
    validate_audio(samples, num_samples);
    FeatureExtractor extractor(model->model->meta().features);
    int64_t needed = extractor.num_frames(num_samples) * model->model->meta().features.n_mels;
    if (capacity < needed) {
      return fail(PTRT_ERROR_INVALID_ARGUMENT, "ptrt_model_compute_features: capacity " + std::to_string(capacity) +
                                                   " floats is less than the " + std::to_string(needed) + " needed");
    }
    extractor.compute(samples, num_samples, out_features);
    return PTRT_OK;
  });
}

ptrt_status ptrt_model_detokenize(const ptrt_model* model, const int32_t* token_ids, size_t num_tokens,
                                  char* out_text, size_t capacity, size_t* out_length) {
  PTRT_REQUIRE(model && (token_ids || num_tokens == 0), "ptrt_model_detokenize: model and token_ids must not be NULL");
  return guarded([&] {
    const int vocab = model->model->meta().decoding.vocab_size;
    std::vector<TokenEmission> tokens;
    tokens.reserve(num_tokens);
    for (size_t i = 0; i < num_tokens; ++i) {
      if (token_ids[i] < 0 || token_ids[i] >= vocab) {
        return fail(PTRT_ERROR_INVALID_ARGUMENT, "ptrt_model_detokenize: token " + std::to_string(i) + " is " +
                                                     std::to_string(token_ids[i]) + ", outside [0, " +
                                                     std::to_string(vocab) + ")");
      }
      tokens.push_back(TokenEmission{token_ids[i], 0, 0, 0.f});
    }
    const std::string text = model->model->vocabulary().detokenize(tokens);
    if (out_length) *out_length = text.size();
    if (!out_text || capacity < text.size() + 1) {
      return fail(PTRT_ERROR_INVALID_ARGUMENT, "ptrt_model_detokenize: the text needs " + std::to_string(text.size() + 1) +
                                                   " bytes, capacity is " + std::to_string(capacity));
    }
    std::memcpy(out_text, text.c_str(), text.size() + 1);
    return PTRT_OK;
  });
}


void ptrt_engine_options_init(ptrt_engine_options* options) {
  if (!options) return;
  const EngineOptions& d = default_engine_options();
  *options = ptrt_engine_options{};
  options->struct_size = sizeof(ptrt_engine_options);
  options->name = d.name.c_str();
  options->intra_op_threads = d.intra_op_threads;
  options->device_id = d.device_id;
  options->allow_spinning = d.allow_spinning ? 1 : 0;
}

void ptrt_session_options_init(ptrt_session_options* options) {
  if (!options) return;
  std::memset(options, 0, sizeof(*options));
  options->struct_size = sizeof(*options);
}

namespace {

ptrt_status new_session(const char* fn, const ptrt_model* model, std::shared_ptr<Engine> engine,
                        const ptrt_session_options* options, ptrt_session** out_session) {
  ptrt_session_options opts;
  const ptrt_status read = PTRT_READ_OPTIONS(fn, options, ptrt_session_options, reserved, opts);
  if (read != PTRT_OK) return read;
  auto session = std::make_unique<ptrt_session>();
  session->model = model->model;
  session->recognizer = std::make_unique<OfflineRecognizer>(model->model, std::move(engine));
  *out_session = session.release();
  return PTRT_OK;
}

}  // namespace

ptrt_status ptrt_session_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                                const ptrt_session_options* options, ptrt_session** out_session) {
  if (out_session) *out_session = nullptr;
  std::shared_ptr<ExternalEngine> engine;
  const ptrt_status adopted = adopt_engine("ptrt_session_create", model, encoder, out_session != nullptr, engine);
  if (adopted != PTRT_OK) return adopted;
  return guarded([&] { return new_session("ptrt_session_create", model, engine, options, out_session); });
}

ptrt_status ptrt_session_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                            const ptrt_session_options* options, ptrt_session** out_session) {
  static const char* const fn = "ptrt_session_create_with_engine";
  PTRT_REQUIRE(out_session, "ptrt_session_create_with_engine: out_session must not be NULL");
  *out_session = nullptr;
  PTRT_REQUIRE(model, "ptrt_session_create_with_engine: model must not be NULL");
  return guarded([&] {
    EngineOptions engine;
    const ptrt_status read = to_engine_options(fn, engine_options, engine);
    if (read != PTRT_OK) return read;
    return new_session(fn, model, shared_engine(model, "encoder", engine), options, out_session);
  });
}

void ptrt_session_destroy(ptrt_session* session) { delete session; }

void ptrt_decoding_options_init(ptrt_decoding_options* options) {
  if (!options) return;
  const DecodingOptions d;
  *options = ptrt_decoding_options{};
  options->struct_size = sizeof(ptrt_decoding_options);
  options->strategy = d.is_beam() ? PTRT_DECODING_BEAM : PTRT_DECODING_GREEDY;
  options->beam_size = d.beam_size;
  options->nbest = d.nbest;
}

void ptrt_hypothesis_init(ptrt_hypothesis* hypothesis) {
  if (!hypothesis) return;
  *hypothesis = ptrt_hypothesis{};
  hypothesis->struct_size = sizeof(ptrt_hypothesis);
}

namespace {

ptrt_status to_decoding_options(const char* fn, const ptrt_decoding_options* options, DecodingOptions& out) {
  ptrt_decoding_options opts;
  const ptrt_status read = PTRT_READ_OPTIONS(fn, options, ptrt_decoding_options, strategy, opts);
  if (read != PTRT_OK) return read;
  if (opts.strategy != PTRT_DECODING_GREEDY && opts.strategy != PTRT_DECODING_BEAM) {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": decoding.strategy must be PTRT_DECODING_GREEDY (0) "
                                                               "or PTRT_DECODING_BEAM (1), got " +
                                                               std::to_string(opts.strategy));
  }
  out.strategy = opts.strategy == PTRT_DECODING_BEAM ? "beam" : "greedy";
  out.beam_size = opts.beam_size;
  out.nbest = opts.nbest;
  out.validate();  // std::invalid_argument naming the option: PTRT_ERROR_INVALID_ARGUMENT
  return PTRT_OK;
}

ptrt_status transcribe(const char* fn, ptrt_session* session, const float* samples, int64_t num_samples,
                       int32_t sample_rate_hz, const ptrt_decoding_options* decoding, ptrt_transcript* out_transcript) {
  PTRT_REQUIRE(session && out_transcript, std::string(fn) + ": session and out_transcript must not be NULL");
  return guarded([&] {
    DecodingOptions options;
    const ptrt_status read = to_decoding_options(fn, decoding, options);
    if (read != PTRT_OK) return read;
    int32_t expected_rate = session->model->meta().features.sample_rate_hz;
    if (sample_rate_hz != expected_rate) {
      return fail(PTRT_ERROR_INVALID_AUDIO, "sample rate " + std::to_string(sample_rate_hz) +
                                                " Hz is not the model's " + std::to_string(expected_rate) +
                                                " Hz; resample before calling");
    }
    session->nbest.clear();
    session->transcript = session->recognizer->transcribe(samples, num_samples, options);
    const Transcript& t = session->transcript;
    session->views.assign(t.tokens, t.words);
    session->nbest.resize(t.nbest.size());
    for (size_t i = 0; i < t.nbest.size(); ++i) session->nbest[i].assign(t.nbest[i].tokens, t.nbest[i].words);
    out_transcript->text = t.text.c_str();
    out_transcript->tokens = session->views.tokens.data();
    out_transcript->num_tokens = session->views.tokens.size();
    out_transcript->words = session->views.words.data();
    out_transcript->num_words = session->views.words.size();
    out_transcript->num_encoder_frames = t.num_encoder_frames;
    out_transcript->audio_duration_s = t.audio_duration_s;
    return PTRT_OK;
  });
}

}  // namespace

ptrt_status ptrt_session_transcribe(ptrt_session* session, const float* samples, int64_t num_samples,
                                    int32_t sample_rate_hz, ptrt_transcript* out_transcript) {
  return transcribe("ptrt_session_transcribe", session, samples, num_samples, sample_rate_hz, nullptr, out_transcript);
}

ptrt_status ptrt_session_transcribe_with_decoding(ptrt_session* session, const float* samples, int64_t num_samples,
                                                  int32_t sample_rate_hz, const ptrt_decoding_options* decoding,
                                                  ptrt_transcript* out_transcript) {
  return transcribe("ptrt_session_transcribe_with_decoding", session, samples, num_samples, sample_rate_hz, decoding,
                    out_transcript);
}

ptrt_status ptrt_session_num_hypotheses(const ptrt_session* session, size_t* out_count) {
  PTRT_REQUIRE(session && out_count, "ptrt_session_num_hypotheses: session and out_count must not be NULL");
  *out_count = session->nbest.size();
  return PTRT_OK;
}

ptrt_status ptrt_session_get_hypothesis(const ptrt_session* session, size_t index, ptrt_hypothesis* out_hypothesis) {
  static const char* const fn = "ptrt_session_get_hypothesis";
  PTRT_REQUIRE(session && out_hypothesis, "ptrt_session_get_hypothesis: session and out_hypothesis must not be NULL");
  if (index >= session->nbest.size()) {
    return fail(PTRT_ERROR_INVALID_ARGUMENT, std::string(fn) + ": index " + std::to_string(index) +
                                                 " is past the n-best list of " + std::to_string(session->nbest.size()) +
                                                 " entries (0 after greedy decoding)");
  }
  const Hypothesis& h = session->transcript.nbest[index];
  const ptrt_session::Views& views = session->nbest[index];
  ptrt_hypothesis full;
  ptrt_hypothesis_init(&full);
  full.text = h.text.c_str();
  full.score = h.score;
  full.tokens = views.tokens.data();
  full.num_tokens = views.tokens.size();
  full.words = views.words.data();
  full.num_words = views.words.size();
  full.word_confidences = h.word_confidences.data();
  return write_prefix(fn, "out_hypothesis", full, PTRT_PREFIX_MIN(ptrt_hypothesis, text), "ptrt_hypothesis_init",
                      out_hypothesis);
}

namespace {

// A stream around any session mode, its token views reserved so that steps allocate nothing.
ptrt_stream* new_stream(std::unique_ptr<StreamingSession> session) {
  auto stream = std::make_unique<ptrt_stream>();
  const size_t capacity = static_cast<size_t>(session->max_tokens_per_step());
  stream->session = std::move(session);
  stream->committed.reserve(capacity);
  stream->tail.reserve(capacity);
  return stream.release();
}

}  // namespace

void ptrt_stream_options_init(ptrt_stream_options* options) {
  if (!options) return;
  *options = ptrt_stream_options{};
  options->struct_size = sizeof(ptrt_stream_options);
  const StreamOptions defaults;
  options->chunk_ms = defaults.buffered.chunk_ms;
  options->left_ms = defaults.buffered.left_ms;
  options->right_ms = defaults.buffered.right_ms;
  options->history_ms = defaults.buffered.history_ms;
  options->mode = defaults.mode == "cache_aware" ? PTRT_STREAM_MODE_CACHE_AWARE : PTRT_STREAM_MODE_BUFFERED;
  options->profile = nullptr;  // defaults.cache_aware.profile is "": the export's
}

namespace {

ptrt_stream* stream_for(const ptrt_model* model, std::shared_ptr<Engine> encoder, const StreamOptions& options) {
  return new_stream(make_streaming_session(model->model, std::move(encoder), options));
}

}  // namespace

ptrt_status ptrt_stream_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                               const ptrt_stream_options* options, ptrt_stream** out_stream) {
  if (out_stream) *out_stream = nullptr;
  std::shared_ptr<ExternalEngine> engine;
  const ptrt_status adopted = adopt_engine("ptrt_stream_create", model, encoder, out_stream != nullptr, engine);
  if (adopted != PTRT_OK) return adopted;
  return guarded([&] {
    StreamOptions stream;
    const ptrt_status read = to_stream_options("ptrt_stream_create", options, stream);
    if (read != PTRT_OK) return read;
    *out_stream = stream_for(model, engine, stream);
    return PTRT_OK;
  });
}

ptrt_status ptrt_stream_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                           const ptrt_stream_options* options, ptrt_stream** out_stream) {
  static const char* const fn = "ptrt_stream_create_with_engine";
  PTRT_REQUIRE(out_stream, "ptrt_stream_create_with_engine: out_stream must not be NULL");
  *out_stream = nullptr;
  PTRT_REQUIRE(model, "ptrt_stream_create_with_engine: model must not be NULL");
  return guarded([&] {
    StreamOptions stream;
    ptrt_status read = to_stream_options(fn, options, stream);
    if (read != PTRT_OK) return read;
    EngineOptions engine;
    read = to_engine_options(fn, engine_options, engine);
    if (read != PTRT_OK) return read;
    *out_stream = stream_for(model, shared_engine(model, stream_graph(stream), engine), stream);
    return PTRT_OK;
  });
}

void ptrt_cache_aware_stream_options_init(ptrt_cache_aware_stream_options* options) {
  if (!options) return;
  *options = ptrt_cache_aware_stream_options{};
  options->struct_size = sizeof(ptrt_cache_aware_stream_options);
}

ptrt_status ptrt_stream_create_cache_aware(const ptrt_model* model, const ptrt_engine_vtable* streaming_encoder,
                                           const ptrt_cache_aware_stream_options* options, ptrt_stream** out_stream) {
  if (out_stream) *out_stream = nullptr;
  std::shared_ptr<ExternalEngine> engine;
  const ptrt_status adopted =
      adopt_engine("ptrt_stream_create_cache_aware", model, streaming_encoder, out_stream != nullptr, engine);
  if (adopted != PTRT_OK) return adopted;
  return guarded([&] {
    ptrt_cache_aware_stream_options opts;
    const ptrt_status read = PTRT_READ_OPTIONS("ptrt_stream_create_cache_aware", options,
                                               ptrt_cache_aware_stream_options, profile, opts);
    if (read != PTRT_OK) return read;
    CacheAwareStreamingConfig cfg;
    if (opts.profile) cfg.profile = opts.profile;
    *out_stream = new_stream(std::make_unique<CacheAwareStreamingSession>(model->model, engine, cfg));
    return PTRT_OK;
  });
}

void ptrt_stream_destroy(ptrt_stream* stream) { delete stream; }

namespace {

void deliver(ptrt_stream* stream, const StreamingStep& step, ptrt_stream_callback on_update, void* user_data) {
  if (!on_update) return;
  to_c_tokens(step.committed, static_cast<size_t>(step.num_committed), stream->committed);
  to_c_tokens(step.tail, static_cast<size_t>(step.num_tail), stream->tail);
  ptrt_stream_update update{};
  update.struct_size = sizeof(ptrt_stream_update);
  update.committed = stream->committed.data();
  update.num_committed = stream->committed.size();
  update.tail = stream->tail.data();
  update.num_tail = stream->tail.size();
  update.audio_end_sample = step.audio_end_sample;
  update.decoded_frames = step.decoded_frames;
  update.is_last = step.is_last ? 1 : 0;
  on_update(user_data, &update);
}

}  // namespace

ptrt_status ptrt_stream_push(ptrt_stream* stream, const float* samples, int64_t num_samples, int32_t sample_rate_hz,
                             ptrt_stream_callback on_update, void* user_data) {
  PTRT_REQUIRE(stream, "ptrt_stream_push: stream must not be NULL");
  return guarded([&] {
    const int32_t expected_rate = stream->session->model().meta().features.sample_rate_hz;
    if (sample_rate_hz != expected_rate) {
      return fail(PTRT_ERROR_INVALID_AUDIO, "sample rate " + std::to_string(sample_rate_hz) +
                                                " Hz is not the model's " + std::to_string(expected_rate) +
                                                " Hz; resample before calling");
    }
    stream->session->push(samples, num_samples,
                          [&](const StreamingStep& step) { deliver(stream, step, on_update, user_data); });
    return PTRT_OK;
  });
}

ptrt_status ptrt_stream_finish(ptrt_stream* stream, ptrt_stream_callback on_update, void* user_data) {
  PTRT_REQUIRE(stream, "ptrt_stream_finish: stream must not be NULL");
  return guarded([&] {
    stream->session->finish([&](const StreamingStep& step) { deliver(stream, step, on_update, user_data); });
    return PTRT_OK;
  });
}

// --- transcript state ---------------------------------------------------------------------------

struct ptrt_transcript_state {
  std::unique_ptr<TranscriptState> state;
  EventViews views;                       // of the state's events (valid until the next call)
  std::vector<TranscriptEvent> snapshot;  // backs the snapshot's views
};

namespace {

std::vector<TokenEmission> to_emissions(const ptrt_token* tokens, size_t count) {
  std::vector<TokenEmission> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) out.push_back(TokenEmission{tokens[i].id, tokens[i].frame, tokens[i].duration, 0.0f});
  return out;
}

ptrt_status publish_events(ptrt_transcript_state* t, const std::vector<TranscriptEvent>& events,
                           const ptrt_transcript_event** out_events, size_t* out_num_events) {
  t->views.publish(events);
  *out_events = t->views.data();
  *out_num_events = t->views.size();
  return PTRT_OK;
}

#define PTRT_REQUIRE_EVENTS(fn)                                                                      \
  PTRT_REQUIRE(state, fn ": state must not be NULL");                                                \
  PTRT_REQUIRE(out_events && out_num_events, fn ": out_events and out_num_events must not be NULL"); \
  *out_events = nullptr;                                                                             \
  *out_num_events = 0

}  // namespace

void ptrt_transcript_options_init(ptrt_transcript_options* options) {
  if (!options) return;
  const TranscriptOptions d;
  *options = ptrt_transcript_options{};
  options->struct_size = sizeof(ptrt_transcript_options);
  options->stable_updates = d.stable_updates;
  options->max_window_tokens = d.max_window_tokens;
  options->max_lag_ms = d.max_lag_ms;
  options->endpoint_blank_ms = d.endpoint_blank_ms;
  options->endpoint_vad_ms = d.endpoint_vad_ms;
  options->endpoint_require_both = d.endpoint_require_both ? 1 : 0;
  options->commit_whole_words = d.commit_whole_words ? 1 : 0;
}

ptrt_status ptrt_transcript_state_create(const ptrt_model* model, const ptrt_transcript_options* options,
                                         ptrt_transcript_state** out_state) {
  PTRT_REQUIRE(out_state, "ptrt_transcript_state_create: out_state must not be NULL");
  *out_state = nullptr;
  PTRT_REQUIRE(model, "ptrt_transcript_state_create: model must not be NULL");
  return guarded([&] {
    TranscriptOptions o;
    const ptrt_status read = to_transcript_options("ptrt_transcript_state_create", options, o);
    if (read != PTRT_OK) return read;
    auto t = std::make_unique<ptrt_transcript_state>();
    t->state = std::make_unique<TranscriptState>(model->model->vocabulary(), model->model->meta().encoder.frame_stride_s, o);
    *out_state = t.release();
    return PTRT_OK;
  });
}

void ptrt_transcript_state_destroy(ptrt_transcript_state* state) { delete state; }

ptrt_status ptrt_transcript_state_apply_step(ptrt_transcript_state* state, const ptrt_token* stable, size_t num_stable,
                                             const ptrt_token* tail, size_t num_tail, double audio_end_s,
                                             double vad_silence_ms, const ptrt_transcript_event** out_events,
                                             size_t* out_num_events) {
  PTRT_REQUIRE_EVENTS("ptrt_transcript_state_apply_step");
  PTRT_REQUIRE(stable || num_stable == 0, "ptrt_transcript_state_apply_step: stable is NULL with num_stable > 0");
  PTRT_REQUIRE(tail || num_tail == 0, "ptrt_transcript_state_apply_step: tail is NULL with num_tail > 0");
  return guarded([&] {
    const auto s = to_emissions(stable, num_stable), t = to_emissions(tail, num_tail);
    return publish_events(state,
                          state->state->apply_step(s.data(), static_cast<int64_t>(s.size()), t.data(),
                                                   static_cast<int64_t>(t.size()), audio_end_s, vad_silence_ms),
                          out_events, out_num_events);
  });
}

ptrt_status ptrt_transcript_state_apply_hypothesis(ptrt_transcript_state* state, const ptrt_token* tokens,
                                                   size_t num_tokens, double audio_end_s, double vad_silence_ms,
                                                   const ptrt_transcript_event** out_events, size_t* out_num_events) {
  PTRT_REQUIRE_EVENTS("ptrt_transcript_state_apply_hypothesis");
  PTRT_REQUIRE(tokens || num_tokens == 0, "ptrt_transcript_state_apply_hypothesis: tokens is NULL with num_tokens > 0");
  return guarded([&] {
    const auto h = to_emissions(tokens, num_tokens);
    return publish_events(
        state, state->state->apply_hypothesis(h.data(), static_cast<int64_t>(h.size()), audio_end_s, vad_silence_ms),
        out_events, out_num_events);
  });
}

ptrt_status ptrt_transcript_state_endpoint(ptrt_transcript_state* state, double audio_end_s,
                                           const ptrt_transcript_event** out_events, size_t* out_num_events) {
  PTRT_REQUIRE_EVENTS("ptrt_transcript_state_endpoint");
  return guarded([&] { return publish_events(state, state->state->endpoint(audio_end_s), out_events, out_num_events); });
}

ptrt_status ptrt_transcript_state_finish(ptrt_transcript_state* state, double audio_end_s,
                                         const ptrt_transcript_event** out_events, size_t* out_num_events) {
  PTRT_REQUIRE_EVENTS("ptrt_transcript_state_finish");
  return guarded([&] { return publish_events(state, state->state->finish(audio_end_s), out_events, out_num_events); });
}

ptrt_status ptrt_transcript_state_snapshot(ptrt_transcript_state* state, const ptrt_transcript_event** out_event) {
  PTRT_REQUIRE(state, "ptrt_transcript_state_snapshot: state must not be NULL");
  PTRT_REQUIRE(out_event, "ptrt_transcript_state_snapshot: out_event must not be NULL");
  return guarded([&] {
    state->snapshot = {state->state->snapshot()};
    size_t count = 0;
    return publish_events(state, state->snapshot, out_event, &count);
  });
}


}  // extern "C"
