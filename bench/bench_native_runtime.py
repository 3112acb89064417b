#!/usr/bin/env python3
"""Native runtime benchmark (issue 13): the previous release's path against the native engine, in one run.

    bench/bench_native_runtime.py [--models demo parakeet-tdt-0.6b-v3] [--seconds 20] [--fullsize-seconds 8]
                                  [--rounds 3] [--fullsize-rounds 1]
                                  [--settings 560/10000/560 160/10000/560] [--streams 1 2 4 8]
                                  [--stream-seconds 20] [--threads 1] [--out docs/BENCH_NATIVE_RUNTIME.md]

Per model and buffered setting (chunk/left/right ms), the same speech is streamed one chunk per push
through the core's BufferedStreamingSession on two encoder engines with the same ONNX Runtime
settings:

* old: the previous release's path, a Python engine object (parakeet_trt.engines.onnxruntime_engine)
  that the core calls back into Python for on every encoder call (GIL, numpy views, IOBinding from
  Python); its time is measured by wrapping its run() in Python;
* new: the native C++ engine (`_core.make_engine`, ONNX Runtime's C API), timed by the C++
  decorator `_core.timed_engine` (engines/timed_engine.hpp).

Reported: per-chunk latency (one push() that completes one step: features + encoder + decoding +
the step's conversion to Python) p50/p99, the time outside the encoder per chunk p50/p99 (step time
minus the encoder's), RTFx of the whole stream, and whether both paths emit the same tokens.
Each engine is warmed up with a few chunks of another stream first.

Then the aggregate throughput of N concurrent streams (``--streams``) on ONE model and ONE shared
native engine, each stream the core's LiveStream (what BackgroundStream wraps: its own C++ inference
thread), all audio written at once (a ring that holds it), every stream drained by its own Python thread:
audio seconds per wall second, and each stream's RTFx.

``models``: ``demo`` (the packaged demo model) and ``parakeet-tdt-0.6b-v3`` (the full-size
random-weight test export, parakeet_trt.testing.exports.cached_export_dir, cached under
$PARAKEET_TRT_CACHE or .cache). ``--fullsize-seconds`` shortens the full-size model's stream (its
encoder costs ~100x the demo's); throughput runs on the first model only unless
``--throughput-all-models``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np
from bench_common import MODELS, command_line, display_path, model_folder, publish, report_header

SAMPLE_RATE = 16000
OUTSIDE_ENCODER_GOAL_MS = 0.5  # issue 13: p99 at the demo model


class PythonTimedEngine:
    """Wraps a Python engine's run() and accumulates the wall-clock and thread CPU time spent inside it."""

    def __init__(self, engine):
        self.engine = engine
        self.description = f"timed {getattr(engine, 'description', 'python engine')}"
        self.seconds = 0.0
        self.thread_cpu_seconds = 0.0

    def run(self, inputs, outputs):
        t0, c0 = time.perf_counter(), time.thread_time()
        self.engine.run(inputs, outputs)
        self.seconds += time.perf_counter() - t0
        self.thread_cpu_seconds += time.thread_time() - c0


def engine_seconds(timed) -> tuple[float, float]:
    """(wall, thread CPU) seconds spent so far in a timed engine: the C++ decorator (_core.timed_engine) or
    PythonTimedEngine."""
    from parakeet_trt import _core

    if isinstance(timed, PythonTimedEngine):
        return timed.seconds, timed.thread_cpu_seconds
    timing = _core.engine_timing(timed)
    return timing["seconds"], timing["thread_cpu_seconds"]


def timed_native_engine(model, threads: int):
    """The native encoder engine of ``model`` (as parakeet_trt.Session makes it), inside the C++ timing decorator."""
    from parakeet_trt import _core
    from parakeet_trt.session import onnxruntime_library

    return _core.timed_engine(_core.make_engine(model, "encoder", name="onnxruntime", intra_op_threads=threads,
                                                onnxruntime_library=onnxruntime_library()))


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q)) if values else float("nan")


