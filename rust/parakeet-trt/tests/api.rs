//! Tests of the safe API on the packaged default model and the fixtures that
//! tests/make_fixture.py wrote from the Python side (ONNX Runtime encoder output for
//! samples/sample.wav and Python's transcript of it).

use parakeet_trt::{sys, Engine, Error, Model, Session, Status, Stream, StreamOptions, StreamUpdate, TensorMut, TensorRef, Token};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn model_dir() -> PathBuf {
    repo().join("python/parakeet_trt/models/random-weights-test")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn read_f32(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// 16-bit PCM mono WAV → f32 in [-1, 1) (i16 / 32768, as soundfile reads it).
fn read_wav_i16(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[0..4], b"RIFF");
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        if &bytes[pos..pos + 4] == b"data" {
            return bytes[pos + 8..pos + 8 + size]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect();
        }
        pos += 8 + size + (size & 1);
    }
    panic!("no data chunk in {}", path.display());
}

fn sample_wav() -> Vec<f32> {
    read_wav_i16(&repo().join("python/parakeet_trt/samples/sample.wav"))
}

/// sample_expected.txt: "key rest-of-line" records; token/word records repeat.
struct Expected {
    fields: HashMap<String, String>,
    tokens: Vec<Token>,
    words: Vec<(String, f64, f64)>,
}

impl Expected {
    fn load() -> Expected {
        let text = std::fs::read_to_string(fixture("sample_expected.txt")).unwrap();
        let mut e = Expected { fields: HashMap::new(), tokens: vec![], words: vec![] };
        for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "token" => {
                    let v: Vec<i64> = rest.split(' ').map(|x| x.parse().unwrap()).collect();
                    e.tokens.push(Token { id: v[0] as i32, frame: v[1], duration: v[2] as i32 });
                }
                "word" => {
                    let mut parts = rest.splitn(3, ' ');
                    let start: f64 = parts.next().unwrap().parse().unwrap();
                    let end: f64 = parts.next().unwrap().parse().unwrap();
                    e.words.push((parts.next().unwrap_or("").to_string(), start, end));
                }
                _ => {
                    e.fields.insert(key.to_string(), rest.to_string());
                }
            }
        }
        e
    }
    fn str(&self, key: &str) -> &str {
        self.fields.get(key).unwrap_or_else(|| panic!("fixture has no '{key}'"))
    }
    fn ints(&self, key: &str) -> Vec<i64> {
        self.str(key).split(' ').map(|x| x.parse().unwrap()).collect()
    }
    fn f64(&self, key: &str) -> f64 {
        self.str(key).parse().unwrap()
    }
}

/// Serves the ONNX Runtime encoder output of sample.wav, after checking that its input is the
/// features it was computed from (shape, valid length, sum of |x|).
struct FixtureEncoder {
    expected: Arc<Expected>,
    outputs: Arc<Vec<f32>>,
    calls: Arc<AtomicUsize>,
}

