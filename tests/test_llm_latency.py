"""The LLM lane never sits on the caption path: the live pipeline captions held-out speech in real
time with the demo model twice in the same test, without the lane and with an LLM slowed to 5 s per
request (a polite responder on 127.0.0.1); partial and final text latency (p50, p95) must match
within noise, and the slow LLM's polish events still arrive after the captions."""

from __future__ import annotations

import asyncio

import numpy as np
import soundfile

from parakeet_trt.live.engine_lane import CommitPolicy
from parakeet_trt.live.pipeline import LiveConfig, run_live
from parakeet_trt.live.sinks.jsonl import JsonlSink
from parakeet_trt.live.protocol import read_events
from parakeet_trt.live.sources import FileSource
from parakeet_trt.llm.options import LlmOptions
from parakeet_trt.testing.held_out import held_out_speech
from parakeet_trt.testing.llm_responder import LlmResponder

RATE = 16000
SLOW_LLM_S = 5.0
# Noise allowance: this CPU is shared (other builds and tests run beside CI's). Runs alternate (without,
# with, without, with) and each percentile is averaged over its two runs; with the lane it may exceed
# the baseline by 30% or 150 ms at the median, 50% or 300 ms at p95 (a p95 of ~30 words is noisy).
ALLOWED = {"p50": (1.3, 150.0), "p95": (1.5, 300.0)}
ROUNDS = 2

def speech_with_pauses(path) -> None:
    parts = []
    for index in range(3, 6):
        speech, _ = held_out_speech(index)
        parts += [speech, np.zeros(int(1.2 * RATE), np.float32)]
    soundfile.write(path, np.concatenate(parts), RATE)


def caption(path, log, llm=None) -> dict:
    config = LiveConfig(policy=CommitPolicy(endpoint_vad_ms=600, endpoint_blank_ms=0), llm=llm)
    return asyncio.run(run_live(FileSource(path, realtime=True), [JsonlSink(str(log))], config))


def test_a_slow_llm_does_not_slow_the_captions(tmp_path):
    path = tmp_path / "speech.wav"
    speech_with_pauses(path)

    async def slow_llm_run(log):
        async with LlmResponder("polite", delay_s=SLOW_LLM_S) as responder:
            llm = LlmOptions(url=responder.url, model="slow", timeout_s=SLOW_LLM_S + 2.0)
            return await asyncio.to_thread(caption, path, log, llm)

    without, with_lane = [], []
    for k in range(ROUNDS):
        without.append(caption(path, tmp_path / f"without{k}.jsonl"))
        with_lane.append(asyncio.run(slow_llm_run(tmp_path / f"with{k}.jsonl")))
    rows, worse = [], []
    for name in ("partial_text_latency_ms", "final_text_latency_ms"):
        for q, (ratio, slack) in ALLOWED.items():
            a = float(np.mean([r["metrics"][name][q] for r in without]))
            b = float(np.mean([r["metrics"][name][q] for r in with_lane]))
            rows.append(f"{name} {q}: without {a:.0f} ms, with a 5 s LLM {b:.0f} ms")
            if b > max(a * ratio, a + slack):
                worse.append(rows[-1])
    print("\n".join(rows))
    assert not worse, "\n".join(rows)
    # Same captions, and the slow LLM's polish came after them without blocking them.
    for plain, polished in zip(without, with_lane):
        assert polished["lane"]["committed_text"] == plain["lane"]["committed_text"]
    events = read_events(tmp_path / "with0.jsonl")
    polish = [e for e in events if e["type"] == "polish"]
    finals = [e for e in events if e["type"] == "final"]
    summary = with_lane[0]["polish"]
    assert summary["finals"] == len(finals) >= 2, summary
    assert polish and summary["accepted"] + summary["skipped"] + summary["timed_out"] == len(finals), summary
    assert all(p["emit_time_s"] >= SLOW_LLM_S for p in polish)
