use crate::engine_options::EngineOptions;
use crate::error::{check, Error, Result, Status};
use crate::initialized;
use crate::model::Model;
use crate::session::Token;
use crate::stream::{tokens, StreamOptions};
use crate::transcript::{owned_event, CommitPolicy, TranscriptEvent};
use parakeet_trt_sys as sys;
use std::ffi::{c_char, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::Arc;
use std::time::Duration;

/// Everything a live stream is made of (`ptrt_live_stream_create_with_engine`): how it decodes,
/// when it commits, and its ring, event queue and re-decode. Defaults are the library's.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveStreamOptions {
    pub stream: StreamOptions,
    pub commit: CommitPolicy,
    /// Audio the ring holds (1..=600000 ms).
    pub ring_ms: i64,
    /// Events the reader may lag behind (2..=65536); beyond, the inference thread waits.
    pub event_slots: i32,
    /// Each final also carries the offline decode of its segment's audio (buffered mode).
    pub final_redecode: bool,
    pub redecode_pre_roll_ms: i64,
    pub redecode_post_roll_ms: i64,
    /// A fresh session per VAD segment (write `vad_silence_ms`): after `segment_silence_ms` of trailing
    /// silence the segment ends in a final and the pause never reaches the encoder.
    pub segment_on_endpoint: bool,
    pub segment_silence_ms: i64,
    /// Audio before a segment's onset that the segment starts with.
    pub segment_pre_roll_ms: i64,
    /// "v1": one stream (`stream`) through the commit policy (`commit`); "v2": the fast lane shows and
    /// the committing lane commits by local agreement; "v3": time-aligned word voting over the lanes.
    /// v2 and v3 need `segment_on_endpoint` (write `vad_silence_ms`).
    pub aggregator: String,
    /// v2/v3: the lanes as `parakeet-trt live --lanes` writes them ("" = one redecode lane).
    pub lanes: String,
    pub commit_lag_ms: i64,
    pub final_timeout_ms: i64,
    pub stall_ms: i64,
    pub agreement_passes: i32,
    pub fast_lane: i32,
    pub commit_lane: i32,
}

impl Default for LiveStreamOptions {
    /// The library's defaults: one buffered stream (aggregator v1).
    fn default() -> Self {
        Self::from_raw(initialized(sys::ptrt_live_stream_options_init))
    }
}

impl LiveStreamOptions {
    /// The live captions' defaults (what `parakeet-trt live` runs): segments, aggregator v2, one
    /// redecode lane.
    pub fn captions() -> Self {
        Self::from_raw(initialized(sys::ptrt_live_stream_options_init_captions))
    }

    /// The captions' defaults for a stream whose finals an LLM polishes: a beam redecode lane, whose
    /// n-best gives each final's candidate windows (`LiveEvent::candidates`), then the greedy lane,
    /// which shows and commits.
    pub fn candidates() -> Self {
        Self::from_raw(initialized(sys::ptrt_live_stream_options_init_candidates))
    }

    fn from_raw(raw: sys::ptrt_live_stream_options) -> Self {
        // SAFETY: the init functions set aggregator, and lanes when not NULL, to static strings.
        let aggregator = unsafe { text(raw.aggregator) };
        let lanes = if raw.lanes.is_null() { String::new() } else { unsafe { text(raw.lanes) } };
        LiveStreamOptions {
            aggregator,
            lanes,
            commit_lag_ms: raw.commit_lag_ms,
            final_timeout_ms: raw.final_timeout_ms,
            stall_ms: raw.stall_ms,
            agreement_passes: raw.agreement_passes,
            fast_lane: raw.fast_lane,
            commit_lane: raw.commit_lane,
            stream: StreamOptions::default(),
            commit: CommitPolicy::default(),
            ring_ms: raw.ring_ms,
            event_slots: raw.event_slots,
            final_redecode: raw.final_redecode != 0,
            redecode_pre_roll_ms: raw.redecode_pre_roll_ms,
            redecode_post_roll_ms: raw.redecode_post_roll_ms,
            segment_on_endpoint: raw.segment_on_endpoint != 0,
            segment_silence_ms: raw.segment_silence_ms,
            segment_pre_roll_ms: raw.segment_pre_roll_ms,
        }
    }
}

