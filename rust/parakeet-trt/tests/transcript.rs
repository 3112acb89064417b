//! TranscriptState over the C ABI: random step sequences replay exactly from the patches, committed
//! text only grows, the finals add up to it at the end; bad tokens and calls after finish are errors.

use parakeet_trt::{CommitPolicy, Model, Status, Token, TranscriptEventKind, TranscriptState};
use std::path::Path;

fn model() -> Model {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    Model::load(repo.join("python/parakeet_trt/models/random-weights-test")).expect("packaged model")
}

/// A small deterministic generator (no dependency): xorshift64*.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

#[test]
fn random_steps_replay_exactly_and_finals_add_up() {
    let model = model();
    let vocab = model.info().vocab_size as u64;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for trial in 0..100 {
        let policy = CommitPolicy {
            stable_updates: rng.below(4) as i32,
            max_lag_ms: [0, 400, 1200][rng.below(3) as usize],
            endpoint_blank_ms: [0, 400, 800][rng.below(3) as usize],
            ..CommitPolicy::default()
        };
        let mut state = TranscriptState::new(&model, policy).unwrap();
        let (mut display, mut committed, mut finals) = (String::new(), 0usize, String::new());
        let (mut truth, mut stable_count, mut frame, mut edge) = (Vec::<Token>::new(), 0usize, 0i64, 0.0f64);
        let apply = |events: Vec<parakeet_trt::TranscriptEvent>, display: &mut String, committed: &mut usize, finals: &mut String| {
            for e in events {
                match e.kind {
                    TranscriptEventKind::Final => finals.push_str(&e.text),
                    _ => {
                        assert!(e.replace_from as usize >= *committed, "trial {trial}: rewrote committed text");
                        assert!(e.committed_len as usize >= *committed, "trial {trial}: committed_len decreased");
                        let before: String = display.chars().take(*committed).collect();
                        *display = e.apply_to(display);
                        assert!(display.starts_with(&before));
                        *committed = e.committed_len as usize;
                    }
                }
            }
        };
        for _ in 0..(3 + rng.below(30)) {
            for _ in 0..rng.below(4) {
                frame += rng.below(6) as i64;
                truth.push(Token { id: rng.below(vocab) as i32, frame, duration: rng.below(3) as i32 });
            }
            edge = edge.max((frame + 2) as f64 * 0.08) + 0.16 * rng.below(3) as f64;
            let target = truth.len().saturating_sub(rng.below(3) as usize).max(stable_count);
            let stable: Vec<Token> = truth[stable_count..target].to_vec();
            stable_count = target;
            let tail: Vec<Token> = truth[stable_count..]
                .iter()
                .map(|t| if rng.below(3) == 0 { Token { id: rng.below(vocab) as i32, ..*t } } else { *t })
                .collect();
            let events = state.apply_step(&stable, &tail, edge, -1.0).unwrap();
            apply(events, &mut display, &mut committed, &mut finals);
        }
        let events = state.finish(edge + 0.1).unwrap();
        apply(events, &mut display, &mut committed, &mut finals);
        assert_eq!(display.chars().count(), committed, "trial {trial}: uncommitted text after finish");
        assert_eq!(finals, display, "trial {trial}: finals do not add up to the committed text");
        let snapshot = state.snapshot().unwrap();
        assert_eq!((snapshot.kind, snapshot.text.as_str()), (TranscriptEventKind::Snapshot, display.as_str()));
    }
}

#[test]
fn bad_input_is_an_error_naming_it() {
    let model = model();
    let bad = CommitPolicy { max_lag_ms: -1, ..CommitPolicy::default() };
    let error = TranscriptState::new(&model, bad).unwrap_err();
    assert_eq!(error.status, Status::InvalidArgument);
    assert!(error.message.contains("max_lag_ms"), "{}", error.message);
    let mut state = TranscriptState::new(&model, CommitPolicy::default()).unwrap();
    let outside = [Token { id: model.info().vocab_size + 5, frame: 0, duration: 1 }];
    let error = state.apply_hypothesis(&outside, 0.5, -1.0).unwrap_err();
    assert!(error.message.contains("outside the vocabulary"), "{}", error.message);
    state.finish(1.0).unwrap();
    assert_eq!(state.finish(2.0).unwrap_err().status, Status::State);
}
