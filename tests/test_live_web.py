"""The browser sink: a headless Chromium (Playwright driving the system chromium) shows the committed
text of a speech file, never modifies a committed DOM node (MutationObserver) and reports render
times; websocket clients that send garbage or oversized messages, or disconnect mid-stream, get clear
answers while the others (and the event log) receive everything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions
from parakeet_trt.live.pipeline import LiveConfig, run_live
from parakeet_trt.live.protocol import Display, read_events
from parakeet_trt.live.sinks.jsonl import JsonlSink
from parakeet_trt.live.sinks.web import WebSink
from parakeet_trt.live.sources import FileSource
from parakeet_trt.testing.held_out import held_out_speech

aiohttp = pytest.importorskip("aiohttp", reason="the web sink needs aiohttp (scripts/setup.sh --dev installs it)")


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    """Two held-out sentences of the demo corpus (the packaged default model knows its words), each
    followed by a second of silence."""
    parts = []
    for index in range(2):
        parts += [held_out_speech(index)[0], np.zeros(16000, np.float32)]
    path = tmp_path_factory.mktemp("web") / "speech.wav"
    soundfile.write(path, np.concatenate(parts), 16000)
    return path


def config() -> LiveConfig:
    return LiveConfig(policy=CommitPolicy(endpoint_vad_ms=600))


def test_bad_websocket_clients_do_not_hurt_the_others(speech_wav, tmp_path):
    log = tmp_path / "events.jsonl"
    web = WebSink(port=0, max_message_bytes=1024)
    results = {}

    async def collect(name, session, url, behaviour):
        display, statuses = Display(), []
        async with session.ws_connect(url + "ws", max_msg_size=0) as ws:
            if behaviour == "garbage":
                await ws.send_str("this is not json")
                await ws.send_str(json.dumps({"type": "rendered", "seq": "x"}))
                await ws.send_str(json.dumps({"type": "hello"}))
                await ws.send_bytes(b"\x00\x01")
            if behaviour == "oversized":
                await ws.send_str("x" * 5000)
            count = 0
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                event = json.loads(message.data)
                if event["type"] == "status":
                    statuses.append(event)
                    continue
                display.apply(event)
                count += 1
                if behaviour == "leaves" and count == 3:
                    break  # disconnects mid-stream
            results[name] = (display, statuses, ws.close_code)

    async def scenario():
        tasks = []

        async def ready(lane):
            session = aiohttp.ClientSession()
            for name in ("good", "garbage", "oversized", "leaves"):
                tasks.append(asyncio.create_task(collect(name, session, web.url, name)))
            while web.counters["clients"] < 4:  # all connected (the oversized one may already be gone)
                await asyncio.sleep(0.01)
            tasks.append(session)

        summary = await run_live(FileSource(speech_wav, realtime=False), [JsonlSink(str(log)), web], config(),
                                 on_ready=ready)
        await asyncio.wait_for(asyncio.gather(*tasks[:-1]), 10)
        await tasks[-1].close()
        return summary

    summary = asyncio.run(asyncio.wait_for(scenario(), 120))
    committed = summary["lane"]["committed_text"]
    assert committed
    for name in ("good", "garbage"):
        display, _, _ = results[name]
        assert display.text == display.committed_text == committed, name
    errors = [s for s in results["garbage"][1] if "error" in s]
    assert len(errors) == 4
    assert {"type": "status", "input": "ended"} in results["good"][1]  # the page can say the input ended
    assert results["oversized"][2] == 1009  # "message too big"
    assert web.counters["garbage_messages"] == 4 and web.counters["oversized_closes"] == 1
    leaves = results["leaves"][0]
    assert committed.startswith(leaves.committed_text)
    replay = Display()
    for event in read_events(log):
        replay.apply(event)
    assert replay.committed_text == committed


def test_headless_chromium_shows_the_committed_text_and_reports_render_times(speech_wav, tmp_path):
    pytest.importorskip("playwright", reason="scripts/setup.sh --dev installs playwright")
    from playwright.async_api import async_playwright

    from parakeet_trt.live.browser import chromium_path, launch, open_captions, page_state

    if chromium_path() is None:
        pytest.skip("no system chromium: apt-get install -y chromium (scripts/setup.sh --dev does)")
    web = WebSink(port=0)
    seen = {}

    async def scenario():
        async with async_playwright() as p:
            browser = await launch(p)
            try:
                async def ready(lane):
                    seen["page"] = await open_captions(browser, web.url)

                summary = await run_live(FileSource(speech_wav, realtime=True), [web], config(), on_ready=ready)
                await asyncio.sleep(0.2)
                return summary, await page_state(seen["page"])
            finally:
                await browser.close()

    summary, state = asyncio.run(asyncio.wait_for(scenario(), 180))
    committed = summary["lane"]["committed_text"]
    assert committed and state["committed"] == committed == state["text"]
    assert state["committedLen"] == len(committed) and state["partial"] == ""
    assert state["violations"] == []
    assert len(state["finals"]) >= 2 and "".join(state["finals"]) == committed
    web_latency = summary["metrics"]["update_latency_ms"]["web"]
    assert web_latency["count"] == web.counters["renders"] > 10
    assert 0 < web_latency["p50"] < 2000


def test_a_slow_client_is_resynced_with_a_snapshot_not_waited_for():
    """Events arrive faster than a client's queue drains: the client skips to a snapshot and still
    ends with exactly the state's text (and nobody waited for it)."""
    import random

    from parakeet_trt import _core
    from parakeet_trt.models import resolve_model_dir

    model = _core.Model.load(str(resolve_model_dir(None)))

    class Lane:  # the events' source (the sink snapshots the events it was given, not the lane)
        def __init__(self):
            self.transcript = _core.TranscriptState(model, stable_updates=3)

    async def scenario():
        lane, web = Lane(), WebSink(port=0, client_queue=4)
        await web.start()
        display = Display()
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(web.url + "ws") as ws:
                while not web.clients:
                    await asyncio.sleep(0.01)
                rng, ids, frame = random.Random(1), [], 0
                for step in range(200):  # no await between emits: the client's queue overflows
                    frame += 2
                    ids.append(rng.randrange(model.vocab_size))
                    events = lane.transcript.apply_hypothesis(ids, list(range(0, 2 * len(ids), 2)), [1] * len(ids),
                                                              (frame + 3) * model.frame_stride_s)
                    for event in events:
                        await web.emit(event)
                for event in lane.transcript.finish((frame + 4) * model.frame_stride_s):
                    await web.emit(event)
                expected = lane.transcript.display_text
                while display.text != expected or display.committed_len != len(expected):
                    message = await asyncio.wait_for(ws.receive(), 10)
                    event = json.loads(message.data)
                    if event["type"] == "snapshot" or event["seq"] > display.last_seq:
                        display.apply(event)
        await web.close()
        return web.counters["resyncs"]

    resyncs = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert resyncs >= 1


