//! Layout test: every struct declared in src/lib.rs has the size, alignment and field offsets that
//! a C compiler gives the same struct from parakeet_trt.h, and the constants agree. The C program
//! is generated from the Rust table, compiled with the system `cc` and run in this test.
//! The header is also scanned, so a struct added to the header without a Rust twin fails here.

use parakeet_trt_sys::*;
use std::collections::BTreeSet;
use std::mem::{align_of, offset_of, size_of};
use std::path::PathBuf;
use std::process::Command;

struct StructLayout {
    name: &'static str,
    size: usize,
    align: usize,
    /// (C field name, Rust offset, Rust size)
    fields: Vec<(&'static str, usize, usize)>,
}

/// Size of a field's type, from a projection (no instance needed).
fn field_size<T, F>(_projection: fn(&T) -> &F) -> usize {
    size_of::<F>()
}

macro_rules! layout {
    ($ty:ident { $($field:ident => $c_field:literal),* $(,)? }) => {
        StructLayout {
            name: stringify!($ty),
            size: size_of::<$ty>(),
            align: align_of::<$ty>(),
            fields: vec![$(($c_field, offset_of!($ty, $field), field_size(|s: &$ty| &s.$field))),*],
        }
    };
}

fn rust_structs() -> Vec<StructLayout> {
    vec![
        layout!(ptrt_tensor { name => "name", dtype => "dtype", rank => "rank", shape => "shape", data => "data" }),
        layout!(ptrt_engine_vtable { struct_size => "struct_size", self_ => "self", run => "run", destroy => "destroy" }),
        layout!(ptrt_engine_options {
            struct_size => "struct_size", name => "name", providers => "providers",
            intra_op_threads => "intra_op_threads", device_id => "device_id",
            onnxruntime_library => "onnxruntime_library", trt_engine_dir => "trt_engine_dir",
            allow_spinning => "allow_spinning",
        }),
        layout!(ptrt_model_options { struct_size => "struct_size", verify_hashes => "verify_hashes" }),
        layout!(ptrt_model_info {
            struct_size => "struct_size", sample_rate_hz => "sample_rate_hz", num_mel_bins => "num_mel_bins",
            encoder_dim => "encoder_dim", vocab_size => "vocab_size", blank_id => "blank_id",
            max_symbols => "max_symbols", subsampling_factor => "subsampling_factor",
            frame_stride_s => "frame_stride_s", max_encoder_frames => "max_encoder_frames",
            model_name => "model_name",
        }),
        layout!(ptrt_session_options { struct_size => "struct_size", reserved => "reserved" }),
        layout!(ptrt_token { id => "id", duration => "duration", frame => "frame" }),
        layout!(ptrt_word { text => "text", start_s => "start_s", end_s => "end_s" }),
        layout!(ptrt_transcript {
            text => "text", tokens => "tokens", num_tokens => "num_tokens", words => "words",
            num_words => "num_words", num_encoder_frames => "num_encoder_frames",
            audio_duration_s => "audio_duration_s",
        }),
        layout!(ptrt_decoding_options {
            struct_size => "struct_size", strategy => "strategy", beam_size => "beam_size", nbest => "nbest",
            reserved => "reserved",
        }),
        layout!(ptrt_hypothesis {
            struct_size => "struct_size", text => "text", score => "score", tokens => "tokens",
            num_tokens => "num_tokens", words => "words", num_words => "num_words",
            word_confidences => "word_confidences",
        }),
        layout!(ptrt_stream_options {
            struct_size => "struct_size", chunk_ms => "chunk_ms", left_ms => "left_ms", right_ms => "right_ms",
            history_ms => "history_ms", mode => "mode", profile => "profile",
        }),
        layout!(ptrt_cache_aware_stream_options { struct_size => "struct_size", profile => "profile" }),
        layout!(ptrt_stream_update {
            struct_size => "struct_size", committed => "committed", num_committed => "num_committed",
            tail => "tail", num_tail => "num_tail", audio_end_sample => "audio_end_sample",
            decoded_frames => "decoded_frames", is_last => "is_last",
        }),
        layout!(ptrt_transcript_options {
            struct_size => "struct_size", stable_updates => "stable_updates", max_window_tokens => "max_window_tokens",
            max_lag_ms => "max_lag_ms", endpoint_blank_ms => "endpoint_blank_ms", endpoint_vad_ms => "endpoint_vad_ms",
            endpoint_require_both => "endpoint_require_both", commit_whole_words => "commit_whole_words",
        }),
        layout!(ptrt_transcript_event {
            type_ => "type", reserved => "reserved", seq => "seq", committed_len => "committed_len",
            replace_from => "replace_from", text => "text", text_size => "text_size", audio_end_s => "audio_end_s",
            segment => "segment", start_s => "start_s", end_s => "end_s", words => "words", num_words => "num_words",
        }),
        layout!(ptrt_live_stream_options {
            struct_size => "struct_size", ring_ms => "ring_ms", event_slots => "event_slots",
            final_redecode => "final_redecode", redecode_pre_roll_ms => "redecode_pre_roll_ms",
            redecode_post_roll_ms => "redecode_post_roll_ms", segment_on_endpoint => "segment_on_endpoint",
            reserved => "reserved", segment_silence_ms => "segment_silence_ms",
            segment_pre_roll_ms => "segment_pre_roll_ms", aggregator => "aggregator", lanes => "lanes",
            commit_lag_ms => "commit_lag_ms", final_timeout_ms => "final_timeout_ms", stall_ms => "stall_ms",
            agreement_passes => "agreement_passes", fast_lane => "fast_lane", commit_lane => "commit_lane",
            reserved2 => "reserved2",
        }),
        layout!(ptrt_live_event {
            struct_size => "struct_size", kind => "kind", is_last => "is_last", seq => "seq",
            committed => "committed", num_committed => "num_committed", tail => "tail", num_tail => "num_tail",
            committed_text_added => "committed_text_added", tail_text => "tail_text", transcript => "transcript",
            num_transcript => "num_transcript", redecoded_text => "redecoded_text",
            audio_end_sample => "audio_end_sample", decoded_frames => "decoded_frames",
            dropped_samples => "dropped_samples", error_status => "error_status", reserved => "reserved",
            error_message => "error_message", lane_notices => "lane_notices",
            candidates_json => "candidates_json",
        }),
    ]
}

/// (C expression, Rust value) pairs for constants and scalar type sizes.
fn rust_scalars() -> Vec<(&'static str, i64)> {
    vec![
        ("PTRT_ABI_VERSION", PTRT_ABI_VERSION as i64),
        ("PTRT_MAX_TENSOR_RANK", PTRT_MAX_TENSOR_RANK as i64),
        ("sizeof(ptrt_status)", size_of::<ptrt_status>() as i64),
        ("sizeof(ptrt_dtype)", size_of::<ptrt_dtype>() as i64),
        ("PTRT_OK", PTRT_OK as i64),
        ("PTRT_ERROR_INVALID_ARGUMENT", PTRT_ERROR_INVALID_ARGUMENT as i64),
        ("PTRT_ERROR_INVALID_AUDIO", PTRT_ERROR_INVALID_AUDIO as i64),
        ("PTRT_ERROR_MODEL", PTRT_ERROR_MODEL as i64),
        ("PTRT_ERROR_CONTRACT_VIOLATION", PTRT_ERROR_CONTRACT_VIOLATION as i64),
        ("PTRT_ERROR_ENGINE", PTRT_ERROR_ENGINE as i64),
        ("PTRT_ERROR_STATE", PTRT_ERROR_STATE as i64),
        ("PTRT_ERROR_UNAVAILABLE", PTRT_ERROR_UNAVAILABLE as i64),
        ("PTRT_ERROR_INTERNAL", PTRT_ERROR_INTERNAL as i64),
        ("PTRT_DTYPE_FLOAT32", PTRT_DTYPE_FLOAT32 as i64),
        ("PTRT_DTYPE_INT64", PTRT_DTYPE_INT64 as i64),
        ("PTRT_DTYPE_INT32", PTRT_DTYPE_INT32 as i64),
        ("PTRT_DECODING_GREEDY", PTRT_DECODING_GREEDY as i64),
        ("PTRT_DECODING_BEAM", PTRT_DECODING_BEAM as i64),
        ("PTRT_STREAM_MODE_BUFFERED", PTRT_STREAM_MODE_BUFFERED as i64),
        ("PTRT_STREAM_MODE_CACHE_AWARE", PTRT_STREAM_MODE_CACHE_AWARE as i64),
        ("PTRT_AUDIO_MAX_DURATION_S", PTRT_AUDIO_MAX_DURATION_S),
        ("PTRT_LIVE_EVENT_STEP", PTRT_LIVE_EVENT_STEP as i64),
        ("PTRT_LIVE_EVENT_ERROR", PTRT_LIVE_EVENT_ERROR as i64),
        ("PTRT_TRANSCRIPT_EVENT_PATCH", PTRT_TRANSCRIPT_EVENT_PATCH as i64),
        ("PTRT_TRANSCRIPT_EVENT_FINAL", PTRT_TRANSCRIPT_EVENT_FINAL as i64),
        ("PTRT_TRANSCRIPT_EVENT_SNAPSHOT", PTRT_TRANSCRIPT_EVENT_SNAPSHOT as i64),
    ]
}

fn header_path() -> PathBuf {
    PathBuf::from(env!("PARAKEET_TRT_INCLUDE_DIR")).join("parakeet_trt").join("parakeet_trt.h")
}

/// Names of the structs the header defines with a body (`typedef struct ptrt_x {`).
fn header_struct_names() -> BTreeSet<String> {
    let text = std::fs::read_to_string(header_path()).expect("read parakeet_trt.h");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("typedef struct "))
        .filter(|rest| rest.trim_end().ends_with('{'))
        .map(|rest| rest.trim_end_matches('{').trim().to_string())
        .collect()
}

