//! Tests of the safe API that need no encoder network: the model, its features, the raw ABI's
//! argument checks, and external Rust engines through the vtable (failures, panics, contract
//! violations, ownership). A synthetic encoder (a fixed projection of the features) stands in for
//! a network: it is deterministic, so a session that recovered from a failure must reproduce a
//! fresh session's tokens exactly. tests/native.rs runs the real encoder (ONNX Runtime in the core).

use parakeet_trt::{sys, Engine, Error, Model, Session, Status, Stream, StreamOptions, StreamUpdate, TensorMut, TensorRef, Token};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn model_dir() -> PathBuf {
    repo().join("python/parakeet_trt/models/random-weights-test")
}

fn load() -> Model {
    Model::load(model_dir()).expect("load the packaged default model")
}

/// Three seconds of a 16 kHz chirp with an envelope: enough structure for the synthetic encoder.
fn signal() -> Vec<f32> {
    (0..48_000)
        .map(|i| {
            let t = i as f32 / 16_000.0;
            let envelope = (t * 3.0 * std::f32::consts::PI).sin().abs();
            0.3 * envelope * (2.0 * std::f32::consts::PI * (200.0 + 400.0 * t) * t).sin()
        })
        .collect()
}

/// A stand-in encoder: outputs[d][t] = sum over mel bins of w[d][m] * features[m][8t], with w fixed
/// by a seed; encoded_lengths by NeMo's subsampling arithmetic (three stride-2 convolutions).
struct SyntheticEncoder {
    calls: Arc<AtomicUsize>,
}

impl SyntheticEncoder {
    fn new() -> Self {
        SyntheticEncoder { calls: Arc::new(AtomicUsize::new(0)) }
    }
}

fn weight(d: usize, m: usize) -> f32 {
    let mut x = (d as u64 * 1_000_003 + m as u64 * 7919 + 12345).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    ((x % 2001) as f32 / 1000.0 - 1.0) * 0.05
}

impl Engine for SyntheticEncoder {
    fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let audio = inputs.iter().find(|t| t.name == "audio_signal").ok_or("no audio_signal")?;
        let (mels, frames) = (audio.shape[1] as usize, audio.shape[2] as usize);
        let features = audio.as_f32().ok_or("audio_signal is not f32")?;
        let length = inputs.iter().find(|t| t.name == "length").and_then(|t| t.as_i64()).ok_or("no length")?[0];
        for output in outputs.iter_mut() {
            match output.name {
                "outputs" => {
                    let (d_model, out_frames) = (output.shape[1] as usize, output.shape[2] as usize);
                    let values = output.as_f32_mut().ok_or("outputs is not f32")?;
                    for d in 0..d_model {
                        for t in 0..out_frames {
                            let f = (8 * t).min(frames - 1);
                            values[d * out_frames + t] = (0..mels).map(|m| weight(d, m) * features[m * frames + f]).sum();
                        }
                    }
                }
                "encoded_lengths" => {
                    let mut encoded = length;
                    for _ in 0..3 {
                        encoded = (encoded - 1).div_euclid(2) + 1;
                    }
                    output.as_i64_mut().ok_or("encoded_lengths is not i64")?[0] = encoded;
                }
                other => return Err(format!("unexpected output {other}")),
            }
        }
        Ok(())
    }
}

#[test]
fn missing_model_folder_is_a_model_error() {
    let err = Model::load(repo().join("no/such/model")).unwrap_err();
    assert_eq!(err.status, Status::Model, "{err}");
    assert!(err.message.contains("model_meta.json"), "{err}");
    assert!(err.to_string().starts_with("PTRT_ERROR_MODEL: "), "{err}");
}

