/*
 * parakeet_trt C ABI (C99). The only header Rust and C callers see.
 *
 * Conventions
 *  - Every function that can fail returns a ptrt_status. On failure, ptrt_last_error() returns a
 *    message for the calling thread (valid until that thread's next ptrt_* call). No exception
 *    crosses this boundary and the library never exits the process.
 *  - Constructors write an out-parameter; destructors accept NULL.
 *  - Versioned structs (the ones that start with struct_size) grow only at their end, never into an
 *    earlier version's trailing padding, and are read as a prefix: the library takes
 *    min(struct_size, its own sizeof) bytes of the caller's struct and the defaults of its
 *    *_init() for the rest, so a caller compiled against an older, shorter struct keeps working.
 *    struct_size must be the sizeof of the caller's version of the struct (fill it with the
 *    struct's *_init()): at least sizeof(size_t) plus the struct's first field (16 bytes on
 *    64-bit platforms, 12 for the structs whose first field is an int32_t: ptrt_model_options,
 *    ptrt_model_info, ptrt_session_options, ptrt_transcript_options, ptrt_decoding_options). A
 *    smaller struct_size, such as 0 from an uninitialised struct, is PTRT_ERROR_INVALID_ARGUMENT
 *    naming the *_init() to call. The engine vtable is the exception: its struct_size must cover all
 *    of it. Structs the caller passes for the library to fill (ptrt_model_info, ptrt_live_event,
 *    ptrt_hypothesis) are written as the same prefix; a ptrt_stream_update the library passes
 *    carries its own struct_size.
 *  - No field of an ABI struct has an enum type: enums fix values only; fields are int32_t, whose
 *    size and alignment are the same on every supported ABI.
 *  - Results are borrowed views owned by the object that produced them, valid until the next call
 *    on that object or its destruction.
 *  - Threads, per handle type (each type's comment repeats its rule):
 *      ptrt_model             immutable after loading: any number of threads, sessions and streams
 *                             at once; the engines it shares (ptrt_*_create_with_engine) too.
 *      ptrt_session           one thread at a time (it may move between threads).
 *      ptrt_stream            one thread at a time (push, finish and the callbacks they run).
 *      ptrt_transcript_state  one thread at a time.
 *      ptrt_live_stream       one producer thread and one consumer thread at the same time.
 *    Functions without a handle (ptrt_version, ptrt_audio_*, the *_init functions) are safe on any
 *    thread. ptrt_last_error() is per thread.
 *  - Text: every string the library returns (transcript text, word text) is valid UTF-8; bytes that
 *    byte-fallback pieces leave incomplete are replaced by U+FFFD.
 */
#ifndef PARAKEET_TRT_H_
#define PARAKEET_TRT_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define PTRT_API __declspec(dllexport)
#elif defined(PTRT_BUILDING_LIBRARY)
#define PTRT_API __attribute__((visibility("default")))
#else
#define PTRT_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a struct layout or a function signature changes incompatibly. */
#define PTRT_ABI_VERSION 1

typedef enum ptrt_status {
  PTRT_OK = 0,
  PTRT_ERROR_INVALID_ARGUMENT = 1,    /* NULL pointer, bad option, struct_size too small */
  PTRT_ERROR_INVALID_AUDIO = 2,       /* empty audio, NaN/Inf samples, unsupported sample rate, too long */
  PTRT_ERROR_MODEL = 3,               /* model folder missing, unreadable, corrupted or unsupported */
  PTRT_ERROR_CONTRACT_VIOLATION = 4,  /* an engine or artifact disagrees with the model's contract */
  PTRT_ERROR_ENGINE = 5,              /* an engine failed while running */
  PTRT_ERROR_STATE = 6,               /* call not valid in the object's current state */
  PTRT_ERROR_UNAVAILABLE = 7,         /* not compiled in or not present on this machine */
  PTRT_ERROR_INTERNAL = 99
} ptrt_status;

/* Library version string ("0.1.0") and the ABI version it implements (PTRT_ABI_VERSION). */
PTRT_API const char* ptrt_version(void);
PTRT_API int32_t ptrt_abi_version(void);

/* Message of the last failed call on this thread; "" if none. Never NULL. */
PTRT_API const char* ptrt_last_error(void);

/* Short name of a status ("PTRT_ERROR_MODEL"). Never NULL. */
PTRT_API const char* ptrt_status_name(ptrt_status status);

/* ---------------------------------------------------------------------------------------------
 * Tensors and external engines
 * ------------------------------------------------------------------------------------------- */

/* Values of ptrt_tensor.dtype (the field is int32_t: an enum's size is the compiler's choice). */
typedef enum ptrt_dtype { PTRT_DTYPE_FLOAT32 = 1, PTRT_DTYPE_INT64 = 2, PTRT_DTYPE_INT32 = 3 } ptrt_dtype;

#define PTRT_MAX_TENSOR_RANK 8

/* A named tensor in a buffer owned by the session. Row-major, contiguous. */
typedef struct ptrt_tensor {
  const char* name;
  int32_t dtype; /* a ptrt_dtype value (was declared ptrt_dtype: same size and offset on every supported ABI) */
  int32_t rank;
  int64_t shape[PTRT_MAX_TENSOR_RANK];
  void* data;
} ptrt_tensor;

