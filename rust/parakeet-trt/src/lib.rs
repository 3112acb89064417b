//! Safe Rust API of parakeet_trt: NeMo Parakeet-TDT speech recognition (NeMo-exact features, TDT
//! greedy decoding) from the C++ core, through its C ABI (`parakeet_trt.h`, re-exported raw as
//! [`sys`]).
//!
//! ```no_run
//! use parakeet_trt::{audio, EngineOptions, Model, Session};
//!
//! # fn main() -> Result<(), parakeet_trt::Error> {
//! let model = Model::load("python/parakeet_trt/models/demo")?;
//! // ONNX Runtime in the C++ core (libonnxruntime.so: see EngineOptions); no Python involved.
//! let mut session = Session::with_engine(&model, &EngineOptions::default())?;
//! let rate = model.info().sample_rate_hz;
//! let samples = audio::load_wav("speech.wav", rate)?; // any rate, any channels: resampled in the core
//! println!("{}", session.transcribe(&samples, rate)?.text);
//! # Ok(()) }
//! ```
//!
//! Callers who bring their own runtime implement [`Engine`] and pass it to [`Session::new`] or
//! [`Stream::new`] (the C ABI's external-engine vtable).
//!
//! # Errors
//! Every fallible call returns [`Error`]: the library's [`Status`] and its message (from
//! `ptrt_last_error`, read on the calling thread right after the failing call). Nothing panics
//! across the C boundary in either direction: the library catches its exceptions, and this
//! crate catches panics of Rust [`Engine`]s and reports them as [`Status::Engine`].
//!
//! # Threads
//! [`Model`] is `Send + Sync` and cheap to clone (the C ABI declares a loaded model immutable and
//! shareable), and so are the engines it shares. [`Session`] and [`Stream`] are `Send` but not
//! `Sync` (one thread at a time, may move). [`TranscriptState`] likewise. A live stream
//! ([`live_stream`]) comes as a [`LiveWriter`] and a [`LiveReader`], one for each thread.
//!
//! # Linking
//! `parakeet-trt-sys` links `libparakeet_trt` dynamically (see its build script for how it is
//! found); this package's tests and examples carry an rpath to it. Binaries of other packages
//! need the library on their loader path, or an rpath to `DEP_PARAKEET_TRT_LIB_DIR`.

pub mod audio;
mod decoding;
mod engine;
mod engine_options;
mod error;
mod live;
mod model;
mod session;
mod stream;
mod transcript;

pub use decoding::{DecodingOptions, Hypothesis, ScoredWord, Strategy};
pub use engine::{engine_into_raw_vtable, DType, Engine, TensorData, TensorDataMut, TensorMut, TensorRef};
pub use engine_options::EngineOptions;
pub use error::{Error, Result, Status};
pub use live::{live_stream, LiveEvent, LiveReader, LiveStreamOptions, LiveWriter};
pub use model::{Features, LoadOptions, Model, ModelInfo};
pub use parakeet_trt_sys as sys;
pub use session::{Session, Token, Transcript, Word};
pub use stream::{Stream, StreamMode, StreamOptions, StreamUpdate};
pub use transcript::{CommitPolicy, TranscriptEvent, TranscriptEventKind, TranscriptState};

/// A versioned C struct as its `*_init` function fills it (struct_size and the library's defaults).
pub(crate) fn initialized<T: Copy>(init: unsafe extern "C" fn(*mut T)) -> T {
    let mut raw = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: T is one of the ABI's plain C structs (all-zero is a valid value) and init fills it.
    unsafe {
        init(raw.as_mut_ptr());
        raw.assume_init()
    }
}

/// Version of the loaded library ("0.1.0").
pub fn library_version() -> String {
    // SAFETY: never NULL, static storage.
    unsafe { std::ffi::CStr::from_ptr(sys::ptrt_version()) }.to_string_lossy().into_owned()
}
