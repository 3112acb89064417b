#!/usr/bin/env python3
"""A long stream (default 1 hour of audio, faster than real time): memory, stability, drift.

    bench/long_stream.py [--arch tiny] [--minutes 60] [--chunk-ms 560 --left-ms 1600 --right-ms 560]
                         [--out docs/LONG_STREAM.md]
    bench/long_stream.py --mode cache_aware [--profile cache_aware|chunk_isolated]   # -> docs/LONG_STREAM_CACHE_AWARE.md

Streams ``--minutes`` of audio (espeak-ng speech sequences with pauses, regenerated per 60 s block so
memory stays independent of the duration) through one StreamingSession of the test model's export,
100 ms per push, and checks on every update:

* committed tokens never change (each update's committed ids extend the previous ones);
* no drift between audio time and decoded time: after every regular step, the committed encoder
  frames equal (samples consumed - right context) / 1280 exactly (cache_aware: the windows run so
  far times the frames each commits, the window being fixed by the samples it waited for), and at
  the end all of the audio;
* resident memory (RSS, from /proc/self/status) at the start (after warm-up) and every 10 minutes.

Exits non-zero if a check fails. Writes the table to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="tiny", choices=["tiny", "parakeet-tdt-0.6b-v3"])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--chunk-ms", type=int, default=560)
    parser.add_argument("--left-ms", type=int, default=1600)
    parser.add_argument("--right-ms", type=int, default=560)
    parser.add_argument("--mode", choices=["buffered", "cache_aware"], default="buffered")
    parser.add_argument("--profile", choices=["cache_aware", "chunk_isolated"], default="cache_aware",
                        help="cache_aware mode: the test streaming export's profile")
    parser.add_argument("--out", type=Path, default=None,
                        help="default docs/LONG_STREAM.md (buffered), docs/LONG_STREAM_CACHE_AWARE.md (cache_aware)")
    args = parser.parse_args(argv)
    args.out = args.out or REPO / "docs" / ("LONG_STREAM.md" if args.mode == "buffered" else "LONG_STREAM_CACHE_AWARE.md")

    import parakeet_trt
    from parakeet_trt.testing.exports import cached_export_dir
    from parakeet_trt.testing.signals import speech_sequence

    if args.mode == "buffered":
        session = parakeet_trt.Session(cached_export_dir(args.arch, None, REPO / ".cache"), intra_op_threads=1)
        stream = parakeet_trt.StreamingSession(session, chunk_ms=args.chunk_ms, left_ms=args.left_ms,
                                               right_ms=args.right_ms, history_ms=0)
        right = args.right_ms * 16

        def expected_frames(consumed: int, final: bool) -> tuple[int, int]:
            n = (consumed - (0 if final else right)) // 1280
            return n, n
        setting = f"--chunk-ms {args.chunk_ms} --left-ms {args.left_ms} --right-ms {args.right_ms}"
    else:
        from parakeet_trt.parity.streaming import cached_streaming_export

        session = parakeet_trt.Session(cached_streaming_export(args.arch, args.profile, REPO / ".cache"),
                                       intra_op_threads=1)
        stream = parakeet_trt.StreamingSession(session, mode="cache_aware", streaming_profile=args.profile)
        st, hop = session.meta["streaming"], session.meta["features"]["hop_length"]

        def expected_frames(consumed: int, final: bool) -> tuple[int, int]:
            if consumed == total_samples:  # finish(): the last windows; NeMo's subsampling of the last
                n = -(-(1 + consumed // hop) // st["subsampling_factor"])  # chunk may leave one frame out
                return (n - 1, n) if final else (0, n)
            # window k waited for (b + N - 1) * hop + n_fft / 2 samples, b = k * A; k + 1 windows ran
            windows = ((consumed - 256) // hop + 1 - st["new_frames_per_call"]) // st["advance_frames_per_call"] + 1
            return windows * st["valid_out_len"], windows * st["valid_out_len"]
        setting = f"--mode cache_aware --profile {args.profile}"
    total_samples = int(args.minutes * 60 * 16000)
    committed: list[int] = []
    failures: list[str] = []
    memory = []
    pushed, updates, block_index = 0, 0, 0
    started = time.perf_counter()
    next_mark = 0

    def check(update) -> None:
        nonlocal committed
        if update.committed_token_ids[:len(committed)] != committed:
            failures.append(f"committed tokens changed at {update.audio_end_s:.2f} s")
        committed = update.committed_token_ids
        consumed = round(update.audio_end_s * 16000)
        lo, hi = expected_frames(consumed, update.is_final)
        if not lo <= update.decoded_frames <= hi:
            failures.append(f"drift at {update.audio_end_s:.2f} s: {update.decoded_frames} frames decoded, "
                            f"{lo}..{hi} expected")

    while pushed < total_samples:
        block = speech_sequence(np.random.default_rng(block_index), 60.0).astype(np.float32)
        block = block[: total_samples - pushed]
        block_index += 1
        for i in range(0, len(block), 1600):
            for update in stream.push(block[i:i + 1600]):
                check(update)
                updates += 1
        pushed += len(block)
        minute = pushed / 16000 / 60
        if minute >= next_mark:
            memory.append((minute, rss_mib(), time.perf_counter() - started))
            print(f"[long] {minute:.1f} min streamed, RSS {memory[-1][1]:.1f} MiB, "
                  f"{len(committed)} tokens committed, {memory[-1][2]:.0f} s", file=sys.stderr, flush=True)
            next_mark += 10
    for update in stream.finish():
        check(update)
        updates += 1
    elapsed = time.perf_counter() - started
    memory.append((pushed / 16000 / 60, rss_mib(), elapsed))
    if not stream.finished:
        failures.append("stream did not finish")

    first, last = memory[0], memory[-1]
    lines = [
        f"# Long {args.mode.replace('_', '-')} stream",
        "",
        f"Generated by `bench/long_stream.py --arch {args.arch} --minutes {args.minutes:g} {setting}`: "
        f"{pushed / 16000 / 60:.1f} minutes of espeak-ng "
        f"speech with pauses, pushed 100 ms at a time into one stream ({updates} updates, {len(committed)} "
        f"committed tokens), in {elapsed:.0f} s (RTFx {pushed / 16000 / elapsed:.1f}).",
        "",
        "| audio streamed (min) | RSS (MiB) | wall time (s) |",
        "|---|---|---|",
        *[f"| {m:.1f} | {r:.1f} | {t:.0f} |" for m, r, t in memory],
        "",
        f"RSS growth from the first to the last mark: {last[1] - first[1]:+.1f} MiB.",
        f"Committed tokens never changed: {'yes' if not any('changed' in f for f in failures) else 'NO'}. "
        f"Decoded frames equal consumed audio after every step (no drift): "
        f"{'yes' if not any('drift' in f for f in failures) else 'NO'}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.write_text(text, encoding="utf-8")
    for f in failures[:20]:
        print(f"FAIL: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
