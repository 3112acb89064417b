"""Captions as accurate as offline (issue 14): the live pipeline's lanes and aggregators on held-out
demo-corpus utterances joined into streams with the corpus's own pause edges, on the real demo
model (ONNX Runtime through the C++ core).

* the patch protocol holds for every aggregator (v1, v2, v3): committed text is never rewritten,
  the patches replay to the final text, and the finals concatenated are the committed text;
* the default captions (v2 over a redecode lane) commit text within 2 WER points of offline decoding
  of the same utterances;
* with an LLM lane the finals carry candidate windows (a beam lane's 1-best and n-best) to choose from;
* a lane that stalls (an engine that takes 5 s per call) or fails is reported once, and the captions
  go on from the other lane with the same latency.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
import soundfile

from parakeet_trt.live.engine_lane import StreamingOptions
from parakeet_trt.live.protocol import Display
from parakeet_trt.testing.held_out import word_error_rate
from parakeet_trt.testing.collect_sink import play_file
from parakeet_trt.testing.joined_streams import joined_streams

AGGREGATORS = {
    "v1": StreamingOptions(aggregator="v1", segment_on_endpoint=False),
    "v2": StreamingOptions(),  # the captions' defaults
    "v3": StreamingOptions(aggregator="v3", lanes="buffered,redecode,redecode:decoding=beam:beam=4"),
}


@pytest.fixture(scope="module")
def demo_session():
    from parakeet_trt.session import Session

    return Session("demo")


@pytest.fixture(scope="module")
def streams(tmp_path_factory):
    folder = tmp_path_factory.mktemp("joined")
    out = []
    for k, stream in enumerate(joined_streams(utterances=10)):
        path = folder / f"joined{k}.wav"
        soundfile.write(path, stream.audio, 16000)
        out.append((path, stream))
    return out


def play(session, path, streaming: StreamingOptions, realtime: bool, lane_engines=None):
    return play_file(path, streaming, session=session, realtime=realtime, lane_engines=lane_engines)


def check_protocol(events: list[dict]) -> str:
    """Replays the events as a client; returns the committed text. Raises on any protocol break."""
    display = Display()
    committed = ""
    for event in events:
        display.apply(event)
        now = display.text[:display.committed_len]
        assert now.startswith(committed), "committed text was rewritten"
        committed = now
    assert display.committed_len == len(display.text), "the stream ended with uncommitted text"
    finals = "".join(f["text"] for f in display.finals)
    assert finals == committed, (finals, committed)
    return committed


@pytest.mark.parametrize("aggregator", sorted(AGGREGATORS))
def test_the_patch_protocol_holds_for_every_aggregator(demo_session, streams, aggregator):
    for path, stream in streams:
        events, summary = play(demo_session, path, AGGREGATORS[aggregator], realtime=False)
        committed = check_protocol(events)
        assert committed.strip(), f"{aggregator}: nothing committed"
        assert summary["lane"]["committed_text"] == committed
        assert not summary["lane"]["lane_notices"]


def test_default_captions_commit_within_two_points_of_offline(demo_session, streams):
    references, committed, offline = [], [], []
    for path, stream in streams:
        events, summary = play(demo_session, path, StreamingOptions(), realtime=False)
        references.append(stream.reference)
        committed.append(check_protocol(events))
        audio, _ = soundfile.read(path, dtype="float32")
        offline.append(" ".join(demo_session.transcribe(audio[int(a * 16000):int(b * 16000)], 16000).text
                                for a, b in zip(stream.offsets_s, stream.offsets_s[1:] + [stream.duration_s])))
    live_wer, offline_wer = word_error_rate(references, committed), word_error_rate(references, offline)
    print(f"committed WER {100 * live_wer:.1f}% vs offline {100 * offline_wer:.1f}% ({len(references)} streams)")
    assert live_wer <= offline_wer + 0.02


def test_finals_carry_candidates_an_llm_can_choose_from(demo_session, streams):
    """With an LLM lane the default lanes gain a beam lane (the core's with_candidate_lanes), whose 1-best and n-best
    become candidate windows on the finals (candidate_windows.hpp); they
    pass the LLM lane's validation, and an LLM that takes every window's first alternative gets each
    answer accepted with choice edits, its words only heard ones or those alternatives."""
    from parakeet_trt import _core
    from parakeet_trt.llm.lane import PolishLane, validate_windows
    from parakeet_trt.llm.options import LlmOptions, with_candidate_lanes
    from parakeet_trt.testing.llm_responder import LlmResponder

    finals = []
    for k, (path, _) in enumerate(streams):
        events, _ = play(demo_session, path, with_candidate_lanes(StreamingOptions()), realtime=False)
        # One lane for every stream here: segment numbers made unique across the streams.
        finals += [dict(e, segment=1000 * k + e["segment"]) for e in events if e["type"] == "final"]
    with_candidates = [f for f in finals if f.get("candidates")]
    assert with_candidates, "no final carries candidates"
    for f in with_candidates:
        validate_windows(f["candidates"])
        heard = [_core.normalize_word(w["word"]) for w in f["words"]]
        for window in f["candidates"]:
            # Inside the segment's audio (a decode may hear a word in the pause after the last heard one).
            # (A last token's predicted duration may reach a few frames past the audio.)
            assert 0.0 <= window["start_s"] < window["end_s"] <= f["audio_end_s"] + 0.4, (window, f)
            for alt in window["alternatives"]:
                # the beam lane's 1-best, or n-best entries within 3 nats of it (candidate_windows.hpp)
                assert alt["source"].startswith(("beam:", "lane:redecode-beam")) and alt["score"] >= -3.0
                covered = [_core.normalize_word(w["word"]) for w in f["words"]
                           if window["start_s"] <= (w["start_s"] + w["end_s"]) / 2 < window["end_s"]]
                assert [_core.normalize_word(w["word"]) for w in alt["words"]] != covered  # a real alternative
        assert heard

    async def main():
        events = []

        async def emit(event):
            events.append(event)

        async with LlmResponder("choose") as responder:
            lane = PolishLane(LlmOptions(url=responder.url, model="test", merge_max_words=1,
                                         queue_segments=len(with_candidates) + 1), emit)
            for f in with_candidates:
                lane.submit_final(f)
            await lane.finish()
        return events, lane.summary()

    events, summary = asyncio.run(main())
    assert summary["accepted"] == len(with_candidates) and summary["rejected"] == 0, summary
    assert summary["edits"].get("choice", 0) >= len(with_candidates), summary
    by_segment = {f["segment"]: f for f in with_candidates}
    for event in events:
        f = by_segment[event["segment"]]
        allowed = {_core.normalize_word(w["word"]) for w in f["words"]}
        allowed |= {_core.normalize_word(w["word"]) for win in f["candidates"] for alt in win["alternatives"]
                    for w in alt["words"]}
        assert {_core.normalize_word(w["word"]) for w in event["words"]} <= allowed


def test_a_segment_longer_than_the_redecode_window_keeps_its_words(demo_session, streams):
    """Faster than real time only a segment's last pass commits; it reads the whole segment, so a
    window shorter than the segment (2 s here, 12 s by default) loses no words."""
    longest = 0.0
    for path, stream in streams:
        whole = check_protocol(play(demo_session, path, StreamingOptions(), realtime=False)[0])
        events = play(demo_session, path, StreamingOptions(lanes="redecode:window=2000"), realtime=False)[0]
        windowed = check_protocol(events)
        assert windowed.split() == whole.split(), (windowed, whole)
        longest = max([longest] + [e["end_s"] - e["start_s"] for e in events if e["type"] == "final" and e["words"]])
    assert longest > 2.0, f"no segment outlasted the 2 s window (longest final {longest:.2f} s): nothing was tested"


class SlowEncoder:
    """The offline encoder in Python's ONNX Runtime, 5 s per call (or raising, to fail)."""

    def __init__(self, model_dir, delay_s: float = 5.0, fail: bool = False):
        from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine

        self.inner = OnnxRuntimeEngine(model_dir / "encoder.onnx", None)
        self.delay_s, self.fail = delay_s, fail

    def run(self, inputs, outputs):
        if self.fail:
            raise RuntimeError("injected lane failure")
        time.sleep(self.delay_s)
        self.inner.run(inputs, outputs)


@pytest.mark.parametrize("fault", ["stall", "fail"])
def test_a_stalled_or_failing_lane_is_reported_once_and_the_captions_go_on(demo_session, streams, fault):
    path, stream = streams[0]
    lanes = "redecode,redecode:every=480:name=second"
    # The faulty lane commits (the last lane): the healthy one takes over.
    baseline_events, baseline = play(demo_session, path, StreamingOptions(lanes=lanes), realtime=True)
    faulty = SlowEncoder(demo_session.model_dir, fail=fault == "fail")
    events, summary = play(demo_session, path, StreamingOptions(lanes=lanes), realtime=True,
                           lane_engines={"second": faulty})
    notices = summary["lane"]["lane_notices"]
    assert [(n["lane"], n["kind"]) for n in notices] == [("second", "stalled" if fault == "stall" else "failed")]
    committed = check_protocol(events)
    assert word_error_rate([stream.reference], [committed]) <= word_error_rate(
        [stream.reference], [check_protocol(baseline_events)]) + 0.05
    finals, base_finals = summary["metrics"]["final_text_latency_ms"], baseline["metrics"]["final_text_latency_ms"]
    print(f"final latency p50/p95 with a {fault}ing lane: {finals['p50']:.0f}/{finals['p95']:.0f} ms; "
          f"without: {base_finals['p50']:.0f}/{base_finals['p95']:.0f} ms")
    # Until the stall is detected (stall_ms of silence) the first words wait for the faulty committing lane.
    assert finals["p50"] <= base_finals["p50"] + 500 and finals["p95"] <= base_finals["p95"] + 1500