/// One step of a live stream, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    pub seq: i64,
    /// Engine tokens this step committed (never revised) and the speculative tail after it.
    pub committed: Vec<Token>,
    pub tail: Vec<Token>,
    /// Whole words the committed tokens completed (append) and the open word plus tail (replace).
    pub committed_text_added: String,
    pub tail_text: String,
    /// The transcript events (patch, final) this step caused, and per event the re-decode of a
    /// final (empty otherwise).
    pub transcript: Vec<TranscriptEvent>,
    pub redecoded_text: Vec<String>,
    pub audio_end_sample: i64,
    pub decoded_frames: i64,
    pub dropped_samples: i64,
    pub is_last: bool,
    /// The stream stopped on this error (the last event).
    pub error: Option<Error>,
    /// Lanes (v2/v3) that failed or stalled since the last event, one "LANE KIND: MESSAGE" each.
    pub lane_notices: Vec<String>,
    /// Per transcript event: a final's candidate windows for an LLM (where the segment's other
    /// decodes disagree with its words) as the JSON array of docs/PATCH_PROTOCOL.md, else empty.
    pub candidates_json: Vec<String>,
}

struct Handle {
    raw: NonNull<sys::ptrt_live_stream>,
    _model: Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: the header: one producer thread and one consumer thread at once; the writer and the reader
// each hold the handle and use only their side's functions (&mut self on each enforces one thread per
// side). Destroyed once, when the last of the two drops (Arc).
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: created by ptrt_live_stream_create*, destroyed once; joins the inference thread.
        unsafe { sys::ptrt_live_stream_destroy(self.raw.as_ptr()) }
    }
}

/// The producer side of a live stream: `Send`, one thread at a time.
pub struct LiveWriter {
    handle: Arc<Handle>,
    sample_rate_hz: i32,
}

/// The consumer side of a live stream: `Send`, one thread at a time.
pub struct LiveReader {
    handle: Arc<Handle>,
}

/// Creates a live stream on an engine the library makes (shared with the model's other sessions
/// and streams of equal options); its inference thread starts at once. Returns the writer (audio
/// in) and the reader (events out), each for one thread.
///
/// Errors: as [`Stream::with_engine`](crate::Stream::with_engine); a bad option is
/// [`Status::InvalidArgument`] naming it.
pub fn live_stream(model: &Model, engine: &EngineOptions, options: &LiveStreamOptions) -> Result<(LiveWriter, LiveReader)> {
    let (stream_options, _profile) = options.stream.to_raw()?;
    let transcript_options = options.commit.to_raw();
    let mut raw_options = initialized(sys::ptrt_live_stream_options_init);
    raw_options.ring_ms = options.ring_ms;
    raw_options.event_slots = options.event_slots;
    raw_options.final_redecode = options.final_redecode as i32;
    raw_options.redecode_pre_roll_ms = options.redecode_pre_roll_ms;
    raw_options.redecode_post_roll_ms = options.redecode_post_roll_ms;
    raw_options.segment_on_endpoint = options.segment_on_endpoint as i32;
    raw_options.segment_silence_ms = options.segment_silence_ms;
    raw_options.segment_pre_roll_ms = options.segment_pre_roll_ms;
    let aggregator = CString::new(options.aggregator.as_str())
        .map_err(|_| Error::new(Status::InvalidArgument, "aggregator contains a NUL byte"))?;
    let lanes = CString::new(options.lanes.as_str())
        .map_err(|_| Error::new(Status::InvalidArgument, "lanes contains a NUL byte"))?;
    raw_options.aggregator = aggregator.as_ptr();
    raw_options.lanes = lanes.as_ptr();
    raw_options.commit_lag_ms = options.commit_lag_ms;
    raw_options.final_timeout_ms = options.final_timeout_ms;
    raw_options.stall_ms = options.stall_ms;
    raw_options.agreement_passes = options.agreement_passes;
    raw_options.fast_lane = options.fast_lane;
    raw_options.commit_lane = options.commit_lane;
    let engine = engine.to_raw()?;
    let mut raw: *mut sys::ptrt_live_stream = ptr::null_mut();
    // SAFETY: live model; every options struct initialized and valid (strings alive) during the call.
    check(unsafe {
        sys::ptrt_live_stream_create_with_engine(model.raw(), &engine.raw, &stream_options, &transcript_options,
                                                 &raw_options, &mut raw)
    })?;
    let raw = NonNull::new(raw).ok_or_else(|| {
        Error::new(Status::Internal, "ptrt_live_stream_create_with_engine returned PTRT_OK and a NULL stream")
    })?;
    let handle = Arc::new(Handle { raw, _model: model.keep_alive() });
    Ok((LiveWriter { handle: handle.clone(), sample_rate_hz: model.info().sample_rate_hz }, LiveReader { handle }))
}

