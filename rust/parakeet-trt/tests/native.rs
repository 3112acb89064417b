//! The engine in the core (ONNX Runtime through libparakeet_trt, no Python) and the core's audio
//! reading and resampling, on the packaged demo model and its sample. The expected text is NeMo's own
//! transcript of demo.wav (samples/demo.nemo_transcript.txt, written when the model is packaged; CTest's
//! example_transcribe_wav checks the C example against the same file; tests/test_native_examples.py
//! compares both examples with the CLI on held-out speech). Needs libonnxruntime.so: scripts/test.sh
//! exports PTRT_ONNXRUNTIME_LIBRARY.

use parakeet_trt::{audio, DecodingOptions, EngineOptions, Session, Status, Strategy, Stream, StreamMode, StreamOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use common::{demo_model, demo_text, demo_wav, last_words};

/// A 16-bit PCM WAV with `channels` copies of `samples` (each channel scaled by its gain).
fn write_wav(path: &Path, samples: &[f32], rate: u32, gains: &[f32]) {
    let channels = gains.len() as u16;
    let data_bytes = (samples.len() * gains.len() * 2) as u32;
    let mut bytes = Vec::with_capacity(44 + data_bytes as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_bytes).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&channels.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * channels as u32 * 2).to_le_bytes());
    bytes.extend_from_slice(&(channels * 2).to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_bytes.to_le_bytes());
    for &x in samples {
        for &g in gains {
            let v = (x * g * 32768.0).round().clamp(-32768.0, 32767.0) as i16;
            bytes.extend_from_slice(&v.to_le_bytes());
        }
    }
    std::fs::write(path, bytes).unwrap();
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("parakeet_trt_native_{}_{name}", std::process::id()))
}

#[test]
fn native_session_transcribes_the_demo_sample() {
    let model = demo_model();
    let samples = audio::load_wav(demo_wav(), 16_000).unwrap();
    assert_eq!(samples.len(), 192_595);
    let mut session = Session::with_engine(&model, &EngineOptions::default()).unwrap();
    let transcript = session.transcribe(&samples, 16_000).unwrap();
    assert_eq!(transcript.text, demo_text());
    assert_eq!(transcript.words.len(), demo_text().split(' ').count());
    assert!(transcript.words.windows(2).all(|w| w[0].end_s <= w[1].start_s + 1e-9));
    assert_eq!(session.transcribe(&samples, 16_000).unwrap(), transcript, "a session repeats itself");
}

#[test]
fn a_48_khz_stereo_file_is_downmixed_and_resampled_in_the_core() {
    let model = demo_model();
    let samples = audio::load_wav(demo_wav(), 16_000).unwrap();
    let at_48k = audio::resample(&samples, 16_000, 48_000).unwrap();
    assert_eq!(at_48k.len(), 3 * samples.len());
    let path = temp_path("48k_stereo.wav");
    write_wav(&path, &at_48k, 48_000, &[0.9, 0.7]); // averaged: 0.8 of the signal
    let loaded = audio::load_wav(&path, 16_000).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.len(), samples.len());
    // 16k -> 48k -> 16-bit -> 16k keeps the waveform up to the resampler's passband (to about
    // 7.2 kHz; the demo's synthetic speech has some energy above it): relative RMS error.
    let (mut diff, mut power) = (0.0f64, 0.0f64);
    for (a, b) in loaded.iter().zip(&samples) {
        diff += ((a - 0.8 * b) as f64).powi(2);
        power += ((0.8 * b) as f64).powi(2);
    }
    let relative = (diff / power).sqrt();
    println!("round trip relative RMS error {relative:.5}");
    assert!(relative < 0.02, "relative RMS error {relative}");
    let mut session = Session::with_engine(&model, &EngineOptions::onnxruntime()).unwrap();
    assert_eq!(session.transcribe(&loaded, 16_000).unwrap().text, demo_text());
}

#[test]
fn bad_audio_files_are_invalid_audio() {
    let err = audio::load_wav("/nonexistent/speech.wav", 16_000).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    assert!(err.message.contains("/nonexistent/speech.wav"), "{err}");
    // A copy cut in the middle of its data chunk.
    let bytes = std::fs::read(demo_wav()).unwrap();
    let path = temp_path("truncated.wav");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = audio::load_wav(&path, 16_000).unwrap_err();
    std::fs::write(&path, b"RIFF\x10\x00\x00\x00WAVEjunkjunk").unwrap();
    let junk = audio::load_wav(&path, 16_000).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    assert!(err.message.contains("truncated: the data chunk declares"), "{err}");
    assert_eq!(junk.status, Status::InvalidAudio, "{junk}");
    let err = audio::resample(&[0.0; 10], 16_000, 10).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("to_rate_hz 10 Hz"), "{err}");
}

