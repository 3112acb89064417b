#!/usr/bin/env python3
"""Live captions: end-to-end latency and stability on CPU, into docs/LIVE_REPORT.md, and the
recorded demo in docs/live_demo/ (browser screenshots over time, a terminal recording); with
--captions, the accuracy of each aggregator and lane set into docs/LIVE_CAPTIONS.md.

    tools/live_report.py [--models demo random-weights-test] [--chunks 560:560 160:160] [--out docs/LIVE_REPORT.md]
                         [--demo-dir docs/live_demo] [--no-browser] [--no-terminal-recording]
    tools/live_report.py --captions [--utterances 60] [--configs NAME ...] [--out docs/LIVE_CAPTIONS.md]

--captions plays held-out utterances of the demo corpus joined five at a time (the corpus's own pause
edges; parakeet_trt.testing.joined_streams) in real time through `parakeet-trt live`'s pipeline with
the demo model, once per configuration (CAPTION_CONFIGS), and compares the committed text with the
offline decode of the same utterances.

Each run plays a speech file (four held-out sentences of the demo corpus, parakeet_trt.testing.held_out,
each followed by 1.2 s of silence)
in real time through ``parakeet-trt live``'s pipeline with three sinks at once: the JSONL log, the
terminal sink (writing to /dev/null as a terminal) and the browser sink with a headless Chromium
page (Playwright, the system chromium) that reports its render times. Models that are not
installed are skipped with a line in the report. Timings depend on the machine: the report names it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def speech_file(path: Path, sentences: int = 4, pause_s: float = 1.2) -> tuple[float, str]:
    """Held-out sentences 3.. of the demo corpus (0-2 are the demo sample), each followed by a pause;
    returns (duration s, reference text)."""
    import soundfile

    from parakeet_trt.testing.held_out import held_out_speech

    parts, texts = [], []
    for index in range(3, 3 + sentences):
        speech, text = held_out_speech(index)
        parts += [speech, np.zeros(int(pause_s * 16000), np.float32)]
        texts.append(text)
    audio = np.concatenate(parts)
    soundfile.write(path, audio, 16000)
    return len(audio) / 16000, " ".join(texts)


async def one_run(model: str, chunk_ms: int, right_ms: int, wav: Path, *, browser: bool, screenshots: Path | None):
    from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions
    from parakeet_trt.live.pipeline import LiveConfig, run_live
    from parakeet_trt.live.sinks.jsonl import JsonlSink
    from parakeet_trt.live.sinks.terminal import TerminalSink
    from parakeet_trt.live.sources import FileSource

    config = LiveConfig(model=model, vad="energy",
                        streaming=StreamingOptions(chunk_ms=chunk_ms, right_ms=right_ms, aggregator="v1",
                                                   segment_on_endpoint=False),
                        policy=CommitPolicy(endpoint_vad_ms=600))
    devnull = open(os.devnull, "w")
    log = tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False)
    sinks = [JsonlSink(log.name), TerminalSink(devnull, metrics=None, interactive=True)]
    if not browser:
        summary = await run_live(FileSource(wav, realtime=True), sinks, config)
        return summary
    from playwright.async_api import async_playwright

    from parakeet_trt.live.browser import launch, open_captions, page_state
    from parakeet_trt.live.sinks.web import WebSink

    web = WebSink(port=0)
    sinks.append(web)
    async with async_playwright() as p:
        chromium = await launch(p)
        pages = {}
        shots = []

        async def shoot():
            start = time.monotonic()
            while True:
                await asyncio.sleep(1.5)
                if "page" in pages:
                    path = screenshots / f"browser_{len(shots):02d}.png"
                    await pages["page"].screenshot(path=str(path))
                    shots.append((time.monotonic() - start, path.name))

        async def ready(lane):
            pages["page"] = await open_captions(chromium, web.url, width=900, height=360)

        shooter = asyncio.create_task(shoot()) if screenshots else None
        try:
            summary = await run_live(FileSource(wav, realtime=True), sinks, config, on_ready=ready)
        finally:
            if shooter:
                shooter.cancel()
        await asyncio.sleep(0.3)
        state = await page_state(pages["page"])
        if screenshots:
            path = screenshots / f"browser_{len(shots):02d}.png"
            await pages["page"].screenshot(path=str(path))
            shots.append((None, path.name))
        await chromium.close()
    summary["browser"] = {"violations": len(state["violations"]), "committed_matches": state["committed"] == summary["lane"]["committed_text"],
                          "finals": len(state["finals"]), "screenshots": shots}
    return summary


# --- terminal recording --------------------------------------------------------------------------

def record_terminal(wav: Path, demo_dir: Path, model: str) -> list[tuple[float, str]]:
    """Runs `parakeet-trt live --ui terminal` under script(1); returns frames (time, screen text)."""
    typescript, timing = demo_dir / "terminal.typescript", demo_dir / "terminal.timing"
    command = (f"{sys.executable} -m parakeet_trt.cli live --model {model} --input {wav} --ui terminal "
               f"--endpoint-vad-ms 600")
    env = dict(os.environ, COLUMNS="100", LINES="20", TERM="xterm-256color")
    subprocess.run(["script", "-q", "-e", "-T", str(timing), "-c", command, str(typescript)], env=env, check=True,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, timeout=600)
    data = typescript.read_bytes()
    data = data[data.index(b"\n") + 1:] if data.startswith(b"Script started") else data
    delays = [(float(d), int(n)) for d, n in (line.split() for line in timing.read_text().splitlines() if line.strip())]
    frames, lines, current, t, offset, next_frame = [], [], "", 0.0, 0, 1.0
    ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
    for delay, size in delays:
        t += delay
        while t >= next_frame:
            frames.append((next_frame, "\n".join(lines[-6:] + [current])))
            next_frame += 1.0
        chunk = data[offset:offset + size].decode("utf-8", errors="replace")
        offset += size
        for piece in re.split(r"(\r\x1b\[K|\n|\x1b\[2m|\x1b\[0m)", chunk):
            if piece == "\r\x1b[K":
                current = ""
            elif piece == "\n":
                lines.append(current)
                current = ""
            elif piece == "\x1b[2m":
                current += "⟨"
            elif piece == "\x1b[0m":
                current += "⟩"
            elif piece:
                current += ansi.sub("", piece).replace("\r", "")
    last = "\n".join(lines[-6:] + [current])
    if not frames or frames[-1][1] != last:
        frames.append((t, last))
    return frames


# --- report ----------------------------------------------------------------------------------------

# Aggregator and lane sets compared by --captions: name -> (StreamingOptions fields, CommitPolicy fields,
# the same as `parakeet-trt live` options).
from parakeet_trt.llm.options import CANDIDATE_LANES  # noqa: E402  (what --llm-url adds to the lanes)

CAPTION_CONFIGS = {
    "v1 buffered 560/560": ({"aggregator": "v1", "segment_on_endpoint": False}, {"endpoint_vad_ms": 300},
                            "--aggregator v1"),
    "v1 buffered 560/560, segments": ({"aggregator": "v1", "segment_on_endpoint": True}, {"endpoint_vad_ms": 300},
                                      "--aggregator v1 --segments"),
    "v2 redecode (default)": ({}, {}, "(defaults)"),
    "v2 redecode beam 4": ({"lanes": "redecode:decoding=beam:beam=4"}, {}, "--lanes redecode:decoding=beam:beam=4"),
    "v2 redecode + beam candidates (with --llm-url)": (
        {"lanes": CANDIDATE_LANES, "fast_lane": 1, "commit_lane": 1}, {},
        f"--lanes {CANDIDATE_LANES} --fast-lane 1 --commit-lane 1 (what --llm-url sets: with_candidate_lanes)"),
    "v2 buffered 320/320 shows, redecode commits": ({"lanes": "buffered:chunk=320:right=320,redecode"}, {},
                                                    "--lanes buffered:chunk=320:right=320,redecode"),
    "v3 buffered + redecode + redecode beam 4": (
        {"aggregator": "v3", "lanes": "buffered:chunk=560:right=560,redecode,redecode:decoding=beam:beam=4"}, {},
        "--aggregator v3 --lanes buffered:chunk=560:right=560,redecode,redecode:decoding=beam:beam=4"),
}


def encoder_calls(summary: dict) -> int:
    """Encoder calls of one run_live summary: v1 makes one per step; lanes count theirs, a call shared
    by several redecode lanes once."""
    lanes = summary["lane"]["lanes"]
    if not lanes:
        return summary["lane"]["steps"]
    return sum(lane["encoder_calls"] for lane in lanes if not lane["shares_encoder"])


def caption_rows(utterances: int, configs: list[str], work: Path) -> tuple[list, float]:
    """Plays the joined held-out streams once per configuration; returns rows and the offline WER."""
    import soundfile

    from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions
    from parakeet_trt.live.pipeline import LiveConfig, run_live
    from parakeet_trt.live.sources import FileSource
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import word_error_rate
    from parakeet_trt.testing.joined_streams import joined_streams

    session = Session("demo", allow_spinning=False)  # as `parakeet-trt live` makes it: blocking ONNX Runtime threads
    streams = joined_streams(utterances=utterances)
    paths, references, offline = [], [], []
    for k, stream in enumerate(streams):
        paths.append(work / f"joined{k}.wav")
        soundfile.write(paths[-1], stream.audio, 16000)
        references.append(stream.reference)
        bounds = stream.offsets_s + [stream.duration_s]
        offline.append(" ".join(session.transcribe(stream.audio[int(a * 16000):int(b * 16000)], 16000).text
                                for a, b in zip(bounds, bounds[1:])))
    audio_s = sum(s.duration_s for s in streams)
    rows = []
    for name in configs:
        streaming, policy, _ = CAPTION_CONFIGS[name]
        config = LiveConfig(model="demo", streaming=StreamingOptions(**streaming), policy=CommitPolicy(**policy))
        committed, partial, final, revisions, words, calls, notices = [], [], [], [], 0, 0, 0
        cpu = time.process_time()
        for k, path in enumerate(paths):
            print(f"[live_report] {name}: stream {k + 1}/{len(paths)} ({streams[k].duration_s:.1f} s in real time)",
                  file=sys.stderr)
            summary = asyncio.run(run_live(FileSource(path, realtime=True), [], config, session=session))
            m = summary["metrics"]
            committed.append(summary["lane"]["committed_text"])
            partial += m["partial_text_latency_samples_ms"]
            final += m["final_text_latency_samples_ms"]
            revisions.append(m["revisions_per_committed_word"] * m["committed_words"])
            words += m["committed_words"]
            calls += encoder_calls(summary)
            notices += len(summary["lane"]["lane_notices"])
        cpu = time.process_time() - cpu
        rows.append({"name": name, "wer": word_error_rate(references, committed), "partial": percentiles(partial),
                     "final": percentiles(final), "revisions": sum(revisions) / max(1, words),
                     "calls_per_s": calls / audio_s, "cpu_rtf": cpu / audio_s, "notices": notices})
    return rows, word_error_rate(references, offline), audio_s, len(streams)


def percentiles(values_ms: list[float]) -> dict:
    if not values_ms:
        return {"count": 0}
    v = np.asarray(values_ms)
    return {"count": len(v), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)),
            "p99": float(np.percentile(v, 99))}


def captions_report(args) -> int:
    from parakeet_trt.live.engine_lane import StreamingOptions
    from parakeet_trt.live.pipeline import LiveConfig

    work = Path(tempfile.mkdtemp())
    configs = args.configs or list(CAPTION_CONFIGS)
    rows, offline_wer, audio_s, num_streams = caption_rows(args.utterances, configs, work)
    out = ["# Live captions: accuracy per aggregator and lane set", "",
           f"Generated by `tools/live_report.py --captions --utterances {args.utterances}` on {platform.machine()} "
           f"({os.cpu_count()} CPU threads visible), ONNX Runtime on the CPU, the packaged demo model. Input: "
           f"{args.utterances} held-out utterances of the demo corpus with the corpus's own pause edges, joined five "
           f"at a time into {num_streams} streams ({audio_s:.0f} s), each played in real time through "
           f"`parakeet-trt live`'s pipeline ({LiveConfig().vad} VAD, segment silence "
           f"{StreamingOptions().segment_silence_ms} ms). Offline: each utterance alone "
           "(`parakeet-trt transcribe`).", "",
           f"**Offline WER on the same utterances: {100 * offline_wer:.1f}%.** Goals (issue 14): committed WER within "
           "2 points of offline, partial text p50 ≤ 300 ms, final text p50 ≤ 1200 ms and p95 ≤ 1600 ms.", "",
           "Definitions (python/parakeet_trt/live/metrics.py): *partial text latency* = capture of a word's last "
           "sample to its first display; *final text latency* = the same to its commit; *revisions* = text changes "
           "of a word before its commit; *encoder calls/s* = encoder calls per second of audio (a redecode worker "
           "shared by several lanes counts once); *CPU RTF* = process CPU time over audio time (all threads).", "",
           "| aggregator and lanes | committed WER | vs offline | partial p50 / p95 (ms) | final p50 / p95 (ms) | "
           "revisions / word | encoder calls / s | CPU RTF | lane notices | meets the goals |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        p, f = r["partial"], r["final"]
        meets = (r["wer"] <= offline_wer + 0.02 and p.get("p50", 1e9) <= 300 and f.get("p50", 1e9) <= 1200
                 and f.get("p95", 1e9) <= 1600)
        out.append(f"| {r['name']} | {100 * r['wer']:.1f}% | {100 * (r['wer'] - offline_wer):+.1f} | "
                   f"{p.get('p50', 0):.0f} / {p.get('p95', 0):.0f} | {f.get('p50', 0):.0f} / {f.get('p95', 0):.0f} | "
                   f"{r['revisions']:.2f} | {r['calls_per_s']:.1f} | {r['cpu_rtf']:.3f} | {r['notices']} | "
                   f"{'yes' if meets else 'no'} |")
    out += ["", "Configurations as `parakeet-trt live` options: " +
            "; ".join(f"*{name}*: `{CAPTION_CONFIGS[name][2]}`" for name in configs) + "."]
    Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"[live_report] wrote {args.out}", file=sys.stderr)
    return 0


def fmt(p: dict) -> str:
    return f"{p['p50']:.0f} / {p['p95']:.0f} / {p['p99']:.0f}" if p.get("count") else "–"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["demo", "random-weights-test"],
                        help="packaged model names or folders; the first one's run is the recorded demo")
    parser.add_argument("--chunks", nargs="+", default=["560:560", "160:160"], metavar="CHUNK:RIGHT")
    parser.add_argument("--out", default=str(REPO / "docs" / "LIVE_REPORT.md"))
    parser.add_argument("--demo-dir", default=str(REPO / "docs" / "live_demo"))
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--no-terminal-recording", action="store_true")
    parser.add_argument("--captions", action="store_true",
                        help="the accuracy table per aggregator and lane set instead (docs/LIVE_CAPTIONS.md)")
    parser.add_argument("--utterances", type=int, default=60, help="--captions: held-out utterances (default 60)")
    parser.add_argument("--configs", nargs="+", choices=sorted(CAPTION_CONFIGS), metavar="NAME",
                        help="--captions: the configurations to run (default all: " + "; ".join(CAPTION_CONFIGS) + ")")
    args = parser.parse_args(argv)
    if args.captions:
        if args.out == str(REPO / "docs" / "LIVE_REPORT.md"):
            args.out = str(REPO / "docs" / "LIVE_CAPTIONS.md")
        return captions_report(args)

    from parakeet_trt.models import resolve_model_dir
    from parakeet_trt.testing.held_out import word_error_rate

    demo_dir = Path(args.demo_dir)
    demo_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp())
    wav = work / "speech_with_pauses.wav"
    duration, reference = speech_file(wav)
    rows, skipped, demo = [], [], None
    for model in args.models:
        try:
            resolve_model_dir(model)
        except Exception as error:
            skipped.append(f"`{model}`: {error}")
            continue
        for spec in args.chunks:
            chunk_ms, right_ms = (int(x) for x in spec.split(":"))
            shots = demo_dir if demo is None and not args.no_browser else None
            if shots:
                for old in demo_dir.glob("browser_*.png"):
                    old.unlink()
            print(f"[live_report] {model}: chunk {chunk_ms} ms, right {right_ms} ms ({duration:.1f} s in real time)",
                  file=sys.stderr)
            summary = asyncio.run(one_run(model, chunk_ms, right_ms, wav, browser=not args.no_browser, screenshots=shots))
            rows.append((model, chunk_ms, right_ms, summary))
            if shots:
                demo = (model, chunk_ms, right_ms, summary)
    frames = [] if args.no_terminal_recording or not rows else record_terminal(wav, demo_dir, rows[0][0])

    out = ["# Live captions: latency and stability", "",
           f"Generated by `tools/live_report.py` on {platform.machine()} "
           f"({os.cpu_count()} CPU threads visible), ONNX Runtime on the CPU. Input: "
           f"{duration:.1f} s of espeak-ng speech (4 held-out sentences of the demo corpus, each followed by 1.2 s "
           "of silence), played in "
           "real time through the live pipeline with `--aggregator v1` (one buffered stream per chunk size; "
           "the captions' default, v2 over a redecode lane, is measured in docs/LIVE_CAPTIONS.md) (energy VAD; "
           "endpoint after 600 ms of VAD silence or 800 ms "
           "of decoder blanks; commit policy K = 2 updates, W = 1200 ms, N = 32 tokens, whole words). "
           "Sinks: JSONL log, terminal (to /dev/null as a terminal), browser (headless Chromium; its render time "
           "is reported by the page). All times in ms, p50 / p95 / p99.", "",
           "Definitions (python/parakeet_trt/live/metrics.py): *update latency* = capture time of the last audio "
           "sample an event reflects to the sink's render; *partial text latency* = capture of a word's last "
           "sample to its first display; *final text latency* = the same to its commit; *to commit* = first "
           "display to commit; *revisions* = text changes of a word before its commit; *shrinks* = patches "
           "after which the displayed text is shorter; *rewritten* = characters replaced per second of audio.", "",
           "| model | chunk / right | partial text | final text | update: terminal | update: browser | to commit | "
           "revisions / word | shrinks | rewritten chars/s | committed WER | goal partial ≤ chunk+100 | "
           "goal final ≤ chunk+right+100 |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for model, chunk, right, s in rows:
        m = s["metrics"]
        partial, final = m["partial_text_latency_ms"], m["final_text_latency_ms"]
        ok_partial = "yes" if partial.get("count") and partial["p50"] <= chunk + 100 else "no"
        ok_final = "yes" if final.get("count") and final["p50"] <= chunk + right + 100 else "no"
        up = m["update_latency_ms"]
        out.append(f"| {model} | {chunk} / {right} | {fmt(partial)} | {fmt(final)} | {fmt(up.get('terminal', {}))} | "
                   f"{fmt(up.get('web', {}))} | {fmt(m['first_appearance_to_commit_ms'])} | "
                   f"{m['revisions_per_committed_word']:.2f} | {m['partial_shrink_events']} | "
                   f"{m['rewritten_chars_per_s']:.1f} | {100 * word_error_rate([reference], [s['lane']['committed_text']]):.1f}% | "
                   f"{ok_partial} ({partial.get('p50', 0):.0f}) | "
                   f"{ok_final} ({final.get('p50', 0):.0f}) |")
    out += ["", "| model | chunk / right | patches | finals | committed words | alignment conflicts | dropped samples | "
            "browser: committed text matches | browser: committed-node mutations |", "|---|---|---|---|---|---|---|---|---|"]
    for model, chunk, right, s in rows:
        m, b = s["metrics"], s.get("browser", {})
        out.append(f"| {model} | {chunk} / {right} | {m['patches']} | {m['finals']} | {m['committed_words']} | "
                   f"{s['lane']['alignment_conflicts']} | {s['lane']['dropped_samples']} | "
                   f"{b.get('committed_matches', '–')} | {b.get('violations', '–')} |")
    if skipped:
        out += ["", "Skipped models: " + "; ".join(skipped)]
    out += ["", f"Reference text: \"{reference}\". `demo` is the packaged default model, trained on the synthetic "
            "corpus (docs/DEMO_MODEL_EVAL.md); `random-weights-test` is the random-weight fixture model: its words are "
            "nonsense (deterministic), so its revision counts measure how much the right context changes a random "
            "decoder's output, not accuracy. The goals come from issue 5."]
    if demo is not None:
        model, chunk, right, s = demo
        out += ["", "## Recorded demo: browser", "",
                f"Screenshots of the caption page over time (model `{model}`, chunk {chunk} ms, right {right} ms); "
                "committed text white, the partial grey and italic:", ""]
        for t, name in s["browser"]["screenshots"]:
            label = f"t = {t:.1f} s" if t is not None else "end of input"
            out += [f"{label}:", "", f"![{label}](live_demo/{name})", ""]
    if frames:
        out += ["## Recorded demo: terminal", "",
                "`parakeet-trt live --input FILE --ui terminal` recorded with script(1) "
                "(replay: `scriptreplay -t docs/live_demo/terminal.timing docs/live_demo/terminal.typescript`). "
                "Frames once a second; the dimmed partial is shown here between ⟨ ⟩:", ""]
        for t, screen in frames:
            out += [f"t = {t:.0f} s", "", "```", screen or " ", "```", ""]
    Path(args.out).write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"[live_report] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
