"""``parakeet-trt live``: live captions from a microphone, a file or stdin PCM."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=None, help="model name or folder (default: the packaged demo model)")
    p.add_argument("--input", default=None, metavar="mic|FILE|-",
                   help="mic (sounddevice), an audio file, or - for raw PCM on stdin (default: mic; with --demo the "
                        "packaged demo sample)")
    p.add_argument("--demo", action="store_true",
                   help="the demo model (trained on synthetic speech; tools/train_demo_model.py packages it as "
                        "'demo') captioning the demo sample (held-out synthetic speech) in real time: no microphone")
    p.add_argument("--ui", choices=("terminal", "web", "none"), default="terminal", help="where captions show")
    p.add_argument("--no-realtime", action="store_true", help="play a file as fast as possible instead of in real time")
    p.add_argument("--events-out", metavar="F", help="write every event as JSON lines to F (- for stdout), flushed per event")
    p.add_argument("--metrics-out", metavar="F", help="write the latency and stability summary (JSON) to F")
    g = p.add_argument_group("stdin PCM")
    g.add_argument("--stdin-rate", type=int, default=16000, help="sample rate of stdin PCM (default 16000)")
    g.add_argument("--stdin-format", choices=("s16le", "f32le"), default="s16le")
    g.add_argument("--stdin-channels", type=int, default=1)
    g = p.add_argument_group("streaming")
    g.add_argument("--chunk-ms", type=int, default=560)
    g.add_argument("--left-ms", type=int, default=10000)
    g.add_argument("--right-ms", type=int, default=560)
    g.add_argument("--final-redecode", action="store_true",
                   help="add to each final an offline re-decode of its audio (redecoded_text; committed text stands)")
    g = p.add_argument_group("commit policy (0 turns a rule off)")
    d = CommitPolicy()
    g.add_argument("--stable-updates", type=int, default=d.stable_updates, help="commit a token unchanged for K updates")
    g.add_argument("--max-lag-ms", type=int, default=d.max_lag_ms, help="commit tokens older than W ms behind the live edge")
    g.add_argument("--max-window-tokens", type=int, default=d.max_window_tokens,
                   help="commit the oldest tokens beyond N in the revision window")
    g.add_argument("--no-whole-words", action="store_true", help="allow commits inside a word")
    g = p.add_argument_group("endpointing and DSP")
    g.add_argument("--endpoint-blank-ms", type=int, default=d.endpoint_blank_ms, help="decoder blank run that ends a segment")
    g.add_argument("--endpoint-vad-ms", type=int, default=d.endpoint_vad_ms, help="VAD silence that ends a segment")
    g.add_argument("--endpoint-require-both", action="store_true", help="with both rules on, require both")
    g.add_argument("--vad", choices=("none", "energy", "silero"), default="energy")
    g.add_argument("--agc", action="store_true", help="automatic gain control")
    g = p.add_argument_group("web UI")
    g.add_argument("--host", default="127.0.0.1")
    g.add_argument("--port", type=int, default=8765, help="0 picks a free port")


def config_from_args(args: argparse.Namespace):
    from parakeet_trt.live.pipeline import LiveConfig

    if args.endpoint_vad_ms and args.vad == "none":
        raise ValueError("--endpoint-vad-ms needs a VAD (--vad energy or --vad silero)")
    return LiveConfig(
        model=args.model, agc=args.agc, vad=args.vad,
        streaming=StreamingOptions(chunk_ms=args.chunk_ms, left_ms=args.left_ms, right_ms=args.right_ms,
                                   final_redecode=args.final_redecode),
        policy=CommitPolicy(stable_updates=args.stable_updates, max_lag_ms=args.max_lag_ms,
                            max_window_tokens=args.max_window_tokens, endpoint_blank_ms=args.endpoint_blank_ms,
                            endpoint_vad_ms=args.endpoint_vad_ms, endpoint_require_both=args.endpoint_require_both,
                            commit_whole_words=not args.no_whole_words))


def apply_demo_defaults(args: argparse.Namespace) -> None:
    """``--demo``: the demo model and sample, unless --model/--input say otherwise; no --input: mic."""
    if args.demo:
        from parakeet_trt.models import demo_sample

        args.model = args.model or "demo"
        args.input = args.input or str(demo_sample())
    args.input = args.input or "mic"


def run_live_command(args: argparse.Namespace) -> int:
    from parakeet_trt.live.pipeline import log, run_live
    from parakeet_trt.live.sinks.jsonl import JsonlSink
    from parakeet_trt.live.sources import open_source

    apply_demo_defaults(args)
    config = config_from_args(args)
    source = open_source(args.input, realtime=not args.no_realtime, stdin_rate_hz=args.stdin_rate,
                         stdin_format=args.stdin_format, stdin_channels=args.stdin_channels)
    sinks = []
    if args.events_out:
        sinks.append(JsonlSink(args.events_out))
    if args.ui == "terminal":
        from parakeet_trt.live.sinks.terminal import TerminalSink

        sinks.append(TerminalSink(sys.stderr if args.events_out == "-" else sys.stdout, metrics=None))
    elif args.ui == "web":
        try:
            from parakeet_trt.live.sinks.web import WebSink
            import aiohttp  # noqa: F401
        except ImportError:
            raise ImportError("--ui web needs aiohttp (pip install aiohttp)") from None
        sinks.append(WebSink(host=args.host, port=args.port, metrics=None))

    def ready(lane):
        log(f"input: {source.describe}")
        for sink in sinks:
            if getattr(sink, "url", None):
                log(f"captions at {sink.url}")

    summary = asyncio.run(run_live(source, sinks, config, on_ready=ready))
    if args.metrics_out:
        with open(args.metrics_out, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=2)
    m = summary["metrics"]
    latency = ", ".join(f"{sink} p50 {v['p50']:.0f} ms" for sink, v in m["update_latency_ms"].items() if v["count"])
    log(f"done: {m['audio_s']:.1f} s of audio, {m['patches']} patches, {m['finals']} finals"
        + (f"; update latency {latency}" if latency else ""))
    if summary["errors"]:
        from parakeet_trt.live.sources import AudioSourceError

        raise AudioSourceError("; ".join(summary["errors"]))
    return 0