/*
 * An engine supplied by the caller (ONNX Runtime from Python, a Rust engine, ...).
 * run() receives the session's input tensors and its pre-sized output tensors (shapes from the
 * contract) and must fill every output in place. Every tensor's data is aligned for its dtype and no
 * two tensors of one call overlap; inputs must not be written. On failure it returns a non-OK status and may
 * write a NUL-terminated message into error_message (capacity error_capacity bytes).
 * destroy(), if not NULL, is called once with self when the session no longer needs the engine.
 * run() is called from the thread that drives the session.
 */
typedef struct ptrt_engine_vtable {
  size_t struct_size;
  void* self;
  ptrt_status (*run)(void* self, const ptrt_tensor* inputs, size_t num_inputs, ptrt_tensor* outputs,
                     size_t num_outputs, char* error_message, size_t error_capacity);
  void (*destroy)(void* self);
} ptrt_engine_vtable;

/*
 * Engines the library makes itself, chosen by name (the same choice as Python's and the CLI's
 * --engine). Fill with ptrt_engine_options_init (defaults of the C++ EngineOptions); strings are
 * read during the create call only. Added in ABI 1 without changing any earlier declaration.
 *   name                 "onnxruntime" (default) or "tensorrt". NULL: the default.
 *   providers            onnxruntime: execution providers in order of preference, comma-separated
 *                        ONNX Runtime names ("CUDAExecutionProvider,CPUExecutionProvider"). NULL or
 *                        "": CUDA when the library has it, then CPU. An unknown or missing provider
 *                        is PTRT_ERROR_INVALID_ARGUMENT listing the ones the library has.
 *   intra_op_threads     onnxruntime: threads per engine; 0 (default): one per core.
 *   device_id            CUDA device ordinal; default 0.
 *   onnxruntime_library  path of libonnxruntime.so. NULL or "": $PTRT_ONNXRUNTIME_LIBRARY, then the
 *                        onnxruntime Python package installed beside this library, then the dynamic
 *                        loader's path. Not found: PTRT_ERROR_UNAVAILABLE naming every place looked.
 *   trt_engine_dir       tensorrt: folder of the engines `parakeet-trt build-trt` wrote. NULL or "":
 *                        the model folder. TensorRT absent: PTRT_ERROR_UNAVAILABLE naming what is missing.
 *   allow_spinning       onnxruntime: 1 (default): the intra-op threads spin-wait for work (faster
 *                        single calls); 0: they block (far less CPU for many short streaming calls:
 *                        what live streams and servers want). Added after trt_engine_dir: a caller
 *                        whose struct_size ends before it gets 1.
 * Engines are shared: sessions and streams created on one model with equal engine options (and
 * the same graph) use one engine instance while any of them is alive (the C++ Model::engine cache):
 * one ONNX Runtime session, one copy of the encoder's weights.
 */
typedef struct ptrt_engine_options {
  size_t struct_size;
  const char* name;
  const char* providers;
  int32_t intra_op_threads;
  int32_t device_id;
  const char* onnxruntime_library;
  const char* trt_engine_dir;
  int32_t allow_spinning;
} ptrt_engine_options;

PTRT_API void ptrt_engine_options_init(ptrt_engine_options* options);

/* ---------------------------------------------------------------------------------------------
 * Model
 * ------------------------------------------------------------------------------------------- */

/* Threads: immutable after loading; any number of threads, sessions and streams may use it at once. */
typedef struct ptrt_model ptrt_model;

typedef struct ptrt_model_options {
  size_t struct_size;
  int32_t verify_hashes; /* 1 (default): check vocabulary and decoder weights against model_meta.json */
} ptrt_model_options;

PTRT_API void ptrt_model_options_init(ptrt_model_options* options);

/* Loads an exported model folder (model_meta.json, vocab.txt, decoder_step.bin). options may be NULL. */
PTRT_API ptrt_status ptrt_model_load(const char* model_dir, const ptrt_model_options* options, ptrt_model** out_model);
PTRT_API void ptrt_model_destroy(ptrt_model* model);

typedef struct ptrt_model_info {
  size_t struct_size;
  int32_t sample_rate_hz;
  int32_t num_mel_bins;
  int32_t encoder_dim;
  int32_t vocab_size;      /* tokens without blank */
  int32_t blank_id;
  int32_t max_symbols;
  int32_t subsampling_factor;
  double frame_stride_s;   /* seconds per encoder frame (0.08 for Parakeet) */
  int64_t max_encoder_frames;
  const char* model_name;  /* borrowed from the model */
} ptrt_model_info;

PTRT_API void ptrt_model_info_init(ptrt_model_info* info);
/* Fills the fields info->struct_size covers (a prefix, as for every versioned struct). */
PTRT_API ptrt_status ptrt_model_get_info(const ptrt_model* model, ptrt_model_info* info);