impl FixtureEncoder {
    fn new() -> FixtureEncoder {
        FixtureEncoder {
            expected: Arc::new(Expected::load()),
            outputs: Arc::new(read_f32(&fixture("sample_encoder_outputs.f32"))),
            calls: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Engine for FixtureEncoder {
    fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let e = &self.expected;
        let input = |name: &str| inputs.iter().find(|t| t.name == name).ok_or(format!("no input {name}"));
        let audio = input("audio_signal")?;
        let feature_shape = e.ints("feature_shape");
        if audio.shape != [1, feature_shape[0], feature_shape[1]] {
            return Err(format!("audio_signal shape {:?} is not the fixture's", audio.shape));
        }
        let abs_sum: f64 = audio.as_f32().ok_or("audio_signal not f32")?.iter().map(|x| x.abs() as f64).sum();
        let want = e.f64("feature_abs_sum");
        if (abs_sum - want).abs() > 1e-6 * want {
            return Err(format!("audio_signal sum |x| {abs_sum} differs from the fixture's {want}"));
        }
        if input("length")?.as_i64() != Some(&[e.ints("feature_valid_frames")[0]]) {
            return Err("length differs from the fixture's".into());
        }
        for output in outputs.iter_mut() {
            match output.name {
                "outputs" => {
                    if output.shape != e.ints("encoder_shape").as_slice() {
                        return Err(format!("outputs shape {:?} is not the fixture's", output.shape));
                    }
                    output.as_f32_mut().ok_or("outputs not f32")?.copy_from_slice(&self.outputs);
                }
                "encoded_lengths" => output.as_i64_mut().ok_or("encoded_lengths not i64")?[0] = e.ints("encoded_length")[0],
                other => return Err(format!("unexpected output {other}")),
            }
        }
        Ok(())
    }
}

fn load() -> Model {
    Model::load(model_dir()).expect("load the packaged default model")
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
fn features_equal_the_python_bindings() {
    let model = load();
    let expected = Expected::load();
    let prefix = expected.ints("prefix_samples")[0] as usize;
    let features = model.compute_features(&sample_wav()[..prefix]).unwrap();
    let shape = expected.ints("prefix_feature_shape");
    assert_eq!([features.num_mel_bins as i64, features.num_frames as i64], [shape[0], shape[1]]);
    assert_eq!(features.num_valid_frames as i64, expected.ints("prefix_feature_valid_frames")[0]);
    let python = read_f32(&fixture("sample_features_8000.f32"));
    let max_diff = features.values.iter().zip(&python).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // Same C++ code on both sides: equal up to compiler differences between the two builds.
    assert!(max_diff <= 1e-5, "max |rust - python| = {max_diff}");
}

#[test]
fn bad_audio_is_invalid_audio() {
    let model = load();
    for (samples, rate) in [(vec![], 16_000), (vec![0.1, f32::NAN, 0.2], 16_000), (vec![0.0; 1600], 8_000)] {
        let err = model.compute_features(&samples).err().filter(|_| rate == 16_000);
        if let Some(err) = err {
            assert_eq!(err.status, Status::InvalidAudio, "{err}");
        }
        let mut session = Session::new(&model, Box::new(FixtureEncoder::new())).unwrap();
        let err = session.transcribe(&samples, rate).unwrap_err();
        assert_eq!(err.status, Status::InvalidAudio, "{err}");
    }
}

#[test]
fn rust_engine_transcript_equals_python() {
    let model = load();
    let expected = Expected::load();
    let encoder = FixtureEncoder::new();
    let calls = encoder.calls.clone();
    let mut session = Session::new(&model, Box::new(encoder)).unwrap();
    let samples = sample_wav();
    assert_eq!(samples.len() as i64, expected.ints("num_samples")[0]);
    let transcript = session.transcribe(&samples, 16_000).unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(transcript.text, expected.str("text"));
    assert_eq!(transcript.tokens, expected.tokens);
    let words: Vec<(String, f64, f64)> = transcript.words.iter().map(|w| (w.text.clone(), w.start_s, w.end_s)).collect();
    assert_eq!(words, expected.words);
    assert_eq!(transcript.num_encoder_frames, expected.ints("num_encoder_frames")[0]);
    assert_eq!(transcript.audio_duration_s, expected.f64("audio_duration_s"));
    assert!(!transcript.tokens.is_empty());
}

/// Fails in a chosen way on its first call, then serves the fixture.
struct FailingOnce {
    how: &'static str,
    inner: FixtureEncoder,
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
    let engine = FailingOnce { how, inner: FixtureEncoder::new(), drops: drops.clone() };
    (Session::new(model, Box::new(engine)).unwrap(), drops)
}

fn check_failure_then_recovery(how: &'static str, status: Status, needle: &str) {
    let model = load();
    let expected = Expected::load();
    let samples = sample_wav();
    let (mut session, drops) = failing_session(&model, how);
    let err: Error = session.transcribe(&samples, 16_000).unwrap_err();
    assert_eq!(err.status, status, "{err}");
    assert!(err.message.contains(needle), "{err}");
    // Use after a failed call: the same session still transcribes, and correctly.
    let transcript = session.transcribe(&samples, 16_000).unwrap();
    assert_eq!(transcript.text, expected.str("text"));
    assert_eq!(transcript.tokens, expected.tokens);
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
    let engine = FailingOnce { how: "err", inner: FixtureEncoder::new(), drops: drops.clone() };
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
    let expected = Expected::load();
    let samples = Arc::new(sample_wav());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (model, samples) = (model.clone(), samples.clone());
            std::thread::spawn(move || {
                let mut session = Session::new(&model, Box::new(FixtureEncoder::new())).unwrap();
                session.transcribe(&samples, 16_000).unwrap().text
            })
        })
        .collect();
    drop(model); // sessions keep the model alive
    for handle in handles {
        assert_eq!(handle.join().unwrap(), expected.str("text"));
    }
}

/// stream_expected.txt: the encoder calls and updates of Python's buffered stream of sample.wav.
struct StreamFixture {
    options: StreamOptions,
    push: usize,
    calls: Vec<(i64, i64, f64, i64, i64, i64)>, // frames, length, sum |x|, d_model, out frames, encoded
    updates: Vec<(bool, i64, Vec<i32>, Vec<i32>)>,
    text: String,
}

fn ids(text: &str) -> Vec<i32> {
    if text.trim() == "-" { vec![] } else { text.split_whitespace().map(|x| x.parse().unwrap()).collect() }
}

impl StreamFixture {
    fn load() -> StreamFixture {
        let text = std::fs::read_to_string(fixture("stream_expected.txt")).unwrap();
        let mut f = StreamFixture {
            options: StreamOptions::default(), push: 0, calls: vec![], updates: vec![], text: String::new(),
        };
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
            let nums = || rest.split(' ').map(|x| x.to_string()).collect::<Vec<_>>();
            match key {
                "stream_options" => {
                    let v: Vec<i64> = nums().iter().map(|x| x.parse().unwrap()).collect();
                    f.options = StreamOptions { chunk_ms: v[0], left_ms: v[1], right_ms: v[2] };
                }
                "stream_push" => f.push = rest.parse().unwrap(),
                "text" => f.text = rest.to_string(),
                "call" => {
                    let v = nums();
                    f.calls.push((v[0].parse().unwrap(), v[1].parse().unwrap(), v[2].parse().unwrap(),
                                  v[3].parse().unwrap(), v[4].parse().unwrap(), v[5].parse().unwrap()));
                }
                "update" => {
                    let mut head = rest.splitn(3, ' ');
                    let is_last = head.next().unwrap() == "1";
                    let end: i64 = head.next().unwrap().parse().unwrap();
                    let (committed, tail) = head.next().unwrap().split_once(" | ").unwrap();
                    f.updates.push((is_last, end, ids(committed), ids(tail)));
                }
                _ => {}
            }
        }
        f
    }
}

