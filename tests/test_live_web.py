"""The browser sink: a headless Chromium (Playwright driving the system chromium) shows the committed
text of a speech file, never modifies a committed DOM node (MutationObserver) and reports render
times; websocket clients that send garbage or oversized messages, or disconnect mid-stream, get clear
answers while the others (and the event log) receive everything."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest
import soundfile

from parakeet_trt.live.engine_lane import CommitPolicy
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
    return LiveConfig(vad="energy", policy=CommitPolicy(endpoint_vad_ms=600))


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

    class Lane:  # what the sink needs from a lane: a snapshot of the transcript
        def __init__(self):
            self.transcript = _core.TranscriptState(model, stable_updates=3)

        def snapshot(self):
            return self.transcript.snapshot()

    async def scenario():
        lane, web = Lane(), WebSink(port=0, client_queue=4)
        await web.start(lane)
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