# --- issue 17 items 2 and 3: a page that follows the captions, and the server's lifecycle -------

@pytest.fixture(scope="module")
def minute_of_events(tmp_path_factory):
    """The events of a real pipeline run on 60 s of held-out speech (sentences with short pauses)."""
    parts, total = [], 0
    index = 0
    while total < 60 * 16000:
        speech, _ = held_out_speech(index + 10)
        parts += [speech, np.zeros(8000, np.float32)]
        total += len(speech) + 8000
        index += 1
    path = tmp_path_factory.mktemp("minute") / "minute.wav"
    soundfile.write(path, np.concatenate(parts), 16000)
    log = path.with_suffix(".jsonl")
    # 0.5 s pauses: segments end after 300 ms of silence here (the default, 900 ms, joins sentences)
    config = LiveConfig(streaming=StreamingOptions(segment_silence_ms=300))
    asyncio.run(run_live(FileSource(path, realtime=False), [JsonlSink(str(log))], config))
    return read_events(log)


PAGE_LAYOUT = """() => {
    const main = document.getElementById('captions');
    const box = main.getBoundingClientRect();
    const spans = document.querySelectorAll('.committed');
    const last = spans[spans.length - 1].getBoundingClientRect();
    const segments = Array.from(document.querySelectorAll('.segment')).filter(s => s.innerText.trim());
    return {
        overflow: main.scrollHeight > main.clientHeight,
        lastVisible: last.top >= box.top && last.bottom <= box.bottom + 1 && last.bottom <= window.innerHeight,
        atEdge: main.scrollHeight - main.scrollTop - main.clientHeight < 8,
        scrollTop: main.scrollTop,
        jumpHidden: document.getElementById('jump-to-live').hidden,
        indented: segments.filter(s => s.innerText !== s.innerText.trimStart()).length,
        segments: segments.map(s => s.innerText.trim()),
        header: document.querySelector('header').innerText,
        status: document.getElementById('status').textContent,
    };
}"""


