"""The engine lane: audio blocks in, transcript events out, over the core's LiveStream.

The C++ LiveStream owns the audio ring, the inference thread, the streaming session, the transcript
state (commit policy, endpoints, patches) and the audio history its finals are re-decoded from;
this lane only converts: it writes blocks (with their VAD silence) into the stream, waits for its
events with the GIL released, and stamps each event with the pipeline clock's capture time of the
last audio sample it reflects (``capture_time_s``) and its emit time (``emit_time_s``).

A lossless block (from a file or stdin) that does not fit the ring waits for room; a lossy one (the
microphone) is cut and the dropped samples are counted. With ``final_redecode``, each final also
carries ``redecoded_text``: an offline decode of the segment's audio (the committed text stands).
"""

from __future__ import annotations

import asyncio
import bisect
import sys
import threading
import time
from dataclasses import asdict, dataclass

from parakeet_trt import _core
from parakeet_trt.errors import ParakeetError
from parakeet_trt.session import Session

_DEFAULTS = _core.option_defaults()  # defined once in C++ (live_stream.hpp, transcript.hpp)
_T, _S, _L = _DEFAULTS["transcript"], _DEFAULTS["stream"], _DEFAULTS["live"]
_A, _C = _DEFAULTS["aggregator"], _DEFAULTS["captions"]  # the captions' preset: captions_options() in C++


@dataclass
class CommitPolicy:
    """The transcript state's knobs (see parakeet_trt/transcript.hpp); defaults from the core."""

    stable_updates: int = _T["stable_updates"]
    max_lag_ms: int = _T["max_lag_ms"]
    max_window_tokens: int = _T["max_window_tokens"]
    endpoint_blank_ms: int = _T["endpoint_blank_ms"]
    endpoint_vad_ms: int = _T["endpoint_vad_ms"]
    endpoint_require_both: bool = _T["endpoint_require_both"]
    commit_whole_words: bool = _T["commit_whole_words"]


@dataclass
class StreamingOptions:
    """The stream's settings (see parakeet_trt/live_stream.hpp); defaults from the core."""

    chunk_ms: int = _S["chunk_ms"]
    left_ms: int = _S["left_ms"]
    right_ms: int = _S["right_ms"]
    ring_ms: int = _L["ring_ms"]
    final_redecode: bool = _L["final_redecode"]
    history_ms: int = _S["history_ms"]  # audio kept for final re-decoding
    # Segment-aware streaming: a fresh session per VAD segment (live_stream.hpp, LiveStreamOptions).
    segment_on_endpoint: bool = _C["segment_on_endpoint"]
    segment_silence_ms: int = _L["segment_silence_ms"]
    segment_pre_roll_ms: int = _L["segment_pre_roll_ms"]
    # Lanes and the aggregator (caption_lanes.hpp, caption_aggregator.hpp). v1: one buffered stream
    # (chunk/left/right above) through the commit policy; v2/v3: `lanes` (e.g. "redecode" or
    # "buffered:chunk=560:right=560,redecode") and the aggregator's own commit rule.
    aggregator: str = _C["aggregator"]
    lanes: str = _C["lanes"]
    commit_lag_ms: int = _A["commit_lag_ms"]
    agreement_passes: int = _A["agreement_passes"]
    final_timeout_ms: int = _A["final_timeout_ms"]
    stall_ms: int = _A["stall_ms"]
    fast_lane: int = _A["fast_lane"]
    commit_lane: int = _A["commit_lane"]

    def core_options(self) -> dict:
        """The keyword options of the core's LiveStream."""
        options = dict(chunk_ms=int(self.chunk_ms), left_ms=int(self.left_ms), right_ms=int(self.right_ms),
                       ring_ms=int(self.ring_ms), final_redecode=bool(self.final_redecode),
                       history_ms=int(self.history_ms) if self.final_redecode else 0,
                       segment_on_endpoint=bool(self.segment_on_endpoint),
                       segment_silence_ms=int(self.segment_silence_ms),
                       segment_pre_roll_ms=int(self.segment_pre_roll_ms), aggregator=str(self.aggregator))
        if self.aggregator != "v1":
            options.update(lanes=str(self.lanes), commit_lag_ms=int(self.commit_lag_ms),
                           agreement_passes=int(self.agreement_passes), final_timeout_ms=int(self.final_timeout_ms),
                           stall_ms=int(self.stall_ms), fast_lane=int(self.fast_lane),
                           commit_lane=int(self.commit_lane))
        return options