def stream_steps(model, timed, audio, setting, record: bool):
    """Stream ``audio`` one chunk per push through a BufferedStreamingSession on engine ``timed``."""
    from parakeet_trt import _core

    chunk_ms, left_ms, right_ms = setting
    core = _core.BufferedStreamingSession(model, timed, chunk_ms=chunk_ms, left_ms=left_ms, right_ms=right_ms,
                                          history_ms=0)
    hypothesis = _core.StreamHypothesis(model)
    block = chunk_ms * SAMPLE_RATE // 1000
    step_s, outside_s, outside_cpu_s, ids = [], [], [], []
    started = time.perf_counter()
    for i in range(0, len(audio), block):
        engine_wall, engine_cpu = engine_seconds(timed)
        t0, c0 = time.perf_counter(), time.thread_time()
        steps = core.push(audio[i:i + block], hypothesis)
        dt, dc = time.perf_counter() - t0, time.thread_time() - c0
        if steps and record:
            after_wall, after_cpu = engine_seconds(timed)
            step_s.append(dt / len(steps))
            outside_s.append((dt - (after_wall - engine_wall)) / len(steps))
            outside_cpu_s.append((dc - (after_cpu - engine_cpu)) / len(steps))
        for s in steps:
            ids += s["committed"]["token_ids"]
    for s in core.finish(hypothesis):
        ids += s["committed"]["token_ids"]
    total = time.perf_counter() - started
    return {"step_s": step_s, "outside_s": outside_s, "outside_cpu_s": outside_cpu_s, "total_s": total, "ids": ids}


