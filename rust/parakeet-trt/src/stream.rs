use crate::engine::{engine_into_raw_vtable, Engine};
use crate::engine_options::EngineOptions;
use crate::error::{check, Error, Result, Status};
use crate::initialized;
use crate::model::Model;
use crate::session::Token;
use parakeet_trt_sys as sys;
use std::ffi::{c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// How a stream decodes (`PTRT_STREAM_MODE_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamMode {
    /// NeMo's buffered inference on the offline encoder (graph `encoder`).
    Buffered,
    /// A cache-aware streaming export (graph `encoder_streaming`).
    CacheAware,
}

/// Stream parameters. Buffered: milliseconds, multiples of the model's encoder frame (80 ms for
/// Parakeet). Defaults are the library's (`ptrt_stream_options_init`): buffered, NeMo's 560 ms
/// chunks, 10 s left and 560 ms right context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamOptions {
    pub mode: StreamMode,
    pub chunk_ms: i64,
    pub left_ms: i64,
    pub right_ms: i64,
    /// Cache-aware: `"cache_aware"` / `"chunk_isolated"` must match the export's; `None` accepts it.
    pub profile: Option<String>,
}

impl Default for StreamOptions {
    fn default() -> Self {
        let raw = initialized(sys::ptrt_stream_options_init);
        StreamOptions {
            mode: if raw.mode == sys::PTRT_STREAM_MODE_CACHE_AWARE { StreamMode::CacheAware } else { StreamMode::Buffered },
            chunk_ms: raw.chunk_ms,
            left_ms: raw.left_ms,
            right_ms: raw.right_ms,
            profile: None,
        }
    }
}

impl StreamOptions {
    /// The C struct and the profile string it points to (keep both alive during the call).
    pub(crate) fn to_raw(&self) -> Result<(sys::ptrt_stream_options, Option<CString>)> {
        let profile = self
            .profile
            .as_deref()
            .map(CString::new)
            .transpose()
            .map_err(|_| Error::new(Status::InvalidArgument, "profile contains a NUL byte"))?;
        let mut raw = initialized(sys::ptrt_stream_options_init);
        raw.mode = match self.mode {
            StreamMode::Buffered => sys::PTRT_STREAM_MODE_BUFFERED,
            StreamMode::CacheAware => sys::PTRT_STREAM_MODE_CACHE_AWARE,
        };
        raw.chunk_ms = self.chunk_ms;
        raw.left_ms = self.left_ms;
        raw.right_ms = self.right_ms;
        raw.profile = profile.as_ref().map_or(ptr::null(), |p| p.as_ptr());
        Ok((raw, profile))
    }
}

/// What one streaming step produced (owned copy of the C view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamUpdate {
    /// Tokens committed by this step; committed tokens never change.
    pub committed: Vec<Token>,
    /// Speculative tokens decoded from the right context; the next update replaces them.
    pub tail: Vec<Token>,
    /// Stream samples consumed so far.
    pub audio_end_sample: i64,
    /// Encoder frames committed so far.
    pub decoded_frames: i64,
    /// True for the update of [`Stream::finish`].
    pub is_last: bool,
}

/// Streaming on a [`Model`] (buffered: NeMo's chunked inference; or cache-aware), with an engine the
/// library makes ([`Stream::with_engine`]) or a caller-supplied encoder [`Engine`] ([`Stream::new`]):
/// push audio in any block size, get the updates of the steps it completes.
///
/// `Send`, not `Sync`, for the same reasons as [`Session`](crate::Session).
pub struct Stream {
    raw: NonNull<sys::ptrt_stream>,
    _model: Arc<dyn std::any::Any + Send + Sync>,
}

// SAFETY: a ptrt_stream is used by one thread at a time (&mut self) and may move between threads;
// its engine moves with it (Engine: Send).
unsafe impl Send for Stream {}

impl Drop for Stream {
    fn drop(&mut self) {
        // SAFETY: created by ptrt_stream_create*, destroyed once (this also destroys an external
        // engine, or releases a shared one).
        unsafe { sys::ptrt_stream_destroy(self.raw.as_ptr()) }
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream").finish_non_exhaustive()
    }
}

/// Where the C callback collects the updates of one push/finish call.
struct Collector {
    updates: Vec<StreamUpdate>,
    panicked: bool,
}

pub(crate) unsafe fn tokens(data: *const sys::ptrt_token, len: usize) -> Vec<Token> {
    if len == 0 || data.is_null() {
        return Vec::new();
    }
    std::slice::from_raw_parts(data, len)
        .iter()
        .map(|t| Token { id: t.id, frame: t.frame, duration: t.duration })
        .collect()
}

unsafe extern "C" fn collect_update(user_data: *mut c_void, update: *const sys::ptrt_stream_update) {
    // No panic may cross into C: a failure here is recorded and reported after the call.
    let collector = &mut *(user_data as *mut Collector);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let u = &*update;
        StreamUpdate {
            committed: tokens(u.committed, u.num_committed),
            tail: tokens(u.tail, u.num_tail),
            audio_end_sample: u.audio_end_sample,
            decoded_frames: u.decoded_frames,
            is_last: u.is_last != 0,
        }
    }));
    match result {
        Ok(update) => collector.updates.push(update),
        Err(_) => collector.panicked = true,
    }
}

