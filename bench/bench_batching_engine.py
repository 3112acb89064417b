#!/usr/bin/env python3
"""Cross-stream batching at the engine: N threads (streams) each calling the demo model's encoder on a
buffered streaming window, through the C++ BatchingEngine (on) or straight to the engine (off).

    bench/bench_batching_engine.py [--streams 1,8,16,32] [--seconds 10] [--out docs/BENCH_BATCHING_ENGINE.md]

Each thread calls back to back for --seconds (a saturated replica: the most steps it can serve), on the
window shape of a default buffered stream once its left context is full (left + chunk + right audio).
Per N and mode: encoder calls per second (throughput of the replica's encoder), per-call latency
p50/p99 (what a stream's step waits for its encoder), and the mean batch. No websocket, Ray or
real-time pacing: bench/bench_serve.py measures those, with more noise from the machine.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import command_line, publish, report_header  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", default="1,8,16,32")
    parser.add_argument("--seconds", type=float, default=10.0, help="per N and mode")
    parser.add_argument("--max-inflight", default="1,2", help="BatchingOptions.max_inflight values to run")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    from parakeet_trt import _core
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import held_out_speech

    session = Session("demo")
    stream = _core.option_defaults()["stream"]
    window_ms = stream["left_ms"] + stream["chunk_ms"] + stream["right_ms"]
    audio = np.concatenate([held_out_speech(i)[0] for i in range(6)]).astype(np.float32)
    audio = audio[: int(window_ms * 16)]
    features, valid = _core.FeatureExtractor(session.model).compute(audio)
    d_model = session.model.encoder_dim
    out_frames = session.model.encoded_length(features.shape[1])
    inflights = [int(x) for x in args.max_inflight.split(",")]

    def run(engine, streams: int) -> dict:
        latencies: list[list[float]] = [[] for _ in range(streams)]
        stop = time.monotonic() + args.seconds

        def one(i):
            inputs = {"audio_signal": features[None].copy(), "length": np.array([valid], np.int64)}
            outputs = {"outputs": np.zeros((1, d_model, out_frames), np.float32),
                       "encoded_lengths": np.zeros(1, np.int64)}
            while time.monotonic() < stop:
                began = time.perf_counter()
                _core.run_engine(engine, inputs, outputs)
                latencies[i].append(time.perf_counter() - began)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(streams)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - began
        flat = np.asarray([x for per in latencies for x in per]) * 1000
        return {"calls_per_s": len(flat) / wall, "p50": float(np.percentile(flat, 50)),
                "p99": float(np.percentile(flat, 99))}

    defaults = _core.BatchingOptions()
    rows = []
    for n in [int(s) for s in args.streams.split(",")]:
        for mode in ["off", *[f"on, {k} in flight" for k in inflights]]:
            engine = session.encoder_engine
            if mode != "off":
                options = _core.BatchingOptions(max_inflight=int(mode.split(", ")[1].split()[0]))
                engine = _core.batching_engine(session.encoder_engine, options)
            row = {"streams": n, "mode": mode, **run(engine, n)}
            if mode != "off":
                stats = _core.batching_stats(engine)
                row["mean_batch"] = stats["calls"] / max(1, stats["batches"])
            rows.append(row)
            print(row, flush=True)

    lines = report_header("Cross-stream batching at the encoder engine", command_line("bench_batching_engine.py", argv),
                          "; shared with other jobs, so absolute numbers vary run to run")
    lines += [f"Demo model encoder on ONNX Runtime CPU (default threads), window of a default buffered stream: "
              f"{window_ms} ms of audio ({features.shape[1]} feature frames). Batching on: "
              f"`BatchingOptions(window_ms={defaults.window_ms:g}, max_batch={defaults.max_batch}, max_inflight=K)`. "
              f"Each of N threads calls back to back for {args.seconds:g} s.", "",
              "| streams | batching | encoder calls/s | per-call latency p50 / p99 (ms) | mean batch | calls/s on vs off |",
              "|---:|---|---:|---:|---:|---:|"]
    for row in rows:
        off = next(r for r in rows if r["streams"] == row["streams"] and r["mode"] == "off")
        ratio = f"{row['calls_per_s'] / off['calls_per_s']:.2f}x" if row["mode"] != "off" else ""
        lines.append(f"| {row['streams']} | {row['mode']} | {row['calls_per_s']:.1f} | {row['p50']:.1f} / "
                     f"{row['p99']:.1f} | {row.get('mean_batch', 1.0):.2f} | {ratio} |")
    publish(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
