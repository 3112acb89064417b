#!/usr/bin/env python3
"""Cost of the live captions per aggregator and lane set (issue 14 benchmarks): CPU real-time factor and
encoder calls per second of audio, one stream and 4 concurrent streams, played in real time through
`parakeet-trt live`'s pipeline on the demo model; v1 (one buffered stream) is the baseline of the same
run. Then the redecode lane's pass cost against segment length: a pass decodes at most the lane's
window (`redecode_window_ms`, default 12 s), so the cost stops growing past it.

    bench/bench_captions.py [--utterances 5] [--streams 1 4] [--out FILE.md]

Prints markdown tables; --out also writes them to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))

CONFIGS = ["v1 buffered 560/560", "v2 redecode (default)", "v2 redecode + beam candidates (with --llm-url)",
           "v3 buffered + redecode + redecode beam 4"]


async def play_all(paths, config, session):
    from parakeet_trt.live.pipeline import run_live
    from parakeet_trt.live.sources import FileSource

    return await asyncio.gather(*(run_live(FileSource(p, realtime=True), [], config, session=session) for p in paths))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=5, help="held-out utterances joined into the stream")
    parser.add_argument("--streams", type=int, nargs="+", default=[1, 4], help="concurrent streams per run")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    import numpy as np
    import soundfile

    from live_report import CAPTION_CONFIGS, encoder_calls
    from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions
    from parakeet_trt.live.pipeline import LiveConfig
    from parakeet_trt.session import Session
    from parakeet_trt.testing.joined_streams import joined_streams

    session = Session("demo", allow_spinning=False)  # as `parakeet-trt live` makes it: blocking ONNX Runtime threads
    stream = joined_streams(utterances=args.utterances)[0]
    work = Path(tempfile.mkdtemp())
    path = work / "joined.wav"
    soundfile.write(path, stream.audio, 16000)
    out = [f"# Live captions: cost per aggregator ({platform.machine()}, {os.cpu_count()} CPU threads visible, "
           f"demo model, ONNX Runtime CPU; {stream.duration_s:.1f} s of joined held-out speech per stream, "
           "played in real time)", "",
           "| aggregator and lanes | streams | CPU RTF (process CPU s / audio s) | encoder calls / audio s | "
           "vs v1 CPU | lane notices |", "|---|---|---|---|---|---|"]
    baseline = {}
    for name in CONFIGS:
        streaming, policy, _ = CAPTION_CONFIGS[name]
        config = LiveConfig(model="demo", vad="energy", streaming=StreamingOptions(**streaming),
                            policy=CommitPolicy(**policy))
        for n in args.streams:
            print(f"[bench_captions] {name}: {n} stream(s)", file=sys.stderr)
            cpu = time.process_time()
            summaries = asyncio.run(play_all([path] * n, config, session))
            cpu = time.process_time() - cpu
            audio_s = n * stream.duration_s
            rtf = cpu / audio_s
            calls = sum(encoder_calls(s) for s in summaries) / audio_s
            baseline.setdefault(n, rtf)
            notices = sum(len(s["lane"]["lane_notices"]) for s in summaries)
            out.append(f"| {name} | {n} | {rtf:.3f} | {calls:.1f} | {rtf / baseline[n]:.2f}x | {notices} |")

    # The redecode lane's pass: an offline decode of min(segment, window) seconds.
    from parakeet_trt import _core

    lanes = _core.option_defaults()["captions"]["lanes"]  # "redecode:every=...:window=MS:..."
    window_s = int(lanes.split("window=")[1].split(":")[0]) / 1000
    long_audio = np.concatenate([s.audio for s in joined_streams(utterances=20)])
    out += ["", f"The redecode lane's pass cost against segment length (window {window_s:.0f} s; median of 5 "
            "offline decodes of the window the pass reads):", "",
            "| segment length (s) | audio one pass decodes (s) | pass time (ms) |", "|---|---|---|"]
    for length in (2, 5, 10, 20, 40, 60):
        if length * 16000 > len(long_audio):
            break
        decoded = min(length, window_s)
        audio = long_audio[int((length - decoded) * 16000):int(length * 16000)]
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            session.transcribe(audio, 16000)
            times.append(time.perf_counter() - t0)
        out.append(f"| {length} | {decoded:.0f} | {1000 * float(np.median(times)):.1f} |")
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
