//! Raw declarations of libparakeet_trt's C ABI, mirroring `cpp/include/parakeet_trt/parakeet_trt.h`
//! (ABI version [`PTRT_ABI_VERSION`]) one to one. Read that header for the contract of every
//! function; the safe wrapper is the `parakeet-trt` crate.
//!
//! C enums are declared as `c_int` aliases with constants, not Rust enums: a value the library
//! adds later must not be undefined behaviour on the Rust side. The layout test
//! (`tests/layout.rs`) compiles a C program from the header and checks every struct's size and
//! field offsets against these declarations.
#![allow(non_camel_case_types)]
#![no_std]

use core::ffi::{c_char, c_int, c_void};

/// Bumped whenever a struct layout or a function signature changes incompatibly.
pub const PTRT_ABI_VERSION: i32 = 1;
pub const PTRT_MAX_TENSOR_RANK: usize = 8;

pub type ptrt_status = c_int;
pub const PTRT_OK: ptrt_status = 0;
pub const PTRT_ERROR_INVALID_ARGUMENT: ptrt_status = 1;
pub const PTRT_ERROR_INVALID_AUDIO: ptrt_status = 2;
pub const PTRT_ERROR_MODEL: ptrt_status = 3;
pub const PTRT_ERROR_CONTRACT_VIOLATION: ptrt_status = 4;
pub const PTRT_ERROR_ENGINE: ptrt_status = 5;
pub const PTRT_ERROR_STATE: ptrt_status = 6;
pub const PTRT_ERROR_UNAVAILABLE: ptrt_status = 7;
pub const PTRT_ERROR_INTERNAL: ptrt_status = 99;

pub type ptrt_dtype = c_int;
pub const PTRT_DTYPE_FLOAT32: ptrt_dtype = 1;
pub const PTRT_DTYPE_INT64: ptrt_dtype = 2;
pub const PTRT_DTYPE_INT32: ptrt_dtype = 3;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_tensor {
    pub name: *const c_char,
    /// A `PTRT_DTYPE_*` value (`int32_t` in C).
    pub dtype: i32,
    pub rank: i32,
    pub shape: [i64; PTRT_MAX_TENSOR_RANK],
    pub data: *mut c_void,
}

pub type ptrt_engine_run_fn = unsafe extern "C" fn(
    self_: *mut c_void,
    inputs: *const ptrt_tensor,
    num_inputs: usize,
    outputs: *mut ptrt_tensor,
    num_outputs: usize,
    error_message: *mut c_char,
    error_capacity: usize,
) -> ptrt_status;

pub type ptrt_engine_destroy_fn = unsafe extern "C" fn(self_: *mut c_void);

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_engine_vtable {
    pub struct_size: usize,
    pub self_: *mut c_void,
    pub run: Option<ptrt_engine_run_fn>,
    pub destroy: Option<ptrt_engine_destroy_fn>,
}

/// Engines the library makes (fill with `ptrt_engine_options_init`); strings are read during the
/// create call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_engine_options {
    pub struct_size: usize,
    pub name: *const c_char,
    pub providers: *const c_char,
    pub intra_op_threads: i32,
    pub device_id: i32,
    pub onnxruntime_library: *const c_char,
    pub trt_engine_dir: *const c_char,
    pub allow_spinning: i32,
}