impl Stream {
    /// Creates a stream; it owns `encoder` and drops it exactly once (also when creation fails).
    ///
    /// Errors: [`Status::InvalidArgument`] naming a bad option (not a multiple of the encoder
    /// frame, negative), [`Status::ContractViolation`] / [`Status::Model`] as for sessions.
    pub fn new(model: &Model, encoder: Box<dyn Engine>, options: StreamOptions) -> Result<Stream> {
        // Checked before the engine is handed over: on this error the Box drops it as usual.
        let (raw_options, _profile) = options.to_raw()?;
        let vtable = engine_into_raw_vtable(encoder);
        let mut raw: *mut sys::ptrt_stream = ptr::null_mut();
        // SAFETY: live model; the C side copies the vtable and owns its self from here on; the
        // profile string outlives the call.
        check(unsafe { sys::ptrt_stream_create(model.raw(), &vtable, &raw_options, &mut raw) })?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(Status::Internal, "ptrt_stream_create returned PTRT_OK and a NULL stream"))?;
        Ok(Stream { raw, _model: model.keep_alive() })
    }

    /// Creates a stream whose encoder is an engine the library makes (`ptrt_stream_create_with_engine`)
    /// on the graph the mode needs (`encoder` or `encoder_streaming`), shared with the model's other
    /// sessions and streams of equal engine options.
    ///
    /// Errors: as [`Session::with_engine`](crate::Session::with_engine); a bad option is
    /// [`Status::InvalidArgument`] naming it; cache-aware on a folder without a streaming export is
    /// [`Status::ContractViolation`] naming `engines.encoder_streaming`.
    pub fn with_engine(model: &Model, engine: &EngineOptions, options: StreamOptions) -> Result<Stream> {
        let (raw_options, _profile) = options.to_raw()?;
        let engine = engine.to_raw()?;
        let mut raw: *mut sys::ptrt_stream = ptr::null_mut();
        // SAFETY: live model; options and their strings valid during the call.
        check(unsafe { sys::ptrt_stream_create_with_engine(model.raw(), &engine.raw, &raw_options, &mut raw) })?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::new(Status::Internal, "ptrt_stream_create_with_engine returned PTRT_OK and a NULL stream")
        })?;
        Ok(Stream { raw, _model: model.keep_alive() })
    }

    /// Creates a cache-aware stream over the model's streaming encoder export (`parakeet-trt
    /// export --component encoder_streaming`); `streaming_encoder` runs `encoder_streaming.onnx`
    /// and the stream owns the caches. `profile` (`"cache_aware"` / `"chunk_isolated"`) must match
    /// the export's when given. Updates have no tail; [`finish`](Self::finish) may return several
    /// (the remaining windows), the last with `is_last`.
    ///
    /// Errors: [`Status::ContractViolation`] when the model has no streaming encoder or another
    /// profile; [`Status::InvalidArgument`] for a profile with a NUL byte.
    pub fn cache_aware(model: &Model, streaming_encoder: Box<dyn Engine>, profile: Option<&str>) -> Result<Stream> {
        // Checked before the engine is handed over: on this error the Box drops it as usual.
        let profile = profile
            .map(std::ffi::CString::new)
            .transpose()
            .map_err(|_| Error::new(Status::InvalidArgument, "profile contains a NUL byte"))?;
        let vtable = engine_into_raw_vtable(streaming_encoder);
        let mut raw_options = initialized(sys::ptrt_cache_aware_stream_options_init);
        raw_options.profile = profile.as_ref().map_or(ptr::null(), |p| p.as_ptr());
        let mut raw: *mut sys::ptrt_stream = ptr::null_mut();
        // SAFETY: live model; the C side copies the vtable and owns its self from here on; the
        // profile string outlives the call (it is read during it only).
        check(unsafe { sys::ptrt_stream_create_cache_aware(model.raw(), &vtable, &raw_options, &mut raw) })?;
        let raw = NonNull::new(raw).ok_or_else(|| {
            Error::new(Status::Internal, "ptrt_stream_create_cache_aware returned PTRT_OK and a NULL stream")
        })?;
        Ok(Stream { raw, _model: model.keep_alive() })
    }

    /// Appends mono samples at `sample_rate_hz` (must be the model's) and returns an iterator over
    /// the updates of the steps they completed. A block with NaN/Inf samples or another rate is
    /// refused whole ([`Status::InvalidAudio`]) and changes nothing; after [`finish`](Self::finish)
    /// every push is [`Status::State`].
    pub fn push(&mut self, samples: &[f32], sample_rate_hz: i32) -> Result<std::vec::IntoIter<StreamUpdate>> {
        let num_samples = i64::try_from(samples.len())
            .map_err(|_| Error::new(Status::InvalidAudio, "too many samples for int64"))?;
        let mut collector = Collector { updates: Vec::new(), panicked: false };
        // SAFETY: live stream through &mut self; samples valid for num_samples reads; the
        // callback only runs during this call and gets a pointer to `collector`, alive until then.
        let status = unsafe {
            sys::ptrt_stream_push(
                self.raw.as_ptr(),
                samples.as_ptr(),
                num_samples,
                sample_rate_hz,
                Some(collect_update),
                &mut collector as *mut Collector as *mut c_void,
            )
        };
        Self::finish_call(status, collector)
    }

    /// Runs the last step (its update has `is_last`) and closes the stream. A second call is
    /// [`Status::State`].
    pub fn finish(&mut self) -> Result<std::vec::IntoIter<StreamUpdate>> {
        let mut collector = Collector { updates: Vec::new(), panicked: false };
        // SAFETY: as in push.
        let status = unsafe {
            sys::ptrt_stream_finish(
                self.raw.as_ptr(),
                Some(collect_update),
                &mut collector as *mut Collector as *mut c_void,
            )
        };
        Self::finish_call(status, collector)
    }

    fn finish_call(status: sys::ptrt_status, collector: Collector) -> Result<std::vec::IntoIter<StreamUpdate>> {
        check(status)?;
        if collector.panicked {
            return Err(Error::new(Status::Internal, "copying a stream update panicked"));
        }
        Ok(collector.updates.into_iter())
    }
}
