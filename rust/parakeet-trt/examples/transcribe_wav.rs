//! Transcribes a 16-bit PCM mono 16 kHz WAV file.
//!
//! ```text
//! transcribe_wav <model_dir> <file.wav> [<encoder_outputs.f32>]
//! ```
//!
//! Limitation, stated honestly: the encoder is a neural network this crate does not run (ONNX
//! Runtime and TensorRT have no offline-buildable Rust bindings here). A real application
//! implements [`Engine`] on its own runtime. This example's engine serves a precomputed encoder
//! output from a raw little-endian float32 file `[1][d_model][T']` (as
//! `tests/make_fixture.py` writes for samples/sample.wav), and refuses audio whose frame count
//! does not match it. Without that file it prints the audio's features and shows the error an
//! engine failure produces.
//!
//! ```text
//! cargo run --manifest-path rust/Cargo.toml --example transcribe_wav -- \
//!     python/parakeet_trt/models/random-weights-test python/parakeet_trt/samples/sample.wav \
//!     rust/parakeet-trt/tests/fixtures/sample_encoder_outputs.f32
//! ```

use parakeet_trt::{Engine, Model, Session, TensorMut, TensorRef};
use std::path::Path;
use std::process::ExitCode;

/// Minimal RIFF/WAVE reader: PCM (format 1), 16-bit, mono. Returns (samples in [-1, 1), rate).
fn read_wav(path: &Path) -> Result<(Vec<f32>, u32), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(format!("{} is not a RIFF/WAVE file", path.display()));
    }
    let u16_at = |p: usize| u16::from_le_bytes([bytes[p], bytes[p + 1]]);
    let u32_at = |p: usize| u32::from_le_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]);
    let mut format: Option<(u16, u16, u32, u16)> = None;
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let (id, size) = (&bytes[pos..pos + 4], u32_at(pos + 4) as usize);
        let body = pos + 8;
        if id == b"fmt " && size >= 16 && body + 16 <= bytes.len() {
            format = Some((u16_at(body), u16_at(body + 2), u32_at(body + 4), u16_at(body + 14)));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = format.ok_or("data chunk before fmt chunk")?;
            if (tag, channels, bits) != (1, 1, 16) {
                return Err(format!("need 16-bit PCM mono, got format {tag}, {channels} channels, {bits} bits"));
            }
            if body + size > bytes.len() {
                return Err(format!("{} is truncated: data chunk declares {size} bytes", path.display()));
            }
            let samples = bytes[body..body + size]
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]) as f32 / 32768.0)
                .collect();
            return Ok((samples, rate));
        }
        pos = body + size + (size & 1);
    }
    Err(format!("{} has no data chunk", path.display()))
}

/// Serves one precomputed encoder output (see the module docs).
struct PrecomputedEncoder {
    outputs: Vec<f32>,
}

impl Engine for PrecomputedEncoder {
    fn run(&mut self, inputs: &[TensorRef], outputs: &mut [TensorMut]) -> Result<(), String> {
        let valid_features = inputs
            .iter()
            .find(|t| t.name == "length")
            .and_then(|t| t.as_i64())
            .ok_or("no 'length' input")?[0];
        for output in outputs.iter_mut() {
            match output.name {
                "outputs" => {
                    let buffer = output.as_f32_mut().ok_or("'outputs' is not float32")?;
                    if buffer.len() != self.outputs.len() {
                        return Err(format!(
                            "the precomputed encoder output holds {} floats, this audio needs {}: it was computed for other audio",
                            self.outputs.len(),
                            buffer.len()
                        ));
                    }
                    buffer.copy_from_slice(&self.outputs);
                }
                // NeMo's subsampling length: three stride-2 convolutions.
                "encoded_lengths" => {
                    let mut length = valid_features;
                    for _ in 0..3 {
                        length = (length - 1).div_euclid(2) + 1;
                    }
                    output.as_i64_mut().ok_or("'encoded_lengths' is not int64")?[0] = length;
                }
                other => return Err(format!("unexpected output '{other}'")),
            }
        }
        Ok(())
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let model = Model::load(&args[1])?;
    let (samples, rate) = read_wav(Path::new(&args[2]))?;
    let info = model.info();
    println!("model {} (vocab {}, {} Hz), audio {:.3} s", info.model_name, info.vocab_size, info.sample_rate_hz,
             samples.len() as f64 / rate as f64);

    let encoder_outputs = match args.get(3) {
        Some(path) => std::fs::read(path)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        None => {
            let features = model.compute_features(&samples)?;
            println!("features: {} mel bins x {} frames ({} valid); no encoder output given, so no transcript",
                     features.num_mel_bins, features.num_frames, features.num_valid_frames);
            Vec::new() // the engine will refuse: shows how an engine error surfaces
        }
    };
    let mut session = Session::new(&model, Box::new(PrecomputedEncoder { outputs: encoder_outputs }))?;
    let transcript = session.transcribe(&samples, rate as i32)?;
    println!("text: {}", transcript.text);
    for word in &transcript.words {
        println!("  {:7.2} {:7.2}  {}", word.start_s, word.end_s, word.text);
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 || args.len() > 4 || args.iter().any(|a| a == "--help" || a == "-h") {
        eprintln!(
            "usage: transcribe_wav <model_dir> <file.wav> [<encoder_outputs.f32>]\n\n\
             Transcribes 16-bit PCM mono WAV at the model's rate. This example cannot run the\n\
             encoder network itself: pass its output for this file as raw little-endian float32\n\
             [1][d_model][frames] (tests/make_fixture.py writes one for samples/sample.wav with\n\
             ONNX Runtime). Without it, it prints the features and the engine error."
        );
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