#[test]
fn invalid_arguments_map_to_invalid_argument() {
    // A path C cannot receive never reaches the library.
    let err = Model::load("bad\0path").unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");

    // What the safe API cannot express, through the raw ABI and Error's mapping.
    let model = load();
    let _ = model; // keeps a model alive while raw calls run
    unsafe {
        let mut out = std::ptr::null_mut();
        let status = sys::ptrt_model_load(std::ptr::null(), std::ptr::null(), &mut out);
        assert_eq!(Status::from_raw(status), Status::InvalidArgument);
        let message = std::ffi::CStr::from_ptr(sys::ptrt_last_error()).to_string_lossy().into_owned();
        assert!(message.contains("must not be NULL"), "{message}");

        let mut raw_model = std::ptr::null_mut();
        let dir = std::ffi::CString::new(model_dir().to_str().unwrap()).unwrap();
        assert_eq!(sys::ptrt_model_load(dir.as_ptr(), std::ptr::null(), &mut raw_model), sys::PTRT_OK);
        let mut info: sys::ptrt_model_info = std::mem::zeroed();
        info.struct_size = 8; // too small: not filled by ptrt_model_info_init
        let status = sys::ptrt_model_get_info(raw_model, &mut info);
        assert_eq!(Status::from_raw(status), Status::InvalidArgument);
        sys::ptrt_model_destroy(raw_model);
    }
}

#[test]
fn info_matches_model_meta_json() {
    let model = load();
    let info = model.info();
    let meta = std::fs::read_to_string(model_dir().join("model_meta.json")).unwrap();
    // Tiny ad-hoc reads of unique keys of model_meta.json, so the test follows the file.
    let number = |key: &str| -> f64 {
        let at = meta.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("no {key}"));
        let rest = meta[at + key.len() + 3..].trim_start();
        let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e')).unwrap();
        rest[..end].parse().unwrap()
    };
    assert_eq!(info.vocab_size, 250);
    assert_eq!(info.vocab_size as f64, number("vocab_size"));
    assert_eq!(info.sample_rate_hz as f64, number("sample_rate_hz"));
    assert_eq!(info.num_mel_bins as f64, number("n_mels"));
    assert_eq!(info.encoder_dim as f64, number("d_model"));
    assert_eq!(info.blank_id as f64, number("blank_id"));
    assert_eq!(info.max_symbols as f64, number("max_symbols"));
    assert_eq!(info.subsampling_factor as f64, number("subsampling_factor"));
    assert_eq!(info.frame_stride_s, number("frame_stride_s"));
    assert_eq!(info.max_encoder_frames as f64, number("max_encoder_frames"));
    assert_eq!(info.model_name, "default");
    assert_eq!(parakeet_trt::library_version(), "0.1.0");
}

#[test]
fn features_of_a_generated_signal_are_finite_and_shaped() {
    let model = load();
    let n = 12_345;
    let samples: Vec<f32> = (0..n).map(|i| 0.3 * (i as f32 * 2.0 * std::f32::consts::PI * 440.0 / 16_000.0).sin()).collect();
    let features = model.compute_features(&samples).unwrap();
    assert_eq!(features.num_mel_bins, 128);
    assert_eq!(features.num_frames, 1 + n / 160);
    assert_eq!(features.num_valid_frames, (n + 2 * 256 - 512) / 160);
    assert_eq!(features.values.len(), 128 * features.num_frames);
    assert!(features.values.iter().all(|x| x.is_finite()));
    assert!(features.values.iter().any(|&x| x != 0.0));
}

#[test]
fn bad_audio_is_invalid_audio() {
    let model = load();
    for (samples, rate) in [(vec![], 16_000), (vec![0.1, f32::NAN, 0.2], 16_000), (vec![0.0; 1600], 8_000)] {
        let err = model.compute_features(&samples).err().filter(|_| rate == 16_000);
        if let Some(err) = err {
            assert_eq!(err.status, Status::InvalidAudio, "{err}");
        }
        let mut session = Session::new(&model, Box::new(SyntheticEncoder::new())).unwrap();
        let err = session.transcribe(&samples, rate).unwrap_err();
        assert_eq!(err.status, Status::InvalidAudio, "{err}");
    }
}