#[test]
fn every_header_struct_has_a_rust_twin() {
    let in_header = header_struct_names();
    let in_rust: BTreeSet<String> = rust_structs().iter().map(|s| s.name.to_string()).collect();
    assert!(!in_header.is_empty(), "no struct found in {}", header_path().display());
    assert_eq!(in_header, in_rust, "structs of parakeet_trt.h vs. parakeet-trt-sys");
}

#[test]
fn struct_layouts_and_constants_match_the_c_compiler() {
    let structs = rust_structs();
    let scalars = rust_scalars();
    let mut program = String::from("#include <stddef.h>\n#include <stdio.h>\n#include \"parakeet_trt/parakeet_trt.h\"\nint main(void) {\n");
    let mut expected = Vec::new();
    for s in &structs {
        program += &format!("  printf(\"{0} size %zu\\n\", sizeof({0}));\n", s.name);
        program += &format!("  printf(\"{0} align %zu\\n\", _Alignof({0}));\n", s.name);
        expected.push(format!("{} size {}", s.name, s.size));
        expected.push(format!("{} align {}", s.name, s.align));
        for (field, offset, size) in &s.fields {
            program += &format!(
                "  printf(\"{0}.{1} offset %zu size %zu\\n\", offsetof({0}, {1}), sizeof((({0}*)0)->{1}));\n",
                s.name, field
            );
            expected.push(format!("{}.{} offset {} size {}", s.name, field, offset, size));
        }
    }
    for (expr, value) in &scalars {
        program += &format!("  printf(\"{0} %lld\\n\", (long long)({0}));\n", expr);
        expected.push(format!("{expr} {value}"));
    }
    program += "  return 0;\n}\n";

    let dir = std::env::temp_dir().join(format!("parakeet_trt_layout_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("layout.c");
    let binary = dir.join("layout");
    std::fs::write(&source, &program).unwrap();
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    // C11 for _Alignof; the header itself is C99.
    let compiled = Command::new(&compiler)
        .arg("-std=c11")
        .arg("-I")
        .arg(env!("PARAKEET_TRT_INCLUDE_DIR"))
        .arg(&source)
        .arg("-o")
        .arg(&binary)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the C compiler `{compiler}`: {e}"));
    assert!(compiled.status.success(), "{compiler} failed:\n{}", String::from_utf8_lossy(&compiled.stderr));
    let run = Command::new(&binary).output().expect("run the layout program");
    assert!(run.status.success());
    let actual: Vec<String> = String::from_utf8(run.stdout).unwrap().lines().map(str::to_string).collect();
    let _ = std::fs::remove_dir_all(&dir);

    let mismatches: Vec<String> = expected
        .iter()
        .zip(&actual)
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("rust `{e}` vs C `{a}`"))
        .collect();
    assert_eq!(expected.len(), actual.len(), "C program printed {} lines, expected {}", actual.len(), expected.len());
    assert!(mismatches.is_empty(), "layout mismatches:\n{}", mismatches.join("\n"));
}