impl LiveWriter {
    /// Stores mono samples at the model's rate; returns how many were stored. When the ring is full,
    /// `drop_overflow` drops the rest and counts it (a live source), else leaves it to the caller to
    /// write again (a file). `vad_silence_ms`: trailing VAD silence at the block's end (< 0: unknown).
    ///
    /// Errors: [`Status::InvalidAudio`] (NaN/Inf, nothing stored), [`Status::State`] after
    /// [`close`](Self::close), or the error the stream stopped on.
    pub fn write(&mut self, samples: &[f32], vad_silence_ms: f64, drop_overflow: bool) -> Result<usize> {
        let num_samples = i64::try_from(samples.len())
            .map_err(|_| Error::new(Status::InvalidAudio, "too many samples for int64"))?;
        let mut stored = 0i64;
        // SAFETY: live handle, producer side through &mut self; samples valid for num_samples reads.
        check(unsafe {
            sys::ptrt_live_stream_write(self.handle.raw.as_ptr(), samples.as_ptr(), num_samples, self.sample_rate_hz,
                                        vad_silence_ms, drop_overflow as i32, &mut stored)
        })?;
        Ok(stored as usize)
    }

    /// Writes all of `samples`, waiting for room in the ring (a file played as fast as possible).
    pub fn write_all(&mut self, mut samples: &[f32]) -> Result<()> {
        while !samples.is_empty() {
            let stored = self.write(samples, -1.0, false)?;
            samples = &samples[stored..];
            if stored == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Ok(())
    }

    /// End of audio: the last steps run and the last event has `is_last`. Idempotent.
    pub fn close(&mut self) -> Result<()> {
        // SAFETY: live handle, producer side.
        check(unsafe { sys::ptrt_live_stream_close(self.handle.raw.as_ptr()) })
    }
}

unsafe fn text(p: *const c_char) -> String {
    if p.is_null() { String::new() } else { CStr::from_ptr(p).to_string_lossy().into_owned() }
}

impl LiveReader {
    /// The next event, waiting up to `timeout` (`None`: without limit). `Ok(None)` on timeout or once
    /// the stream is over and drained ([`is_done`](Self::is_done)).
    pub fn next_event(&mut self, timeout: Option<Duration>) -> Result<Option<LiveEvent>> {
        let timeout_ms = timeout.map_or(-1, |t| t.as_millis().min(i64::MAX as u128) as i64);
        let mut raw = initialized(sys::ptrt_live_event_init);
        let mut has_event = 0i32;
        // SAFETY: live handle, consumer side through &mut self; out-pointers to locals. The event's
        // views stay valid until the next consumer call, and are copied out below before it.
        unsafe {
            check(sys::ptrt_live_stream_next_event(self.handle.raw.as_ptr(), timeout_ms, &mut raw, &mut has_event))?;
            if has_event == 0 {
                return Ok(None);
            }
            let transcript: Vec<TranscriptEvent> = if raw.num_transcript == 0 {
                Vec::new()
            } else {
                std::slice::from_raw_parts(raw.transcript, raw.num_transcript).iter().map(|e| owned_event(e)).collect()
            };
            let redecoded_text = (0..raw.num_transcript).map(|i| text(*raw.redecoded_text.add(i))).collect();
            let candidates_json = (0..raw.num_transcript).map(|i| text(*raw.candidates_json.add(i))).collect();
            let error = (raw.kind == sys::PTRT_LIVE_EVENT_ERROR)
                .then(|| Error::new(Status::from_raw(raw.error_status), text(raw.error_message)));
            Ok(Some(LiveEvent {
                seq: raw.seq,
                committed: tokens(raw.committed, raw.num_committed),
                tail: tokens(raw.tail, raw.num_tail),
                committed_text_added: text(raw.committed_text_added),
                tail_text: text(raw.tail_text),
                transcript,
                redecoded_text,
                audio_end_sample: raw.audio_end_sample,
                decoded_frames: raw.decoded_frames,
                dropped_samples: raw.dropped_samples,
                is_last: raw.is_last != 0,
                error,
                lane_notices: text(raw.lane_notices).lines().map(str::to_owned).collect(),
                candidates_json,
            }))
        }
    }

    /// The transcript as one snapshot event, as of the last event taken.
    pub fn snapshot(&mut self) -> Result<TranscriptEvent> {
        let mut event: *const sys::ptrt_transcript_event = ptr::null();
        // SAFETY: live handle, consumer side; the view is copied before any other call.
        unsafe {
            check(sys::ptrt_live_stream_snapshot(self.handle.raw.as_ptr(), &mut event))?;
            Ok(owned_event(&*event))
        }
    }

    /// True once the last event has been taken (or the stream stopped).
    pub fn is_done(&self) -> bool {
        // SAFETY: live handle; is_done may be called from any thread.
        unsafe { sys::ptrt_live_stream_is_done(self.handle.raw.as_ptr()) != 0 }
    }
}

impl std::fmt::Debug for LiveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveWriter").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for LiveReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveReader").finish_non_exhaustive()
    }
}