class CaptureClock:
    """Maps stream sample indices to capture times (and VAD state) from the blocks written."""

    def __init__(self, sample_rate_hz: int):
        self.rate = sample_rate_hz
        self.block_ends: list[int] = []
        self.captures: list[float] = []
        self.silences: list[float] = []

    def add(self, end_sample: int, capture_time: float, vad_silence_ms: float) -> None:
        self.block_ends.append(end_sample)
        self.captures.append(capture_time)
        self.silences.append(vad_silence_ms)

    def _block(self, sample: int) -> int:
        return min(bisect.bisect_right(self.block_ends, sample), len(self.block_ends) - 1)

    def capture_time(self, sample: int) -> float:
        """Capture time of stream sample `sample` (its block's capture time, less the samples after it)."""
        if not self.block_ends:
            return time.monotonic()
        i = self._block(sample)
        return self.captures[i] - (self.block_ends[i] - 1 - sample) / self.rate

    def vad_silence_ms(self, sample: int) -> float:
        if not self.block_ends:
            return -1.0
        i = self._block(sample)
        silence = self.silences[i]
        return silence if silence < 0 else max(0.0, silence - (self.block_ends[i] - 1 - sample) * 1000.0 / self.rate)


class LaneTranscript:
    """What the lane's transcript says now, from the stream's last snapshot (the state itself lives in C++)."""

    def __init__(self, live):
        self._live = live

    @property
    def alignment_conflicts(self) -> int:
        return self._live.alignment_conflicts

    @property
    def committed_text(self) -> str:
        snap = self._live.snapshot()
        return snap["text"][:snap["committed_len"]]

    def snapshot(self) -> dict:
        return self._live.snapshot()


class EngineLane:
    def __init__(self, session: Session, *, streaming: StreamingOptions | None = None,
                 policy: CommitPolicy | None = None, clock_origin: float | None = None, name: str = "main",
                 lane_engines: dict | None = None):
        self.name = name
        self.session = session
        self.streaming = streaming or StreamingOptions()
        self.policy = policy or CommitPolicy()
        self.rate = session.sample_rate_hz
        self.origin = time.monotonic() if clock_origin is None else clock_origin
        s = self.streaming
        streaming_engine = None
        if s.aggregator != "v1" and "cache_aware" in s.lanes:
            streaming_engine = session.streaming_encoder_engine
        self.live = _core.LiveStream(session.model, session.encoder_engine, streaming_engine=streaming_engine,
                                     lane_engines=lane_engines, **s.core_options(), **asdict(self.policy))
        self.lane_notices: list[dict] = []  # lanes that failed or stalled (each reported once)
        self.transcript = LaneTranscript(self.live)
        self.clock = CaptureClock(self.rate)
        self.samples_written = 0
        self.dropped_samples = 0
        self.steps = 0

    # --- audio in -------------------------------------------------------------------------------

    async def write(self, block) -> None:
        samples = block.samples
        self.clock.add(self.samples_written + len(samples), block.capture_time, block.vad_silence_ms)
        offset = 0
        while offset < len(samples):
            taken = self.live.write(samples[offset:], block.vad_silence_ms, lossless=block.lossless)
            offset += taken
            if offset < len(samples):
                if not block.lossless:
                    self.dropped_samples = self.live.dropped_samples
                    break
                await asyncio.sleep(0.005)  # the ring is full: let the inference thread catch up
        self.samples_written += len(samples)

    def close(self) -> None:
        self.live.close()

    # --- events out -----------------------------------------------------------------------------

    def now_s(self) -> float:
        return time.monotonic() - self.origin

    def snapshot(self) -> dict:
        event = self.live.snapshot()
        event["emit_time_s"] = self.now_s()
        return event

    def _stamp(self, events: list[dict], audio_end_sample: int) -> list[dict]:
        capture = self.clock.capture_time(max(0, audio_end_sample - 1)) - self.origin
        for event in events:
            event["capture_time_s"] = capture
            event["emit_time_s"] = self.now_s()
            if event["type"] == "final" and not self.streaming.final_redecode:
                event.pop("redecoded_text", None)
            elif event["type"] == "final" and event.get("redecoded_text") == "":
                event["redecoded_text"] = None  # the segment was no longer retained
        return events

    def _poll(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, stop: threading.Event) -> None:
        """Waits for the stream's events (GIL released inside) and hands them to the event loop."""
        while not stop.is_set():
            event = self.live.next_event(50)
            if event is None:
                if self.live.done:
                    break
                continue
            loop.call_soon_threadsafe(queue.put_nowait, event)
            if event["type"] == "error" or event["is_last"]:
                break
        loop.call_soon_threadsafe(queue.put_nowait, None)

    async def events(self):
        """Transcript events until the end of the stream (after close())."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        poller = threading.Thread(target=self._poll, args=(loop, queue, stop), name=f"lane-{self.name}", daemon=True)
        poller.start()
        try:
            while True:
                step = await queue.get()
                if step is None:
                    break
                end_sample = int(step["audio_end_sample"])
                if step["type"] == "error":
                    # Committed text stays committed: the stream closed the transcript before reporting.
                    for event in self._stamp(step["events"], self.samples_written):
                        yield event
                    raise ParakeetError(f"the engine lane stopped: {step['error']}")
                self.steps += 1
                for notice in step.get("lane_notices", []):
                    self.lane_notices.append(notice)
                    print(f"[live] lane {notice['lane']} {notice['kind']}: {notice['message']}", file=sys.stderr,
                          flush=True)
                for event in self._stamp(step["events"], end_sample):
                    yield event
        finally:
            stop.set()
            poller.join(timeout=5)
