//! The live stream over the C ABI (`ptrt_live_stream_*`): a writer thread feeds the demo sample
//! through the ring, a reader thread takes the events; the committed tokens equal a plain stream's
//! on the same engine and options, the finals add up to the committed text, bad input and calls
//! after close are refused by name. Needs libonnxruntime.so (PTRT_ONNXRUNTIME_LIBRARY).

use parakeet_trt::{audio, live_stream, EngineOptions, LiveEvent, LiveStreamOptions, Model, Status, Stream,
                   TranscriptEventKind};
use std::time::Duration;

mod common;
use common::{demo_model, demo_text, last_words, repo};

/// How the demo sample ends: the last three words NeMo reads in it.
fn demo_ending() -> String {
    last_words(&demo_text(), 3)
}

fn demo_samples() -> Vec<f32> {
    audio::load_wav(repo().join("python/parakeet_trt/samples/demo.wav"), 16_000).unwrap()
}

#[test]
fn live_stream_on_two_threads_commits_what_a_stream_commits() {
    let model = demo_model();
    let samples = demo_samples();
    let options = LiveStreamOptions { ring_ms: 500, event_slots: 4, ..LiveStreamOptions::default() };
    let (mut writer, mut reader) = live_stream(&model, &EngineOptions::default(), &options).unwrap();
    let producer = {
        let samples = samples.clone();
        std::thread::spawn(move || {
            for block in samples.chunks(1_600) {
                writer.write_all(block).unwrap(); // a 500 ms ring: waits for the inference thread
            }
            writer.close().unwrap();
            let err = writer.write(&samples[..10], -1.0, true).unwrap_err();
            assert_eq!(err.status, Status::State, "{err}");
        })
    };
    let consumer = std::thread::spawn(move || {
        let mut events: Vec<LiveEvent> = Vec::new();
        while let Some(event) = reader.next_event(Some(Duration::from_secs(30))).unwrap() {
            assert!(event.error.is_none(), "{:?}", event.error);
            events.push(event);
        }
        assert!(reader.is_done());
        let snapshot = reader.snapshot().unwrap();
        (events, snapshot)
    });
    producer.join().unwrap();
    let (events, snapshot) = consumer.join().unwrap();

    assert!(events.len() > 5);
    assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1), "seq 1, 2, 3, ...");
    assert!(events.last().unwrap().is_last && events.iter().filter(|e| e.is_last).count() == 1);
    assert!(events.iter().all(|e| e.dropped_samples == 0), "write_all never drops");
    assert_eq!(events.last().unwrap().audio_end_sample, samples.len() as i64);

    let mut stream = Stream::with_engine(&model, &EngineOptions::default(), options.stream.clone()).unwrap();
    let mut expected = Vec::new();
    for block in samples.chunks(1_600) {
        expected.extend(stream.push(block, 16_000).unwrap().flat_map(|u| u.committed));
    }
    expected.extend(stream.finish().unwrap().flat_map(|u| u.committed));
    let committed: Vec<_> = events.iter().flat_map(|e| e.committed.iter().copied()).collect();
    assert_eq!(committed, expected, "the live stream's engine tokens are the plain stream's");

    let committed_text: String = events.iter().map(|e| e.committed_text_added.as_str()).collect();
    let finals: String = events
        .iter()
        .flat_map(|e| e.transcript.iter().filter(|t| t.kind == TranscriptEventKind::Final).map(|t| t.text.clone()))
        .collect();
    let ids: Vec<i32> = expected.iter().map(|t| t.id).collect();
    let text = model.detokenize(&ids).unwrap();
    println!("committed text: {committed_text:?}\nfinals: {finals:?}\nsnapshot: {:?}", snapshot.text);
    assert!(text.ends_with(&demo_ending()), "{text}");
    assert_eq!(committed_text.trim(), text.trim());
    assert_eq!(snapshot.text.trim(), text.trim());
    assert_eq!(finals.split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>());
    assert!(events.iter().all(|e| e.redecoded_text.len() == e.transcript.len()));
}

#[test]
fn live_stream_refuses_bad_audio_and_bad_options() {
    let model = demo_model();
    let err = live_stream(&model, &EngineOptions::default(), &LiveStreamOptions { ring_ms: 0, ..LiveStreamOptions::default() })
        .unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("ring_ms"), "{err}");
    let segments = LiveStreamOptions { segment_on_endpoint: true, segment_silence_ms: 10, ..LiveStreamOptions::default() };
    let err = live_stream(&model, &EngineOptions::default(), &segments).unwrap_err();
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.message.contains("segment_silence_ms"), "{err}");
    let (mut writer, mut reader) = live_stream(&model, &EngineOptions::default(), &LiveStreamOptions::default()).unwrap();
    let mut block = vec![0.0f32; 1_000];
    block[3] = f32::NAN;
    let err = writer.write(&block, -1.0, true).unwrap_err();
    assert_eq!(err.status, Status::InvalidAudio, "{err}");
    assert_eq!(writer.write(&[0.0; 1_000], -1.0, true).unwrap(), 1_000);
    writer.close().unwrap();
    writer.close().unwrap(); // idempotent
    let mut last = None;
    while let Some(event) = reader.next_event(Some(Duration::from_secs(30))).unwrap() {
        last = Some(event);
    }
    let last = last.expect("at least the closing event");
    assert!(last.is_last && last.audio_end_sample == 1_000);
}

