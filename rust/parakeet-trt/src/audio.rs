//! Audio files and sample-rate conversion in the core (`ptrt_audio_*`): no Python, no extra crates.
//!
//! ```no_run
//! # fn main() -> Result<(), parakeet_trt::Error> {
//! let samples = parakeet_trt::audio::load_wav("speech_44k_stereo.wav", 16_000)?; // mono, 16 kHz
//! # Ok(()) }
//! ```

use crate::error::{check, Error, Result, Status};
use crate::model::path_to_cstring;
use parakeet_trt_sys as sys;
use std::path::Path;
use std::ptr;

/// Copies a buffer the library allocated into a Vec and releases it.
///
/// SAFETY: `data` comes from ptrt_audio_load_wav/ptrt_audio_resample with `len` samples.
unsafe fn take(data: *mut f32, len: i64) -> Vec<f32> {
    let samples = if data.is_null() || len <= 0 { Vec::new() } else { std::slice::from_raw_parts(data, len as usize).to_vec() };
    sys::ptrt_audio_free(data);
    samples
}

/// Reads a RIFF/WAVE file as mono `f32` at `target_rate_hz` (the model's rate,
/// [`ModelInfo::sample_rate_hz`](crate::ModelInfo::sample_rate_hz)): PCM 8/16/24/32-bit or float
/// 32/64-bit, any channel count (averaged), any rate in 1,000..=768,000 Hz (resampled by the core's
/// windowed-sinc resampler, see [`resample`]).
///
/// Errors: [`Status::InvalidAudio`] naming the file and the problem (missing, not WAV, truncated,
/// unsupported encoding, NaN/Inf, empty, longer than [`sys::PTRT_AUDIO_MAX_DURATION_S`]);
/// [`Status::InvalidArgument`] for a target rate outside the range or a path with a NUL byte.
pub fn load_wav(path: impl AsRef<Path>, target_rate_hz: i32) -> Result<Vec<f32>> {
    let path = path_to_cstring(path.as_ref())?;
    let (mut data, mut len) = (ptr::null_mut(), 0i64);
    // SAFETY: valid path; out-pointers to locals; the buffer is released by take.
    unsafe {
        check(sys::ptrt_audio_load_wav(path.as_ptr(), target_rate_hz, &mut data, &mut len))?;
        Ok(take(data, len))
    }
}

/// Resamples a whole mono signal (polyphase Kaiser-windowed sinc: 64 zero crossings, cutoff 0.95 of
/// the lower Nyquist frequency, about 100 dB stopband, no delay); equal rates copy. Output length
/// `ceil(len * to / from)`. Errors: [`Status::InvalidArgument`] for a rate outside 1,000..=768,000 Hz.
pub fn resample(samples: &[f32], from_rate_hz: i32, to_rate_hz: i32) -> Result<Vec<f32>> {
    let num_samples = i64::try_from(samples.len())
        .map_err(|_| Error::new(Status::InvalidArgument, "too many samples for int64"))?;
    let (mut data, mut len) = (ptr::null_mut(), 0i64);
    // SAFETY: samples valid for num_samples reads; out-pointers to locals; released by take.
    unsafe {
        check(sys::ptrt_audio_resample(samples.as_ptr(), num_samples, from_rate_hz, to_rate_hz, &mut data, &mut len))?;
        Ok(take(data, len))
    }
}
