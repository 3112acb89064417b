//! Shared by the integration tests on the packaged demo model: where the repository, the model and
//! NeMo's transcript of the demo sample are.
#![allow(dead_code)] // each test crate uses its own subset

use parakeet_trt::Model;
use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

pub fn demo_model() -> Model {
    Model::load(repo().join("python/parakeet_trt/models/demo")).expect("load the packaged demo model")
}

pub fn demo_wav() -> PathBuf {
    repo().join("python/parakeet_trt/samples/demo.wav")
}

/// NeMo's greedy transcript of the demo sample with the packaged model (samples/demo.nemo_transcript.txt,
/// written when the model is packaged): what the runtime must read.
pub fn demo_text() -> String {
    let path = repo().join("python/parakeet_trt/samples/demo.nemo_transcript.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.trim().to_string()
}

/// The last `n` words of `text`: how the sample ends, whatever a stream read before.
pub fn last_words(text: &str, n: usize) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words[words.len().saturating_sub(n)..].join(" ")
}
