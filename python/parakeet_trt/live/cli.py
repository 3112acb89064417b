"""``parakeet-trt live``: live captions from a microphone, a file or stdin PCM."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from parakeet_trt.live.engine_lane import StreamingOptions

LIVE_DESCRIPTION = """\
Live captions: audio from a microphone, a file (played in real time) or raw PCM on stdin is
resampled to 16 kHz, goes through a VAD, and comes out as captions that revise their tail
(partial, dimmed) and commit text that never changes again. By default (--aggregator v2) each VAD
segment is decoded by engine lanes (--lanes; default one `redecode` lane: the segment re-decoded
offline every 240 ms; with --llm-url a beam lane joins it for candidates): the newest pass is the partial text, a word commits once two consecutive
passes agree on it and it is --commit-lag-ms behind the live edge, and after --segment-silence-ms of
silence the whole segment's pass commits the rest and the segment becomes a final: a line of its
own. --aggregator v1 is one buffered stream with the commit policy and endpoint options below.

Where captions go: the terminal (--ui terminal), a browser page (--ui web; needs the 'live' extra:
scripts/setup.sh --live, or pip install '.[live]'), a JSONL event log (--events-out). With --ui web
the server keeps serving after a file ends, until Ctrl-C.

Examples:
  parakeet-trt live --demo                         the demo model captions the demo sample
  parakeet-trt live --demo --ui web                the same captions at http://127.0.0.1:8765/
  parakeet-trt live --input speech.wav --events-out events.jsonl
  arecord -f S16_LE -r 16000 -c 1 | parakeet-trt live --input -
