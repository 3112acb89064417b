"""The `parakeet-trt` command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from parakeet_trt import _core
from parakeet_trt.errors import (
    ContractViolation,
    EngineError,
    InvalidAudioError,
    ModelError,
    ParakeetError,
)
from parakeet_trt.session import DECODING, DECODING_STRATEGIES

# Exit codes, documented in --help.
EXIT_OK, EXIT_USAGE, EXIT_MODEL, EXIT_AUDIO, EXIT_CONTRACT, EXIT_ENGINE, EXIT_OTHER = 0, 2, 3, 4, 5, 6, 1
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

# A complete command that tries cache-aware streaming on something packaged (issue 17 item 9): a
# streaming export of the demo model's .nemo (values the exporter accepts for it), then the mode.
CACHE_AWARE_TRY = ("parakeet-trt export --model python/parakeet_trt/models/demo/demo.nemo --out models/demo-stream "
                   "--component encoder_streaming --streaming-profile cache_aware --streaming-chunk-size 64 "
                   "--streaming-shift-size 32 --streaming-left-chunks 4 --device cpu && parakeet-trt transcribe "
                   "--model models/demo-stream --mode cache_aware")

EXIT_CODES_HELP = """exit codes:
  0  success
  1  other errors: a missing optional package (the message names the command that installs it),
     a port in use, a file that cannot be written
  2  bad command line or option value (an unknown execution provider, contexts that do not fit the model)
  3  model missing, unreadable or malformed (no model_meta.json, bad JSON, a missing file)
  4  audio unreadable, empty or invalid (other files are still transcribed)
  5  model files that do not match their recorded sha256 or contract: a tampered, corrupted or
     mismatched model (an engine or artifact that does not match the model)
  6  engine failure
  7  unavailable: an optional component (TensorRT, CUDA) is not installed
