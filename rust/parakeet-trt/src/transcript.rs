//! Live-caption transcript state (`ptrt_transcript_state_*`): a committed prefix that never changes
//! and a revision window, turned into the events of docs/PATCH_PROTOCOL.md.
//!
//! ```no_run
//! # fn main() -> Result<(), parakeet_trt::Error> {
//! use parakeet_trt::{CommitPolicy, Model, TranscriptEventKind, TranscriptState};
//! let model = Model::load("python/parakeet_trt/models/random-weights-test")?;
//! let mut transcript = TranscriptState::new(&model, CommitPolicy::default())?;
//! let mut display = String::new();
//! // for each StreamUpdate u of a Stream:
//! //     for e in transcript.apply_step(&u.committed, &u.tail, u.audio_end_sample as f64 / 16000.0, -1.0)? { ... }
//! for e in transcript.finish(1.0)? {
//!     if e.kind == TranscriptEventKind::Patch {
//!         display = e.apply_to(&display);
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::error::{check, Error, Result, Status};
use crate::model::Model;
use crate::session::{Token, Word};
use parakeet_trt_sys as sys;
use std::ffi::CStr;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// Commit policy and endpointing (0 turns a rule off). Defaults from `ptrt_transcript_options_init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitPolicy {
    /// K: a token unchanged for K updates is ready to commit.
    pub stable_updates: i32,
    /// N: beyond N window tokens the oldest are committed.
    pub max_window_tokens: i32,
    /// W: a token ending W ms behind the live edge is ready to commit.
    pub max_lag_ms: i64,
    /// Endpoint after this long without a token (decoder blank run).
    pub endpoint_blank_ms: i64,
    /// Endpoint after this much VAD silence (reported with each update).
    pub endpoint_vad_ms: i64,
    /// With both endpoint rules on, require both instead of either.
    pub endpoint_require_both: bool,
    /// Commits end only where the next token opens a word.
    pub commit_whole_words: bool,
}

fn raw_defaults() -> sys::ptrt_transcript_options {
    crate::initialized(sys::ptrt_transcript_options_init)
}

impl Default for CommitPolicy {
    fn default() -> Self {
        let raw = raw_defaults();
        CommitPolicy {
            stable_updates: raw.stable_updates,
            max_window_tokens: raw.max_window_tokens,
            max_lag_ms: raw.max_lag_ms,
            endpoint_blank_ms: raw.endpoint_blank_ms,
            endpoint_vad_ms: raw.endpoint_vad_ms,
            endpoint_require_both: raw.endpoint_require_both != 0,
            commit_whole_words: raw.commit_whole_words != 0,
        }
    }
}

impl CommitPolicy {
    pub(crate) fn to_raw(&self) -> sys::ptrt_transcript_options {
        let mut raw = raw_defaults();
        raw.stable_updates = self.stable_updates;
        raw.max_window_tokens = self.max_window_tokens;
        raw.max_lag_ms = self.max_lag_ms;
        raw.endpoint_blank_ms = self.endpoint_blank_ms;
        raw.endpoint_vad_ms = self.endpoint_vad_ms;
        raw.endpoint_require_both = self.endpoint_require_both as i32;
        raw.commit_whole_words = self.commit_whole_words as i32;
        raw
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptEventKind {
    Patch,
    Final,
    Snapshot,
}

/// One protocol event, owned. Offsets and lengths count Unicode code points.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptEvent {
    pub kind: TranscriptEventKind,
    pub seq: i64,
    /// Patch, snapshot: committed characters after the event (never decreases).
    pub committed_len: i64,
    /// Patch: where `text` replaces the displayed text.
    pub replace_from: i64,
    /// Patch: displayed text from replace_from; final: the segment; snapshot: everything.
    pub text: String,
    pub audio_end_s: f64,
    /// Final: segment index; snapshot: the next one.
    pub segment: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub words: Vec<Word>,
}

impl TranscriptEvent {
    /// The displayed text after applying this patch (or snapshot) to `display`.
    pub fn apply_to(&self, display: &str) -> String {
        match self.kind {
            TranscriptEventKind::Snapshot => self.text.clone(),
            TranscriptEventKind::Final => display.to_string(),
            TranscriptEventKind::Patch => {
                let mut out: String = display.chars().take(self.replace_from as usize).collect();
                out.push_str(&self.text);
                out
            }
        }
    }
}

pub(crate) unsafe fn owned_event(e: &sys::ptrt_transcript_event) -> TranscriptEvent {
    let text = if e.text.is_null() { String::new() } else { CStr::from_ptr(e.text).to_string_lossy().into_owned() };
    let words = if e.num_words == 0 || e.words.is_null() {
        Vec::new()
    } else {
        std::slice::from_raw_parts(e.words, e.num_words)
            .iter()
            .map(|w| Word {
                text: CStr::from_ptr(w.text).to_string_lossy().into_owned(),
                start_s: w.start_s,
                end_s: w.end_s,
            })
            .collect()
    };
    TranscriptEvent {
        kind: match e.type_ {
            sys::PTRT_TRANSCRIPT_EVENT_FINAL => TranscriptEventKind::Final,
            sys::PTRT_TRANSCRIPT_EVENT_SNAPSHOT => TranscriptEventKind::Snapshot,
            _ => TranscriptEventKind::Patch,
        },
        seq: e.seq,
        committed_len: e.committed_len,
        replace_from: e.replace_from,
        text,
        audio_end_s: e.audio_end_s,
        segment: e.segment,
        start_s: e.start_s,
        end_s: e.end_s,
        words,
    }
}

/// The transcript of one stream. `Send`, not `Sync` (one thread at a time).
pub struct TranscriptState {
    raw: NonNull<sys::ptrt_transcript_state>,
    _model: Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: a ptrt_transcript_state is used by one thread at a time (&mut self) and may move.
unsafe impl Send for TranscriptState {}

impl Drop for TranscriptState {
    fn drop(&mut self) {
        // SAFETY: created by ptrt_transcript_state_create, destroyed once.
        unsafe { sys::ptrt_transcript_state_destroy(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for TranscriptState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TranscriptState").finish_non_exhaustive()
    }
}

fn raw_tokens(tokens: &[Token]) -> Vec<sys::ptrt_token> {
    tokens.iter().map(|t| sys::ptrt_token { id: t.id, duration: t.duration, frame: t.frame }).collect()
}

impl TranscriptState {
    /// A bad policy value is `Status::InvalidArgument` naming the field.
    pub fn new(model: &Model, policy: CommitPolicy) -> Result<TranscriptState> {
        let raw_options = policy.to_raw();
        let mut raw: *mut sys::ptrt_transcript_state = ptr::null_mut();
        // SAFETY: live model, initialized options, valid out pointer.
        check(unsafe { sys::ptrt_transcript_state_create(model.raw(), &raw_options, &mut raw) })?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::new(Status::Internal, "ptrt_transcript_state_create returned PTRT_OK and a NULL state")
        })?;
        Ok(TranscriptState { raw, _model: model.keep_alive() })
    }

