#!/usr/bin/env python3
"""Streaming benchmark: per-chunk latency, real-time factor, event latency, NeMo baseline, per mode.

    bench/bench_streaming.py [--arch tiny] [--seconds 20] [--settings 160/1600/320 560/10000/560]
                             [--profiles chunk_isolated cache_aware] [--out docs/BENCH_STREAMING.md]

For each buffered setting (chunk/left/right in ms) and each cache-aware profile (the test streaming
exports of ``--arch``: parakeet_trt.parity.streaming.cached_streaming_export) of the test model
(encoder on ONNX Runtime CPU), a speech sequence of ``--seconds`` is streamed one chunk per push
(cache-aware: one window's shift per push):

* per-chunk compute time (the push that completes a chunk, i.e. features + encoder + decoding),
  p50/p95/p99, and the part outside the encoder (the engine's own time subtracted), the issue's
  "<= 1 ms p99" goal;
* real-time factor (audio seconds per compute second) of the whole stream;
* event latency through the worker thread (BackgroundStream): from writing the last sample of a
  chunk to receiving its update;
* NeMo's own streaming loop at the same settings in the same run: buffered
  (parakeet_trt.testing.nemo_buffered: model forward + label-looping decoding computer) or
  cache-aware (parakeet_trt.testing.nemo_cache_aware: CacheAwareStreamingAudioBuffer +
  conformer_stream_step): its per-chunk time and RTFx, and our speed-up.

Prints a table and writes it as Markdown to ``--out`` (timings vary run to run; the setup lines and
token counts do not).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from bench_common import REPO, display_path


def timed(engine):
    """The engine (native, or a Python object with run()) inside the core's timing decorator
    (engines/timed_engine.hpp): encoder time is counted in C++, no Python runs per call for a native one."""
    from parakeet_trt import _core

    return _core.timed_engine(engine)


def encoder_seconds(timed_engine) -> float:
    from parakeet_trt import _core

    return _core.engine_timing(timed_engine)["seconds"]


def pct(values, q):
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def bench_ours(core, timed_engine, audio, block):
    """Push ``audio`` in ``block``-sample pushes through the core session ``core`` (its engine ``timed_engine``)."""
    step_s, outside_s, tokens = [], [], 0
    started = time.perf_counter()
    for i in range(0, len(audio), block):
        before_engine = encoder_seconds(timed_engine)
        t0 = time.perf_counter()
        steps = core.push(audio[i:i + block])
        dt = time.perf_counter() - t0
        if steps:
            step_s.append(dt / len(steps))
            outside_s.append((dt - (encoder_seconds(timed_engine) - before_engine)) / len(steps))
            tokens += sum(len(s["committed"]["token_ids"]) for s in steps)
    tokens += sum(len(s["committed"]["token_ids"]) for s in core.finish())
    total = time.perf_counter() - started
    return {"step_s": step_s, "outside_s": outside_s, "rtfx": len(audio) / 16000 / total, "tokens": tokens}


def bench_event_latency(bg, audio, first, block):
    """Write ``first`` samples, then ``block`` at a time, into BackgroundStream ``bg``; per write the
    time until its update arrives."""
    latencies = []
    pos = 0
    while pos < len(audio):
        end = min(len(audio), first if pos == 0 else pos + block)
        t0 = time.perf_counter()
        bg.write(audio[pos:end])
        pos = end
        got = False
        deadline = t0 + 10.0
        while not got and time.perf_counter() < deadline:
            for _ in bg.updates(timeout_s=0.5):
                got = True
                break
        if got:
            latencies.append(time.perf_counter() - t0)
    bg.close()
    for _ in bg.updates():
        pass
    return latencies


def bench_nemo(decode, audio):
    """Time ``decode(audio)`` (a NeMo reference loop returning token_ids and steps)."""
    t0 = time.perf_counter()
    ref = decode(audio)
    total = time.perf_counter() - t0
    return {"per_step_s": total / max(1, len(ref["steps"])), "rtfx": len(audio) / 16000 / total,
            "tokens": len(ref["token_ids"]), "ids": ref["token_ids"]}


def buffered_row(session, nemo, audio, setting):
    from parakeet_trt import _core
    from parakeet_trt.streaming import BackgroundStream
    from parakeet_trt.testing.nemo_buffered import nemo_buffered_decode

    chunk_ms, left_ms, right_ms = (int(v) for v in setting.split("/"))
    timed_engine = timed(session.encoder_engine)
    core = _core.BufferedStreamingSession(session.model, timed_engine, chunk_ms=chunk_ms, left_ms=left_ms,
                                          right_ms=right_ms, history_ms=0)
    ours = bench_ours(core, timed_engine, audio, chunk_ms * 16)
    bg = BackgroundStream(session, chunk_ms=chunk_ms, left_ms=left_ms, right_ms=right_ms)
    events = bench_event_latency(bg, audio, chunk_ms * 16 + right_ms * 16 + 1, chunk_ms * 16)  # C + R + 1 first
    nemo_res = bench_nemo(lambda a: nemo_buffered_decode(nemo, a, chunk_ms, left_ms, right_ms), audio)
    return ("buffered", setting, ours, events, nemo_res)


def cache_aware_row(arch, profile, cache, threads, audio):
    import parakeet_trt
    from parakeet_trt import _core
    from parakeet_trt.parity.streaming import cached_streaming_export
    from parakeet_trt.streaming import BackgroundStream
    from parakeet_trt.testing.exports import cached_nemo_path
    from parakeet_trt.testing.nemo_cache_aware import load_streaming_reference, nemo_cache_aware_decode

    session = parakeet_trt.Session(cached_streaming_export(arch, profile, cache), intra_op_threads=threads)
    st = session.meta["streaming"]
    timed_engine = timed(session.streaming_encoder_engine)
    core = _core.CacheAwareStreamingSession(session.model, timed_engine)
    shift = st["advance_frames_per_call"] * session.meta["features"]["hop_length"]
    ours = bench_ours(core, timed_engine, audio, shift)
    first = (st["new_frames_per_call"] - 1) * session.meta["features"]["hop_length"] + 256  # the first window's audio
    events = bench_event_latency(BackgroundStream(session, mode="cache_aware"), audio, first, shift)
    nemo = load_streaming_reference(cached_nemo_path(arch, None, cache), st)
    nemo_res = bench_nemo(lambda a: nemo_cache_aware_decode(nemo, a), audio)
    label = profile if profile == "chunk_isolated" else \
        f"C{st['chunk_size']} S{st['shift_size']} K{st['left_chunks']} ({shift // 16} ms shift)"
    return ("cache_aware", label, ours, events, nemo_res)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", default="tiny", choices=["tiny", "parakeet-tdt-0.6b-v3"])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the streamed speech")
    parser.add_argument("--settings", nargs="+", default=["160/1600/320", "560/10000/560"],
                        help="chunk/left/right in ms (multiples of 80)")
    parser.add_argument("--profiles", nargs="*", default=["chunk_isolated", "cache_aware"],
                        help="cache-aware mode: the test streaming exports' profiles")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op and torch threads")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCH_STREAMING.md")
    parser.add_argument("--title", default="Streaming benchmark", help="heading of the generated file")
    args = parser.parse_args(argv)
    load_1min_at_start = os.getloadavg()[0]  # other work on the machine skews wall-clock timings

    import torch

    torch.set_num_threads(args.threads)
    import parakeet_trt
    from parakeet_trt.testing.exports import cached_export_dir, cached_nemo_path
    from parakeet_trt.testing.signals import speech_sequence
    from parakeet_trt.testing.test_models import load_test_model

    cache = REPO / ".cache"
    export = cached_export_dir(args.arch, None, cache)
    session = parakeet_trt.Session(export, intra_op_threads=args.threads)
    nemo = load_test_model(cached_nemo_path(args.arch, None, cache))
    audio = speech_sequence(np.random.default_rng(0), args.seconds).astype(np.float32)

    rows = []
    for setting in args.settings:
        print(f"[bench] {args.arch} buffered {setting}: ours, worker events, NeMo's loop", file=sys.stderr, flush=True)
        rows.append(buffered_row(session, nemo, audio, setting))
    for profile in args.profiles:
        print(f"[bench] {args.arch} cache_aware {profile}: ours, worker events, NeMo's loop", file=sys.stderr, flush=True)
        rows.append(cache_aware_row(args.arch, profile, cache, args.threads, audio))

    out_arg = "" if args.out == REPO / "docs" / "BENCH_STREAMING.md" else f" --out {display_path(args.out)}"
    title_arg = "" if args.title == "Streaming benchmark" else f" --title '{args.title}'"
    lines = [
        f"# {args.title}",
        "",
        f"Generated by `bench/bench_streaming.py --arch {args.arch} --seconds {args.seconds:g} --settings "
        f"{' '.join(args.settings)} --profiles {' '.join(args.profiles)} --threads {args.threads}{out_arg}"
        f"{title_arg}`. "
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs "
        f"({platform.processor() or 'unknown CPU'}), 1-minute load average {load_1min_at_start:.2f} at start "
        f"(other processes compete for the CPUs); encoder on ONNX Runtime CPU, {args.threads} thread(s); "
        f"NeMo baseline on torch CPU, {args.threads} thread(s), same audio ({args.seconds:g} s of espeak speech), "
        "same process. Timings are wall-clock and vary run to run.",
        "",
        "| mode | setting | steps | per-chunk p50 / p95 / p99 ms | outside encoder p50 / p99 ms | RTFx | "
        "event latency p50 / p95 ms | NeMo per-chunk ms | NeMo RTFx | speed-up | tokens (ours = NeMo) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, setting, ours, events, nemo_res in rows:
        speedup = ours["rtfx"] / nemo_res["rtfx"]
        lines.append(
            f"| {mode} | {setting} | {len(ours['step_s'])} | {pct(ours['step_s'], 50):.2f} / "
            f"{pct(ours['step_s'], 95):.2f} / "
            f"{pct(ours['step_s'], 99):.2f} | {pct(ours['outside_s'], 50):.2f} / {pct(ours['outside_s'], 99):.2f} | "
            f"{ours['rtfx']:.1f} | {pct(events, 50):.2f} / {pct(events, 95):.2f} | "
            f"{nemo_res['per_step_s'] * 1000:.2f} | {nemo_res['rtfx']:.1f} | {speedup:.2f}x | "
            f"{ours['tokens']} ({'yes' if ours['tokens'] == nemo_res['tokens'] else 'NO'}) |")
    lines += ["", "Settings: buffered, chunk/left/right ms; cache_aware, the export's profile (C chunk, S shift, K "
              "left chunks, encoder frames; chunk_isolated: one 80 ms frame per call). A cache-aware step is one "
              "encoder window.", "",
              "Goals (issue 4): outside-encoder time <= 1 ms p99; buffered streaming >= 2x NeMo's loop at equal "
              "settings. The buffered per-chunk time includes features over the whole buffer (left + chunk + "
              "right), which is NeMo's algorithm: the cost grows with the left context. The cache-aware per-chunk "
              "time computes each log-mel frame once and normalizes one window.", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
