"""The browser page's polished layer: with the LLM lane on (a polite responder on 127.0.0.1, 0.5 s
per request), headless Chromium shows each polished segment in the #polished column as its polish
event arrives, while the raw captions' committed DOM nodes are never touched (MutationObserver) and
the caption area keeps the width it had before the first caption (nothing the reader reads moves)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import soundfile

from parakeet_trt.live.engine_lane import CommitPolicy
from parakeet_trt.live.pipeline import LiveConfig, run_live
from parakeet_trt.live.sinks.web import WebSink
from parakeet_trt.live.sources import FileSource
from parakeet_trt.llm.options import LlmOptions
from parakeet_trt.testing.held_out import held_out_speech
from parakeet_trt.testing.llm_responder import LlmResponder

pytest.importorskip("aiohttp", reason="the web sink needs aiohttp (scripts/setup.sh --dev installs it)")

CAPTION_BOX = "() => { const r = document.getElementById('captions').getBoundingClientRect(); return [r.left, r.width]; }"


def test_the_polished_layer_updates_behind_untouched_captions(tmp_path):
    pytest.importorskip("playwright", reason="scripts/setup.sh --dev installs playwright")
    from playwright.async_api import async_playwright

    from parakeet_trt.live.browser import chromium_path, launch, open_captions, page_state

    if chromium_path() is None:
        pytest.skip("no system chromium: apt-get install -y chromium (scripts/setup.sh --dev does)")
    parts = []
    for index in range(2):
        parts += [held_out_speech(index)[0], np.zeros(16000, np.float32)]
    wav = tmp_path / "speech.wav"
    soundfile.write(wav, np.concatenate(parts), 16000)
    web = WebSink(port=0)
    seen = {}

    async def scenario():
        async with LlmResponder("polite", delay_s=0.5) as responder, async_playwright() as p:
            browser = await launch(p)
            try:
                async def ready(lane):
                    seen["page"] = await open_captions(browser, web.url)
                    seen["box_before"] = await seen["page"].evaluate(CAPTION_BOX)

                config = LiveConfig(policy=CommitPolicy(endpoint_vad_ms=600),
                                    llm=LlmOptions(url=responder.url, model="polite", timeout_s=5.0))
                summary = await run_live(FileSource(wav, realtime=True), [web], config, on_ready=ready)
                page = seen["page"]
                await asyncio.sleep(0.3)
                polished = await page.evaluate(
                    "() => Array.from(document.querySelectorAll('#polished .polished-segment'))"
                    ".map(b => [Number(b.dataset.segment), b.textContent])")
                return summary, await page_state(page), polished, await page.evaluate(CAPTION_BOX)
            finally:
                await browser.close()

    summary, state, polished, box_after = asyncio.run(asyncio.wait_for(scenario(), 180))
    committed = summary["lane"]["committed_text"]
    assert committed and state["committed"] == committed
    assert state["violations"] == []  # no committed caption node changed when the polish layer did
    assert seen["box_before"] == box_after  # the column was laid out before the first caption
    expected = {p["segment"]: p["text"] for p in web.display.polished.values()}
    assert len(polished) == len(expected) == summary["polish"]["polish_events"] >= 2
    assert dict(polished) == expected
    assert all(text[:1].isupper() and text.endswith(".") for _, text in polished)
