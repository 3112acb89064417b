"""``GET /v1/stream``: one websocket, one live stream, over the live pipeline's own tiles.

A JSON start message sets the stream up; binary PCM frames follow; ``{"type": "end"}`` flushes the
finals. Each frame becomes one ``AudioBlock`` through the same ``DspStage`` (resampling to the model
rate, the energy VAD) and ``EngineLane`` (the core's ``LiveStream``) that ``parakeet-trt live`` uses,
and the lane's patch-protocol events (docs/PATCH_PROTOCOL.md) go out as JSON text frames. This module
converts bytes and JSON only: the transcript is the core's.

Start message (every field optional)::

    {"type": "start", "sample_rate": 16000, "format": "s16le" | "f32le", "channels": 1,
     "vad": "silero" | "energy" | "none",
     "streaming": {"aggregator", "lanes", "commit_lag_ms", "agreement_passes",
                   "chunk_ms", "left_ms", "right_ms", "final_redecode"},
     "commit": {"stable_updates", "max_lag_ms", "max_window_tokens", "endpoint_blank_ms",
                "endpoint_vad_ms", "endpoint_require_both", "commit_whole_words"}}

Defaults are ``parakeet-trt live``'s. The server answers ``{"type": "status", "stream": "started", ...}``,
then events; after ``end``, the last finals and ``{"type": "status", "input": "ended"}``, then close 1000.
Whatever ends a stream early (a limit, a bad frame, an idle client) first flushes what was heard, then
sends ``{"type": "status", "error": REASON, "close_code": CODE}`` and closes with CODE and REASON.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import asdict, fields

import numpy as np

CLOSE_NORMAL = 1000
CLOSE_UNSUPPORTED = 1003   # a message of a kind the protocol does not have
CLOSE_INVALID = 1007       # bad JSON, a bad start message, a PCM frame that is not whole samples, NaN/Inf
CLOSE_POLICY = 1008        # bad key, foreign origin, idle, too long
CLOSE_TOO_BIG = 1009       # a frame over --max-frame-bytes
CLOSE_ERROR = 1011         # the engine failed
CLOSE_TRY_AGAIN = 1013     # the replica is full

PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}
START_KEYS = {"type", "sample_rate", "format", "channels", "vad", "streaming", "commit"}
# As parakeet-trt live: aggregator v2/v3 with lanes, or v1 with chunk/left/right and final_redecode.
STREAMING_KEYS = {"aggregator", "lanes", "commit_lag_ms", "agreement_passes", "chunk_ms", "left_ms", "right_ms",
                  "final_redecode"}
VADS = ("silero", "energy", "none")
TEXT_KEYS = {"aggregator", "lanes"}  # the start message's string options (the others are numbers)


class StreamClosed(Exception):
    """Ends a stream: websocket close ``code``, a reason for the client, the metrics' label."""

    def __init__(self, code: int, reason: str, label: str, retry_after_s: float | None = None):
        super().__init__(reason)
        self.code, self.reason, self.label, self.retry_after_s = code, reason, label, retry_after_s


class StreamSlots:
    """A replica's admission: at most ``limit`` streams at once; a full replica refuses at once."""

    def __init__(self, limit: int):
        self.limit, self.active = limit, 0

    def acquire(self, retry_after_s: float) -> None:
        if self.active >= self.limit:
            raise StreamClosed(CLOSE_TRY_AGAIN, f"replica full: {self.active} of {self.limit} streams; try again "
                                                f"later (retry after {retry_after_s:g} s)", "full", retry_after_s)
        self.active += 1

    def release(self) -> None:
        self.active -= 1


def _invalid(reason: str) -> StreamClosed:
    return StreamClosed(CLOSE_INVALID, reason, "bad_frame")


def parse_json(text: str) -> dict:
    try:
        message = json.loads(text)
    except ValueError as error:
        raise _invalid(f"a text frame is not JSON: {error}") from None
    if not isinstance(message, dict):
        raise _invalid(f"a text frame must be a JSON object, got {type(message).__name__}")
    return message


