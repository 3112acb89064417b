"""The engine lane: audio blocks in, transcript events out.

Audio goes into the C++ StreamingWorker's lock-free ring (its inference thread runs the buffered
streaming session, GIL released); each step it reports goes through the C++ TranscriptState (commit
policy, endpoints, patches), and the events leave with the pipeline clock's capture time of the
last audio sample they reflect (``capture_time_s``) and their emit time (``emit_time_s``).

A lossless block (from a file or stdin) that does not fit the ring waits for room; a lossy one (the
microphone) is cut and the dropped samples are counted. With ``final_redecode``, each final also
carries ``redecoded_text``: an offline decode of the segment's audio (the committed text stands).
"""

from __future__ import annotations

import asyncio
import bisect
import threading
import time
from dataclasses import dataclass

import numpy as np

from parakeet_trt import _core
from parakeet_trt.errors import ParakeetError
from parakeet_trt.session import Session


@dataclass
class CommitPolicy:
    """The transcript state's knobs (see parakeet_trt/transcript.hpp)."""

    stable_updates: int = 2
    max_lag_ms: int = 1200
    max_window_tokens: int = 32
    endpoint_blank_ms: int = 800
    endpoint_vad_ms: int = 0
    endpoint_require_both: bool = False
    commit_whole_words: bool = True


@dataclass
class StreamingOptions:
    chunk_ms: int = 560
    left_ms: int = 10000
    right_ms: int = 560
    ring_ms: int = 10000
    final_redecode: bool = False
    history_ms: int = 30000  # audio kept for final re-decoding


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


class EngineLane:
    def __init__(self, session: Session, *, streaming: StreamingOptions | None = None,
                 policy: CommitPolicy | None = None, clock_origin: float | None = None, name: str = "main"):
        self.name = name
        self.session = session
        self.streaming = streaming or StreamingOptions()
        self.policy = policy or CommitPolicy()
        self.rate = session.sample_rate_hz
        self.origin = time.monotonic() if clock_origin is None else clock_origin
        s = self.streaming
        self.worker = _core.StreamingWorker(session.model, session.encoder_engine, chunk_ms=int(s.chunk_ms),
                                            left_ms=int(s.left_ms), right_ms=int(s.right_ms),
                                            ring_ms=int(s.ring_ms))
        p = self.policy
        self.transcript = _core.TranscriptState(
            session.model, stable_updates=p.stable_updates, max_lag_ms=p.max_lag_ms,
            max_window_tokens=p.max_window_tokens, endpoint_blank_ms=p.endpoint_blank_ms,
            endpoint_vad_ms=p.endpoint_vad_ms, endpoint_require_both=p.endpoint_require_both,
            commit_whole_words=p.commit_whole_words)
        self.clock = CaptureClock(self.rate)
        self.samples_written = 0
        self.dropped_samples = 0
        self.steps = 0
        self._history = np.zeros(0, np.float32)  # the last history_ms of audio (final re-decode)
        self._history_start = 0
        self._redecoder: Session | None = None
        if s.final_redecode:
            self._redecoder = Session(session.model_dir)

    # --- audio in -------------------------------------------------------------------------------

    async def write(self, block) -> None:
        samples = block.samples
        if self.streaming.final_redecode:
            self._keep_history(samples)
        self.clock.add(self.samples_written + len(samples), block.capture_time, block.vad_silence_ms)
        offset = 0
        while offset < len(samples):
            taken = self.worker.write(samples[offset:])
            offset += taken
            if offset < len(samples):
                if not block.lossless:
                    self.dropped_samples += len(samples) - offset
                    break
                await asyncio.sleep(0.005)  # the ring is full: let the inference thread catch up
        self.samples_written += len(samples)

    def close(self) -> None:
        self.worker.close()

    def _keep_history(self, samples: np.ndarray) -> None:
        keep = self.rate * self.streaming.history_ms // 1000
        self._history = np.concatenate([self._history, samples])
        if len(self._history) > keep:
            cut = len(self._history) - keep
            self._history = self._history[cut:]
            self._history_start += cut

    # --- events out -----------------------------------------------------------------------------

    def now_s(self) -> float:
        return time.monotonic() - self.origin

    def snapshot(self) -> dict:
        event = self.transcript.snapshot()
        event["emit_time_s"] = self.now_s()
        return event

    def _stamp(self, events: list[dict], audio_end_sample: int) -> list[dict]:
        capture = self.clock.capture_time(max(0, audio_end_sample - 1)) - self.origin
        for event in events:
            event["capture_time_s"] = capture
            event["emit_time_s"] = self.now_s()
        return events

    async def _redecode(self, final: dict) -> None:
        begin = max(0, int(final["start_s"] * self.rate) - self.rate // 5) - self._history_start
        end = int(final["end_s"] * self.rate) + self.rate * 3 // 10 - self._history_start
        if begin < 0 or end <= begin:
            final["redecoded_text"] = None  # no longer retained
            return
        audio = self._history[begin:end].copy()
        result = await asyncio.to_thread(self._redecoder.transcribe, audio, self.rate)
        final["redecoded_text"] = result.text

    def _poll(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue, stop: threading.Event) -> None:
        """Waits for the worker's events (GIL released inside) and hands them to the event loop."""
        while not stop.is_set():
            event = self.worker.next_event(50)
            if event is None:
                if self.worker.done:
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
                if step["type"] == "error":
                    # Committed text stays committed: close the transcript, then report the failure.
                    for event in self._stamp(self.transcript.finish(self.transcript.live_edge_s), self.samples_written):
                        yield event
                    raise ParakeetError(f"the engine lane stopped: {step['error']}")
                self.steps += 1
                end_sample = int(step["audio_end_sample"])
                events = self.transcript.apply_step(step["committed"], step["tail"], end_sample / self.rate,
                                                    self.clock.vad_silence_ms(max(0, end_sample - 1)))
                if step["is_last"]:
                    events = list(events) + list(self.transcript.finish(end_sample / self.rate))
                for event in self._stamp(events, end_sample):
                    if event["type"] == "final" and self._redecoder is not None:
                        await self._redecode(event)
                    yield event
        finally:
            stop.set()
            poller.join(timeout=5)