/* Number of feature frames (STFT frames) and valid frames for num_samples samples. */
PTRT_API ptrt_status ptrt_model_feature_frames(const ptrt_model* model, int64_t num_samples, int64_t* out_num_frames,
                                               int64_t* out_num_valid_frames);

/*
 * NeMo-exact log-mel features of mono audio at the model's sample rate, written as
 * [num_mel_bins][num_frames] row-major into out_features (capacity in floats).
 */
PTRT_API ptrt_status ptrt_model_compute_features(const ptrt_model* model, const float* samples, int64_t num_samples,
                                                 float* out_features, int64_t capacity);

/*
 * Text of a token sequence (SentencePiece rules, as transcripts render it), NUL-terminated UTF-8
 * into out_text (capacity bytes). *out_length (if not NULL) receives the text's length in bytes
 * without the NUL, also when capacity is too small (then PTRT_ERROR_INVALID_ARGUMENT and nothing
 * is written), so a caller can size the buffer and call again. Ids outside the vocabulary give
 * PTRT_ERROR_INVALID_ARGUMENT.
 */
PTRT_API ptrt_status ptrt_model_detokenize(const ptrt_model* model, const int32_t* token_ids, size_t num_tokens,
                                           char* out_text, size_t capacity, size_t* out_length);

/* ---------------------------------------------------------------------------------------------
 * Session (offline recognition in this ABI version)
 * ------------------------------------------------------------------------------------------- */

/* Threads: one thread at a time (it may move between threads). Sessions of one model run in parallel. */
typedef struct ptrt_session ptrt_session;

typedef struct ptrt_session_options {
  size_t struct_size;
  int32_t reserved; /* no options yet; streaming options arrive in a later ABI version */
} ptrt_session_options;

PTRT_API void ptrt_session_options_init(ptrt_session_options* options);

/*
 * Creates a session on a model, with the caller's encoder engine. The session copies the vtable;
 * it calls encoder.destroy(encoder.self) exactly once: when the session is destroyed, or before
 * returning if creation fails (unless encoder->struct_size is too small to hold destroy, which is
 * then never read). The session keeps its own reference to the model's data, so the
 * model handle may be destroyed first. options may be NULL.
 */
PTRT_API ptrt_status ptrt_session_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                                         const ptrt_session_options* options, ptrt_session** out_session);
/*
 * Creates a session whose encoder is an engine the library makes (engine_options; NULL: the
 * defaults, ONNX Runtime), on the model folder's encoder graph (encoder.onnx). Errors: as listed at
 * ptrt_engine_options; PTRT_ERROR_MODEL when the folder has no encoder graph. options may be NULL.
 */
PTRT_API ptrt_status ptrt_session_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                                     const ptrt_session_options* options, ptrt_session** out_session);
PTRT_API void ptrt_session_destroy(ptrt_session* session);

typedef struct ptrt_token {
  int32_t id;
  int32_t duration;  /* TDT duration in encoder frames */
  int64_t frame;     /* encoder frame index of the emission */
} ptrt_token;

typedef struct ptrt_word {
  const char* text;
  double start_s;
  double end_s;
} ptrt_word;

/* Borrowed view of a transcript; valid until the next call on the session. */
typedef struct ptrt_transcript {
  const char* text;
  const ptrt_token* tokens;
  size_t num_tokens;
  const ptrt_word* words;
  size_t num_words;
  int64_t num_encoder_frames;
  double audio_duration_s;
} ptrt_transcript;

/*
 * Transcribes mono float32 audio. sample_rate_hz must equal the model's (16000): resample first
 * (ptrt_audio_load_wav and ptrt_audio_resample do). Empty audio, NaN/Inf samples or a different
 * rate give PTRT_ERROR_INVALID_AUDIO.
 */
PTRT_API ptrt_status ptrt_session_transcribe(ptrt_session* session, const float* samples, int64_t num_samples,
                                             int32_t sample_rate_hz, ptrt_transcript* out_transcript);

/* ---------------------------------------------------------------------------------------------
 * Decoding: TDT greedy or beam search with an n-best list, for a session's transcriptions.
 * Added in ABI 1 without changing any earlier declaration.
 * ------------------------------------------------------------------------------------------- */

/* Values of ptrt_decoding_options.strategy. */
#define PTRT_DECODING_GREEDY 0 /* TDT greedy (NeMo's label looping): one hypothesis */
#define PTRT_DECODING_BEAM 1   /* NeMo's TDT beam search (strategy "beam"): the best hypothesis is the
                                  transcript; the n-best list through ptrt_session_get_hypothesis */

/* Defaults from the C++ DecodingOptions (ptrt_decoding_options_init). */
typedef struct ptrt_decoding_options {
  size_t struct_size;
  int32_t strategy;  /* PTRT_DECODING_*; default PTRT_DECODING_GREEDY */
  int32_t beam_size; /* beam: hypotheses kept per frame, 1..64; default 4 (NeMo's) */
  int32_t nbest;     /* beam: hypotheses listed, best first, 1..64; greedy: must be 1; default 1 */
  int32_t reserved;
} ptrt_decoding_options;

PTRT_API void ptrt_decoding_options_init(ptrt_decoding_options* options);