def test_the_page_follows_the_live_edge_after_a_minute_in_a_small_window(minute_of_events, tmp_path):
    """Screenshot test: 60 s of captions through the real server into an 800x400 page: the newest
    words are visible; a reader who scrolls up stays put and gets "jump to live", which brings the
    live edge back; no line starts with a space; a late joiner sees the segments as they were."""
    pytest.importorskip("playwright", reason="scripts/setup.sh --dev installs playwright")
    from playwright.async_api import async_playwright

    from parakeet_trt.live.browser import chromium_path, launch, open_captions

    if chromium_path() is None:
        pytest.skip("no system chromium: apt-get install -y chromium (scripts/setup.sh --dev does)")
    events = minute_of_events
    finals = [e for e in events if e["type"] == "final"]
    assert events[-1]["audio_end_s"] >= 59 and len(finals) >= 8
    split = int(len(events) * 0.8)

    async def scenario():
        web = WebSink(port=0)
        await web.start()
        async with async_playwright() as p:
            browser = await launch(p)
            try:
                page = await open_captions(browser, web.url, width=800, height=400)
                for event in events[:split]:
                    await web.emit(event)
                    await asyncio.sleep(0.002)
                await page.wait_for_function(f"window.__captions.lastSeq === {events[split - 1]['seq']}")
                await page.wait_for_timeout(100)
                following = await page.evaluate(PAGE_LAYOUT)
                shot = Path(os.environ.get("PARAKEET_TRT_SCREENSHOT_DIR", tmp_path)) / "live_edge.png"
                await page.screenshot(path=str(shot))
                # The reader scrolls up: new captions do not pull the page down; "jump to live" shows.
                await page.mouse.move(400, 200)
                await page.mouse.wheel(0, -2000)
                await page.wait_for_timeout(300)
                scrolled = await page.evaluate(PAGE_LAYOUT)
                for event in events[split:]:
                    await web.emit(event)
                    await asyncio.sleep(0.002)
                await web.input_ended()
                await page.wait_for_function(f"window.__captions.lastSeq === {events[-1]['seq']}")
                await page.wait_for_timeout(100)
                still_up = await page.evaluate(PAGE_LAYOUT)
                await page.click("#jump-to-live")
                await page.wait_for_timeout(100)
                back = await page.evaluate(PAGE_LAYOUT)
                late = await open_captions(browser, web.url, width=800, height=400)
                await late.wait_for_function("window.__captions.finals.length > 0")
                late_state = await late.evaluate(PAGE_LAYOUT)
                late_finals = await late.evaluate("window.__captions.finals")
                favicon = await page.request.get(web.url + "favicon.ico")
                return following, scrolled, still_up, back, late_state, late_finals, favicon.status
            finally:
                await browser.close()
                await web.close()

    following, scrolled, still_up, back, late, late_finals, favicon = asyncio.run(asyncio.wait_for(scenario(), 180))
    assert following["overflow"] and following["lastVisible"] and following["atEdge"], following
    assert (Path(os.environ.get("PARAKEET_TRT_SCREENSHOT_DIR", tmp_path)) / "live_edge.png").stat().st_size > 1000
    assert following["indented"] == 0 and following["jumpHidden"]
    assert "live captions live" not in following["header"].lower() and following["status"] == "connected"
    assert not scrolled["atEdge"] and not scrolled["jumpHidden"], scrolled
    assert still_up["scrollTop"] == scrolled["scrollTop"] and not still_up["jumpHidden"]
    assert back["atEdge"] and back["lastVisible"] and back["jumpHidden"]
    assert "input ended" in back["status"]
    # A late joiner: the same segments, one per final, and the same count.
    assert late_finals == [f["text"] for f in finals]
    assert late["segments"] == [f["text"].strip() for f in finals], late["segments"]
    assert late["indented"] == 0 and "input ended" in late["status"] and late["lastVisible"]
    assert favicon == 200


def _live_web_process(*args):
    return subprocess.Popen([sys.executable, "-m", "parakeet_trt.cli", "live", "--ui", "web", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_line(stream, pattern: str, timeout: float = 60) -> str:
    import re
    import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1)
        if ready:
            line = stream.readline()
            match = re.search(pattern, line)
            if match:
                return match.group(1) if match.groups() else line
    raise AssertionError(f"no line matching {pattern!r} within {timeout} s")


def test_web_mode_keeps_serving_after_a_file_ends_until_ctrl_c():
    process = _live_web_process("--demo", "--no-realtime", "--port", "0")
    try:
        url = _wait_for_line(process.stderr, r"captions at (http://\S+)")
        _wait_for_line(process.stderr, r"(still serving)")

        async def late_join():
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as page:
                    assert page.status == 200 and "Live captions" in await page.text()
                async with session.ws_connect(url + "ws") as ws:
                    return json.loads((await ws.receive()).data)

        snapshot = asyncio.run(asyncio.wait_for(late_join(), 30))
        assert snapshot["type"] == "snapshot" and snapshot["input_ended"] is True
        assert len(snapshot["finals"]) >= 3
        assert "".join(f["text"] for f in snapshot["finals"]) == snapshot["text"]
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130 and "Traceback" not in err
    finally:
        process.kill()
        process.wait()


def test_a_busy_port_is_one_line_suggesting_port_0():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--ui", "web",
                                 "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--port 0" in lines[0] and str(port) in lines[0], result.stderr