/// Opaque.
#[repr(C)]
pub struct ptrt_model {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_model_options {
    pub struct_size: usize,
    pub verify_hashes: i32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_model_info {
    pub struct_size: usize,
    pub sample_rate_hz: i32,
    pub num_mel_bins: i32,
    pub encoder_dim: i32,
    pub vocab_size: i32,
    pub blank_id: i32,
    pub max_symbols: i32,
    pub subsampling_factor: i32,
    pub frame_stride_s: f64,
    pub max_encoder_frames: i64,
    pub model_name: *const c_char,
}

/// Opaque.
#[repr(C)]
pub struct ptrt_session {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_session_options {
    pub struct_size: usize,
    pub reserved: i32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ptrt_token {
    pub id: i32,
    pub duration: i32,
    pub frame: i64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_word {
    pub text: *const c_char,
    pub start_s: f64,
    pub end_s: f64,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_transcript {
    pub text: *const c_char,
    pub tokens: *const ptrt_token,
    pub num_tokens: usize,
    pub words: *const ptrt_word,
    pub num_words: usize,
    pub num_encoder_frames: i64,
    pub audio_duration_s: f64,
}

/// `ptrt_decoding_options.strategy`.
pub const PTRT_DECODING_GREEDY: i32 = 0;
pub const PTRT_DECODING_BEAM: i32 = 1;

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_decoding_options {
    pub struct_size: usize,
    /// `PTRT_DECODING_*`.
    pub strategy: i32,
    pub beam_size: i32,
    pub nbest: i32,
    pub reserved: i32,
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_hypothesis {
    pub struct_size: usize,
    pub text: *const c_char,
    pub score: f64,
    pub tokens: *const ptrt_token,
    pub num_tokens: usize,
    pub words: *const ptrt_word,
    pub num_words: usize,
    /// `num_words` entries.
    pub word_confidences: *const f64,
}

#[repr(C)]
pub struct ptrt_stream {
    _private: [u8; 0],
}

#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_stream_options {
    pub struct_size: usize,
    pub chunk_ms: i64,
    pub left_ms: i64,
    pub right_ms: i64,
    pub history_ms: i64,
    /// `PTRT_STREAM_MODE_*`.
    pub mode: i32,
    pub profile: *const c_char,
}

pub const PTRT_STREAM_MODE_BUFFERED: i32 = 0;
pub const PTRT_STREAM_MODE_CACHE_AWARE: i32 = 1;

/// Longest audio `ptrt_audio_load_wav` accepts, in seconds.
pub const PTRT_AUDIO_MAX_DURATION_S: i64 = 14400;

/// Options of a cache-aware stream; `profile` NULL or "" accepts the export's profile.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_cache_aware_stream_options {
    pub struct_size: usize,
    pub profile: *const c_char,
}

/// One streaming step, borrowed: valid only during the callback that receives it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_stream_update {
    pub struct_size: usize,
    pub committed: *const ptrt_token,
    pub num_committed: usize,
    pub tail: *const ptrt_token,
    pub num_tail: usize,
    pub audio_end_sample: i64,
    pub decoded_frames: i64,
    pub is_last: i32,
}

pub type ptrt_stream_callback = unsafe extern "C" fn(user_data: *mut c_void, update: *const ptrt_stream_update);

#[repr(C)]
pub struct ptrt_transcript_state {
    _private: [u8; 0],
}

/// Commit policy and endpointing of a transcript state (fill with ptrt_transcript_options_init).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_transcript_options {
    pub struct_size: usize,
    pub stable_updates: i32,
    pub max_window_tokens: i32,
    pub max_lag_ms: i64,
    pub endpoint_blank_ms: i64,
    pub endpoint_vad_ms: i64,
    pub endpoint_require_both: i32,
    pub commit_whole_words: i32,
}

pub type ptrt_transcript_event_type = i32;
pub const PTRT_TRANSCRIPT_EVENT_PATCH: ptrt_transcript_event_type = 1;
pub const PTRT_TRANSCRIPT_EVENT_FINAL: ptrt_transcript_event_type = 2;
pub const PTRT_TRANSCRIPT_EVENT_SNAPSHOT: ptrt_transcript_event_type = 3;

/// One patch-protocol event (docs/PATCH_PROTOCOL.md), borrowed until the next call on the state.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_transcript_event {
    pub type_: i32,
    pub reserved: i32,
    pub seq: i64,
    pub committed_len: i64,
    pub replace_from: i64,
    pub text: *const c_char,
    pub text_size: usize,
    pub audio_end_s: f64,
    pub segment: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub words: *const ptrt_word,
    pub num_words: usize,
}

/// Opaque.
#[repr(C)]
pub struct ptrt_live_stream {
    _private: [u8; 0],
}

/// Ring, event queue and re-decode of a live stream (fill with `ptrt_live_stream_options_init`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_live_stream_options {
    pub struct_size: usize,
    pub ring_ms: i64,
    pub event_slots: i32,
    pub final_redecode: i32,
    pub redecode_pre_roll_ms: i64,
    pub redecode_post_roll_ms: i64,
    pub segment_on_endpoint: i32,
    pub reserved: i32,
    pub segment_silence_ms: i64,
    pub segment_pre_roll_ms: i64,
    pub aggregator: *const c_char,
    pub lanes: *const c_char,
    pub commit_lag_ms: i64,
    pub final_timeout_ms: i64,
    pub stall_ms: i64,
    pub agreement_passes: i32,
    pub fast_lane: i32,
    pub commit_lane: i32,
    pub reserved2: i32,
}

pub const PTRT_LIVE_EVENT_STEP: i32 = 0;
pub const PTRT_LIVE_EVENT_ERROR: i32 = 1;

/// One live-stream event, borrowed until the consumer's next call (fill struct_size with
/// `ptrt_live_event_init`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ptrt_live_event {
    pub struct_size: usize,
    pub kind: i32,
    pub is_last: i32,
    pub seq: i64,
    pub committed: *const ptrt_token,
    pub num_committed: usize,
    pub tail: *const ptrt_token,
    pub num_tail: usize,
    pub committed_text_added: *const c_char,
    pub tail_text: *const c_char,
    pub transcript: *const ptrt_transcript_event,
    pub num_transcript: usize,
    pub redecoded_text: *const *const c_char,
    pub audio_end_sample: i64,
    pub decoded_frames: i64,
    pub dropped_samples: i64,
    pub error_status: i32,
    pub reserved: i32,
    pub error_message: *const c_char,
    pub lane_notices: *const c_char,
    pub candidates_json: *const *const c_char,
}

