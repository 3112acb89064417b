#!/usr/bin/env python3
"""Batched offline transcription: many short utterances one by one vs `transcribe --batch-size N`.

    bench/bench_batch_transcribe.py [--models demo,parakeet-tdt-0.6b-v3] [--precisions fp32,int8] [--utterances 50]
                                    [--batch-sizes 1,4,8] [--workers 1,2] [--repeats 3] [--threads 0]
                                    [--out docs/BENCH_BATCH_TRANSCRIBE.md]

Per model (the packaged demo model, or a random-weight test export of an architecture), the demo corpus's held-out utterances (eval split of the rendered corpus), already in memory as float32
at 16 kHz, transcribed (a) one by one through Session.transcribe (the OfflineRecognizer) and (b) with
the C++ BatchTranscriber at each batch size (length-sorted padded encoder batches, decoder per
utterance, next batch's features on a second thread) and each worker count: 1 worker runs on the
session's engine with --threads intra-op threads (`--batch-workers 1`); W > 1 workers call one engine
with a single intra-op thread concurrently (`--batch-workers W`; the CLI's default is one per core).
Modes are interleaved in each repeat; the table
gives the median wall time over repeats, the speed-up over one by one, and whether every utterance's
tokens equal the one-by-one tokens. Encoder on ONNX Runtime CPU with --threads intra-op threads.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import command_line, display_path, int8_model_folder, model_folder, publish, report_header  # noqa: E402


def bench_model(name: str, precision: str, args, sizes: list[int], workers: list[int]) -> tuple[list[str], bool]:
    """The report section of one model at one precision, and whether every batched mode's tokens equal one by
    one's."""
    from parakeet_trt import _core
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import held_out_speech

    folder = model_folder(name)
    if precision == "int8":
        folder = int8_model_folder(name, folder, lambda line: print(f"[bench] {line}", file=sys.stderr, flush=True))
    session = Session(str(folder), intra_op_threads=args.threads)
    audios = [held_out_speech(i)[0].astype(np.float32) for i in range(args.utterances)]
    audio_s = sum(len(a) for a in audios) / session.sample_rate_hz
    print(f"[bench] {name}: warming up on {args.utterances} utterances", file=sys.stderr, flush=True)
    reference = [session.transcribe(a, session.sample_rate_hz).token_ids for a in audios]  # also warms up

    def one_by_one():
        return [session.transcribe(a, session.sample_rate_hz).token_ids for a in audios]

    single_threaded = Session(str(folder), intra_op_threads=1) if any(w > 1 for w in workers) else None
    if single_threaded is not None:  # warmed up like the other session, so no repeat times a cold engine
        _core.BatchTranscriber(single_threaded.model, single_threaded.encoder_engine, max(sizes), 2).transcribe(audios)

    def batched(size, count):
        engine_of = session if count == 1 else single_threaded
        transcriber = _core.BatchTranscriber(engine_of.model, engine_of.encoder_engine, size, count)
        return lambda: [r["token_ids"] for r in transcriber.transcribe(audios)]

    modes = {"one by one (Session.transcribe)": one_by_one,
             **{f"--batch-size {b} --batch-workers {w}": batched(b, w) for w in workers for b in sizes}}
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    equal: dict[str, bool] = {mode: True for mode in modes}
    for repeat in range(args.repeats):
        for mode, run in modes.items():
            started = time.perf_counter()
            tokens = run()
            times[mode].append(time.perf_counter() - started)
            equal[mode] &= tokens == reference
        print(f"[bench] {name}: repeat {repeat + 1}/{args.repeats}", file=sys.stderr, flush=True)

    base = statistics.median(times["one by one (Session.transcribe)"])
    lines = [f"## {name}, {precision}", "",
             f"Model `{display_path(folder)}`; {args.utterances} held-out utterances of the demo corpus "
             f"({audio_s:.1f} s of audio, {min(len(a) for a in audios) / 16000:.1f}-"
             f"{max(len(a) for a in audios) / 16000:.1f} s each), ONNX Runtime CPU, intra-op threads "
             f"{args.threads or 'default'} (one by one and 1 worker; 1 per worker otherwise), median of "
             f"{args.repeats} interleaved repeats.", "",
             "| mode | wall (s) | RTFx | speed-up vs one by one | tokens equal to one by one |",
             "|---|---:|---:|---:|---|"]
    for mode in modes:
        wall = statistics.median(times[mode])
        lines.append(f"| {mode} | {wall:.3f} | {audio_s / wall:.1f} | {base / wall:.2f}x | "
                     f"{'yes' if equal[mode] else 'NO' if precision == 'fp32' else 'no'} |")
    if precision == "int8":
        # Dynamic quantization picks each activation's int8 scale from the whole tensor, the batch included: a
        # batched utterance is quantized with its batchmates' range, so its tokens may differ from one by one.
        lines += ["", "int8 tokens need not equal one by one: ONNX Runtime's dynamic quantization takes each "
                      "activation's scale from the whole batched tensor, so an utterance is quantized with its "
                      "batchmates' range (exact equality is checked for fp32 only)."]
        return lines + [""], True
    return lines + [""], all(equal.values())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="demo",
                        help="comma-separated: demo, tiny, parakeet-tdt-0.6b-v3 (random weights, built once into the "
                             "cache) (default demo)")
    parser.add_argument("--precisions", default="fp32",
                        help="comma-separated encoder precisions: fp32 (the model folder), int8 (`parakeet-trt export "
                             "--precision int8` of the same .nemo, built once into the cache) (default fp32)")
    parser.add_argument("--utterances", type=int, default=50, help="held-out utterances transcribed (default 50)")
    parser.add_argument("--batch-sizes", default="1,4,8", help="comma-separated batch sizes to compare (default 1,4,8)")
    parser.add_argument("--workers", default="1,2",
                        help="comma-separated worker counts (--batch-workers) to compare at each batch size (default 1,2)")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the table gives medians")
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    sizes = [int(b) for b in args.batch_sizes.split(",")]
    workers = [int(w) for w in args.workers.split(",")]

    lines = report_header("Batched offline transcription (`parakeet-trt transcribe --batch-size N`)",
                          command_line("bench_batch_transcribe.py", argv),
                          "; shared with other jobs, so absolute times vary run to run")
    ok = True
    for name in args.models.split(","):
        for precision in args.precisions.split(","):
            if precision not in ("fp32", "int8"):
                parser.error(f"--precisions: fp32 or int8, got {precision!r}")
            section, equal = bench_model(name, precision, args, sizes, workers)
            lines += section
            ok &= equal
    publish(lines, args.out)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