/*
 * ptrt_session_transcribe with a decoding choice (NULL: the defaults, greedy). Both decode the same
 * encoder output. A bad option is PTRT_ERROR_INVALID_ARGUMENT naming it, before any work; other
 * errors as ptrt_session_transcribe. The transcript is the best hypothesis's.
 */
PTRT_API ptrt_status ptrt_session_transcribe_with_decoding(ptrt_session* session, const float* samples,
                                                           int64_t num_samples, int32_t sample_rate_hz,
                                                           const ptrt_decoding_options* decoding,
                                                           ptrt_transcript* out_transcript);

/*
 * One n-best entry of the session's last transcription, a borrowed view valid until the next call
 * on the session. Fill struct_size with ptrt_hypothesis_init; the library writes the prefix it covers.
 *   score             NeMo's hypothesis score: the path's summed log-probability (tokens, durations, blanks)
 *   word_confidences  num_words entries: a word's confidence, the minimum over its tokens of the
 *                     token's probability (NeMo's "max_prob" measure, "min" word aggregation)
 */
typedef struct ptrt_hypothesis {
  size_t struct_size;
  const char* text;
  double score;
  const ptrt_token* tokens;
  size_t num_tokens;
  const ptrt_word* words;
  size_t num_words;
  const double* word_confidences;
} ptrt_hypothesis;

PTRT_API void ptrt_hypothesis_init(ptrt_hypothesis* hypothesis);

/* Number of n-best entries of the last transcription: 0 after greedy decoding, 1..nbest after beam. */
PTRT_API ptrt_status ptrt_session_num_hypotheses(const ptrt_session* session, size_t* out_count);

/* Entry index (0 = the best) of the n-best list; an index past the list is PTRT_ERROR_INVALID_ARGUMENT. */
PTRT_API ptrt_status ptrt_session_get_hypothesis(const ptrt_session* session, size_t index,
                                                 ptrt_hypothesis* out_hypothesis);

/* ---------------------------------------------------------------------------------------------
 * Stream: buffered streaming (NeMo's chunked inference with left, chunk and right context).
 * Added in ABI 1 without changing any earlier declaration.
 * ------------------------------------------------------------------------------------------- */

/* Threads: one thread at a time (push, finish and their callbacks run on the calling thread). */
typedef struct ptrt_stream ptrt_stream;

/* Values of ptrt_stream_options.mode. */
#define PTRT_STREAM_MODE_BUFFERED 0    /* NeMo's buffered inference on the offline encoder ("encoder") */
#define PTRT_STREAM_MODE_CACHE_AWARE 1 /* a cache-aware streaming export ("encoder_streaming") */

typedef struct ptrt_stream_options {
  size_t struct_size;
  int64_t chunk_ms;    /* buffered: > 0, a multiple of the encoder frame (80 ms for Parakeet); default 560 */
  int64_t left_ms;     /* buffered: >= 0, multiple of the encoder frame; default 10000 */
  int64_t right_ms;    /* buffered: >= 0, multiple of the encoder frame; default 560 */
  int64_t history_ms;  /* buffered: audio retained for re-decoding; default 30000 (reserved in this ABI) */
  /* Appended in ABI 1 (an older caller's shorter struct gets the defaults): */
  int32_t mode;        /* PTRT_STREAM_MODE_BUFFERED (default) or PTRT_STREAM_MODE_CACHE_AWARE */
  const char* profile; /* cache-aware: NULL or "" (default) accepts the export's profile; else "cache_aware" or
                          "chunk_isolated" must match it. Read during the create call only */
} ptrt_stream_options;

PTRT_API void ptrt_stream_options_init(ptrt_stream_options* options);

/*
 * Creates a stream on a model with the caller's encoder engine (the offline encoder's graph for
 * PTRT_STREAM_MODE_BUFFERED, the streaming encoder's for PTRT_STREAM_MODE_CACHE_AWARE, see
 * ptrt_stream_create_cache_aware). Engine ownership as in ptrt_session_create:
 * encoder.destroy(encoder.self) is called exactly once. options may be NULL (defaults: buffered).
 * A bad option gives PTRT_ERROR_INVALID_ARGUMENT naming it.
 */
PTRT_API ptrt_status ptrt_stream_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                                        const ptrt_stream_options* options, ptrt_stream** out_stream);
/*
 * Creates a stream whose encoder is an engine the library makes (engine_options; NULL: the
 * defaults), on the graph options.mode needs: "encoder" (buffered) or "encoder_streaming"
 * (cache-aware; a folder without it is PTRT_ERROR_CONTRACT_VIOLATION naming engines.encoder_streaming).
 * Engines are shared as described at ptrt_engine_options. options may be NULL (defaults: buffered).
 */
PTRT_API ptrt_status ptrt_stream_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                                    const ptrt_stream_options* options, ptrt_stream** out_stream);
/* Options of a cache-aware stream (added in ABI 1 without changing any earlier declaration). */
typedef struct ptrt_cache_aware_stream_options {
  size_t struct_size;
  const char* profile; /* NULL or "": the export's profile; else "cache_aware" or "chunk_isolated" must match
                          it. Read during ptrt_stream_create_cache_aware only. Default NULL */
} ptrt_cache_aware_stream_options;