extern "C" {
    pub fn ptrt_version() -> *const c_char;
    pub fn ptrt_abi_version() -> i32;
    pub fn ptrt_last_error() -> *const c_char;
    pub fn ptrt_status_name(status: ptrt_status) -> *const c_char;

    pub fn ptrt_model_options_init(options: *mut ptrt_model_options);
    pub fn ptrt_model_load(
        model_dir: *const c_char,
        options: *const ptrt_model_options,
        out_model: *mut *mut ptrt_model,
    ) -> ptrt_status;
    pub fn ptrt_model_destroy(model: *mut ptrt_model);
    pub fn ptrt_model_info_init(info: *mut ptrt_model_info);
    pub fn ptrt_model_get_info(model: *const ptrt_model, info: *mut ptrt_model_info) -> ptrt_status;
    pub fn ptrt_model_feature_frames(
        model: *const ptrt_model,
        num_samples: i64,
        out_num_frames: *mut i64,
        out_num_valid_frames: *mut i64,
    ) -> ptrt_status;
    pub fn ptrt_model_compute_features(
        model: *const ptrt_model,
        samples: *const f32,
        num_samples: i64,
        out_features: *mut f32,
        capacity: i64,
    ) -> ptrt_status;

    pub fn ptrt_model_detokenize(
        model: *const ptrt_model,
        token_ids: *const i32,
        num_tokens: usize,
        out_text: *mut c_char,
        capacity: usize,
        out_length: *mut usize,
    ) -> ptrt_status;
    pub fn ptrt_session_options_init(options: *mut ptrt_session_options);
    pub fn ptrt_session_create(
        model: *const ptrt_model,
        encoder: *const ptrt_engine_vtable,
        options: *const ptrt_session_options,
        out_session: *mut *mut ptrt_session,
    ) -> ptrt_status;
    pub fn ptrt_engine_options_init(options: *mut ptrt_engine_options);
    pub fn ptrt_session_create_with_engine(
        model: *const ptrt_model,
        engine_options: *const ptrt_engine_options,
        options: *const ptrt_session_options,
        out_session: *mut *mut ptrt_session,
    ) -> ptrt_status;
    pub fn ptrt_session_destroy(session: *mut ptrt_session);
    pub fn ptrt_session_transcribe(
        session: *mut ptrt_session,
        samples: *const f32,
        num_samples: i64,
        sample_rate_hz: i32,
        out_transcript: *mut ptrt_transcript,
    ) -> ptrt_status;

    pub fn ptrt_decoding_options_init(options: *mut ptrt_decoding_options);
    pub fn ptrt_session_transcribe_with_decoding(
        session: *mut ptrt_session,
        samples: *const f32,
        num_samples: i64,
        sample_rate_hz: i32,
        decoding: *const ptrt_decoding_options,
        out_transcript: *mut ptrt_transcript,
    ) -> ptrt_status;
    pub fn ptrt_hypothesis_init(hypothesis: *mut ptrt_hypothesis);
    pub fn ptrt_session_num_hypotheses(session: *const ptrt_session, out_count: *mut usize) -> ptrt_status;
    pub fn ptrt_session_get_hypothesis(
        session: *const ptrt_session,
        index: usize,
        out_hypothesis: *mut ptrt_hypothesis,
    ) -> ptrt_status;

    pub fn ptrt_stream_options_init(options: *mut ptrt_stream_options);
    pub fn ptrt_stream_create(
        model: *const ptrt_model,
        encoder: *const ptrt_engine_vtable,
        options: *const ptrt_stream_options,
        out_stream: *mut *mut ptrt_stream,
    ) -> ptrt_status;
    pub fn ptrt_stream_create_with_engine(
        model: *const ptrt_model,
        engine_options: *const ptrt_engine_options,
        options: *const ptrt_stream_options,
        out_stream: *mut *mut ptrt_stream,
    ) -> ptrt_status;
    pub fn ptrt_cache_aware_stream_options_init(options: *mut ptrt_cache_aware_stream_options);
    pub fn ptrt_stream_create_cache_aware(
        model: *const ptrt_model,
        streaming_encoder: *const ptrt_engine_vtable,
        options: *const ptrt_cache_aware_stream_options,
        out_stream: *mut *mut ptrt_stream,
    ) -> ptrt_status;
    pub fn ptrt_stream_destroy(stream: *mut ptrt_stream);
    pub fn ptrt_stream_push(
        stream: *mut ptrt_stream,
        samples: *const f32,
        num_samples: i64,
        sample_rate_hz: i32,
        on_update: Option<ptrt_stream_callback>,
        user_data: *mut c_void,
    ) -> ptrt_status;
    pub fn ptrt_stream_finish(
        stream: *mut ptrt_stream,
        on_update: Option<ptrt_stream_callback>,
        user_data: *mut c_void,
    ) -> ptrt_status;

    pub fn ptrt_transcript_options_init(options: *mut ptrt_transcript_options);
    pub fn ptrt_transcript_state_create(
        model: *const ptrt_model,
        options: *const ptrt_transcript_options,
        out_state: *mut *mut ptrt_transcript_state,
    ) -> ptrt_status;
    pub fn ptrt_transcript_state_destroy(state: *mut ptrt_transcript_state);
    pub fn ptrt_transcript_state_apply_step(
        state: *mut ptrt_transcript_state,
        stable: *const ptrt_token,
        num_stable: usize,
        tail: *const ptrt_token,
        num_tail: usize,
        audio_end_s: f64,
        vad_silence_ms: f64,
        out_events: *mut *const ptrt_transcript_event,
        out_num_events: *mut usize,
    ) -> ptrt_status;
    pub fn ptrt_transcript_state_apply_hypothesis(
        state: *mut ptrt_transcript_state,
        tokens: *const ptrt_token,
        num_tokens: usize,
        audio_end_s: f64,
        vad_silence_ms: f64,
        out_events: *mut *const ptrt_transcript_event,
        out_num_events: *mut usize,
    ) -> ptrt_status;
    pub fn ptrt_transcript_state_endpoint(
        state: *mut ptrt_transcript_state,
        audio_end_s: f64,
        out_events: *mut *const ptrt_transcript_event,
        out_num_events: *mut usize,
    ) -> ptrt_status;
    pub fn ptrt_transcript_state_finish(
        state: *mut ptrt_transcript_state,
        audio_end_s: f64,
        out_events: *mut *const ptrt_transcript_event,
        out_num_events: *mut usize,
    ) -> ptrt_status;
    pub fn ptrt_transcript_state_snapshot(
        state: *mut ptrt_transcript_state,
        out_event: *mut *const ptrt_transcript_event,
    ) -> ptrt_status;

    pub fn ptrt_live_stream_options_init(options: *mut ptrt_live_stream_options);
    pub fn ptrt_live_stream_options_init_captions(options: *mut ptrt_live_stream_options);
    pub fn ptrt_live_stream_options_init_candidates(options: *mut ptrt_live_stream_options);
    pub fn ptrt_live_event_init(event: *mut ptrt_live_event);
    pub fn ptrt_live_stream_create_with_engine(
        model: *const ptrt_model,
        engine_options: *const ptrt_engine_options,
        stream_options: *const ptrt_stream_options,
        transcript_options: *const ptrt_transcript_options,
        options: *const ptrt_live_stream_options,
        out_stream: *mut *mut ptrt_live_stream,
    ) -> ptrt_status;
    pub fn ptrt_live_stream_create(
        model: *const ptrt_model,
        encoder: *const ptrt_engine_vtable,
        stream_options: *const ptrt_stream_options,
        transcript_options: *const ptrt_transcript_options,
        options: *const ptrt_live_stream_options,
        out_stream: *mut *mut ptrt_live_stream,
    ) -> ptrt_status;
    pub fn ptrt_live_stream_destroy(stream: *mut ptrt_live_stream);
    pub fn ptrt_live_stream_write(
        stream: *mut ptrt_live_stream,
        samples: *const f32,
        num_samples: i64,
        sample_rate_hz: i32,
        vad_silence_ms: f64,
        drop_overflow: i32,
        out_stored: *mut i64,
    ) -> ptrt_status;
    pub fn ptrt_live_stream_close(stream: *mut ptrt_live_stream) -> ptrt_status;
    pub fn ptrt_live_stream_next_event(
        stream: *mut ptrt_live_stream,
        timeout_ms: i64,
        out_event: *mut ptrt_live_event,
        out_has_event: *mut i32,
    ) -> ptrt_status;
    pub fn ptrt_live_stream_snapshot(
        stream: *mut ptrt_live_stream,
        out_event: *mut *const ptrt_transcript_event,
    ) -> ptrt_status;
    pub fn ptrt_live_stream_is_done(stream: *const ptrt_live_stream) -> i32;

    pub fn ptrt_audio_load_wav(
        path: *const c_char,
        target_rate_hz: i32,
        out_samples: *mut *mut f32,
        out_num_samples: *mut i64,
    ) -> ptrt_status;
    pub fn ptrt_audio_resample(
        samples: *const f32,
        num_samples: i64,
        from_rate_hz: i32,
        to_rate_hz: i32,
        out_samples: *mut *mut f32,
        out_num_samples: *mut i64,
    ) -> ptrt_status;
    pub fn ptrt_audio_free(samples: *mut f32);
}
