use crate::error::{Error, Result, Status};
use crate::initialized;
use crate::model::path_to_cstring;
use parakeet_trt_sys as sys;
use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::ptr;

/// Which engine the library makes for a [`Session`](crate::Session) or [`Stream`](crate::Stream)
/// (`ptrt_engine_options`): the same choice as Python's and the CLI's `--engine`.
///
/// ```no_run
/// # fn main() -> Result<(), parakeet_trt::Error> {
/// use parakeet_trt::{EngineOptions, Model, Session};
/// let model = Model::load("python/parakeet_trt/models/demo")?;
/// let engine = EngineOptions::onnxruntime().providers(["CPUExecutionProvider"]).intra_op_threads(2);
/// let mut session = Session::with_engine(&model, &engine)?;
/// # Ok(()) }
/// ```
///
/// Defaults are the library's (`ptrt_engine_options_init`, from the C++ `EngineOptions`):
/// ONNX Runtime, CUDA when the loaded library has it and then CPU, one intra-op thread per core,
/// device 0, libonnxruntime found through `$PTRT_ONNXRUNTIME_LIBRARY`, the onnxruntime Python
/// package beside libparakeet_trt, then the loader path. Sessions and streams made on one
/// [`Model`](crate::Model) with equal options share one engine instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineOptions {
    /// `"onnxruntime"` or `"tensorrt"`.
    pub name: String,
    /// ONNX Runtime execution providers in order of preference (its names); empty: the default.
    pub providers: Vec<String>,
    /// ONNX Runtime intra-op threads; 0: one per core.
    pub intra_op_threads: i32,
    /// CUDA device ordinal.
    pub device_id: i32,
    /// Path of libonnxruntime.so; `None`: searched as described above.
    pub onnxruntime_library: Option<PathBuf>,
    /// Folder of TensorRT engines (`parakeet-trt build-trt`); `None`: the model folder.
    pub trt_engine_dir: Option<PathBuf>,
    /// ONNX Runtime's intra-op threads spin-wait for work (default, faster single calls) or block (far
    /// less CPU for many short streaming calls).
    pub allow_spinning: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        let raw = initialized(sys::ptrt_engine_options_init); // name points to static storage
        // SAFETY: NULL or NUL-terminated strings owned by the library for its lifetime.
        let text = |p: *const std::ffi::c_char| unsafe { (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned()) };
        EngineOptions {
            name: text(raw.name).unwrap_or_default(),
            providers: text(raw.providers).map(|p| p.split(',').map(str::to_string).collect()).unwrap_or_default(),
            intra_op_threads: raw.intra_op_threads,
            device_id: raw.device_id,
            onnxruntime_library: text(raw.onnxruntime_library).map(PathBuf::from),
            trt_engine_dir: text(raw.trt_engine_dir).map(PathBuf::from),
            allow_spinning: raw.allow_spinning != 0,
        }
    }
}

impl EngineOptions {
    /// ONNX Runtime with the library's defaults.
    pub fn onnxruntime() -> Self {
        EngineOptions { name: "onnxruntime".to_string(), ..EngineOptions::default() }
    }

    /// TensorRT (engines from `parakeet-trt build-trt`); [`Status::Unavailable`] where TensorRT is absent.
    pub fn tensorrt() -> Self {
        EngineOptions { name: "tensorrt".to_string(), ..EngineOptions::default() }
    }

    pub fn providers<I, S>(mut self, providers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.providers = providers.into_iter().map(Into::into).collect();
        self
    }

    pub fn allow_spinning(mut self, allow: bool) -> Self {
        self.allow_spinning = allow;
        self
    }

    pub fn intra_op_threads(mut self, threads: i32) -> Self {
        self.intra_op_threads = threads;
        self
    }

    pub fn device_id(mut self, device_id: i32) -> Self {
        self.device_id = device_id;
        self
    }

    pub fn onnxruntime_library(mut self, path: impl AsRef<Path>) -> Self {
        self.onnxruntime_library = Some(path.as_ref().to_path_buf());
        self
    }

    pub fn trt_engine_dir(mut self, path: impl AsRef<Path>) -> Self {
        self.trt_engine_dir = Some(path.as_ref().to_path_buf());
        self
    }

    /// The C struct and the strings it points into (keep both alive during the call).
    pub(crate) fn to_raw(&self) -> Result<RawEngineOptions> {
        let text = |value: &str, what: &str| {
            CString::new(value).map_err(|_| Error::new(Status::InvalidArgument, format!("engine {what} contains a NUL byte")))
        };
        let name = text(&self.name, "name")?;
        let providers = text(&self.providers.join(","), "providers")?;
        let onnxruntime_library = self.onnxruntime_library.as_deref().map(path_to_cstring).transpose()?;
        let trt_engine_dir = self.trt_engine_dir.as_deref().map(path_to_cstring).transpose()?;
        let mut raw = initialized(sys::ptrt_engine_options_init);
        raw.name = name.as_ptr();
        raw.providers = providers.as_ptr();
        raw.intra_op_threads = self.intra_op_threads;
        raw.device_id = self.device_id;
        raw.onnxruntime_library = onnxruntime_library.as_ref().map_or(ptr::null(), |p| p.as_ptr());
        raw.trt_engine_dir = trt_engine_dir.as_ref().map_or(ptr::null(), |p| p.as_ptr());
        raw.allow_spinning = i32::from(self.allow_spinning);
        Ok(RawEngineOptions { raw, _strings: [Some(name), Some(providers), onnxruntime_library, trt_engine_dir] })
    }
}

/// `ptrt_engine_options` with the strings its pointers borrow (moving the CStrings keeps their heap
/// buffers, so the pointers stay valid while this value lives).
pub(crate) struct RawEngineOptions {
    pub(crate) raw: sys::ptrt_engine_options,
    _strings: [Option<CString>; 4],
}
