use crate::decoding::{DecodingOptions, Hypothesis, ScoredWord};
use crate::engine::{engine_into_raw_vtable, Engine};
use crate::engine_options::EngineOptions;
use crate::error::{check, Error, Result, Status};
use crate::initialized;
use crate::model::Model;
use parakeet_trt_sys as sys;
use std::ffi::CStr;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// One emitted token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub id: i32,
    /// Encoder frame index of the emission (times [`ModelInfo::frame_stride_s`] gives seconds).
    ///
    /// [`ModelInfo::frame_stride_s`]: crate::ModelInfo::frame_stride_s
    pub frame: i64,
    /// TDT duration in encoder frames.
    pub duration: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
}

/// A transcript, copied out of the session (owned; the C view is only valid until the next call).
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub text: String,
    pub tokens: Vec<Token>,
    pub words: Vec<Word>,
    pub num_encoder_frames: i64,
    pub audio_duration_s: f64,
    /// Beam search ([`Session::transcribe_with`]): up to `nbest` hypotheses, best first (the
    /// transcript is the first's); greedy: empty.
    pub nbest: Vec<Hypothesis>,
}

/// Offline recognition on a [`Model`]: with an engine the library makes ([`Session::with_engine`],
/// ONNX Runtime or TensorRT) or a caller-supplied encoder [`Engine`] ([`Session::new`]).
///
/// `Send`, not `Sync`: the header allows one thread at a time per session, moving between
/// threads; `transcribe` takes `&mut self`, so the borrow checker enforces the rest.
pub struct Session {
    raw: NonNull<sys::ptrt_session>,
    // The header: "the model must outlive the session". Dropped after `raw` (see Drop).
    _model: Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: the header: "a ptrt_session must be used by one thread at a time (it may move between
// threads)". The session's engine moves with it, which is why Engine: Send. No Sync: &Session
// exposes nothing, and two threads must never drive one session at once.
unsafe impl Send for Session {}

impl Drop for Session {
    fn drop(&mut self) {
        // SAFETY: created by ptrt_session_create*, destroyed once; this also destroys an external
        // engine (the vtable's destroy) or releases a shared one. The model Arc is released after.
        unsafe { sys::ptrt_session_destroy(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

unsafe fn c_string(text: *const std::ffi::c_char) -> String {
    if text.is_null() {
        String::new()
    } else {
        // Token pieces are UTF-8; a byte-fallback piece could split a character, hence lossy.
        CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

unsafe fn c_slice<'a, T>(data: *const T, len: usize) -> &'a [T] {
    if len == 0 || data.is_null() { &[] } else { std::slice::from_raw_parts(data, len) }
}

impl Session {
    /// Creates a session whose encoder is an engine the library makes (`ptrt_session_create_with_engine`):
    /// ONNX Runtime by default, shared with every session and stream of `model` that uses equal options.
    ///
    /// Errors: [`Status::Unavailable`] when libonnxruntime (or TensorRT) cannot be loaded, naming
    /// where it was looked for; [`Status::InvalidArgument`] for an unknown engine name, provider or
    /// negative count; [`Status::Model`] / [`Status::ContractViolation`] when the folder's encoder
    /// graph is missing or disagrees with the contract.
    pub fn with_engine(model: &Model, engine: &EngineOptions) -> Result<Session> {
        let engine = engine.to_raw()?;
        let mut raw: *mut sys::ptrt_session = ptr::null_mut();
        // SAFETY: live model; engine options valid (their strings live in `engine`) during the call.
        check(unsafe { sys::ptrt_session_create_with_engine(model.raw(), &engine.raw, ptr::null(), &mut raw) })?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::new(Status::Internal, "ptrt_session_create_with_engine returned PTRT_OK and a NULL session")
        })?;
        Ok(Session { raw, _model: model.keep_alive() })
    }

    /// Creates a session; the session owns `encoder` and drops it exactly once when it is
    /// dropped, or before returning if creation fails.
    ///
    /// Errors: [`Status::ContractViolation`] or [`Status::Model`] when the model's contract
    /// cannot be served, [`Status::InvalidArgument`] for a bad vtable (never from this crate).
    pub fn new(model: &Model, encoder: Box<dyn Engine>) -> Result<Session> {
        let vtable = engine_into_raw_vtable(encoder);
        let mut raw: *mut sys::ptrt_session = ptr::null_mut();
        // SAFETY: live model; the C side copies the vtable and owns its self from here on,
        // calling destroy on every path, so `vtable` must not be used again.
        check(unsafe { sys::ptrt_session_create(model.raw(), &vtable, ptr::null(), &mut raw) })?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(Status::Internal, "ptrt_session_create returned PTRT_OK and a NULL session"))?;
        Ok(Session { raw, _model: model.keep_alive() })
    }

    /// Transcribes one utterance of mono audio. `sample_rate_hz` must equal the model's
    /// ([`ModelInfo::sample_rate_hz`](crate::ModelInfo::sample_rate_hz)): resample first, e.g.
    /// with [`audio::load_wav`](crate::audio::load_wav) or [`audio::resample`](crate::audio::resample).
    ///
    /// Errors: [`Status::InvalidAudio`] (empty, NaN/Inf, other rate, longer than the export
    /// supports), [`Status::Engine`] (the engine returned `Err` or panicked),
    /// [`Status::ContractViolation`] (the engine's outputs disagree with the contract). The
    /// session stays usable after any of them.
    pub fn transcribe(&mut self, samples: &[f32], sample_rate_hz: i32) -> Result<Transcript> {
        self.transcribe_with(samples, sample_rate_hz, &DecodingOptions::default())
    }

    /// [`transcribe`](Session::transcribe) with a decoding choice
    /// (`ptrt_session_transcribe_with_decoding`): greedy or beam search on the same encoder
    /// output; with beam search the transcript carries the n-best list
    /// (`ptrt_session_get_hypothesis`). A bad option is [`Status::InvalidArgument`] naming it.
    pub fn transcribe_with(&mut self, samples: &[f32], sample_rate_hz: i32, decoding: &DecodingOptions) -> Result<Transcript> {
        let num_samples = i64::try_from(samples.len())
            .map_err(|_| Error::new(Status::InvalidAudio, "too many samples for int64"))?;
        let options = decoding.to_raw();
        let mut view = std::mem::MaybeUninit::<sys::ptrt_transcript>::zeroed();
        // SAFETY: live session used through &mut self (one thread at a time); samples valid for
        // num_samples reads; the views are copied below before any other call on the session.
        unsafe {
            check(sys::ptrt_session_transcribe_with_decoding(
                self.raw.as_ptr(),
                samples.as_ptr(),
                num_samples,
                sample_rate_hz,
                &options,
                view.as_mut_ptr(),
            ))?;
            let view = view.assume_init();
            Ok(Transcript {
                text: c_string(view.text),
                tokens: crate::stream::tokens(view.tokens, view.num_tokens),
                words: c_slice(view.words, view.num_words).iter().map(|w| word(w)).collect(),
                num_encoder_frames: view.num_encoder_frames,
                audio_duration_s: view.audio_duration_s,
                nbest: self.nbest()?,
            })
        }
    }

    /// The n-best entries of the last transcription, copied out.
    fn nbest(&self) -> Result<Vec<Hypothesis>> {
        let mut count = 0usize;
        // SAFETY: live session; out-pointers valid; each view is copied before the next call.
        unsafe {
            check(sys::ptrt_session_num_hypotheses(self.raw.as_ptr(), &mut count))?;
            (0..count)
                .map(|index| {
                    let mut h = initialized(sys::ptrt_hypothesis_init);
                    check(sys::ptrt_session_get_hypothesis(self.raw.as_ptr(), index, &mut h))?;
                    let confidences = c_slice(h.word_confidences, h.num_words);
                    let words = c_slice(h.words, h.num_words)
                        .iter()
                        .zip(confidences)
                        .map(|(w, &confidence)| {
                            let w = word(w);
                            ScoredWord { text: w.text, start_s: w.start_s, end_s: w.end_s, confidence }
                        })
                        .collect();
                    Ok(Hypothesis { text: c_string(h.text), score: h.score, tokens: crate::stream::tokens(h.tokens, h.num_tokens), words })
                })
                .collect()
        }
    }
}

unsafe fn word(w: &sys::ptrt_word) -> Word {
    Word { text: c_string(w.text), start_s: w.start_s, end_s: w.end_s }
}
