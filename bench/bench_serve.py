#!/usr/bin/env python3
"""Serving benchmark: N concurrent real-time websocket streams against ``parakeet-trt serve`` on loopback.

    bench/bench_serve.py [--streams 1,8,16,32] [--duration-s 60] [--replicas 1] [--batching on,off]
                         [--out docs/BENCH_SERVE.md]

Starts ``parakeet-trt serve --model demo`` (a local Ray instance, ``--replicas`` replicas), then for
each N in ``--streams`` runs N streams at once, each ``--duration-s`` of held-out speech sent in real
time (``--frame-ms`` s16le frames, each sent once its last sample would have been captured; starts spread
over one chunk). Every N is run (on and off see the same steps); the report names the most streams
whose p99 update latency stays within chunk/2. Per N:

* update latency p50/p95/p99: from the capture time of the last sample an event reflects
  (stream start + its ``audio_end_s``) to the event's arrival at the client;
* real-time drift: the lag of the last event of a stream behind the end of its audio (p99 over streams);
* rejections (close 1013 or any close other than 1000);
* CPU: cores used by the server's process tree (the Ray processes: replicas, proxy, controller),
  from its CPU time over the step's wall time, and the machine's load average.

* encoder batching: calls, inner (batched) calls and the mean batch the replica's C++ BatchingEngine
  ran during the step (from ``/healthz``).

Each ``--batching`` mode is its own server in the same run: ``serve --batching on`` (cross-stream
batching with the default window and batch limits) and ``--batching off`` (every stream's encoder call
runs alone; what ``auto`` picks on a CPU).
The load generator runs on the same machine and its CPU is not counted.
Writes a Markdown report to ``--out``; numbers vary run to run and with other load on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
from bench_common import command_line  # noqa: E402


def speech_of(seconds: float) -> np.ndarray:
    from parakeet_trt.testing.held_out import held_out_speech

    parts, total, index = [], 0, 0
    while total < seconds * 16000:
        audio = held_out_speech(index)[0]
        parts.append(audio)
        total += len(audio)
        index += 1
    return np.concatenate(parts)[: int(seconds * 16000)]


def tree_cpu_seconds(pid: int) -> float:
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def default_streaming() -> str:
    """What a stream whose start message names no options runs (LiveConfig's defaults)."""
    from parakeet_trt.live.pipeline import LiveConfig

    config = LiveConfig()
    s = config.streaming
    if s.aggregator == "v1":
        return f"VAD {config.vad}, aggregator v1, chunk {s.chunk_ms} ms, left {s.left_ms} ms, right {s.right_ms} ms"
    return f"VAD {config.vad}, aggregator {s.aggregator}, lanes {s.lanes}"


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


async def one_step(url: str, streams: int, audios: list[np.ndarray], chunk_s: float, start: dict,
                   frame_ms: int) -> dict:
    from parakeet_trt.serve.client import stream_audio

    latencies: list[float] = []

    def on_event(event, result):
        latencies.append(time.monotonic() - (result.began + event["audio_end_s"]))

    async def one(i: int):
        await asyncio.sleep(chunk_s * i / max(1, streams))
        return await stream_audio(url, audios[i % len(audios)], realtime=True, on_event=on_event, start=start,
                                  frame_ms=frame_ms,
                                  timeout_s=len(audios[0]) / 16000 + 120)

    results = await asyncio.gather(*[one(i) for i in range(streams)], return_exceptions=True)
    drifts, rejected = [], 0
    for r in results:
        if isinstance(r, BaseException) or r.close_code != 1000:
            rejected += 1
            continue
        if r.receive_times:
            drifts.append(r.receive_times[-1] - (r.began + len(audios[0]) / 16000))
    return {"latencies": latencies, "drifts": drifts, "rejected": rejected}


def batching_stats(port: int) -> dict:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=60) as response:
            return json.loads(response.read()).get("encoder_batching") or {}
    except OSError as error:  # an overloaded replica: the row says so rather than the run failing
        print(f"/healthz did not answer: {error}", flush=True)
        return {}