/// Serves the encoder outputs Python's stream got from ONNX Runtime, in call order, after checking
/// that each call's input is the one they were computed from.
struct StreamFixtureEncoder {
    fixture: Arc<StreamFixture>,
    outputs: Vec<f32>,
    call: usize,
    offset: usize,
}

impl Engine for StreamFixtureEncoder {
    fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
        let (frames, length, abs_sum, d_model, out_frames, encoded) =
            *self.fixture.calls.get(self.call).ok_or(format!("unexpected encoder call {}", self.call))?;
        let audio = inputs.iter().find(|t| t.name == "audio_signal").ok_or("no audio_signal")?;
        if audio.shape[2] != frames {
            return Err(format!("call {}: {} feature frames, the fixture has {frames}", self.call, audio.shape[2]));
        }
        let sum: f64 = audio.as_f32().ok_or("audio_signal not f32")?.iter().map(|x| x.abs() as f64).sum();
        if (sum - abs_sum).abs() > 1e-6 * abs_sum {
            return Err(format!("call {}: sum |x| {sum} differs from the fixture's {abs_sum}", self.call));
        }
        let len = inputs.iter().find(|t| t.name == "length").and_then(|t| t.as_i64()).ok_or("no length")?;
        if len != [length] {
            return Err(format!("call {}: length {len:?}, the fixture has {length}", self.call));
        }
        let n = (d_model * out_frames) as usize;
        for output in outputs.iter_mut() {
            match output.name {
                "outputs" => output
                    .as_f32_mut()
                    .ok_or("outputs not f32")?
                    .copy_from_slice(&self.outputs[self.offset..self.offset + n]),
                "encoded_lengths" => output.as_i64_mut().ok_or("encoded_lengths not i64")?[0] = encoded,
                other => return Err(format!("unexpected output {other}")),
            }
        }
        self.offset += n;
        self.call += 1;
        Ok(())
    }
}