class StartOptions:
    """The start message, checked: every bad field is named."""

    def __init__(self, message: dict):
        from parakeet_trt.live.engine_lane import CommitPolicy, StreamingOptions
        from parakeet_trt.live.pipeline import LiveConfig

        if message.get("type") != "start":
            raise _invalid(f"the first message must be {{\"type\": \"start\", ...}}, got type {message.get('type')!r}")
        unknown = sorted(set(message) - START_KEYS)
        if unknown:
            raise _invalid(f"unknown start field(s) {unknown}; known: {sorted(START_KEYS)}")
        self.sample_rate = message.get("sample_rate", 16000)
        if not isinstance(self.sample_rate, int) or isinstance(self.sample_rate, bool) \
                or not 1000 <= self.sample_rate <= 384000:
            raise _invalid(f"sample_rate must be an integer from 1000 to 384000 Hz, got {self.sample_rate!r}")
        self.format = message.get("format", "s16le")
        if self.format not in PCM_FORMATS:
            raise _invalid(f"format must be one of {sorted(PCM_FORMATS)}, got {self.format!r}")
        self.channels = message.get("channels", 1)
        if not isinstance(self.channels, int) or isinstance(self.channels, bool) or not 1 <= self.channels <= 64:
            raise _invalid(f"channels must be an integer from 1 to 64, got {self.channels!r}")
        defaults = LiveConfig()
        self.vad = message.get("vad", defaults.vad)
        if self.vad not in VADS:
            raise _invalid(f"vad must be one of {list(VADS)}, got {self.vad!r}")
        streaming = self._section(message, "streaming", STREAMING_KEYS)
        commit = self._section(message, "commit", {f.name for f in fields(CommitPolicy)})
        if self.vad == "none":  # as parakeet-trt live: VAD endpoints need a VAD
            if commit.get("endpoint_vad_ms"):
                raise _invalid("commit.endpoint_vad_ms needs a VAD (\"vad\": \"energy\")")
            commit.setdefault("endpoint_vad_ms", 0)
            if streaming.get("aggregator", defaults.streaming.aggregator) != "v1":
                raise _invalid("streaming.aggregator v2/v3 decodes VAD segments: it needs \"vad\": \"energy\" "
                               "(or \"streaming\": {\"aggregator\": \"v1\"})")
        if streaming.get("aggregator") == "v1":  # as parakeet-trt live --aggregator v1: segments only if asked
            streaming.setdefault("segment_on_endpoint", False)
        self.streaming = StreamingOptions(**{**asdict(defaults.streaming), **streaming})
        self.policy = CommitPolicy(**{**asdict(defaults.policy), **commit})
        self.dtype = PCM_FORMATS[self.format]
        self.frame_bytes = self.dtype.itemsize * self.channels

    @staticmethod
    def _section(message: dict, name: str, known: set[str]) -> dict:
        section = message.get(name, {})
        if not isinstance(section, dict):
            raise _invalid(f"{name} must be a JSON object, got {section!r}")
        unknown = sorted(set(section) - known)
        if unknown:
            raise _invalid(f"unknown {name} option(s) {unknown}; known: {sorted(known)}")
        for key, value in section.items():
            if key in TEXT_KEYS:
                if not isinstance(value, str) or len(value) > 1000:
                    raise _invalid(f"{name}.{key} must be a string of at most 1000 characters, got {value!r:.60}")
                continue
            if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
                raise _invalid(f"{name}.{key} must be a number or a boolean, got {value!r}")
        return dict(section)

    def samples(self, frame: bytes) -> np.ndarray:
        """A binary frame as mono float32 (s16le scaled by 1/32768, as ``parakeet-trt live`` reads stdin)."""
        from parakeet_trt.audio import to_mono

        if len(frame) % self.frame_bytes:
            raise _invalid(f"a {self.format} frame of {len(frame)} bytes is not a whole number of "
                           f"{self.frame_bytes}-byte samples ({self.channels} channel(s))")
        data = np.frombuffer(frame, dtype=self.dtype).reshape(-1, self.channels)
        data = data.astype(np.float32) / 32768.0 if self.dtype.kind == "i" else data.astype(np.float32)
        mono = np.ascontiguousarray(to_mono(data), dtype=np.float32)
        if not np.all(np.isfinite(mono)):
            raise _invalid(f"a {self.format} frame holds NaN or infinite samples")
        return mono