/// The demo sample, then 1 s of silence that a VAD reports as such, through a live stream with
/// `options`: (the finals' texts joined, each final's candidates_json, lane notices, the snapshot text).
fn play_captions(model: &Model, options: &LiveStreamOptions) -> (String, Vec<String>, Vec<String>, String) {
    let samples = demo_samples();
    let (mut writer, mut reader) = live_stream(model, &EngineOptions::default(), options).unwrap();
    let producer = std::thread::spawn(move || {
        let silence = vec![0.0f32; 16_000];
        for part in [&samples[..], &silence[..]] {
            let is_speech = part.len() != silence.len();
            let mut silent_ms = 0.0;
            for block in part.chunks(320) {
                silent_ms = if is_speech { 0.0 } else { silent_ms + 20.0 };
                let mut rest = block;
                while !rest.is_empty() {
                    let stored = writer.write(rest, silent_ms, false).unwrap();
                    rest = &rest[stored..];
                    if stored == 0 {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
            }
        }
        writer.close().unwrap();
    });
    let (mut finals, mut candidates, mut notices) = (String::new(), Vec::new(), Vec::new());
    let mut last = None;
    while let Some(event) = reader.next_event(Some(Duration::from_secs(60))).unwrap() {
        assert!(event.error.is_none(), "{:?}", event.error);
        notices.extend(event.lane_notices.clone());
        assert_eq!(event.candidates_json.len(), event.transcript.len());
        for (t, windows) in event.transcript.iter().zip(&event.candidates_json) {
            if t.kind == TranscriptEventKind::Final {
                finals.push_str(&t.text);
                candidates.push(windows.clone());
            } else {
                assert!(windows.is_empty(), "only finals carry candidate windows: {windows}");
            }
        }
        last = Some(event);
    }
    producer.join().unwrap();
    assert!(last.unwrap().is_last);
    (finals, candidates, notices, reader.snapshot().unwrap().text)
}

#[test]
fn live_captions_commit_each_segment_through_the_lanes() {
    // The captions' defaults (aggregator v2, one redecode lane, segments) on the demo sample.
    let model = demo_model();
    let options = LiveStreamOptions::captions();
    assert_eq!(options.aggregator, "v2");
    assert!(options.segment_on_endpoint);
    let (finals, _, notices, committed) = play_captions(&model, &options);
    println!("finals: {finals:?}");
    assert!(notices.is_empty(), "{notices:?}");
    assert_eq!(finals, committed, "the finals add up to the committed text");
    assert!(committed.ends_with(&demo_ending()), "{committed}");

    let bad = LiveStreamOptions { lanes: "redecode:every=1".into(), ..LiveStreamOptions::captions() };
    let err = live_stream(&model, &EngineOptions::default(), &bad).err().expect("a bad lane list is refused");
    assert_eq!(err.status, Status::InvalidArgument, "{err}");
    assert!(err.to_string().contains("redecode_every_ms"), "{err}");
}


#[test]
fn candidate_options_add_the_beam_lane_and_caption_a_stream() {
    // What `live --llm-url` runs: the beam lane first (its n-best for the candidates), the greedy lane
    // showing and committing; from the C ABI, defined once in the core.
    let options = LiveStreamOptions::candidates();
    assert_eq!(options.lanes, "redecode:decoding=beam:beam=4,redecode");
    assert_eq!((options.aggregator.as_str(), options.fast_lane, options.commit_lane), ("v2", 1, 1));
    assert_eq!(LiveStreamOptions::captions().lanes, "");
    let (finals, candidates, notices, committed) = play_captions(&demo_model(), &options);
    assert!(!finals.is_empty() && finals == committed, "{finals:?} / {committed:?}");
    assert!(notices.is_empty(), "{notices:?}");
    assert!(candidates.iter().all(|c| c.is_empty() || c.starts_with("[{\"start_s\": ")), "{candidates:?}");
}

#[test]
fn finals_carry_candidate_windows_where_lanes_disagree() {
    // v3 over a buffered and a redecode lane (v3 finalizes once every lane's whole-segment pass is in):
    // where a lane's hypothesis disagrees with a final, the final carries candidate windows (the C
    // ABI's candidates_json, docs/PATCH_PROTOCOL.md).
    let model = demo_model();
    let options = LiveStreamOptions {
        aggregator: "v3".into(),
        lanes: "buffered:chunk=320:right=320,redecode".into(),
        ..LiveStreamOptions::captions()
    };
    let (finals, candidates, _, committed) = play_captions(&model, &options);
    assert_eq!(finals, committed);
    let with_windows: Vec<&String> = candidates.iter().filter(|c| !c.is_empty()).collect();
    println!("finals: {finals:?}; candidates: {with_windows:?}");
    assert!(!with_windows.is_empty(), "no final carries candidates: {finals:?}");
    for windows in with_windows {
        assert!(windows.starts_with("[{\"start_s\": ") && windows.contains("\"alternatives\": [{\"words\": ["), "{windows}");
        assert!(windows.contains("\"source\": \"lane:"), "{windows}");
    }
}
