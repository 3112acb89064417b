use crate::error::{check, Error, Result, Status};
use parakeet_trt_sys as sys;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// Options of [`Model::load_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Check the vocabulary and decoder weights against the sha256 in model_meta.json (default true).
    pub verify_hashes: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { verify_hashes: true }
    }
}

/// What a model expects and produces (`ptrt_model_info`, copied).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    pub model_name: String,
    /// The only rate [`Session::transcribe`](crate::Session::transcribe) accepts.
    pub sample_rate_hz: i32,
    pub num_mel_bins: i32,
    pub encoder_dim: i32,
    /// Tokens without blank.
    pub vocab_size: i32,
    pub blank_id: i32,
    /// Guard on emissions per encoder frame.
    pub max_symbols: i32,
    pub subsampling_factor: i32,
    /// Seconds per encoder frame (0.08 for Parakeet).
    pub frame_stride_s: f64,
    /// Longest encoder input this export supports (its positional table), in encoder frames.
    pub max_encoder_frames: i64,
}

/// Log-mel features of one utterance, `[num_mel_bins][num_frames]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    pub values: Vec<f32>,
    pub num_mel_bins: usize,
    /// STFT frames (`1 + num_samples / hop`).
    pub num_frames: usize,
    /// Frames covering real audio; the normalization statistics use only these.
    pub num_valid_frames: usize,
}

struct ModelHandle {
    raw: NonNull<sys::ptrt_model>,
}

impl Drop for ModelHandle {
    fn drop(&mut self) {
        // SAFETY: created by ptrt_model_load, destroyed once; every Session holds an Arc to
        // this handle, which is the header's "the model must outlive the session".
        unsafe { sys::ptrt_model_destroy(self.raw.as_ptr()) }
    }
}

// SAFETY: the header: "a ptrt_model is immutable after loading and may be shared by any number of
// threads and sessions". Destruction happens once, from whichever thread drops the last Arc.
unsafe impl Send for ModelHandle {}
unsafe impl Sync for ModelHandle {}

/// A loaded model folder (model_meta.json, vocab.txt, decoder_step.bin): immutable, cheap to
/// clone (shared), usable from any number of threads and sessions.
#[derive(Clone)]
pub struct Model {
    handle: Arc<ModelHandle>,
    info: Arc<ModelInfo>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model").field("info", &*self.info).finish()
    }
}

pub(crate) fn path_to_cstring(path: &Path) -> Result<CString> {
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = path
        .to_str()
        .ok_or_else(|| Error::new(Status::InvalidArgument, format!("path is not UTF-8: {}", path.display())))?
        .as_bytes()
        .to_vec();
    CString::new(bytes)
        .map_err(|_| Error::new(Status::InvalidArgument, format!("path contains a NUL byte: {}", path.display())))
}

impl Model {
    /// Loads an exported model folder, verifying artifact hashes.
    ///
    /// Errors: [`Status::Model`] when the folder or a file is missing, unreadable or does not
    /// match model_meta.json; [`Status::InvalidArgument`] for a path with a NUL byte;
    /// [`Status::Unavailable`] when the loaded library implements another ABI version.
    pub fn load(model_dir: impl AsRef<Path>) -> Result<Model> {
        Model::load_with(model_dir, LoadOptions::default())
    }

    pub fn load_with(model_dir: impl AsRef<Path>, options: LoadOptions) -> Result<Model> {
        // SAFETY: no arguments.
        let abi = unsafe { sys::ptrt_abi_version() };
        if abi != sys::PTRT_ABI_VERSION {
            return Err(Error::new(
                Status::Unavailable,
                format!(
                    "libparakeet_trt {} implements C ABI version {abi}; this crate was written for version {}",
                    crate::library_version(),
                    sys::PTRT_ABI_VERSION
                ),
            ));
        }
        let dir = path_to_cstring(model_dir.as_ref())?;
        let mut raw_options = crate::initialized(sys::ptrt_model_options_init);
        raw_options.verify_hashes = options.verify_hashes as i32;
        let mut raw: *mut sys::ptrt_model = ptr::null_mut();
        // SAFETY: valid NUL-terminated path, initialized options, out-pointer to a local.
        check(unsafe { sys::ptrt_model_load(dir.as_ptr(), &raw_options, &mut raw) })?;
        let raw = NonNull::new(raw)
            .ok_or_else(|| Error::new(Status::Internal, "ptrt_model_load returned PTRT_OK and a NULL model"))?;
        let handle = Arc::new(ModelHandle { raw });
        let info = Arc::new(read_info(raw)?);
        Ok(Model { handle, info })
    }