def run_mode(mode: str, steps: list[int], args, audios, chunk_s: float) -> list[dict]:
    from parakeet_trt.serve.cli import free_port
    from parakeet_trt.testing.processes import background_process

    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_serve_{port}.log"
    command = [sys.executable, "-m", "parakeet_trt.cli", "serve", "--model", "demo", "--port", str(port),
               "--replicas", str(args.replicas), "--max-streams-per-replica", str(max(steps))]
    command += ["--batching", mode]
    rows = []
    with background_process(command, log, "serving at", start_s=180) as server:
        url = f"ws://127.0.0.1:{port}/v1/stream"
        for n in steps:
            cpu0, wall0, load0 = tree_cpu_seconds(server.pid), time.monotonic(), os.getloadavg()[0]
            batch0 = batching_stats(port)
            step = asyncio.run(one_step(url, n, audios, chunk_s, args.start, args.frame_ms))
            wall = time.monotonic() - wall0
            cores = (tree_cpu_seconds(server.pid) - cpu0) / wall
            batch1 = batching_stats(port)
            calls = batch1.get("calls", 0) - batch0.get("calls", 0)
            batches = batch1.get("batches", 0) - batch0.get("batches", 0)
            lat = step["latencies"]
            row = {"mode": mode, "streams": n, "events": len(lat), "p50": percentile_ms(lat, 50),
                   "p95": percentile_ms(lat, 95), "p99": percentile_ms(lat, 99),
                   "drift_p99": percentile_ms(step["drifts"], 99), "rejected": step["rejected"], "cores": cores,
                   "load": (load0 + os.getloadavg()[0]) / 2, "events_per_s": len(lat) / wall,
                   "calls": calls, "mean_batch": calls / batches if batches else float("nan")}
            rows.append(row)
            print(f"{mode} N={n}: {row}", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,8,16,32", help="concurrent stream counts to step through")
    parser.add_argument("--duration-s", type=float, default=60.0, help="audio per stream, sent in real time")
    parser.add_argument("--frame-ms", type=int, default=100,
                        help="audio per websocket frame a client sends (each sent when its last sample is captured, "
                             "so a longer frame adds its own length to the update latency measured; default 100)")
    parser.add_argument("--replicas", type=int, default=1, help="serve replicas on the local Ray instance (default 1)")
    parser.add_argument("--batching", default="on,off", help="cross-stream batching modes to run, in order")
    parser.add_argument("--start", type=json.loads, default={}, metavar="JSON",
                        help="fields every stream adds to its start message, e.g. '{\"vad\": \"energy\", \"streaming\": "
                             "{\"aggregator\": \"v1\", \"left_ms\": 2000}}' (default: none, the server's defaults)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "BENCH_SERVE.md",
                        help="where the Markdown report goes (default docs/BENCH_SERVE.md)")
    args = parser.parse_args(argv)
    steps = [int(n) for n in args.streams.split(",")]

    from parakeet_trt import _core

    modes = [m.strip() for m in args.batching.split(",") if m.strip()]
    if not modes or any(m not in ("on", "off") for m in modes):
        parser.error(f"--batching takes on, off or both (comma-separated), got {args.batching!r}")
    chunk_s = _core.option_defaults()["stream"]["chunk_ms"] / 1000
    budget_ms = chunk_s * 1000 / 2
    audios = [np.roll(speech_of(args.duration_s), 16000 * k) for k in range(4)]  # a few different starts
    rows = [row for mode in modes for row in run_mode(mode, steps, args, audios, chunk_s)]

    def best_of(mode):
        passing = [r for r in rows if r["mode"] == mode and r["p99"] <= budget_ms and not r["rejected"]]
        return passing[-1] if passing else None

    defaults = _core.BatchingOptions()
    lines = [
        "# Serving benchmark (`parakeet-trt serve`, real-time websocket streams)",
        "",
        f"Generated by `{command_line('bench_serve.py', argv)}`; numbers vary run to run and with other load "
        f"on the machine.",
        "",
        f"- Machine: {os.cpu_count()} CPU cores, {platform.platform()}, Python {platform.python_version()}; "
        f"shared with other jobs (load average in the table)",
        f"- Server: the demo model, {args.replicas} replica(s) on a local Ray instance, encoder on ONNX Runtime CPU; "
        f"streams start with {json.dumps(args.start) if args.start else 'the server defaults'} (defaults: "
        f"{default_streaming()}). Batching on: `--batching on` with the default "
        f"`--batch-window-ms {defaults.window_ms:g} --max-batch {defaults.max_batch} --max-inflight-batches "
        f"{defaults.max_inflight}` (C++ BatchingEngine: equal-shape encoder calls of the replica's streams stacked "
        f"into one call); off: `--batching off`",
        f"- Load: N streams of {args.duration_s:g} s held-out speech each, {args.frame_ms} ms s16le frames in real time, from "
        f"one asyncio client process on the same machine",
        f"- Budget: p99 update latency <= chunk/2 = {budget_ms:.0f} ms. Throughput per replica: events (stream "
        f"steps) delivered per second; mean batch: encoder calls per batched inner call",
        "",
        "| batching | streams | events/s | update latency p50 / p95 / p99 (ms) | drift p99 (ms) | rejected | "
        "encoder calls | mean batch | server CPU (cores) | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['mode']} | {r['streams']} | {r['events_per_s']:.1f} | {r['p50']:.0f} / {r['p95']:.0f} / "
                     f"{r['p99']:.0f} | {r['drift_p99']:.0f} | {r['rejected']} | {r['calls'] if r['mode'] == 'on' else '-'} | "
                     f"{format(r['mean_batch'], '.2f') if r['mode'] == 'on' else '-'} | {r['cores']:.2f} | {r['load']:.1f} |")
    lines.append("")
    for mode in modes:
        best = best_of(mode)
        lines.append(f"Most streams within the budget, batching {mode}: **{best['streams'] if best else 0}**.")
    lines.append("")
    passing = [best_of(mode) for mode in modes if best_of(mode)]
    best = max(passing, key=lambda r: (r["streams"], -r["cores"])) if passing else None
    if best:
        per_stream = best["cores"] / best["streams"]
        lines += [f"Per-stream cost at the most streams within the budget (batching {best['mode']}, "
                  f"{best['streams']} streams): {per_stream:.3f} server cores per real-time stream. Paper "
                  f"projection, CPU-bound as measured: a host with C free cores serves about C / {per_stream:.3f} "
                  f"streams at this latency, if the cost stays linear (it does not include the load generator, "
                  f"and the demo model is far smaller than parakeet-tdt-0.6b). No GPU projection: no per-stream "
                  f"GPU encoder cost was measured here."]
    else:
        lines.append("No step met the budget.")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
