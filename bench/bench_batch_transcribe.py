#!/usr/bin/env python3
"""Batched offline transcription: many short utterances one by one vs `transcribe --batch-size N`.

    bench/bench_batch_transcribe.py [--utterances 50] [--batch-sizes 1,4,8] [--repeats 3] [--threads 0]
                                    [--out docs/BENCH_BATCH_TRANSCRIBE.md]

The demo model's held-out utterances (eval split of the rendered corpus), already in memory as float32
at 16 kHz, transcribed (a) one by one through Session.transcribe (the OfflineRecognizer) and (b) with
the C++ BatchTranscriber at each batch size (length-sorted padded encoder batches, decoder per
utterance, next batch's features on a second thread). Modes are interleaved in each repeat; the table
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
from bench_common import command_line, publish, report_header  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=50)
    parser.add_argument("--batch-sizes", default="1,4,8")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: its default)")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)
    sizes = [int(b) for b in args.batch_sizes.split(",")]

    from parakeet_trt import _core
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import held_out_speech

    session = Session("demo", intra_op_threads=args.threads)
    audios = [held_out_speech(i)[0].astype(np.float32) for i in range(args.utterances)]
    audio_s = sum(len(a) for a in audios) / session.sample_rate_hz
    reference = [session.transcribe(a, session.sample_rate_hz).token_ids for a in audios]  # also warms up

    def one_by_one():
        return [session.transcribe(a, session.sample_rate_hz).token_ids for a in audios]

    def batched(size):
        transcriber = _core.BatchTranscriber(session.model, session.encoder_engine, size)
        return lambda: [r["token_ids"] for r in transcriber.transcribe(audios)]

    modes = {"one by one (Session.transcribe)": one_by_one,
             **{f"--batch-size {b}": batched(b) for b in sizes}}
    times: dict[str, list[float]] = {name: [] for name in modes}
    equal: dict[str, bool] = {name: True for name in modes}
    for _ in range(args.repeats):
        for name, run in modes.items():
            started = time.perf_counter()
            tokens = run()
            times[name].append(time.perf_counter() - started)
            equal[name] &= tokens == reference

    base = statistics.median(times["one by one (Session.transcribe)"])
    lines = report_header("Batched offline transcription (`parakeet-trt transcribe --batch-size N`)",
                          command_line("bench_batch_transcribe.py", argv),
                          "; shared with other jobs, so absolute times vary run to run")
    lines += [f"Demo model, {args.utterances} held-out utterances ({audio_s:.1f} s of audio, "
              f"{min(len(a) for a in audios) / 16000:.1f}-{max(len(a) for a in audios) / 16000:.1f} s each), "
              f"ONNX Runtime CPU, intra-op threads {args.threads or 'default'}, median of {args.repeats} interleaved "
              f"repeats.", "",
              "| mode | wall (s) | RTFx | speed-up vs one by one | tokens equal to one by one |",
              "|---|---:|---:|---:|---|"]
    for name in modes:
        wall = statistics.median(times[name])
        lines.append(f"| {name} | {wall:.3f} | {audio_s / wall:.1f} | {base / wall:.2f}x | "
                     f"{'yes' if equal[name] else 'NO'} |")
    publish(lines, args.out)
    return 0 if all(equal.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
