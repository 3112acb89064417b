#!/usr/bin/env python3
"""ONNX Runtime's intra-op threads spinning or blocking (EngineOptions.allow_spinning), offline and streaming.

    bench/bench_thread_spinning.py [--model demo] [--utterances 50] [--stream-s 20] [--repeats 3]
                                   [--threads 2] [--out docs/BENCH_THREAD_SPINNING.md]

Two workloads on the same model, each with a Session whose engine spins (ONNX Runtime's default) and one
whose engine blocks, interleaved, medians over repeats:

* offline: the held-out utterances transcribed one by one (Session.transcribe) back to back;
* streaming: one buffered stream (the live defaults: 560 ms chunk, 560 ms right context) fed the joined
  held-out speech in 20 ms blocks paced in real time, as a microphone would, for ``--stream-s`` seconds.

Per workload and setting: wall time and this process's CPU time (all threads), so the table shows what
spinning buys in speed and what it costs in cores. The live pipeline and the server make short calls with
gaps between them (the streaming row), so they block; offline transcription keeps ONNX Runtime's default.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import command_line, display_path, model_folder, publish, report_header  # noqa: E402


def offline_run(session, audios: list[np.ndarray]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for audio in audios:
        session.transcribe(audio, 16000)
    return time.perf_counter() - wall, time.process_time() - cpu


def streaming_run(session, audio: np.ndarray) -> tuple[float, float]:
    from parakeet_trt.streaming import StreamingSession

    stream = StreamingSession(session, mode="buffered")
    block = 320  # 20 ms
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(audio), block):
        stream.push(audio[i:i + block], 16000)
        delay = wall + (i + block) / 16000 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    stream.finish()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="demo, tiny or parakeet-tdt-0.6b-v3 (default demo)")
    parser.add_argument("--utterances", type=int, default=50, help="held-out utterances for the offline workload")
    parser.add_argument("--stream-s", type=float, default=20.0, help="seconds of audio streamed in real time")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved repeats; the table gives medians")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    parser.add_argument("--out", type=Path, default=None, help="also write the Markdown report here")
    args = parser.parse_args(argv)

    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import held_out_speech

    folder = model_folder(args.model)
    sessions = {spin: Session(str(folder), intra_op_threads=args.threads, allow_spinning=spin)
                for spin in (True, False)}
    audios = [held_out_speech(i)[0].astype(np.float32) for i in range(args.utterances)]
    joined, k = [], 1000
    while sum(len(a) for a in joined) < args.stream_s * 16000:
        joined.append(held_out_speech(k, edge_silence_s=0.3)[0].astype(np.float32))
        k += 1
    stream_audio = np.concatenate(joined)[: int(args.stream_s * 16000)]
    offline_s = sum(len(a) for a in audios) / 16000
    for session in sessions.values():
        offline_run(session, audios[:5])  # warm up
    runs = {(w, s): [] for w in ("offline", "streaming") for s in sessions}
    for repeat in range(args.repeats):
        for spin, session in sessions.items():
            runs[("offline", spin)].append(offline_run(session, audios))
            runs[("streaming", spin)].append(streaming_run(session, stream_audio))
        print(f"[bench] repeat {repeat + 1}/{args.repeats}", file=sys.stderr, flush=True)

    lines = report_header("ONNX Runtime threads: spinning or blocking (`EngineOptions.allow_spinning`)",
                          command_line("bench_thread_spinning.py", argv),
                          "; shared with other jobs, so absolute times vary run to run")
    lines += [f"Model `{display_path(folder)}`, ONNX Runtime CPU, {args.threads} intra-op threads; median of "
              f"{args.repeats} interleaved repeats. Offline: {args.utterances} held-out utterances ({offline_s:.1f} s) "
              f"one by one, back to back. Streaming: one buffered stream (560 ms chunk, 560 ms right context) fed "
              f"{args.stream_s:g} s of joined held-out speech in 20 ms blocks paced in real time. CPU: this "
              f"process's CPU time, all threads.", "",
              "| workload | threads | wall (s) | CPU (s) | CPU per audio second | wall vs spinning | CPU vs spinning |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for workload, audio_s in (("offline", offline_s), ("streaming", args.stream_s)):
        base_wall = statistics.median(w for w, _ in runs[(workload, True)])
        base_cpu = statistics.median(c for _, c in runs[(workload, True)])
        for spin in (True, False):
            wall = statistics.median(w for w, _ in runs[(workload, spin)])
            cpu = statistics.median(c for _, c in runs[(workload, spin)])
            lines.append(f"| {workload} | {'spin (allow_spinning=True)' if spin else 'block (allow_spinning=False)'} | "
                         f"{wall:.3f} | {cpu:.3f} | {cpu / audio_s * 1000:.1f} ms | {wall / base_wall:.2f}x | "
                         f"{cpu / base_cpu:.2f}x |")
    lines.append("")
    publish(lines, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