PTRT_API void ptrt_cache_aware_stream_options_init(ptrt_cache_aware_stream_options* options);

/*
 * Creates a cache-aware stream: the model folder must hold a streaming encoder export
 * (parakeet-trt export --component encoder_streaming), and streaming_encoder runs its graph
 * (encoder_streaming.onnx: inputs audio_signal, length, cache_last_channel, cache_last_time,
 * cache_last_channel_len; the stream owns the caches). options may be NULL (defaults). A model
 * without a streaming encoder, or of another profile than options.profile, gives
 * PTRT_ERROR_CONTRACT_VIOLATION naming the field. Engine ownership as in ptrt_stream_create. Push
 * and finish as below; a cache-aware update has no tail, and finish may deliver several updates
 * (the remaining windows), the last with is_last = 1.
 */
PTRT_API ptrt_status ptrt_stream_create_cache_aware(const ptrt_model* model, const ptrt_engine_vtable* streaming_encoder,
                                                    const ptrt_cache_aware_stream_options* options,
                                                    ptrt_stream** out_stream);
PTRT_API void ptrt_stream_destroy(ptrt_stream* stream);

/* One streaming step, borrowed: valid only during the callback that receives it. */
typedef struct ptrt_stream_update {
  size_t struct_size;
  const ptrt_token* committed; /* tokens committed by this step; committed tokens never change */
  size_t num_committed;
  const ptrt_token* tail;      /* speculative tokens from the right context, replaced by the next update */
  size_t num_tail;
  int64_t audio_end_sample;    /* stream samples consumed so far */
  int64_t decoded_frames;      /* encoder frames committed so far */
  int32_t is_last;             /* 1 for the update of ptrt_stream_finish */
} ptrt_stream_update;

/* Called synchronously, once per step, on the thread that called push/finish. */
typedef void (*ptrt_stream_callback)(void* user_data, const ptrt_stream_update* update);

/*
 * Appends mono float32 samples (sample_rate_hz must be the model's) and runs every step they
 * complete, calling on_update for each (on_update may be NULL). A block with NaN/Inf samples or
 * another rate is refused whole (PTRT_ERROR_INVALID_AUDIO) and changes nothing; a zero-length
 * block is allowed. After ptrt_stream_finish: PTRT_ERROR_STATE. An engine failure returns its
 * status; the tokens committed before it stay committed.
 */
PTRT_API ptrt_status ptrt_stream_push(ptrt_stream* stream, const float* samples, int64_t num_samples,
                                      int32_t sample_rate_hz, ptrt_stream_callback on_update, void* user_data);
/* Runs the last step(s) (the last has is_last = 1) and closes the stream. A second call gives
 * PTRT_ERROR_STATE. */
PTRT_API ptrt_status ptrt_stream_finish(ptrt_stream* stream, ptrt_stream_callback on_update, void* user_data);

/* ---------------------------------------------------------------------------------------------
 * Transcript state: live captions. A committed prefix that never changes and a revision window,
 * turned into protocol events (docs/PATCH_PROTOCOL.md: the same events as the JSONL log and the
 * websocket). Feed it each stream update; it returns the events that update caused.
 * Added in ABI 1 without changing any earlier declaration.
 * ------------------------------------------------------------------------------------------- */

/* Threads: one thread at a time. */
typedef struct ptrt_transcript_state ptrt_transcript_state;

typedef struct ptrt_transcript_options {
  size_t struct_size;
  int32_t stable_updates;         /* K: commit a token unchanged for K updates (0: off); default 2 */
  int32_t max_window_tokens;      /* N: commit the oldest beyond N window tokens (0: off); default 32 */
  int64_t max_lag_ms;             /* W: commit tokens ending W ms behind the live edge (0: off); default 1200 */
  int64_t endpoint_blank_ms;      /* endpoint after this long without a token (0: off); default 800 */
  int64_t endpoint_vad_ms;        /* endpoint after this much VAD silence (0: off); default 0 */
  int32_t endpoint_require_both;  /* 1: with both endpoint rules on, require both; default 0 (either) */
  int32_t commit_whole_words;     /* 1 (default): commits end only where the next token opens a word */
} ptrt_transcript_options;

PTRT_API void ptrt_transcript_options_init(ptrt_transcript_options* options);

typedef enum ptrt_transcript_event_type {
  PTRT_TRANSCRIPT_EVENT_PATCH = 1,
  PTRT_TRANSCRIPT_EVENT_FINAL = 2,
  PTRT_TRANSCRIPT_EVENT_SNAPSHOT = 3
} ptrt_transcript_event_type;

/*
 * One protocol event, borrowed (valid until the next call on the state). Character counts and
 * offsets are Unicode code points of the UTF-8 text. patch: committed_len, replace_from, text (the
 * displayed text from replace_from on); final: segment, text, start_s, end_s; snapshot:
 * committed_len, text (all of it), segment (index of the next final). Words: patch: the words after
 * the previous committed_len; final: the segment's; snapshot: all.
 */
