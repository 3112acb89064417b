//! Safe Rust API of parakeet_trt: NeMo Parakeet-TDT speech recognition (NeMo-exact features, TDT
//! greedy decoding) from the C++ core, through its C ABI (`parakeet_trt.h`, re-exported raw as
//! [`sys`]).
//!
//! ```no_run
//! use parakeet_trt::{Engine, Model, Session, TensorMut, TensorRef};
//!
//! struct MyEncoder; // e.g. TensorRT or ONNX Runtime bindings of your own
//! impl Engine for MyEncoder {
//!     fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
//!         // inputs: "audio_signal" f32 [1, n_mels, T], "length" i64 [1]
//!         // outputs (pre-sized): "outputs" f32 [1, d_model, T'], "encoded_lengths" i64 [1]
//!         Err("not implemented".into())
//!     }
//! }
//!
//! # fn main() -> Result<(), parakeet_trt::Error> {
//! let model = Model::load("python/parakeet_trt/models/random-weights-test")?;
//! let mut session = Session::new(&model, Box::new(MyEncoder))?;
//! let samples = vec![0.0f32; 16_000];
//! let transcript = session.transcribe(&samples, model.info().sample_rate_hz)?;
//! println!("{}", transcript.text);
//! # Ok(()) }
//! ```
//!
//! # Errors
//! Every fallible call returns [`Error`]: the library's [`Status`] and its message (from
//! `ptrt_last_error`, read on the calling thread right after the failing call). Nothing panics
//! across the C boundary in either direction: the library catches its exceptions, and this
//! crate catches panics of Rust [`Engine`]s and reports them as [`Status::Engine`].
//!
//! # Threads
//! [`Model`] is `Send + Sync` and cheap to clone (the C ABI declares a loaded model immutable and
//! shareable). [`Session`] and [`Stream`] are `Send` but not `Sync` (one thread at a time, may move).
//!
//! # Linking
//! `parakeet-trt-sys` links `libparakeet_trt` dynamically (see its build script for how it is
//! found); this package's tests and examples carry an rpath to it. Binaries of other packages
//! need the library on their loader path, or an rpath to `DEP_PARAKEET_TRT_LIB_DIR`.

mod engine;
mod error;
mod model;
mod session;
mod stream;
mod transcript;

pub use engine::{engine_into_raw_vtable, DType, Engine, TensorData, TensorDataMut, TensorMut, TensorRef};
pub use error::{Error, Result, Status};
pub use model::{Features, LoadOptions, Model, ModelInfo};
pub use parakeet_trt_sys as sys;
pub use session::{Session, Token, Transcript, Word};
pub use stream::{Stream, StreamOptions, StreamUpdate};
pub use transcript::{CommitPolicy, TranscriptEvent, TranscriptEventKind, TranscriptState};

/// Version of the loaded library ("0.1.0").
pub fn library_version() -> String {
    // SAFETY: never NULL, static storage.
    unsafe { std::ffi::CStr::from_ptr(sys::ptrt_version()) }.to_string_lossy().into_owned()
}
