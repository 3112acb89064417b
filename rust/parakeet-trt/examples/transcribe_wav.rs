//! Transcribes a WAV file with an exported model folder: the C++ core reads and resamples the audio
//! and runs the encoder (ONNX Runtime, opened by the library); no Python process is involved.
//!
//! ```text
//! cargo run --release --example transcribe_wav -- MODEL_DIR FILE.wav [onnxruntime|tensorrt]
//! cargo run --release --manifest-path rust/Cargo.toml --example transcribe_wav -- \
//!     python/parakeet_trt/models/demo python/parakeet_trt/samples/demo.wav
//! ```
//!
//! The WAV may be 16/24/32-bit PCM or float, any channel count, any rate. The first lines describe
//! the model and audio; the last stdout line is the transcript. libonnxruntime.so is found through
//! `$PTRT_ONNXRUNTIME_LIBRARY`, the onnxruntime Python package installed beside libparakeet_trt,
//! or the loader path (see [`EngineOptions`]).

use parakeet_trt::{audio, EngineOptions, Model, Session};
use std::process::ExitCode;

fn run(model_dir: &str, wav: &str, engine: Option<&str>) -> Result<(), parakeet_trt::Error> {
    let model = Model::load(model_dir)?;
    let rate = model.info().sample_rate_hz;
    let samples = audio::load_wav(wav, rate)?;
    println!("model {} ({rate} Hz), audio {:.3} s", model.info().model_name, samples.len() as f64 / rate as f64);
    let options = match engine {
        Some(name) => EngineOptions { name: name.to_string(), ..EngineOptions::default() },
        None => EngineOptions::default(),
    };
    let mut session = Session::with_engine(&model, &options)?;
    let transcript = session.transcribe(&samples, rate)?;
    println!("{} tokens, {} words, {} encoder frames", transcript.tokens.len(), transcript.words.len(),
             transcript.num_encoder_frames);
    println!("{}", transcript.text);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if !(3..=4).contains(&args.len()) || args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!("usage: transcribe_wav MODEL_DIR FILE.wav [onnxruntime|tensorrt]");
        return ExitCode::from(2);
    }
    match run(&args[1], &args[2], args.get(3).map(String::as_str)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("transcribe_wav: {e}");
            ExitCode::FAILURE
        }
    }
}