def latency_rows(model, model_dir: Path, audio, settings, threads: int, rounds: int):
    """Old (Python engine) and new (native engine) per setting, same model, audio and ONNX Runtime threads;
    ``rounds`` times each, alternating the paths (load that comes and goes hits both alike), steps pooled."""
    from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine

    engines = {
        "old: Python engine": PythonTimedEngine(OnnxRuntimeEngine(model_dir / "encoder.onnx", None,
                                                                  intra_op_threads=threads)),
        "new: native engine": timed_native_engine(model, threads),
    }
    warmup = audio[: 4 * max(s[0] for s in settings) * SAMPLE_RATE // 1000]
    for timed in engines.values():
        stream_steps(model, timed, warmup, settings[0], record=False)
    rows = []
    for setting in settings:
        runs = {path: [] for path in engines}
        for _ in range(rounds):
            for path, timed in engines.items():
                runs[path].append(stream_steps(model, timed, audio, setting, record=True))
        same = len({tuple(r["ids"]) for path_runs in runs.values() for r in path_runs}) == 1
        for path, path_runs in runs.items():
            r = {key: [v for run in path_runs for v in run[key]] for key in ("step_s", "outside_s", "outside_cpu_s")}
            r["rtfx"] = rounds * len(audio) / SAMPLE_RATE / sum(run["total_s"] for run in path_runs)
            r["ids"] = path_runs[0]["ids"]
            rows.append({"setting": "/".join(str(v) for v in setting), "path": path, "steps": len(r["step_s"]),
                         "p50": pct(r["step_s"], 50), "p99": pct(r["step_s"], 99),
                         "out_p50": pct(r["outside_s"], 50), "out_p99": pct(r["outside_s"], 99),
                         "cpu_p50": pct(r["outside_cpu_s"], 50), "cpu_p99": pct(r["outside_cpu_s"], 99),
                         "rtfx": r["rtfx"], "tokens": len(r["ids"]), "same": same})
    return rows


def drain(stream, audio, wall_s: list, index: int, start: threading.Barrier, t0_holder: list):
    """One stream's thread: write all its audio, close, read events until the last one."""
    start.wait()
    stream.write(audio)
    stream.close()
    while True:
        event = stream.next_event(-1)
        if event is None or event["type"] == "error":
            raise RuntimeError(f"stream {index} ended without its last update: {event}")
        if event["is_last"]:
            break
    wall_s[index] = time.perf_counter() - t0_holder[0]


def throughput_row(model, engine, n: int, seconds: float, setting):
    """N live streams (the core's LiveStream, which BackgroundStream wraps) on one model and one shared native
    engine, each with its own C++ inference thread and drained by its own Python thread."""
    from parakeet_trt import _core
    from parakeet_trt.testing.signals import speech_sequence

    chunk_ms, left_ms, right_ms = setting
    audios = [speech_sequence(np.random.default_rng(100 + i), seconds).astype(np.float32) for i in range(n)]
    ring_ms = int(seconds * 1000) + 2000  # holds the whole stream: nothing is dropped
    streams = [_core.LiveStream(model, engine, mode="buffered", chunk_ms=chunk_ms, left_ms=left_ms,
                                right_ms=right_ms, history_ms=0, ring_ms=ring_ms) for _ in range(n)]
    wall_s = [0.0] * n
    t0_holder = [0.0]
    start = threading.Barrier(n + 1)
    workers = [threading.Thread(target=drain, args=(streams[i], audios[i], wall_s, i, start, t0_holder))
               for i in range(n)]
    for t in workers:
        t.start()
    before_engine = _core.engine_timing(engine)
    before_cpu = process_cpu_s()
    t0_holder[0] = time.perf_counter()
    start.wait()
    for t in workers:
        t.join()
    wall = max(wall_s)
    process_cpu = process_cpu_s() - before_cpu
    after_engine = _core.engine_timing(engine)
    encoder_s = after_engine["seconds"] - before_engine["seconds"]
    encoder_cpu_s = after_engine["thread_cpu_seconds"] - before_engine["thread_cpu_seconds"]
    audio_s = sum(len(a) for a in audios) / SAMPLE_RATE
    per_stream = [len(a) / SAMPLE_RATE / w for a, w in zip(audios, wall_s)]
    return {"n": n, "audio_s": audio_s, "wall_s": wall, "throughput": audio_s / wall,
            "rtfx_min": min(per_stream), "rtfx_mean": float(np.mean(per_stream)),
            "encoder_busy": encoder_s / wall, "encoder_cpu": encoder_cpu_s / wall, "process_cpu": process_cpu / wall,
            "dropped": sum(s.dropped_samples for s in streams)}


def autogroup_note() -> str:
    """What Linux autogroup scheduling (when on) does to a multi-threaded benchmark on a shared machine."""
    try:
        enabled = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return ""
    if not enabled:
        return ""
    return (" Linux autogroup scheduling is on here (sched_autogroup_enabled=1): CPU time is shared between sessions, "
            "not threads, so while other sessions keep the cores busy this process gets about one session's share "
            "however many stream threads it runs; scaling across cores shows only on an otherwise idle machine.")


def process_cpu_s() -> float:
    """CPU seconds this process has used (every thread, user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def parse_setting(text: str) -> tuple[int, int, int]:
    try:
        chunk_ms, left_ms, right_ms = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"a setting is chunk/left/right in ms, e.g. 560/10000/560; got {text!r}")
    return chunk_ms, left_ms, right_ms


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["demo", "parakeet-tdt-0.6b-v3"],
                        choices=MODELS)
    parser.add_argument("--seconds", type=float, default=20.0, help="streamed speech per latency run")
    parser.add_argument("--fullsize-seconds", type=float, default=8.0,
                        help="streamed speech per latency run of the full-size model")
    parser.add_argument("--rounds", type=int, default=3, help="latency runs per path and setting (alternating)")
    parser.add_argument("--fullsize-rounds", type=int, default=1, help="--rounds for the full-size model")
    parser.add_argument("--settings", nargs="+", type=parse_setting,
                        default=[(560, 10000, 560), (160, 10000, 560)], help="chunk/left/right in ms")
    parser.add_argument("--streams", nargs="*", type=int, default=[1, 2, 4, 8], help="concurrent stream counts")
    parser.add_argument("--stream-seconds", type=float, default=20.0, help="speech per concurrent stream")
    parser.add_argument("--throughput-all-models", action="store_true", help="throughput on every model, not the first")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (both paths)")
    parser.add_argument("--out", type=Path, default=None, help="write the report (Markdown) here")
    args = parser.parse_args(argv)
    load_at_start = os.getloadavg()
    command = command_line("bench_native_runtime.py", argv)

    import onnxruntime

    import parakeet_trt
    from parakeet_trt import _core
    from parakeet_trt.testing.signals import speech_sequence

    sections = []
    for index, name in enumerate(args.models):
        folder = model_folder(name)
        print(f"[bench] {name}: old vs new latency", file=sys.stderr, flush=True)
        model = _core.Model.load(str(folder), False)
        fullsize = name == "parakeet-tdt-0.6b-v3"
        seconds = args.fullsize_seconds if fullsize else args.seconds
        rounds = args.fullsize_rounds if fullsize else args.rounds
        audio = speech_sequence(np.random.default_rng(0), seconds).astype(np.float32)
        rows = latency_rows(model, folder, audio, args.settings, args.threads, rounds)
        throughput = []
        if args.streams and (index == 0 or args.throughput_all_models):
            engine = timed_native_engine(model, args.threads)
            for n in args.streams:
                print(f"[bench] {name}: {n} concurrent stream(s)", file=sys.stderr, flush=True)
                throughput.append(throughput_row(model, engine, n, args.stream_seconds, args.settings[0]))
        sections.append((name, folder, seconds, rounds, rows, throughput))

    publish(report(args, command, load_at_start, os.getloadavg(), sections,
                   {"parakeet_trt": parakeet_trt.__version__, "onnxruntime": onnxruntime.__version__,
                    "numpy": np.__version__, "python": platform.python_version()}), args.out)
    return 0


def report(args, command, load_start, load_end, sections, versions) -> list[str]:
    lines = report_header(
        "Native runtime benchmark: previous path (Python engine) against the native engine", command,
        f"; 1/5/15-minute load average {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f} at start, "
        f"{load_end[0]:.2f} at the end (other processes share the CPUs: timings are wall-clock and vary run to run). "
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f". ONNX Runtime CPU, {args.threads} "
        "intra-op thread(s) on both paths.") + [
        "Per-chunk time: one push() that completes one step (features over left + chunk + right, the encoder, "
        "decoding, the step's conversion to Python). Outside encoder: that time minus the encoder engine's own "
        "(old: measured inside the Python engine's run(), so the crossing into Python counts as outside; new: the "
        "C++ timing decorator around the native engine). The wall-clock figure includes preemption by other "
        "processes; the thread-CPU figure counts only the CPU the pushing thread used (ONNX Runtime runs the "
        "encoder on that thread with 1 intra-op thread) and is immune to it.",
        "",
    ]
    for name, folder, seconds, rounds, rows, throughput in sections:
        lines += [f"## {name} (`{display_path(folder)}`)", "",
                  f"Buffered streaming, {seconds:g} s of speech, one chunk per push, history_ms=0; {rounds} round(s) "
                  "per path and setting, old and new alternating, steps pooled (RTFx over all rounds).", "",
                  "| setting (chunk/left/right ms) | path | steps | per-chunk p50 / p99 ms | "
                  "outside encoder p50 / p99 ms | outside encoder, thread CPU p50 / p99 ms | RTFx | "
                  "tokens (old = new) |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['setting']} | {r['path']} | {r['steps']} | {r['p50']:.2f} / {r['p99']:.2f} | "
                         f"{r['out_p50']:.3f} / {r['out_p99']:.3f} | {r['cpu_p50']:.3f} / {r['cpu_p99']:.3f} | "
                         f"{r['rtfx']:.1f} | "
                         f"{r['tokens']} ({'yes' if r['same'] else 'NO'}) |")
        lines.append("")
        if name == "demo":
            for r in rows:
                if r["path"].startswith("new"):
                    wall, cpu = (("met" if r[k] <= OUTSIDE_ENCODER_GOAL_MS else "NOT met")
                                 for k in ("out_p99", "cpu_p99"))
                    lines.append(f"Goal: outside-encoder p99 <= {OUTSIDE_ENCODER_GOAL_MS} ms on the demo model, "
                                 f"native engine, {r['setting']}: wall clock {r['out_p99']:.3f} ms ({wall}), "
                                 f"thread CPU {r['cpu_p99']:.3f} ms ({cpu}).")
            lines.append("")
        if throughput:
            base = throughput[0]["throughput"]
            lines += [f"Concurrent streams on one model and one shared native engine ({name}, "
                      f"{'/'.join(str(v) for v in args.settings[0])}, {args.stream_seconds:g} s of speech per stream, "
                      "each a LiveStream (BackgroundStream's core) with its own inference thread, all audio written at once):", "",
                      "| streams | audio s | wall s | throughput (audio s / wall s) | vs 1 stream | "
                      "per-stream RTFx min / mean | encoder calls in flight (encoder s / wall s) | "
                      "encoder CPU s / wall s | process CPU s / wall s | dropped samples |",
                      "|---|---|---|---|---|---|---|---|---|---|"]
            for t in throughput:
                lines.append(f"| {t['n']} | {t['audio_s']:.0f} | {t['wall_s']:.3f} | {t['throughput']:.1f} | "
                             f"{t['throughput'] / base:.2f}x | {t['rtfx_min']:.1f} / {t['rtfx_mean']:.1f} | "
                             f"{t['encoder_busy']:.2f} | {t['encoder_cpu']:.2f} | {t['process_cpu']:.2f} | "
                             f"{t['dropped']} |")
            best = max(throughput, key=lambda t: t["throughput"])
            most = max(throughput, key=lambda t: t["process_cpu"])
            lines += ["", f"Scaling: the best aggregate throughput is {best['throughput']:.1f} audio s per wall s at "
                      f"{best['n']} stream(s), {best['throughput'] / base:.2f}x one stream, on {os.cpu_count()} CPUs "
                      f"with {args.threads} intra-op thread(s) per encoder call. The most CPU this process got was "
                      f"{most['process_cpu']:.2f} cores (at {most['n']} streams) of {os.cpu_count()}: encoder calls in "
                      "flight above the cores the process gets only wait for a core, so throughput can grow only as "
                      "far as the process CPU column does (other processes on the machine take the rest). Up to "
                      f"{max(t['encoder_busy'] for t in throughput):.2f} encoder calls were in flight at once on the "
                      "one shared engine: it runs calls concurrently, it does not serialize them." + autogroup_note()
                      + " Goal: throughput scales with cores until the encoder saturates them.", ""]
    return lines


if __name__ == "__main__":
    sys.exit(main())
