"""The LLM polish lane (docs/PATCH_PROTOCOL.md, "polish") against OpenAI-compatible responders on
127.0.0.1: hostile answers (random, extra, reordered, dropped words, garbage, HTTP errors) never put
a word on the polished view, and are all rejected and counted; a polite one is accepted; choices
come only from candidates of the same span; backpressure (merge, skip, deadline); the options; and
the live pipeline's caption latency with an LLM slowed to 5 s per request against none, same run."""

from __future__ import annotations

import asyncio
import json

import pytest

from parakeet_trt import _core
from parakeet_trt.live.protocol import Display, ProtocolError
from parakeet_trt.llm.lane import PolishLane, validate_windows
from parakeet_trt.llm.options import LlmOptions, add_llm_arguments, options_from_args
from parakeet_trt.testing.llm_responder import LlmResponder


def final(segment: int, words: list[str], t0: float, seq: int | None = None) -> dict:
    ws = [{"word": w, "start_s": t0 + 0.5 * i, "end_s": t0 + 0.5 * i + 0.4, "committed": True}
          for i, w in enumerate(words)]
    return {"type": "final", "seq": seq if seq is not None else 10 + segment, "segment": segment,
            "text": " " + " ".join(words), "start_s": t0, "end_s": ws[-1]["end_s"], "words": ws}


SEGMENTS = [["the", "cat", "sat", "on", "the", "mat"], ["where", "is", "the", "red", "dog"],
            ["please", "close", "the", "door", "now"], ["i", "don't", "like", "the", "blue", "car"]]


def run_lane(manner: str, finals: list[dict], candidates=None, **options) -> tuple[list[dict], PolishLane, LlmResponder]:
    async def main():
        events = []

        async def emit(event):
            events.append(event)

        async with LlmResponder(manner, delay_s=options.pop("delay_s", 0.0)) as responder:
            lane = PolishLane(LlmOptions(url=responder.url, model="test", **options), emit)
            for f in finals:
                lane.submit_final(f, (candidates or {}).get(f["segment"]))
                await asyncio.sleep(0)
            await lane.finish()
        return events, lane, responder

    return asyncio.run(main())


def allowed_words(finals: list[dict], candidates: dict | None = None) -> set[str]:
    out = {_core.normalize_word(w["word"]) for f in finals for w in f["words"]}
    for windows in (candidates or {}).values():
        out |= {_core.normalize_word(w["word"]) for win in windows for alt in win["alternatives"] for w in alt["words"]}
    return out


def test_candidate_lanes_come_from_the_core_and_replace_only_the_default_lanes():
    from dataclasses import replace

    from parakeet_trt.live.engine_lane import StreamingOptions
    from parakeet_trt.llm.options import CANDIDATE_LANES, with_candidate_lanes

    assert CANDIDATE_LANES == "redecode:decoding=beam:beam=4,redecode"
    default = with_candidate_lanes(StreamingOptions())
    assert (default.lanes, default.fast_lane, default.commit_lane) == (CANDIDATE_LANES, 1, 1)
    for chosen in (replace(StreamingOptions(), lanes="buffered:chunk=320:right=320,redecode"),
                   replace(StreamingOptions(), aggregator="v3"), replace(StreamingOptions(), fast_lane=0, commit_lane=0)):
        assert with_candidate_lanes(chosen) == chosen


@pytest.mark.parametrize("manner", ["random", "extra", "reorder", "drop"])
def test_hostile_answers_never_reach_the_polished_view(manner):
    finals = [final(k, words, 10.0 * k) for k, words in enumerate(SEGMENTS)]
    events, lane, responder = run_lane(manner, finals)
    assert len(responder.answers) >= 1
    assert events == [], f"a {manner} answer got through: {events}"
    summary = lane.summary()
    assert summary["rejected"] == len(finals), summary
    assert summary["accepted"] == 0 and summary["polish_events"] == 0
    assert summary["rejections"] == {"word_mismatch": summary["requests"]}


@pytest.mark.parametrize("manner,counter", [("garbage", "failed"), ("error", "failed")])
def test_broken_servers_are_counted_and_the_raw_text_stands(manner, counter):
    finals = [final(0, SEGMENTS[0], 0.0)]
    events, lane, responder = run_lane(manner, finals, retries=1, backoff_s=0.01)
    assert events == []
    summary = lane.summary()
    assert summary[counter] == 1, summary
    if manner == "error":
        assert summary["client"]["retries"] == 1 and len(responder.requests) == 2  # retried once, with backoff