#[test]
fn rust_engine_runs_once_per_utterance_and_is_deterministic() {
    let model = load();
    let encoder = SyntheticEncoder::new();
    let calls = encoder.calls.clone();
    let mut session = Session::new(&model, Box::new(encoder)).unwrap();
    let first = session.transcribe(&signal(), 16_000).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(first.num_encoder_frames, 38); // 3 s at 80 ms per frame, NeMo's arithmetic
    assert!((first.audio_duration_s - 3.0).abs() < 1e-9);
    assert!(first.tokens.len() >= 5, "the synthetic encoder must make the decoder emit tokens: {first:?}");
    let mut fresh = Session::new(&model, Box::new(SyntheticEncoder::new())).unwrap();
    assert_eq!(fresh.transcribe(&signal(), 16_000).unwrap(), first);
    assert_eq!(session.transcribe(&signal(), 16_000).unwrap(), first);
}

/// Fails in a chosen way on its first call, then serves the synthetic encoder's outputs.
struct FailingOnce {
    how: &'static str,
    inner: SyntheticEncoder,
    drops: Arc<AtomicUsize>,
}

impl Engine for FailingOnce {
    fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
        let first = self.inner.calls.load(Ordering::SeqCst) == 0;
        self.inner.run(inputs, outputs)?;
        if first {
            match self.how {
                "panic" => panic!("engine exploded"),
                "err" => return Err("engine said no".into()),
                "contract" => {
                    for o in outputs.iter_mut().filter(|o| o.name == "encoded_lengths") {
                        o.as_i64_mut().unwrap()[0] += 1;
                    }
                }
                _ => unreachable!(),
            }
        }
        Ok(())
    }
}

impl Drop for FailingOnce {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

fn failing_session(model: &Model, how: &'static str) -> (Session, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    let engine = FailingOnce { how, inner: SyntheticEncoder::new(), drops: drops.clone() };
    (Session::new(model, Box::new(engine)).unwrap(), drops)
}

fn check_failure_then_recovery(how: &'static str, status: Status, needle: &str) {
    let model = load();
    let samples = signal();
    let expected = Session::new(&model, Box::new(SyntheticEncoder::new())).unwrap().transcribe(&samples, 16_000).unwrap();
    let (mut session, drops) = failing_session(&model, how);
    let err: Error = session.transcribe(&samples, 16_000).unwrap_err();
    assert_eq!(err.status, status, "{err}");
    assert!(err.message.contains(needle), "{err}");
    // Use after a failed call: the same session still transcribes, exactly as a fresh one.
    assert_eq!(session.transcribe(&samples, 16_000).unwrap(), expected);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(session);
    assert_eq!(drops.load(Ordering::SeqCst), 1, "the engine is dropped exactly once with its session");
}

#[test]
fn panicking_engine_is_an_engine_error_and_the_session_recovers() {
    check_failure_then_recovery("panic", Status::Engine, "engine exploded");
}

#[test]
fn failing_engine_is_an_engine_error_and_the_session_recovers() {
    check_failure_then_recovery("err", Status::Engine, "engine said no");
}

#[test]
fn wrong_encoded_lengths_is_a_contract_violation() {
    check_failure_then_recovery("contract", Status::ContractViolation, "encoded_lengths");
}

#[test]
fn engine_is_dropped_once_when_session_creation_fails() {
    // The safe API cannot make ptrt_session_create fail, so hand the vtable to it raw with a
    // NULL model: the library must call destroy (and so drop the engine) exactly once.
    let drops = Arc::new(AtomicUsize::new(0));
    let engine = FailingOnce { how: "err", inner: SyntheticEncoder::new(), drops: drops.clone() };
    let vtable = parakeet_trt::engine_into_raw_vtable(Box::new(engine));
    let mut out = std::ptr::null_mut();
    let status = unsafe { sys::ptrt_session_create(std::ptr::null(), &vtable, std::ptr::null(), &mut out) };
    assert_eq!(Status::from_raw(status), Status::InvalidArgument);
    assert!(out.is_null());
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn model_and_session_cross_threads() {
    let model = load();
    let samples = Arc::new(signal());
    let expected = Session::new(&model, Box::new(SyntheticEncoder::new())).unwrap().transcribe(&samples, 16_000).unwrap();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (model, samples) = (model.clone(), samples.clone());
            std::thread::spawn(move || {
                let mut session = Session::new(&model, Box::new(SyntheticEncoder::new())).unwrap();
                session.transcribe(&samples, 16_000).unwrap()
            })
        })
        .collect();
    drop(model); // sessions keep the model alive
    for handle in handles {
        assert_eq!(handle.join().unwrap(), expected);
    }
}