"""


def exit_code_for(error: BaseException) -> int:
    if getattr(error, "exit_code", None) is not None:  # e.g. TensorRTUnavailable: 7
        return int(error.exit_code)
    if isinstance(error, ContractViolation):
        return EXIT_CONTRACT
    if isinstance(error, ModelError):
        return EXIT_MODEL
    if isinstance(error, InvalidAudioError):
        return EXIT_AUDIO
    if isinstance(error, EngineError):
        return EXIT_ENGINE
    return EXIT_OTHER


def cmd_transcribe(args: argparse.Namespace) -> int:
    from parakeet_trt.models import demo_sample
    from parakeet_trt.session import Session

    files = args.files or [str(demo_sample())]
    if args.streaming_profile is not None and args.mode != "cache_aware":
        raise ValueError("--streaming-profile applies to --mode cache_aware")
    decoding = {"decoding": args.decoding, "beam_size": args.beam_size, "nbest": args.nbest}
    chose_decoding = (args.decoding, args.nbest) != (DECODING["strategy"], DECODING["nbest"])
    if args.mode != "offline" and chose_decoding:
        raise ValueError("--decoding and --nbest apply to --mode offline (streams decode greedily)")
    batched = args.batch_size > 1 or args.batch_workers > 1
    workers = batch_workers(args, len(files)) if batched else 1
    session = Session(args.model, providers=args.providers, verify_hashes=not args.no_verify, engine=args.engine,
                      trt_engine_dir=args.trt_engines, intra_op_threads=1 if workers > 1 else 0)
    if args.mode == "cache_aware":
        session.streaming_encoder_engine  # a folder without a streaming export fails here, saying how to make one
    if batched:
        if args.mode != "offline":
            raise ValueError("--batch-size and --batch-workers apply to --mode offline (streams are batched by the "
                             "server)")
        if chose_decoding:
            raise ValueError("--decoding and --nbest are not available with --batch-size (batches decode greedily)")
        return transcribe_batched(session, files, args, workers)
    status = EXIT_OK
    for path in files:
        started = time.perf_counter()
        try:
            transcript = (session.transcribe(path, **decoding) if args.mode == "offline"
                          else stream_file(session, path, args))
        except ParakeetError as error:
            print(f"parakeet-trt: {path}: {error}", file=sys.stderr)
            status = status or exit_code_for(error)
            continue
        print_transcript(transcript, path, args, time.perf_counter() - started)
    return status


MAX_BATCH_WORKERS = _core.BatchTranscriber.max_workers  # BatchTranscribeOptions::kMaxWorkers


def batch_workers(args: argparse.Namespace, num_files: int) -> int:
    """--batch-workers, or for 0: with ONNX Runtime on the CPU one worker per CPU the process may run on
    (each worker's encoder calls run on one thread), at most one per batch; 1 otherwise."""
    if args.batch_workers:
        return args.batch_workers
    if args.engine != "onnxruntime" or not _cpu_only(args.providers):
        return 1
    batches = -(-num_files // args.batch_size)
    return max(1, min(len(os.sched_getaffinity(0)), batches, MAX_BATCH_WORKERS))


def _cpu_only(providers: list[str] | None) -> bool:
    """Whether the encoder runs on ONNX Runtime's CPU provider (no --providers: when CUDA is unavailable)."""
    if providers:
        return all(p == "CPUExecutionProvider" for p in providers)
    from parakeet_trt.session import onnxruntime_library

    return "CUDAExecutionProvider" not in _core.onnxruntime_available_providers(onnxruntime_library())


def transcribe_batched(session, files: list[str], args: argparse.Namespace, workers: int) -> int:
    """--batch-size N: every file through the C++ BatchTranscriber, printed in the order given."""
    started = time.perf_counter()
    results = session.transcribe_batch(files, batch_size=args.batch_size, workers=workers)
    elapsed = time.perf_counter() - started
    status = EXIT_OK
    for path, result in zip(files, results):
        if isinstance(result, Exception):  # ParakeetError, or ValueError for an invalid argument
            print(f"parakeet-trt: {path}: {result}", file=sys.stderr)
            status = status or exit_code_for(result)
            continue
        print_transcript(result, path, args, None)
    audio_s = sum(r.audio_duration_s for r in results if not isinstance(r, Exception))
    if not args.json:
        print(f"  ({len(files)} files, {audio_s:.2f} s of audio in {elapsed * 1000:.0f} ms, batches of "
              f"{args.batch_size} on {workers} worker{'s' if workers > 1 else ''}, "
              f"RTFx {audio_s / elapsed if elapsed > 0 else float('inf'):.1f})", file=sys.stderr)
    return status


def print_transcript(transcript, path: str, args: argparse.Namespace, elapsed: float | None) -> None:
    """One file's result: a JSON line (--json) or 'path: text' (with its timing when it has its own)."""
    if args.json:
        from parakeet_trt.live.protocol import round_floats

        print(json.dumps(round_floats(transcript.to_json_dict()), ensure_ascii=False), flush=True)
        return
    print(f"{path}: {transcript.text}", flush=True)
    if len(transcript.nbest) > 1:
        for rank, h in enumerate(transcript.nbest, 1):
            print(f"  {rank}. [{h.score:.3f}] {h.text}", flush=True)
    if elapsed is not None:
        rtfx = transcript.audio_duration_s / elapsed if elapsed > 0 else float("inf")
        print(f"  ({transcript.audio_duration_s:.2f} s of audio in {elapsed * 1000:.0f} ms, RTFx {rtfx:.1f})",
              file=sys.stderr)


def stream_file(session, path: str, args: argparse.Namespace):
    """Stream a file through a StreamingSession in blocks of --push-samples; the final transcript."""
    from parakeet_trt.audio import prepare_audio
    from parakeet_trt.streaming import StreamingSession

    samples, source = prepare_audio(path, None, session.sample_rate_hz)
    stream = StreamingSession(session, mode=args.mode, chunk_ms=args.chunk_ms, left_ms=args.left_ms,
                              right_ms=args.right_ms, final_redecode=args.final_redecode,
                              streaming_profile=args.streaming_profile)
    for i in range(0, len(samples), args.push_samples):
        stream.push(samples[i:i + args.push_samples])
    transcript = stream.finish()[-1].final
    transcript.file = source
    return transcript


def _provider_list(text: str) -> list[str]:
    """``--providers A,B``: one comma-separated value, so a provider list never takes the files."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated provider names, got {text!r}")
    return names


def _positive_int(text: str) -> int:
    return _int_at_least(text, 1, "a positive integer")


def _batch_workers(text: str) -> int:
    return _int_in_range(text, 0, MAX_BATCH_WORKERS, f"an integer in 0..{MAX_BATCH_WORKERS}")


def _int_at_least(text: str, low: int, what: str) -> int:
    return _int_in_range(text, low, None, what)


def _int_in_range(text: str, low: int, high: int | None, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
    return value


def cmd_export(args: argparse.Namespace) -> int:
    from parakeet_trt.export.cli import run_export

    return run_export(args)


def cmd_verify(args: argparse.Namespace) -> int:
    """Hash every file of a model folder in full (verified stamps ignored, then refreshed)."""
    from parakeet_trt.models import resolve_model_dir

    folder = resolve_model_dir(args.model)
    start = time.perf_counter()
    model = _core.Model.load(str(folder), True, True)
    print(json.dumps({"model": str(folder), "verified": "every file hashed in full and matching its contract",
                      "encoder_precision": model.encoder_precision, "files": model.hash_checks,
                      "seconds": round(time.perf_counter() - start, 2)}, indent=2, sort_keys=True))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from parakeet_trt import __version__
    from parakeet_trt.models import DEFAULT_MODEL

    parser = argparse.ArgumentParser(
        prog="parakeet-trt",
        description="Live captions and transcription for NVIDIA Parakeet-TDT models: export NeMo models\n"
                    "to ONNX, transcribe files (whole, or streamed chunk by chunk) and caption live audio\n"
                    "with the C++ core. Start with: parakeet-trt live --demo",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "transcribe", help="transcribe audio files: whole (offline) or streamed through a streaming session (--mode)",
        description="Transcribe audio files (any format libsndfile reads, any rate, any channel count; "
                    "resampled to 16 kHz mono), whole or streamed chunk by chunk (--mode). With no FILE, "
                    "transcribes the packaged demo sample.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("files", nargs="*", metavar="FILE", help="audio files (default: the packaged demo sample)")
    t.add_argument("--model", default=None,
                   help="exported model folder (parakeet-trt export), or a packaged model name "
                        f"(default: {DEFAULT_MODEL}, the packaged demo model)")
    t.add_argument("--json", action="store_true",
                   help="print one JSON object per file per line: file, text, token_ids, token_frames, "
                        "token_durations, words (word, start_s, end_s); with --decoding beam also nbest: "
                        "the hypotheses best first (text, score, token lists, words with confidence)")
    t.add_argument("--decoding", choices=DECODING_STRATEGIES, default=DECODING["strategy"],
                   help="offline: greedy (TDT greedy, NeMo's default decoding) or beam (NeMo's TDT beam search, "
                        "strategy 'beam', on the same encoder output: a few times the decoding time, never a "
                        f"higher held-out WER; docs/BEAM_SEARCH.md) (default {DECODING['strategy']})")
    t.add_argument("--beam-size", type=_positive_int, default=DECODING["beam_size"], metavar="N",
                   help=f"--decoding beam: hypotheses kept per frame, 1..{DECODING['max_beam_size']} "
                        f"(default {DECODING['beam_size']}, NeMo's)")
    t.add_argument("--nbest", type=_positive_int, default=DECODING["nbest"], metavar="N",
                   help=f"--decoding beam: list the N best hypotheses with their scores (and, with --json, "
                        f"per-word confidence), 1..{DECODING['max_nbest']} (default {DECODING['nbest']}: "
                        f"the best only)")
    t.add_argument("--providers", type=_provider_list, default=None, metavar="P1,P2",
                   help="ONNX Runtime execution providers for the encoder, comma-separated in order of preference, "
                        "e.g. CUDAExecutionProvider,CPUExecutionProvider; an unknown or unavailable one is an "
                        "error listing those available (default: CUDA if available, then CPU)")
    t.add_argument("--engine", choices=["onnxruntime", "tensorrt"], default="onnxruntime",
                   help="runs the encoder: onnxruntime (default) or tensorrt (engines built by parakeet-trt "
                        "build-trt; exit code 7 without TensorRT)")
    t.add_argument("--trt-engines", default=None, metavar="DIR",
                   help="tensorrt: the folder build-trt wrote the engines to (default: the model folder)")
    t.add_argument("--no-verify", action="store_true",
                   help="skip the sha256 check of the model's artifacts at load time")
    t.add_argument("--mode", choices=["offline", "buffered", "cache_aware"], default="offline",
                   help="offline: the whole file at once (default). buffered: stream the file through a "
                        "streaming session (NeMo's buffered inference with left/chunk/right context) and print "
                        "its final transcript. cache_aware: stream it through the model folder's streaming "
                        "encoder export (parakeet-trt export --component encoder_streaming); its chunking is "
                        "the export's, so --chunk-ms/--left-ms/--right-ms do not apply")
    t.add_argument("--streaming-profile", choices=["cache_aware", "chunk_isolated"], default=None,
                   help="cache_aware mode: require this profile of the streaming export (default: the folder's). "
                        "To try it on the packaged demo model: " + CACHE_AWARE_TRY)
    stream = _core.option_defaults()["stream"]  # defined once, in C++
    t.add_argument("--chunk-ms", type=_positive_int, default=stream["chunk_ms"],
                   help=f"streaming: chunk length in ms, a multiple of the 80 ms encoder frame "
                        f"(default {stream['chunk_ms']})")
    t.add_argument("--left-ms", type=int, default=stream["left_ms"],
                   help=f"streaming: left context in ms, multiple of 80 (default {stream['left_ms']}, NeMo's)")
    t.add_argument("--right-ms", type=int, default=stream["right_ms"],
                   help=f"streaming: right context (look-ahead) in ms, multiple of 80 (default {stream['right_ms']})")
    t.add_argument("--push-samples", type=_positive_int, default=1600,
                   help="streaming: samples per push, as audio would arrive (default 1600 = 100 ms at 16 kHz; "
                        "the session decodes once a whole --chunk-ms has arrived)")
    t.add_argument("--final-redecode", action="store_true",
                   help="streaming: replace the final text by an offline decode of the whole stream")
    t.add_argument("--batch-size", type=_positive_int, default=1, metavar="N",
                   help="offline: transcribe the files in encoder batches of N utterances of similar length "
                        "(padded, with lengths; the next batch's features computed while the encoder runs); "
                        "same tokens as one by one with an fp32 export (an int8 export quantizes each activation "
                        "with the whole batch's range, so a word may differ) (default 1: one file at a time)")
    t.add_argument("--batch-workers", type=_batch_workers, default=0, metavar="W",
                   help=f"offline, batched: W threads (1..{MAX_BATCH_WORKERS}) take batches of --batch-size files and "
                        "run the encoder concurrently, each on one ONNX Runtime thread (on a CPU, short files go "
                        "faster this way than one call on all the threads: docs/BENCH_BATCH_TRANSCRIBE.md); 1: one "
                        "worker on all the threads (default 0: with --batch-size N > 1, the onnxruntime engine and "
                        "no CUDA, one worker per CPU the process may run on, at most one per batch; else 1)")
    t.set_defaults(handler=cmd_transcribe)

    from parakeet_trt.export.cli import add_export_arguments  # argparse only; torch/NeMo load on use

    e = sub.add_parser("export", help="export a NeMo .nemo model to ONNX + runtime artifacts "
                                      "(needs the 'export' extra)")
    add_export_arguments(e)
    e.set_defaults(handler=cmd_export)

    v = sub.add_parser("verify", help="hash every file of a model folder against its contract in full (loads trust "
                                      "verified stamps; this ignores and refreshes them); exit code 5 on a mismatch")
    v.add_argument("model", help="exported model folder or packaged model name ('demo')")
    v.set_defaults(handler=cmd_verify)

    from parakeet_trt.tensorrt.build import add_build_trt_arguments, run_build_trt  # tensorrt imports on use

    b = sub.add_parser("build-trt", help="build TensorRT engines for an exported model (needs TensorRT; "
                                         "exit code 7 without it)")
    add_build_trt_arguments(b)
    b.set_defaults(handler=run_build_trt)

    from parakeet_trt.live.cli import add_live_arguments, run_live_command  # aiohttp/sounddevice import on use

    lv = sub.add_parser("live", help="live captions from a microphone, a file or stdin PCM (terminal, browser, JSONL)")
    add_live_arguments(lv)
    lv.set_defaults(handler=run_live_command)

    from parakeet_trt.serve.cli import add_serve_arguments, run_serve_command  # ray imports on use

    sv = sub.add_parser("serve", help="serve live streams (websocket) and OpenAI-compatible transcription on "
                                      "Ray Serve (needs the 'serve' extra)")
    add_serve_arguments(sv)
    sv.set_defaults(handler=run_serve_command)

    from parakeet_trt.serve.batch import add_batch_arguments, run_batch_command  # ray imports on use

    tb = sub.add_parser("transcribe-batch", help="transcribe a folder or manifest on a Ray cluster (Ray Data), "
                                                 "resumable (needs the 'serve' extra)")
    add_batch_arguments(tb)
    tb.set_defaults(handler=run_batch_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ParakeetError as error:
        print(f"parakeet-trt: {error}", file=sys.stderr)
        return exit_code_for(error)
    except ValueError as error:  # bad option values found once the model is known (providers, streaming contexts)
        print(f"parakeet-trt: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as error:
        from parakeet_trt.extras import MissingDependency, install_hint

        message = str(error) if isinstance(error, MissingDependency) else f"{error}; {install_hint(error.name)}"
        print(f"parakeet-trt: {message}", file=sys.stderr)
        return EXIT_OTHER
    except OSError as error:  # e.g. the caption port is in use, an output file cannot be written
        print(f"parakeet-trt: {error}", file=sys.stderr)
        return EXIT_OTHER
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