def test_a_polite_answer_is_accepted_and_classified():
    finals = [final(k, words, 10.0 * k) for k, words in enumerate(SEGMENTS)]
    events, lane, _ = run_lane("polite", finals, concurrency=2)
    assert [e["segment"] for e in sorted(events, key=lambda e: e["segment"])] == [0, 1, 2, 3]
    by_segment = {e["segment"]: e for e in events}
    assert by_segment[0]["text"] == "The cat sat on the mat."
    kinds = sorted(e["kind"] for e in by_segment[0]["edits"])
    assert kinds == ["casing", "punctuation"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    allowed = allowed_words(finals)
    assert all(_core.normalize_word(w["word"]) in allowed for e in events for w in e["words"])
    assert lane.summary()["accepted"] == 4


def test_hostile_answers_with_candidates_add_no_word_outside_them():
    finals = [final(0, ["i", "red", "the", "book"], 0.0)]
    windows = {0: [{"start_s": 0.45, "end_s": 1.0,
                    "alternatives": [{"words": [{"word": "read", "start_s": 0.5, "end_s": 0.9}],
                                      "source": "beam:1", "score": -1.0}]}]}
    for manner in ("random", "extra", "reorder", "drop"):
        events, lane, _ = run_lane(manner, finals, windows)
        assert events == [] and lane.summary()["rejected"] == 1
    # Candidates carried by the final itself (the aggregator's field) work the same.
    events, lane, _ = run_lane("random", [dict(finals[0], candidates=windows[0])])
    assert events == [] and lane.summary()["rejected"] == 1
    # The grammar the lane sends allows exactly the heard words or the alternative per window.
    events, lane, responder = run_lane("polite", finals, windows)
    grammar = responder.requests[0]["grammar"]
    assert '"read"' in grammar and '"red"' in grammar and "root ::=" in grammar
    assert events and events[0]["text"] == "I red the book."


def test_choices_and_merges_split_back_per_segment():
    # A choice: the check itself (C++), through the binding.
    heard = [{"word": w, "start_s": 0.5 * i, "end_s": 0.5 * i + 0.4} for i, w in enumerate(["i", "red", "it"])]
    windows = [{"start_s": 0.45, "end_s": 1.0, "alternatives": [{"words": [{"word": "read", "start_s": 0.5,
                                                                              "end_s": 0.9}], "source": "beam:1"}]}]
    verdict = _core.check_polish(heard, windows, 0.0, 1.5, "I read it.")
    assert verdict["accepted"] and [e["kind"] for e in verdict["edits"]].count("choice") == 1
    assert not _core.check_polish(heard, windows, 1.0, 1.5, "I read it.")["accepted"]  # outside the editable span
    # Merged: a slow LLM and many finals -> fewer requests, every final polished, split per segment.
    finals = [final(k, words, 10.0 * k) for k, words in enumerate(SEGMENTS)]
    events, lane, responder = run_lane("polite", finals, delay_s=0.3)
    summary = lane.summary()
    assert summary["requests"] < len(finals) and summary["merged"] >= 2, summary
    assert sorted(e["segment"] for e in events) == [0, 1, 2, 3]
    assert {e["segment"]: e["text"] for e in events}[1] in ("where is the red dog", "Where is the red dog",
                                                            "where is the red dog.", "Where is the red dog.")


def test_backpressure_skips_the_oldest_and_deadlines_hold():
    finals = [final(k, ["word"] * 40, 30.0 * k) for k in range(6)]  # 40 words each: no two fit one request
    events, lane, _ = run_lane("polite", finals, delay_s=0.5, queue_segments=2, merge_max_words=64, timeout_s=2.0)
    summary = lane.summary()
    assert summary["skipped"] >= 3, summary
    assert summary["accepted"] + summary["skipped"] == len(finals)
    events, lane, _ = run_lane("polite", finals[:1], delay_s=3.0, timeout_s=0.5)
    assert events == [] and lane.summary()["timed_out"] == 1


def test_a_cancelled_finish_still_closes_the_lane_at_once():
    """The server's stream cancelled while its polish lane waits on a 5 s LLM: close() stops the request
    in flight and the client at once, and a second close is harmless."""
    async def main():
        async def emit(event):
            raise AssertionError("no polish event can come from a cancelled request")

        async with LlmResponder("polite", delay_s=5.0) as responder:
            lane = PolishLane(LlmOptions(url=responder.url, model="test", timeout_s=10.0), emit)
            lane.submit_final(final(0, SEGMENTS[0], 0.0))
            waiting = asyncio.create_task(lane.finish())
            await asyncio.sleep(0.3)
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            started = asyncio.get_running_loop().time()
            await lane.close()
            await lane.close()
            took = asyncio.get_running_loop().time() - started
            return lane, took

    lane, took = asyncio.run(main())
    assert took < 1.0, took
    assert all(worker.done() for worker in lane._workers)
    assert lane.summary()["polish_events"] == 0


def test_bad_candidates_and_options_are_named():
    with pytest.raises(ValueError, match="must not overlap"):
        validate_windows([{"start_s": 0, "end_s": 1, "alternatives": []}, {"start_s": 0.5, "end_s": 2, "alternatives": []}])
    with pytest.raises(ValueError, match="has no 'words'"):
        validate_windows([{"start_s": 0, "end_s": 1, "alternatives": [{"source": "x"}]}])
    with pytest.raises(ValueError, match="--llm-url must be an http"):
        LlmOptions(url="127.0.0.1:8080", model="m")
    with pytest.raises(ValueError, match="--llm-concurrency must be at least 1"):
        LlmOptions(url="http://h", model="m", concurrency=0)
    import argparse

    p = argparse.ArgumentParser()
    add_llm_arguments(p)
    assert options_from_args(p.parse_args([])) is None
    with pytest.raises(ValueError, match="--llm-model needs --llm-url"):
        options_from_args(p.parse_args(["--llm-model", "m"]))
    o = options_from_args(p.parse_args(["--llm-url", "http://127.0.0.1:1/v1", "--llm-model", "m",
                                        "--llm-timeout-s", "3", "--llm-concurrency", "2"]))
    assert (o.timeout_s, o.concurrency, o.grammar) == (3.0, 2, True)


def test_display_keeps_polish_as_a_layer():
    d = Display()
    d.apply({"type": "patch", "seq": 1, "committed_len": 8, "replace_from": 0, "text": " the cat"})
    d.apply({"type": "final", "seq": 2, "segment": 0, "text": " the cat"})
    with pytest.raises(ProtocolError, match="has no final"):
        d.apply({"type": "polish", "seq": 1, "segment": 1, "text": "x"})
    d.apply({"type": "polish", "seq": 1, "segment": 0, "text": "The cat."})
    assert d.text == " the cat" and d.polished_text == "The cat."
    with pytest.raises(ProtocolError, match="does not increase"):
        d.apply({"type": "polish", "seq": 1, "segment": 0, "text": "The cat!"})


def test_cli_parsers_share_the_llm_options():
    import argparse

    from parakeet_trt.live.cli import add_live_arguments
    from parakeet_trt.serve.cli import add_serve_arguments

    for add in (add_live_arguments, add_serve_arguments):
        p = argparse.ArgumentParser()
        add(p)
        args = p.parse_args(["--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "m", "--llm-concurrency", "3"])
        assert options_from_args(args).concurrency == 3


def test_the_live_cli_writes_polish_events_to_the_log(tmp_path):
    import subprocess
    import sys
    import threading

    from parakeet_trt.live.protocol import read_events

    loop = asyncio.new_event_loop()
    responder = LlmResponder("polite")
    threading.Thread(target=loop.run_forever, daemon=True).start()
    asyncio.run_coroutine_threadsafe(responder.__aenter__(), loop).result(10)
    try:
        log = tmp_path / "events.jsonl"
        result = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--no-realtime",
                                 "--ui", "none", "--events-out", str(log), "--llm-url", responder.url,
                                 "--llm-model", "polite", "--llm-timeout-s", "10"],
                                capture_output=True, text=True, timeout=300)
    finally:
        asyncio.run_coroutine_threadsafe(responder.__aexit__(None, None, None), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
    assert result.returncode == 0, result.stderr[-2000:]
    events = read_events(log)
    display = Display()
    for e in events:
        display.apply(e)
    finals = [e for e in events if e["type"] == "final"]
    polish = [e for e in events if e["type"] == "polish"]
    assert finals and len(polish) == len(finals)
    assert display.polished_text.lower().replace(".", "") == " ".join(f["text"].strip() for f in finals)


def test_the_server_stream_sends_polish_events_after_the_finals():
    """/v1/stream's stream handler (serve/stream.py) with the LLM lane, on an in-process socket."""
    import numpy as np

    from parakeet_trt.serve.config import ServeLimits
    from parakeet_trt.serve.metrics import ServeMetrics
    from parakeet_trt.serve.stream import LiveWebSocketStream
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import held_out_speech

    audio = np.concatenate([held_out_speech(0)[0], np.zeros(16000, np.float32), held_out_speech(1)[0]])
    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()

    class Socket:
        def __init__(self):
            frames = [pcm[i:i + 8000] for i in range(0, len(pcm), 8000)]
            self.incoming = ([{"type": "websocket.receive", "text": json.dumps({"type": "start"})}]
                             + [{"type": "websocket.receive", "bytes": f} for f in frames]
                             + [{"type": "websocket.receive", "text": json.dumps({"type": "end"})}])
            self.sent = []

        async def receive(self):
            return self.incoming.pop(0)

        async def send_text(self, text):
            self.sent.append(json.loads(text))

        async def close(self, code=1000, reason=""):
            self.sent.append({"closed": code})

    async def main():
        async with LlmResponder("polite") as responder:
            socket, metrics = Socket(), ServeMetrics()
            llm = LlmOptions(url=responder.url, model="polite", timeout_s=10.0)
            await LiveWebSocketStream(socket, Session("demo"), ServeLimits(), metrics, {}, llm=llm).run()
            return socket.sent, metrics

    sent, metrics = asyncio.run(main())
    finals = [e for e in sent if e.get("type") == "final"]
    polish = [e for e in sent if e.get("type") == "polish"]
    assert finals and len(polish) == len(finals)
    assert sent[-2] == {"type": "status", "input": "ended"} and sent[-1] == {"closed": 1000}
    assert all(sent.index(p) > sent.index(next(f for f in finals if f["segment"] == p["segment"])) for p in polish)
    assert metrics.counters["polish_events_total"] == len(polish)


def test_offered_windows_count_only_inside_the_final():
    finals = [final(0, ["i", "red", "the", "book"], 0.0)]

    async def main():
        events = []

        async def emit(event):
            events.append(event)

        async with LlmResponder("polite") as responder:
            lane = PolishLane(LlmOptions(url=responder.url, model="m"), emit)
            inside = {"start_s": 0.45, "end_s": 1.0, "alternatives": [
                {"words": [{"word": "read", "start_s": 0.5, "end_s": 0.9}], "source": "beam:1"}]}
            beyond = {"start_s": 1.9, "end_s": 2.6, "alternatives": [
                {"words": [{"word": "books", "start_s": 2.0, "end_s": 2.5}], "source": "lane:fast"}]}
            lane.offer_candidates([inside, beyond])  # the revision window reaches past the final
            lane.submit_final(finals[0])
            await lane.finish()
            return events, responder.requests

    events, requests = asyncio.run(main())
    grammar = requests[0]["grammar"]
    assert '"read"' in grammar and '"books"' not in grammar
    assert "Alternatives 0" in requests[0]["messages"][-1]["content"]
    assert events[0]["text"] == "I red the book."


def test_prompt_marks_the_spans_the_guard_reads():
    """The prompt and grammar group the heard words with the core's polish_slots: a window with no
    alternatives, or outside the editable span, is no choice there, in the grammar as in the guard."""
    from parakeet_trt.llm.prompt import grammar_for, messages_for, spans

    heard = [{k: w[k] for k in ("word", "start_s", "end_s")} for w in final(0, ["i", "red", "the", "book"], 0.0)["words"]]
    inside = {"start_s": 0.45, "end_s": 1.0, "alternatives": [
        {"words": [{"word": "read", "start_s": 0.5, "end_s": 0.9}], "source": "beam:1"}]}
    empty = {"start_s": 1.05, "end_s": 1.3, "alternatives": []}
    late = {"start_s": 1.4, "end_s": 1.95, "alternatives": [
        {"words": [{"word": "boo", "start_s": 1.5, "end_s": 1.9}], "source": "lane:fast"}]}
    windows = [inside, empty, late]
    assert spans(heard, windows, 0.0, 1.0) == [(None, ["i"]), (0, ["red"]), (None, ["the"]), (None, ["book"])]
    assert spans(heard, windows, 0.0, 2.0) == [(None, ["i"]), (0, ["red"]), (None, ["the"]), (2, ["book"])]
    narrow, wide = grammar_for(heard, windows, 0.0, 1.0), grammar_for(heard, windows, 0.0, 2.0)
    assert '"read"' in narrow and '"boo"' not in narrow and '"boo"' in wide
    asked = messages_for(heard, windows, 0.0, 1.0)[-1]["content"]
    assert "Alternatives 0 " in asked and "Alternatives 1 " not in asked and "Alternatives 2 " not in asked
    assert "[0: red] the book" in asked and "Alternatives 2 " in messages_for(heard, windows, 0.0, 2.0)[-1]["content"]
    assert not _core.check_polish(heard, windows, 0.0, 1.0, "I read the boo.")["accepted"]
    assert _core.check_polish(heard, windows, 0.0, 2.0, "I read the boo.")["accepted"]
    with pytest.raises(ValueError, match="window 1"):
        spans(heard, [late, inside], 0.0, 2.0)  # unsorted windows: the guard's own error