async def close_stream(ws, closed: StreamClosed) -> None:
    """Tell the client why (a status message, then the close frame's code and reason)."""
    status = {"type": "status", "error": closed.reason, "close_code": closed.code}
    if closed.retry_after_s is not None:
        status["retry_after_s"] = closed.retry_after_s
    try:
        await ws.send_text(json.dumps(status))
        await ws.close(code=closed.code, reason=closed.reason.encode()[:123].decode(errors="ignore"))
    except Exception:  # the client is gone already
        pass


class LiveWebSocketStream:
    """One accepted websocket's stream: ``await run()`` serves it to its end and closes it."""

    def __init__(self, ws, session, limits, metrics, about: dict, llm=None):
        """llm: LlmOptions of the polish lane (polish events after the finals), or None."""
        self.ws, self.session, self.limits, self.metrics, self.about = ws, session, limits, metrics, about
        self.llm, self.polish = llm, None
        self.samples_in, self.audio_s = 0, 0.0
        self.client_gone = False

    async def _receive(self, timeout_s: float) -> dict:
        try:
            message = await asyncio.wait_for(self.ws.receive(), timeout_s)
        except asyncio.TimeoutError:
            if time.monotonic() >= self.deadline:
                raise StreamClosed(CLOSE_POLICY, f"stream duration limit of {self.limits.max_stream_s:g} s reached",
                                   "duration") from None
            raise StreamClosed(CLOSE_POLICY, f"idle timeout: nothing received for {self.limits.idle_timeout_s:g} s",
                               "idle") from None
        if message["type"] == "websocket.disconnect":
            self.client_gone = True
            return message
        payload = message.get("bytes") if message.get("bytes") is not None else message.get("text") or ""
        size = len(payload) if isinstance(payload, bytes) else len(payload.encode())
        if size > self.limits.max_frame_bytes:
            raise StreamClosed(CLOSE_TOO_BIG, f"a frame of {size} bytes is over the limit of "
                                              f"{self.limits.max_frame_bytes} bytes", "frame_size")
        return message

    def _timeout(self) -> float:
        return max(0.0, min(self.limits.idle_timeout_s, self.deadline - time.monotonic()))

    async def run(self) -> None:
        from parakeet_trt.live.dsp import DspStage
        from parakeet_trt.live.engine_lane import EngineLane
        from parakeet_trt.live.sources import AudioBlock

        self.deadline = time.monotonic() + self.limits.max_stream_s
        try:
            first = await self._receive(self._timeout())
            if self.client_gone:
                return
            if first.get("text") is None:
                raise _invalid("the first message must be the JSON start message, got a binary frame")
            options = StartOptions(parse_json(first["text"]))
            streaming = options.streaming
            if self.llm is not None:
                from parakeet_trt.llm.options import with_candidate_lanes

                streaming = with_candidate_lanes(streaming)
            try:
                lane = EngineLane(self.session, streaming=streaming, policy=options.policy, name="ws")
            except (ValueError, RuntimeError) as error:  # option values the core refuses name themselves
                raise _invalid(f"bad stream options: {error}") from None
        except StreamClosed as closed:
            self.metrics.reject(closed.label)
            await close_stream(self.ws, closed)
            return
        dsp = DspStage(self.session.sample_rate_hz, vad=options.vad)
        await self.ws.send_text(json.dumps({"type": "status", "stream": "started", "sample_rate": options.sample_rate,
                                            "model_sample_rate": self.session.sample_rate_hz, **self.about}))
        self.feeder, self.feeding = asyncio.current_task(), True
        if self.llm is not None:
            from parakeet_trt.llm.lane import PolishLane

            self.polish = PolishLane(self.llm, self._send_polish)
        sender = asyncio.create_task(self._send_events(lane))
        outcome: StreamClosed | None = None
        try:
            await self._feed(lane, dsp, options, AudioBlock)
        except StreamClosed as closed:
            outcome = closed
        except asyncio.CancelledError:
            outcome = getattr(self, "engine_failure", None)
            if outcome is None:
                raise
        except Exception as error:  # e.g. the engine failed while being written to
            outcome = StreamClosed(CLOSE_ERROR, f"the stream failed: {error}", "engine")
        finally:
            self.feeding = False
            lane.close()
        try:
            await sender  # the lane flushes what it holds: every committed word reaches the client
            if self.polish is not None:  # bounded: the request deadline
                await self.polish.finish()
                self.metrics.count("polish_events_total", self.polish.counters["polish_events"])
                self.metrics.count("polish_rejected_total", self.polish.counters["rejected"])
        finally:  # cancelled (the replica shutting down): the polish lane's requests and client go too
            if self.polish is not None:
                await self.polish.close()
        outcome = getattr(self, "engine_failure", None) or outcome
        self.metrics.count("steps_total", lane.steps)
        self.metrics.count("audio_seconds_total", self.audio_s)
        if self.client_gone:
            self.metrics.count("stream_closes_total", code="client")
            return
        if outcome is None:
            try:
                await self.ws.send_text(json.dumps({"type": "status", "input": "ended"}))
                await self.ws.close(code=CLOSE_NORMAL)
            except Exception:
                pass
            self.metrics.count("stream_closes_total", code=CLOSE_NORMAL)
            return
        self.metrics.reject(outcome.label)
        self.metrics.count("stream_closes_total", code=outcome.code)
        await close_stream(self.ws, outcome)

    async def _feed(self, lane, dsp, options: StartOptions, AudioBlock) -> None:
        last = None
        try:
            while True:
                message = await self._receive(self._timeout())
                if self.client_gone:
                    return
                if message.get("bytes") is not None:
                    samples = options.samples(message["bytes"])
                    if not len(samples):
                        continue
                    self.samples_in += len(samples)
                    self.audio_s = self.samples_in / options.sample_rate
                    if self.samples_in > self.limits.max_stream_s * options.sample_rate:  # this frame is not heard
                        raise StreamClosed(CLOSE_POLICY, f"stream duration limit of {self.limits.max_stream_s:g} s "
                                                         f"of audio reached", "duration")
                    last = AudioBlock(samples, options.sample_rate, time.monotonic())
                    await lane.write(dsp.process(last))
                    continue
                request = parse_json(message.get("text") or "")
                if request.get("type") == "end":
                    return
                raise StreamClosed(CLOSE_UNSUPPORTED, f"unsupported message type {request.get('type')!r} "
                                                      f"(after start: binary PCM frames, then {{\"type\": \"end\"}})",
                                   "bad_frame")
        finally:  # as the live pipeline: the resampler's tail, so the last samples are heard too
            if last is not None:
                tail = dsp.process(AudioBlock(np.zeros(0, np.float32), options.sample_rate, time.monotonic()),
                                   last=True)
                if len(tail.samples):
                    await lane.write(tail)

    async def _send_polish(self, event: dict) -> None:
        from parakeet_trt.live.protocol import round_floats

        if self.client_gone:
            return
        try:
            await self.ws.send_text(json.dumps(round_floats(event), ensure_ascii=False))
        except Exception:
            self.client_gone = True

    async def _send_events(self, lane) -> None:
        from parakeet_trt.errors import ParakeetError
        from parakeet_trt.live.protocol import round_floats

        try:
            async for event in lane.events():
                self.metrics.latency(max(0.0, event["emit_time_s"] - event["capture_time_s"]))
                if self.polish is not None and event["type"] == "final":
                    self.polish.submit_final(event)
                if self.client_gone:
                    continue  # drain: the lane still finishes
                try:
                    await self.ws.send_text(json.dumps(round_floats(event), ensure_ascii=False))
                except Exception:
                    self.client_gone = True
        except ParakeetError as error:
            self.engine_failure = StreamClosed(CLOSE_ERROR, f"the engine failed: {error}", "engine")
            if self.feeding:  # stop reading the client: the stream is over
                self.feeder.cancel()