    /// The model's settings, read once at load.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    pub(crate) fn raw(&self) -> *const sys::ptrt_model {
        self.handle.raw.as_ptr()
    }

    pub(crate) fn keep_alive(&self) -> Arc<dyn std::any::Any + Send + Sync> {
        self.handle.clone()
    }

    /// Text of a token sequence (SentencePiece rules, as transcripts render it), e.g. of a
    /// stream's committed tokens. Errors: [`Status::InvalidArgument`] for an id outside the
    /// vocabulary.
    pub fn detokenize(&self, token_ids: &[i32]) -> Result<String> {
        let mut length = 0usize;
        let mut buffer = vec![0u8; 64 + 16 * token_ids.len()];
        loop {
            // SAFETY: live model; ids valid for len reads; buffer valid for capacity writes.
            let status = unsafe {
                sys::ptrt_model_detokenize(self.raw(), token_ids.as_ptr(), token_ids.len(),
                                           buffer.as_mut_ptr() as *mut std::ffi::c_char, buffer.len(), &mut length)
            };
            if status != sys::PTRT_OK && length + 1 > buffer.len() {
                buffer.resize(length + 1, 0); // too small: the library said how much it needs
                continue;
            }
            check(status)?;
            return Ok(String::from_utf8_lossy(&buffer[..length]).into_owned());
        }
    }

    /// `(num_frames, num_valid_frames)` of the features of `num_samples` samples.
    pub fn feature_frames(&self, num_samples: usize) -> Result<(usize, usize)> {
        let (mut frames, mut valid) = (0i64, 0i64);
        let num_samples = i64::try_from(num_samples)
            .map_err(|_| Error::new(Status::InvalidArgument, "num_samples does not fit in int64"))?;
        // SAFETY: live model, out-pointers to locals.
        check(unsafe { sys::ptrt_model_feature_frames(self.raw(), num_samples, &mut frames, &mut valid) })?;
        Ok((frames as usize, valid as usize))
    }

    /// NeMo-exact log-mel features of mono audio at the model's sample rate.
    ///
    /// Errors: [`Status::InvalidAudio`] for empty audio or NaN/Inf samples.
    pub fn compute_features(&self, samples: &[f32]) -> Result<Features> {
        let (num_frames, num_valid_frames) = self.feature_frames(samples.len())?;
        let num_mel_bins = self.info.num_mel_bins as usize;
        let capacity = num_frames
            .checked_mul(num_mel_bins)
            .ok_or_else(|| Error::new(Status::InvalidAudio, "audio too long for a feature buffer"))?;
        let mut values = vec![0.0f32; capacity];
        // SAFETY: samples is valid for samples.len() reads, values for capacity writes.
        check(unsafe {
            sys::ptrt_model_compute_features(
                self.raw(),
                samples.as_ptr(),
                samples.len() as i64,
                values.as_mut_ptr(),
                capacity as i64,
            )
        })?;
        Ok(Features { values, num_mel_bins, num_frames, num_valid_frames })
    }
}

fn read_info(raw: NonNull<sys::ptrt_model>) -> Result<ModelInfo> {
    // SAFETY: init sets struct_size and zeroes the rest; get_info fills it; model_name is borrowed
    // from the model, which is alive, and copied before returning.
    unsafe {
        let mut info = std::mem::MaybeUninit::<sys::ptrt_model_info>::zeroed();
        sys::ptrt_model_info_init(info.as_mut_ptr());
        check(sys::ptrt_model_get_info(raw.as_ptr(), info.as_mut_ptr()))?;
        let info = info.assume_init();
        let model_name = if info.model_name.is_null() {
            String::new()
        } else {
            CStr::from_ptr(info.model_name).to_string_lossy().into_owned()
        };
        Ok(ModelInfo {
            model_name,
            sample_rate_hz: info.sample_rate_hz,
            num_mel_bins: info.num_mel_bins,
            encoder_dim: info.encoder_dim,
            vocab_size: info.vocab_size,
            blank_id: info.blank_id,
            max_symbols: info.max_symbols,
            subsampling_factor: info.subsampling_factor,
            frame_stride_s: info.frame_stride_s,
            max_encoder_frames: info.max_encoder_frames,
        })
    }
}
