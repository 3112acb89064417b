//! The decoding choice of a [`Session`](crate::Session)'s transcriptions (`ptrt_decoding_options`)
//! and the n-best entries a beam search lists (`ptrt_hypothesis`).

use crate::initialized;
use crate::session::Token;
use parakeet_trt_sys as sys;

/// Greedy TDT decoding or NeMo's TDT beam search (`PTRT_DECODING_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// TDT greedy (NeMo's label looping): one hypothesis, no n-best list.
    Greedy,
    /// NeMo's TDT beam search (`strategy: beam`) on the same encoder output; the transcript is
    /// the best hypothesis, [`Transcript::nbest`](crate::Transcript::nbest) the list.
    Beam,
}

/// Decoding options. Defaults are the library's (`ptrt_decoding_options_init`, from the C++
/// `DecodingOptions`): greedy, beam size 4, n-best 1.
///
/// ```no_run
/// # fn main() -> Result<(), parakeet_trt::Error> {
/// use parakeet_trt::{DecodingOptions, EngineOptions, Model, Session};
/// let model = Model::load("python/parakeet_trt/models/demo")?;
/// let mut session = Session::with_engine(&model, &EngineOptions::default())?;
/// let samples = vec![0.0f32; 16_000];
/// let transcript = session.transcribe_with(&samples, 16_000, &DecodingOptions::beam(4, 3))?;
/// for hypothesis in &transcript.nbest {
///     println!("{:.3} {}", hypothesis.score, hypothesis.text);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodingOptions {
    pub strategy: Strategy,
    /// Beam: hypotheses kept per frame, 1..=64.
    pub beam_size: i32,
    /// Beam: hypotheses listed, best first, 1..=64; greedy: must be 1.
    pub nbest: i32,
}

impl Default for DecodingOptions {
    fn default() -> Self {
        let raw = initialized(sys::ptrt_decoding_options_init);
        DecodingOptions {
            strategy: if raw.strategy == sys::PTRT_DECODING_BEAM { Strategy::Beam } else { Strategy::Greedy },
            beam_size: raw.beam_size,
            nbest: raw.nbest,
        }
    }
}

impl DecodingOptions {
    /// Beam search with `beam_size` hypotheses per frame, listing the `nbest` best.
    pub fn beam(beam_size: i32, nbest: i32) -> Self {
        DecodingOptions { strategy: Strategy::Beam, beam_size, nbest }
    }

    pub(crate) fn to_raw(self) -> sys::ptrt_decoding_options {
        let mut raw = initialized(sys::ptrt_decoding_options_init);
        raw.strategy = match self.strategy {
            Strategy::Greedy => sys::PTRT_DECODING_GREEDY,
            Strategy::Beam => sys::PTRT_DECODING_BEAM,
        };
        raw.beam_size = self.beam_size;
        raw.nbest = self.nbest;
        raw
    }
}

/// A word of an n-best entry with its confidence: the minimum over its tokens of the token's
/// probability (NeMo's `max_prob` measure, `min` word aggregation).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredWord {
    pub text: String,
    pub start_s: f64,
    pub end_s: f64,
    pub confidence: f64,
}

/// One entry of a beam search's n-best list (owned copy of a `ptrt_hypothesis`).
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    pub text: String,
    /// NeMo's hypothesis score: the path's summed log-probability (tokens, durations, blanks).
    pub score: f64,
    pub tokens: Vec<Token>,
    pub words: Vec<ScoredWord>,
}