"""


def live_exit_codes_help() -> str:
    from parakeet_trt.cli import EXIT_CODES_HELP

    return EXIT_CODES_HELP + "  130 interrupted (Ctrl-C): what was heard is committed and finalized first\n"


def add_live_arguments(p: argparse.ArgumentParser) -> None:
    from parakeet_trt.live.pipeline import LiveConfig

    defaults = LiveConfig()
    d, s = defaults.policy, defaults.streaming
    p.description = LIVE_DESCRIPTION
    p.epilog = live_exit_codes_help()
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--model", default=None,
                   help="exported model folder, or a packaged model name (default: demo, the packaged demo model)")
    p.add_argument("--input", default=None, metavar="mic|FILE|-",
                   help="mic (needs the 'live' extra and PortAudio), an audio file, or - for raw PCM on stdin "
                        "(default: mic; with --demo the packaged demo sample)")
    p.add_argument("--demo", action="store_true",
                   help="the demo model (trained on synthetic speech by tools/train_demo_model.py) captioning the "
                        "demo sample (held-out synthetic speech) in real time: no microphone needed (default: off)")
    p.add_argument("--ui", choices=("terminal", "web", "none"), default="terminal",
                   help="where captions show: terminal (partials revised in place, one line per final; without a "
                        "terminal only the finals), web (a browser page; serves until Ctrl-C), none (nothing "
                        "but --events-out; without --events-out the finals are printed) (default: terminal)")
    p.add_argument("--no-realtime", action="store_true",
                   help="play a file as fast as possible instead of in real time (default: real time)")
    p.add_argument("--events-out", metavar="F",
                   help="write every event as JSON lines to F (- for stdout), flushed per event (default: none)")
    p.add_argument("--metrics-out", metavar="F",
                   help="write the latency and stability summary (JSON) to F (default: none)")
    g = p.add_argument_group("stdin PCM (--input -)")
    g.add_argument("--stdin-rate", type=int, default=16000, metavar="HZ",
                   help="sample rate of stdin PCM (default 16000)")
    g.add_argument("--stdin-format", choices=("s16le", "f32le"), default="s16le",
                   help="sample format of stdin PCM (default s16le)")
    g.add_argument("--stdin-channels", type=int, default=1, metavar="N",
                   help="interleaved channels of stdin PCM, mixed down to mono (default 1)")
    g = p.add_argument_group("streaming (--chunk-ms, --left-ms, --right-ms, --final-redecode: aggregator v1's buffered "
                             "stream, each step decoding left + chunk + right context; v2/v3 lanes take theirs in "
                             "--lanes)")
    g.add_argument("--chunk-ms", type=int, default=s.chunk_ms,
                   help=f"audio per step, a multiple of the 80 ms encoder frame (default {s.chunk_ms})")
    g.add_argument("--left-ms", type=int, default=s.left_ms,
                   help=f"left context per step, multiple of 80 (default {s.left_ms}, NeMo's)")
    g.add_argument("--right-ms", type=int, default=s.right_ms,
                   help=f"right context (look-ahead) per step, multiple of 80; adds to the latency "
                        f"(default {s.right_ms})")
    g.add_argument("--final-redecode", action="store_true",
                   help="v1: add to each final an offline re-decode of its audio (redecoded_text; committed text "
                        "stands; v2/v3 finalize from whole-segment passes) (default: off)")
    g.add_argument("--segments", action="store_true",
                   help="segment-aware streaming: after --segment-silence-ms of VAD silence the sentence's stream "
                        "finishes and the next sentence starts in a fresh stream with --segment-pre-roll-ms of "
                        "audio before its onset (no earlier sentences in its left context; needs a VAD) "
                        "(v1; v2/v3 always segment) (default: off)")
    g.add_argument("--segment-silence-ms", type=int, default=s.segment_silence_ms, metavar="MS",
                   help=f"VAD silence that ends a segment (v2/v3, or v1 with --segments) (default {s.segment_silence_ms})")
    g.add_argument("--segment-pre-roll-ms", type=int, default=s.segment_pre_roll_ms, metavar="MS",
                   help=f"audio before the onset that starts a segment (v2/v3, or v1 with --segments) "
                        f"(default {s.segment_pre_roll_ms})")
    a = defaults.streaming
    g = p.add_argument_group("lanes and aggregator (caption_lanes.hpp, caption_aggregator.hpp)")
    g.add_argument("--aggregator", choices=("v1", "v2", "v3"), default=a.aggregator,
                   help="v1: one buffered stream (--chunk-ms/--right-ms) through the commit policy; v2: the fast "
                        "lane (--fast-lane) shows, the committing lane's passes commit by local agreement; v3: "
                        "time-aligned word voting over every lane (ROVER, weighted by lane weight x confidence) "
                        f"commits by the same agreement (default {a.aggregator})")
    g.add_argument("--lanes", default=a.lanes, metavar="SPEC",
                   help="v2/v3: comma-separated lanes, each kind[:key=value...]; kinds buffered (chunk, left, "
                        "right ms), cache_aware (profile), redecode (every: ms of new audio between passes, "
                        "window: most ms one pass decodes, at least --commit-lag-ms + every, decoding=greedy|beam, beam: size); any lane: weight "
                        "(v3 votes), name. Redecode lanes with equal every/window share one encoder call per "
                        f"pass. (default {a.lanes})")
    g.add_argument("--commit-lag-ms", type=int, default=a.commit_lag_ms, metavar="MS",
                   help="v2/v3: a word commits only once it ends this far behind its pass' live edge "
                        f"(default {a.commit_lag_ms})")
    g.add_argument("--agreement-passes", type=int, default=a.agreement_passes, metavar="N",
                   help=f"v2/v3: consecutive passes that must agree on a word (default {a.agreement_passes})")
    g.add_argument("--fast-lane", type=int, default=a.fast_lane, metavar="I",
                   help=f"v2: the lane (index in --lanes) whose words are the partial text (default {a.fast_lane})")
    g.add_argument("--commit-lane", type=int, default=a.commit_lane, metavar="I",
                   help=f"v2/v3: the lane whose passes commit; -1: the last lane (default {a.commit_lane})")
    g.add_argument("--final-timeout-ms", type=int, default=a.final_timeout_ms, metavar="MS",
                   help="v2/v3: at a segment's end, how long to wait for a late lane before finalizing without it "
                        f"(default {a.final_timeout_ms})")
    g.add_argument("--stall-ms", type=int, default=a.stall_ms, metavar="MS",
                   help="v2/v3: a lane this far behind the freshest one is reported stalled and the others carry "
                        f"the captions (default {a.stall_ms})")
    g = p.add_argument_group("commit policy (aggregator v1; 0 turns a rule off)")
    g.add_argument("--stable-updates", type=int, default=d.stable_updates, metavar="K",
                   help=f"commit a token unchanged for K updates (default {d.stable_updates})")
    g.add_argument("--max-lag-ms", type=int, default=d.max_lag_ms, metavar="W",
                   help=f"commit tokens older than W ms behind the live edge (default {d.max_lag_ms})")
    g.add_argument("--max-window-tokens", type=int, default=d.max_window_tokens, metavar="N",
                   help=f"commit the oldest tokens beyond N in the revision window (default {d.max_window_tokens})")
    g.add_argument("--no-whole-words", action="store_true",
                   help="allow commits inside a word (default: commits end at word boundaries)")
    g = p.add_argument_group("endpointing (finals) and DSP")
    g.add_argument("--endpoint-blank-ms", type=int, default=d.endpoint_blank_ms, metavar="MS",
                   help=f"a decoder blank run this long ends a segment (default {d.endpoint_blank_ms})")
    g.add_argument("--endpoint-vad-ms", type=int, default=None, metavar="MS",
                   help=f"VAD silence this long ends a segment (default {d.endpoint_vad_ms}; 0 with --vad none)")
    g.add_argument("--endpoint-require-both", action="store_true",
                   help="with both endpoint rules on, require both (default: either)")
    g.add_argument("--vad", choices=("none", "energy", "silero"), default=defaults.vad,
                   help=f"voice activity detector: energy (level threshold), silero (Silero's ONNX model; "
                        f"pip install --no-deps silero-vad), none (default {defaults.vad})")
    g.add_argument("--agc", action="store_true", help="automatic gain control (default: off)")
    g = p.add_argument_group("web UI (--ui web)")
    g.add_argument("--host", default="127.0.0.1",
                   help="address to serve the page on; only this host name (and localhost names for a loopback "
                        "address) is answered (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=8765, help="port to serve on; 0 picks a free one (default 8765)")
    g.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help="also accept caption websockets from pages at this origin, e.g. https://example.org "
                        "(repeatable; default: only the page's own origin)")
    g.add_argument("--token", default=None,
                   help="require ?token=TOKEN on the caption websocket (the page passes on the one in its URL; "
                        "for non-browser clients) (default: none)")
    from parakeet_trt.llm.options import add_llm_arguments  # the same --llm-* options as live/serve

    add_llm_arguments(p)


def config_from_args(args: argparse.Namespace):
    from parakeet_trt.live.engine_lane import CommitPolicy
    from parakeet_trt.live.pipeline import LiveConfig

    if args.endpoint_vad_ms is None:  # the default applies where there is a VAD to measure silence
        args.endpoint_vad_ms = 0 if args.vad == "none" else LiveConfig().policy.endpoint_vad_ms
    if args.endpoint_vad_ms and args.vad == "none":
        raise ValueError("--endpoint-vad-ms needs a VAD (--vad energy or --vad silero)")
    if args.segments and args.vad == "none":
        raise ValueError("--segments needs a VAD (--vad energy or --vad silero)")
    if args.aggregator != "v1" and args.vad == "none":
        raise ValueError(f"--aggregator {args.aggregator} decodes VAD segments: it needs a VAD (--vad energy or "
                         "--vad silero), or use --aggregator v1")
    return LiveConfig(
        model=args.model, agc=args.agc, vad=args.vad,
        streaming=StreamingOptions(chunk_ms=args.chunk_ms, left_ms=args.left_ms, right_ms=args.right_ms,
                                   final_redecode=args.final_redecode,
                                   segment_on_endpoint=args.segments or args.aggregator != "v1",
                                   segment_silence_ms=args.segment_silence_ms,
                                   segment_pre_roll_ms=args.segment_pre_roll_ms, aggregator=args.aggregator,
                                   lanes=args.lanes, commit_lag_ms=args.commit_lag_ms,
                                   agreement_passes=args.agreement_passes, fast_lane=args.fast_lane,
                                   commit_lane=args.commit_lane, final_timeout_ms=args.final_timeout_ms,
                                   stall_ms=args.stall_ms),
        policy=CommitPolicy(stable_updates=args.stable_updates, max_lag_ms=args.max_lag_ms,
                            max_window_tokens=args.max_window_tokens, endpoint_blank_ms=args.endpoint_blank_ms,
                            endpoint_vad_ms=args.endpoint_vad_ms, endpoint_require_both=args.endpoint_require_both,
                            commit_whole_words=not args.no_whole_words))


def polish_options_from_args(args: argparse.Namespace):
    from parakeet_trt.llm.options import options_from_args

    return options_from_args(args)


def apply_demo_defaults(args: argparse.Namespace) -> None:
    """``--demo``: the demo model and sample, unless --model/--input say otherwise; no --input: mic."""
    if args.demo:
        from parakeet_trt.models import demo_sample

        args.model = args.model or "demo"
        args.input = args.input or str(demo_sample())
    args.input = args.input or "mic"


def make_sinks(args: argparse.Namespace) -> list:
    from parakeet_trt.live.sinks.jsonl import JsonlSink
    from parakeet_trt.live.sinks.terminal import TerminalSink

    sinks = []
    if args.events_out:
        sinks.append(JsonlSink(args.events_out))
    out = sys.stderr if args.events_out == "-" else sys.stdout
    if args.ui == "terminal":
        sinks.append(TerminalSink(out, metrics=None))
    elif args.ui == "none" and not args.events_out:  # otherwise nothing would show what was heard
        sinks.append(TerminalSink(out, metrics=None, interactive=False))
    elif args.ui == "web":
        from parakeet_trt.extras import require

        require("aiohttp", "--ui web")
        from parakeet_trt.live.sinks.web import WebSink

        sinks.append(WebSink(host=args.host, port=args.port, metrics=None, allowed_origins=args.allow_origin,
                             token=args.token))
    return sinks


def run_live_command(args: argparse.Namespace) -> int:
    from parakeet_trt.live.pipeline import log, run_live
    from parakeet_trt.live.sources import open_source

    apply_demo_defaults(args)
    config = config_from_args(args)
    config.llm = polish_options_from_args(args)
    sinks = make_sinks(args)
    source = open_source(args.input, realtime=not args.no_realtime, stdin_rate_hz=args.stdin_rate,
                         stdin_format=args.stdin_format, stdin_channels=args.stdin_channels)

    def ready(lane):
        log(f"input: {source.describe}")
        for sink in sinks:
            if getattr(sink, "url", None):
                log(f"captions at {sink.url} (open it in a browser; Ctrl-C stops the server)")

    summary = asyncio.run(run_live(source, sinks, config, on_ready=ready,
                                   serve_until_interrupted=args.ui == "web"))
    if args.metrics_out:
        from parakeet_trt.live.protocol import round_floats

        with open(args.metrics_out, "w", encoding="utf-8") as f:
            json.dump(round_floats(summary), f, indent=2)
    m = summary["metrics"]
    latency = ", ".join(f"{sink} p50 {v['p50']:.0f} ms" for sink, v in m["update_latency_ms"].items() if v["count"])
    log(f"done: {m['audio_s']:.1f} s of audio, {m['patches']} patches, {m['finals']} finals"
        + (f"; update latency {latency}" if latency else ""))
    if summary["errors"]:
        from parakeet_trt.live.sources import AudioSourceError

        raise AudioSourceError("; ".join(summary["errors"]))
    return 130 if summary["interrupted"] else 0