    fn events(
        &mut self,
        call: impl FnOnce(*mut sys::ptrt_transcript_state, *mut *const sys::ptrt_transcript_event, *mut usize) -> sys::ptrt_status,
    ) -> Result<Vec<TranscriptEvent>> {
        let mut events: *const sys::ptrt_transcript_event = ptr::null();
        let mut count = 0usize;
        check(call(self.raw.as_ptr(), &mut events, &mut count))?;
        if count == 0 || events.is_null() {
            return Ok(Vec::new());
        }
        // SAFETY: borrowed views valid until the next call on this state; copied out here.
        Ok(unsafe { std::slice::from_raw_parts(events, count) }.iter().map(|e| unsafe { owned_event(e) }).collect())
    }

    /// One stream update: `stable` = the update's committed tokens, `tail` = its speculative tail;
    /// `audio_end_s` = stream time of the last sample consumed; `vad_silence_ms` < 0: unknown.
    pub fn apply_step(&mut self, stable: &[Token], tail: &[Token], audio_end_s: f64, vad_silence_ms: f64) -> Result<Vec<TranscriptEvent>> {
        let (s, t) = (raw_tokens(stable), raw_tokens(tail));
        self.events(|raw, events, count| unsafe {
            // SAFETY: token slices live across the call; out pointers are valid.
            sys::ptrt_transcript_state_apply_step(raw, s.as_ptr(), s.len(), t.as_ptr(), t.len(), audio_end_s, vad_silence_ms, events, count)
        })
    }

    /// The whole hypothesis at once (engines that may revise anything).
    pub fn apply_hypothesis(&mut self, tokens: &[Token], audio_end_s: f64, vad_silence_ms: f64) -> Result<Vec<TranscriptEvent>> {
        let h = raw_tokens(tokens);
        self.events(|raw, events, count| unsafe {
            // SAFETY: as above.
            sys::ptrt_transcript_state_apply_hypothesis(raw, h.as_ptr(), h.len(), audio_end_s, vad_silence_ms, events, count)
        })
    }

    /// A caller-detected endpoint: commits the window and emits the segment's final.
    pub fn endpoint(&mut self, audio_end_s: f64) -> Result<Vec<TranscriptEvent>> {
        // SAFETY: valid state and out pointers.
        self.events(|raw, events, count| unsafe { sys::ptrt_transcript_state_endpoint(raw, audio_end_s, events, count) })
    }

    /// End of input: everything is committed; the finals then add up to the committed text.
    pub fn finish(&mut self, audio_end_s: f64) -> Result<Vec<TranscriptEvent>> {
        // SAFETY: valid state and out pointers.
        self.events(|raw, events, count| unsafe { sys::ptrt_transcript_state_finish(raw, audio_end_s, events, count) })
    }

    /// The state as one snapshot event (for a client that resyncs).
    pub fn snapshot(&mut self) -> Result<TranscriptEvent> {
        let mut event: *const sys::ptrt_transcript_event = ptr::null();
        // SAFETY: valid state and out pointer.
        check(unsafe { sys::ptrt_transcript_state_snapshot(self.raw.as_ptr(), &mut event) })?;
        // SAFETY: on success the view is valid until the next call; copied out here.
        Ok(unsafe { owned_event(&*event) })
    }
}