fn fixture_stream(model: &Model) -> (Stream, Arc<StreamFixture>) {
    let expected = Arc::new(StreamFixture::load());
    let engine = StreamFixtureEncoder {
        fixture: expected.clone(),
        outputs: read_f32(&fixture("stream_encoder_outputs.f32")),
        call: 0,
        offset: 0,
    };
    (Stream::new(model, Box::new(engine), expected.options).unwrap(), expected)
}

#[test]
fn rust_stream_with_onnx_runtime_outputs_equals_python() {
    let model = load();
    let (mut stream, fixture) = fixture_stream(&model);
    let samples = sample_wav();
    let mut updates: Vec<StreamUpdate> = vec![];
    for block in samples.chunks(fixture.push) {
        updates.extend(stream.push(block, 16000).unwrap());
    }
    updates.extend(stream.finish().unwrap());
    let got: Vec<(bool, i64, Vec<i32>, Vec<i32>)> = updates
        .iter()
        .map(|u| (u.is_last, u.audio_end_sample, u.committed.iter().map(|t| t.id).collect(),
                  u.tail.iter().map(|t| t.id).collect()))
        .collect();
    assert_eq!(got, fixture.updates);
    assert!(updates.iter().map(|u| u.committed.len()).sum::<usize>() > 5);
    let committed: Vec<i32> = updates.iter().flat_map(|u| u.committed.iter().map(|t| t.id)).collect();
    assert_eq!(model.detokenize(&committed).unwrap(), fixture.text);
    let err = model.detokenize(&[model.info().vocab_size]).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
}

#[test]
fn stream_errors_keep_what_was_committed() {
    let model = load();
    let (mut stream, fixture) = fixture_stream(&model);
    let samples = sample_wav();
    let first: Vec<StreamUpdate> = stream.push(&samples[..2 * fixture.push + 100], 16000).unwrap().collect();
    let mut nan = samples[..100].to_vec();
    nan[7] = f32::NAN;
    let err = stream.push(&nan, 16000).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    assert!(err.message.contains("sample 7 is NaN"), "{err}");
    let err = stream.push(&samples[..100], 8000).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    // The refused blocks changed nothing: the rest of the stream gives Python's updates.
    let mut updates = first;
    updates.extend(stream.push(&samples[2 * fixture.push + 100..], 16000).unwrap());
    updates.extend(stream.finish().unwrap());
    let committed: Vec<i32> = updates.iter().flat_map(|u| u.committed.iter().map(|t| t.id)).collect();
    let expected: Vec<i32> = fixture.updates.iter().flat_map(|u| u.2.clone()).collect();
    assert_eq!(committed, expected);
    let err = stream.push(&samples[..10], 16000).unwrap_err();
    assert_eq!(err.status, Status::State, "{err}");
    assert!(err.message.contains("after finish"), "{err}");
    assert_eq!(stream.finish().unwrap_err().status, Status::State);
    let bad = Stream::new(&model, Box::new(FixtureEncoder::new()), StreamOptions { chunk_ms: 100, ..StreamOptions::default() });
    let err = bad.unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("chunk_ms"), "{err}");
}

#[test]
fn cache_aware_stream_needs_a_streaming_export() {
    // The packaged model has no streaming encoder: a contract violation naming the engine, and the
    // engine handed over is dropped exactly once. A profile with a NUL byte is refused before.
    let model = load();
    let drops = Arc::new(AtomicUsize::new(0));
    let engine = FailingOnce { how: "err", inner: FixtureEncoder::new(), drops: drops.clone() };
    let err = Stream::cache_aware(&model, Box::new(engine), Some("cache_aware")).unwrap_err();
    assert_eq!(err.status, Status::ContractViolation, "{err}");
    assert!(err.message.contains("engines.encoder_streaming"), "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    let engine = FailingOnce { how: "err", inner: FixtureEncoder::new(), drops: drops.clone() };
    let err = Stream::cache_aware(&model, Box::new(engine), Some("cache\0aware")).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}