typedef struct ptrt_transcript_event {
  int32_t type;                /* ptrt_transcript_event_type */
  int32_t reserved;
  int64_t seq;                 /* strictly increasing (a snapshot repeats the last seq) */
  int64_t committed_len;
  int64_t replace_from;
  const char* text;            /* NUL-terminated UTF-8 */
  size_t text_size;            /* bytes, without the NUL */
  double audio_end_s;          /* stream time of the last audio sample the event reflects */
  int64_t segment;
  double start_s;
  double end_s;
  const ptrt_word* words;
  size_t num_words;
} ptrt_transcript_event;

/* Creates a transcript state for a model's vocabulary and frame stride. options may be NULL. */
PTRT_API ptrt_status ptrt_transcript_state_create(const ptrt_model* model, const ptrt_transcript_options* options,
                                                  ptrt_transcript_state** out_state);
PTRT_API void ptrt_transcript_state_destroy(ptrt_transcript_state* state);

/*
 * One stream update: stable = tokens the engine will never revise (a ptrt_stream_update's
 * committed), tail = its speculative tail; audio_end_s = stream time of the last sample consumed
 * (audio_end_sample / sample rate); vad_silence_ms = trailing VAD silence (< 0: unknown). Writes
 * the update's events (possibly none). A token outside the vocabulary or a live edge that goes back
 * gives PTRT_ERROR_INVALID_ARGUMENT and changes nothing; after finish, PTRT_ERROR_STATE.
 */
PTRT_API ptrt_status ptrt_transcript_state_apply_step(ptrt_transcript_state* state, const ptrt_token* stable,
                                                      size_t num_stable, const ptrt_token* tail, size_t num_tail,
                                                      double audio_end_s, double vad_silence_ms,
                                                      const ptrt_transcript_event** out_events, size_t* out_num_events);
/* The whole hypothesis at once, for engines that may revise anything. */
PTRT_API ptrt_status ptrt_transcript_state_apply_hypothesis(ptrt_transcript_state* state, const ptrt_token* tokens,
                                                            size_t num_tokens, double audio_end_s, double vad_silence_ms,
                                                            const ptrt_transcript_event** out_events,
                                                            size_t* out_num_events);
/* A caller-detected endpoint: commits the window and emits the segment's final. */
PTRT_API ptrt_status ptrt_transcript_state_endpoint(ptrt_transcript_state* state, double audio_end_s,
                                                    const ptrt_transcript_event** out_events, size_t* out_num_events);
/* End of input: everything is committed; the finals then add up to the committed text. */
PTRT_API ptrt_status ptrt_transcript_state_finish(ptrt_transcript_state* state, double audio_end_s,
                                                  const ptrt_transcript_event** out_events, size_t* out_num_events);
/* The state as one snapshot event (for a client that resyncs). */
PTRT_API ptrt_status ptrt_transcript_state_snapshot(ptrt_transcript_state* state, const ptrt_transcript_event** out_event);

/* ---------------------------------------------------------------------------------------------
 * Live stream: everything a caption stream needs in one object. The producer writes audio into a
 * ring; an inference thread the library owns runs the stream (buffered or cache-aware), the
 * transcript state (commit policy, endpoints, patch-protocol events) and, optionally, the offline
 * re-decode of each final's audio; the consumer takes one event per step from a bounded queue.
 * Added in ABI 1 without changing any earlier declaration.
 * ------------------------------------------------------------------------------------------- */

/*
 * Threads: one producer thread (write, close) and one consumer thread (next_event, snapshot) at the
 * same time; a second thread writing while another writes gets PTRT_ERROR_STATE (never merged
 * audio). is_done from any thread. Destroy once neither side uses it (it stops and joins the
 * inference thread). The model and a shared engine may serve any number of other streams.
 */
typedef struct ptrt_live_stream ptrt_live_stream;

/* Defaults from the C++ LiveStreamOptions (ptrt_live_stream_options_init). */
typedef struct ptrt_live_stream_options {
  size_t struct_size;
  int64_t ring_ms;               /* audio the ring holds, 1..600000; default 10000 */
  int32_t event_slots;           /* events the consumer may lag behind, 2..65536; default 64 */
  int32_t final_redecode;        /* 1: each final also carries the offline decode of its segment (buffered
                                    mode, history_ms must cover the segment); default 0 */
  int64_t redecode_pre_roll_ms;  /* widen the re-decoded segment before its first token; default 200 */
  int64_t redecode_post_roll_ms; /* ... and after its last; default 300 */
  int32_t segment_on_endpoint;   /* 1: a fresh session per VAD segment (needs vad_silence_ms in writes): after
                                    segment_silence_ms of trailing silence the segment ends in a final and the
                                    pause never reaches the encoder; default 0 */
  int32_t reserved;
  int64_t segment_silence_ms;    /* 80..60000; default 600 */
  int64_t segment_pre_roll_ms;   /* audio before a segment's onset it starts with, 0..5000; default 320 */
  /* Lanes and the aggregator (caption_lanes.hpp, caption_aggregator.hpp). */
  const char* aggregator;        /* "v1" (NULL or "": one stream through the commit policy; default), "v2"
                                    (the fast lane shows, the committing lane commits by local agreement),
                                    "v3" (time-aligned word voting over the lanes); v2/v3 need
                                    segment_on_endpoint and ignore stream_options and the commit policy */
  const char* lanes;             /* v2/v3: lanes as `parakeet-trt live --lanes` writes them, e.g.
                                    "redecode" or "buffered:chunk=560:right=560,redecode:decoding=beam";
                                    NULL or "": one redecode lane. Read during the create call only. */
  int64_t commit_lag_ms;         /* v2/v3: a word commits once this far behind its pass' live edge; default 900 */
  int64_t final_timeout_ms;      /* v2/v3: a segment's end waits this long for a late lane; default 1500 */
  int64_t stall_ms;              /* v2/v3: a lane this far behind and silent is reported stalled; default 1200 */
  int32_t agreement_passes;      /* v2/v3: consecutive passes that must agree on a word; default 2 */
  int32_t fast_lane;             /* v2: the lane (index) whose words are the partial text; default 0 */
  int32_t commit_lane;           /* v2/v3: the lane whose passes commit; -1 (default): the last lane */
  int32_t reserved2;
} ptrt_live_stream_options;