fn stream_all(stream: &mut Stream, samples: &[f32], block: usize) -> Vec<StreamUpdate> {
    let mut updates: Vec<StreamUpdate> = samples.chunks(block).flat_map(|b| stream.push(b, 16_000).unwrap()).collect();
    updates.extend(stream.finish().unwrap());
    updates
}

fn committed(updates: &[StreamUpdate]) -> Vec<Token> {
    updates.iter().flat_map(|u| u.committed.iter().copied()).collect()
}

#[test]
fn external_engine_stream_errors_keep_what_was_committed() {
    let model = load();
    let samples = signal();
    let options = StreamOptions::default();
    let reference = stream_all(&mut Stream::new(&model, Box::new(SyntheticEncoder::new()), options.clone()).unwrap(), &samples, 3000);
    assert!(reference.last().unwrap().is_last);
    assert!(committed(&reference).len() >= 5, "the synthetic encoder must make the stream commit tokens");
    assert_eq!(reference.iter().filter(|u| u.is_last).count(), 1);

    let mut stream = Stream::new(&model, Box::new(SyntheticEncoder::new()), options.clone()).unwrap();
    let mut updates: Vec<StreamUpdate> = stream.push(&samples[..20_000], 16_000).unwrap().collect();
    let mut nan = samples[..100].to_vec();
    nan[7] = f32::NAN;
    let err = stream.push(&nan, 16_000).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    assert!(err.message.contains("sample 7 is NaN"), "{err}");
    let err = stream.push(&samples[..100], 8_000).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    // The refused blocks changed nothing: the rest of the stream commits what the reference did.
    updates.extend(stream.push(&samples[20_000..], 16_000).unwrap());
    updates.extend(stream.finish().unwrap());
    assert_eq!(committed(&updates), committed(&reference));
    let err = stream.push(&samples[..10], 16_000).unwrap_err();
    assert_eq!(err.status, Status::State, "{err}");
    assert!(err.message.contains("after finish"), "{err}");
    assert_eq!(stream.finish().unwrap_err().status, Status::State);
    let err = Stream::new(&model, Box::new(SyntheticEncoder::new()), StreamOptions { chunk_ms: 100, ..options }).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("chunk_ms"), "{err}");
}

#[test]
fn cache_aware_stream_needs_a_streaming_export() {
    // The packaged model has no streaming encoder: a contract violation naming the engine, and the
    // engine handed over is dropped exactly once. A profile with a NUL byte is refused before.
    let model = load();
    let drops = Arc::new(AtomicUsize::new(0));
    let engine = FailingOnce { how: "err", inner: SyntheticEncoder::new(), drops: drops.clone() };
    let err = Stream::cache_aware(&model, Box::new(engine), Some("cache_aware")).unwrap_err();
    assert_eq!(err.status, Status::ContractViolation, "{err}");
    assert!(err.message.contains("engines.encoder_streaming"), "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let engine = FailingOnce { how: "err", inner: SyntheticEncoder::new(), drops: drops.clone() };
    let err = Stream::cache_aware(&model, Box::new(engine), Some("cache\0aware")).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    // The same through the stream options' mode (ptrt_stream_create with PTRT_STREAM_MODE_CACHE_AWARE).
    let engine = FailingOnce { how: "err", inner: SyntheticEncoder::new(), drops: drops.clone() };
    let options = StreamOptions { mode: parakeet_trt::StreamMode::CacheAware, ..StreamOptions::default() };
    let err = Stream::new(&model, Box::new(engine), options).unwrap_err();
    assert_eq!(err.status, Status::ContractViolation, "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}