#[test]
fn engine_options_errors_name_the_problem() {
    let model = demo_model();
    assert_eq!(EngineOptions::default().name, "onnxruntime");
    let err = Session::with_engine(&model, &EngineOptions { name: "nope".into(), ..EngineOptions::default() }).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("nope"), "{err}");
    let err = Session::with_engine(&model, &EngineOptions { name: "external".into(), ..EngineOptions::default() }).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    let missing = EngineOptions::onnxruntime().onnxruntime_library("/nonexistent/libonnxruntime.so");
    let err = Session::with_engine(&model, &missing).unwrap_err();
    assert_eq!(err.status, Status::Unavailable, "{err}");
    assert!(err.message.contains("/nonexistent/libonnxruntime.so"), "{err}");
    let err = Session::with_engine(&model, &EngineOptions::onnxruntime().providers(["NoSuchExecutionProvider"])).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("CPUExecutionProvider"), "lists the available providers: {err}");
}

#[test]
fn native_stream_commits_the_demo_sentence() {
    let model = demo_model();
    let samples = audio::load_wav(demo_wav(), 16_000).unwrap();
    let mut stream = Stream::with_engine(&model, &EngineOptions::default(), StreamOptions::default()).unwrap();
    let mut ids = Vec::new();
    let mut last = 0;
    for block in samples.chunks(4_000) {
        ids.extend(stream.push(block, 16_000).unwrap().flat_map(|u| u.committed.into_iter().map(|t| t.id)));
    }
    for update in stream.finish().unwrap() {
        last += update.is_last as usize;
        ids.extend(update.committed.iter().map(|t| t.id));
    }
    assert_eq!(last, 1);
    let text = model.detokenize(&ids).unwrap();
    assert!(text.ends_with(&last_words(&demo_text(), 3)), "{text}");
    let cache_aware = StreamOptions { mode: StreamMode::CacheAware, ..StreamOptions::default() };
    let err = Stream::with_engine(&model, &EngineOptions::default(), cache_aware).unwrap_err();
    assert_eq!(err.status, Status::ContractViolation, "{err}");
    assert!(err.message.contains("encoder_streaming"), "{err}");
}

#[test]
fn sessions_on_threads_share_the_model_and_its_engine() {
    let model = demo_model();
    let samples = Arc::new(audio::load_wav(demo_wav(), 16_000).unwrap());
    let options = EngineOptions::onnxruntime().intra_op_threads(1);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (model, samples, options) = (model.clone(), samples.clone(), options.clone());
            std::thread::spawn(move || {
                let mut session = Session::with_engine(&model, &options).unwrap();
                session.transcribe(&samples, 16_000).unwrap().text
            })
        })
        .collect();
    drop(model);
    for handle in handles {
        assert_eq!(handle.join().unwrap(), demo_text());
    }
}

#[test]
fn beam_search_lists_the_n_best_with_word_confidences() {
    let model = demo_model();
    let samples = audio::load_wav(demo_wav(), 16_000).unwrap();
    let mut session = Session::with_engine(&model, &EngineOptions::default()).unwrap();
    let defaults = DecodingOptions::default();
    assert_eq!((defaults.strategy, defaults.beam_size, defaults.nbest), (Strategy::Greedy, 4, 1));
    let greedy = session.transcribe(&samples, 16_000).unwrap();
    assert_eq!(greedy.text, demo_text());
    assert!(greedy.nbest.is_empty());

    let beam = session.transcribe_with(&samples, 16_000, &DecodingOptions::beam(4, 3)).unwrap();
    for (rank, h) in beam.nbest.iter().enumerate() {
        println!("{}. [{:.4}] {}", rank + 1, h.score, h.text);
    }
    assert!((2..=3).contains(&beam.nbest.len()), "{} hypotheses", beam.nbest.len());
    let best = &beam.nbest[0];
    assert_eq!(best.text, beam.text);
    assert_eq!(best.tokens, beam.tokens);
    assert!(best.text.ends_with(&last_words(&demo_text(), 2)), "{}", best.text);
    for h in &beam.nbest {
        assert!(h.score < 0.0);
        assert_eq!(h.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), h.text.split(' ').collect::<Vec<_>>());
        assert!(h.words.iter().all(|w| w.confidence > 0.0 && w.confidence <= 1.0), "{:?}", h.words);
    }
    // NeMo's order: score / (tokens + 1), descending.
    let keys: Vec<f64> = beam.nbest.iter().map(|h| h.score / (h.tokens.len() + 1) as f64).collect();
    assert!(keys.windows(2).all(|k| k[0] >= k[1]), "{keys:?}");

    let err = session.transcribe_with(&samples, 16_000, &DecodingOptions::beam(65, 1)).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("beam_size must be in [1, 64], got 65"), "{err}");
    let greedy_nbest = DecodingOptions { nbest: 2, ..DecodingOptions::default() };
    let err = session.transcribe_with(&samples, 16_000, &greedy_nbest).unwrap_err();
    assert!(err.message.contains("needs strategy 'beam'"), "{err}");
}