/* The library's defaults: one buffered stream (aggregator v1), as before lanes existed. */
PTRT_API void ptrt_live_stream_options_init(ptrt_live_stream_options* options);
/* The live captions' defaults (what `parakeet-trt live` runs): segment_on_endpoint, aggregator "v2",
 * one redecode lane. The stream needs vad_silence_ms in its writes to find segments. */
PTRT_API void ptrt_live_stream_options_init_captions(ptrt_live_stream_options* options);
/* The captions' defaults for a stream whose finals an LLM polishes (`live --llm-url`): a beam redecode
 * lane, whose n-best gives each final's candidate windows (ptrt_live_event.candidates_json), then the greedy
 * lane, which shows and commits (fast_lane = commit_lane = 1). lanes points to a static string. */
PTRT_API void ptrt_live_stream_options_init_candidates(ptrt_live_stream_options* options);

/* Values of ptrt_live_event.kind. */
#define PTRT_LIVE_EVENT_STEP 0  /* one step of the stream */
#define PTRT_LIVE_EVENT_ERROR 1 /* the stream stopped on an error (the last event) */

/*
 * One event, a borrowed view valid until the consumer's next call on the stream. Fill struct_size
 * with ptrt_live_event_init; the library writes the prefix struct_size covers.
 */
typedef struct ptrt_live_event {
  size_t struct_size;
  int32_t kind;                      /* PTRT_LIVE_EVENT_* */
  int32_t is_last;                   /* 1 for the stream's last event */
  int64_t seq;                       /* 1, 2, 3, ... */
  const ptrt_token* committed;       /* engine tokens this step committed (never revised) */
  size_t num_committed;
  const ptrt_token* tail;            /* the engine's speculative tail after this step */
  size_t num_tail;
  const char* committed_text_added;  /* whole words the committed tokens completed (append to the text) */
  const char* tail_text;             /* the open word and the speculative tail (replaces the previous) */
  const ptrt_transcript_event* transcript; /* the transcript events this step caused (patch, final) */
  size_t num_transcript;
  const char* const* redecoded_text; /* num_transcript entries: a final's re-decode, else "" */
  int64_t audio_end_sample;          /* stream samples consumed, dropped samples included */
  int64_t decoded_frames;
  int64_t dropped_samples;           /* ring overflow so far */
  int32_t error_status;              /* PTRT_LIVE_EVENT_ERROR: the ptrt_status of the failure; else PTRT_OK */
  int32_t reserved;
  const char* error_message;         /* PTRT_LIVE_EVENT_ERROR: its message; else "" */
  const char* lane_notices;          /* v2/v3: lanes that failed or stalled since the last event, one line
                                        each, "LANE KIND: MESSAGE\n" (each lane's failure or stall once); else "" */
  const char* const* candidates_json; /* num_transcript entries: a final's candidate windows for an LLM
                                         (v2/v3: where the segment's other decodes, n-best entries included,
                                         disagree with its words) as the JSON array of docs/PATCH_PROTOCOL.md
                                         ("Candidate input"), "" for other events and finals without any */
} ptrt_live_event;

PTRT_API void ptrt_live_event_init(ptrt_live_event* event);

/*
 * Creates a live stream whose encoder is an engine the library makes (engine_options as for
 * ptrt_stream_create_with_engine; the graph follows stream_options.mode). Each options pointer may
 * be NULL (defaults). A bad option is PTRT_ERROR_INVALID_ARGUMENT naming it.
 */
PTRT_API ptrt_status ptrt_live_stream_create_with_engine(const ptrt_model* model, const ptrt_engine_options* engine_options,
                                                         const ptrt_stream_options* stream_options,
                                                         const ptrt_transcript_options* transcript_options,
                                                         const ptrt_live_stream_options* options,
                                                         ptrt_live_stream** out_stream);
/* The same with the caller's encoder engine; ownership as in ptrt_stream_create (destroy runs once).
 * run() is then called on the library's inference thread. */
PTRT_API ptrt_status ptrt_live_stream_create(const ptrt_model* model, const ptrt_engine_vtable* encoder,
                                             const ptrt_stream_options* stream_options,
                                             const ptrt_transcript_options* transcript_options,
                                             const ptrt_live_stream_options* options, ptrt_live_stream** out_stream);
PTRT_API void ptrt_live_stream_destroy(ptrt_live_stream* stream);

/*
 * Producer: stores mono samples (sample_rate_hz must be the model's) in the ring and writes how many
 * it stored to *out_stored (may be NULL). When the ring is full: drop_overflow = 1 drops the rest and
 * counts it (a live source that cannot wait; stream time still counts it), 0 leaves it to the caller
 * to write again (a file that can wait). vad_silence_ms: trailing VAD silence at the block's last
 * sample (< 0: unknown), for endpoints. NaN/Inf samples or another rate: PTRT_ERROR_INVALID_AUDIO,
 * nothing stored. After close: PTRT_ERROR_STATE. Once the stream stopped on an error, that error.
 */
PTRT_API ptrt_status ptrt_live_stream_write(ptrt_live_stream* stream, const float* samples, int64_t num_samples,
                                            int32_t sample_rate_hz, double vad_silence_ms, int32_t drop_overflow,
                                            int64_t* out_stored);
/* Producer: end of audio; the remaining steps run and the last event has is_last. Idempotent. */
PTRT_API ptrt_status ptrt_live_stream_close(ptrt_live_stream* stream);

/*
 * Consumer: waits up to timeout_ms (< 0: without limit) for the next event. *out_has_event is 1 with
 * an event in *out_event, 0 on timeout or when the stream is over and drained (ptrt_live_stream_is_done).
 * Events are never dropped: the inference thread waits for the consumer when the queue is full.
 */
PTRT_API ptrt_status ptrt_live_stream_next_event(ptrt_live_stream* stream, int64_t timeout_ms, ptrt_live_event* out_event,
                                                 int32_t* out_has_event);
/* Consumer: the transcript as one snapshot event (a client that resyncs), as of the last event taken. */
PTRT_API ptrt_status ptrt_live_stream_snapshot(ptrt_live_stream* stream, const ptrt_transcript_event** out_event);
/* 1 once the last event has been taken (or the stream stopped), else 0; 0 for NULL. */
PTRT_API int32_t ptrt_live_stream_is_done(const ptrt_live_stream* stream);

/* ---------------------------------------------------------------------------------------------
 * Audio files. Added in ABI 1 without changing any earlier declaration. Safe on any thread.
 * ------------------------------------------------------------------------------------------- */

/* Longest audio ptrt_audio_load_wav accepts, in seconds (4 hours). */
#define PTRT_AUDIO_MAX_DURATION_S 14400

/*
 * Reads a RIFF/WAVE file as mono float32 at target_rate_hz (the model's rate: ptrt_model_info's
 * sample_rate_hz). Accepted: PCM integer 8 (unsigned), 16, 24, 32 bit and IEEE float 32, 64 bit,
 * plain or WAVE_FORMAT_EXTENSIBLE; any channel count (averaged); any rate in [1000, 768000] Hz,
 * resampled by the core's band-limited windowed-sinc resampler (see ptrt_audio_resample). Integers
 * are scaled by 2^(bits-1), as libsndfile does. On success *out_samples is a buffer the caller
 * releases with ptrt_audio_free. Errors: PTRT_ERROR_INVALID_AUDIO naming the file and the problem
 * (missing, not RIFF/WAVE, truncated: a data chunk declaring more bytes than the file holds, other
 * encodings, NaN/Inf samples, no samples, longer than PTRT_AUDIO_MAX_DURATION_S); memory is
 * bounded by the file's size, whatever its header declares. PTRT_ERROR_INVALID_ARGUMENT for NULL
 * pointers or a target rate outside [1000, 768000].
 */
PTRT_API ptrt_status ptrt_audio_load_wav(const char* path, int32_t target_rate_hz, float** out_samples,
                                         int64_t* out_num_samples);

/*
 * Resamples a whole mono signal from from_rate_hz to to_rate_hz (both in [1000, 768000]); equal
 * rates copy. Polyphase windowed sinc: Kaiser window (beta 10, about 100 dB stopband), 64 zero
 * crossings per side, cutoff at 0.95 of the lower Nyquist frequency (flat to about 0.90 of it), no
 * delay; ceil(num_samples * to / from) samples out. Measured: a 48 kHz -> 16 kHz sine up to 7 kHz
 * is within 3e-6 of the exact sine (-105 dB), tones above 8 kHz are gone (below -115 dB). The
 * buffer is released with ptrt_audio_free.
 */
PTRT_API ptrt_status ptrt_audio_resample(const float* samples, int64_t num_samples, int32_t from_rate_hz,
                                         int32_t to_rate_hz, float** out_samples, int64_t* out_num_samples);

/* Releases a buffer of ptrt_audio_load_wav or ptrt_audio_resample. NULL is a no-op. */
PTRT_API void ptrt_audio_free(float* samples);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PARAKEET_TRT_H_ */
