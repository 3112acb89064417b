"""A websocket client of ``GET /v1/stream`` (tests, benchmarks, examples): send audio, collect the events.

    result = asyncio.run(stream_audio("ws://127.0.0.1:8000/v1/stream", samples))
    result.committed_text   # the finals' texts, concatenated
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class StreamResult:
    events: list[dict] = field(default_factory=list)       # patch / final events, as received
    statuses: list[dict] = field(default_factory=list)     # the server's status messages
    receive_times: list[float] = field(default_factory=list)  # time.monotonic() of each event
    close_code: int | None = None
    close_reason: str = ""
    started: dict = field(default_factory=dict)             # the 'started' status: replica, node_id, ...
    began: float = 0.0  # time.monotonic() when the audio's first sample was "captured" (real time: stream time 0)

    @property
    def finals(self) -> list[dict]:
        return [e for e in self.events if e.get("type") == "final"]

    @property
    def committed_text(self) -> str:
        return "".join(f["text"] for f in self.finals)


def pcm_bytes(samples: np.ndarray, fmt: str) -> bytes:
    if fmt == "s16le":
        return (np.clip(samples, -1.0, 32767 / 32768) * 32768.0).round().astype("<i2").tobytes()
    return samples.astype("<f4").tobytes()


async def stream_audio(url: str, samples: np.ndarray | None, *, sample_rate: int = 16000, fmt: str = "s16le",
                       frame_ms: int = 20, realtime: bool = False, start: dict | None = None,
                       frames: list | None = None, end: bool = True, headers: dict | None = None,
                       origin: str | None = None, on_event=None, timeout_s: float = 60.0) -> StreamResult:
    """Streams ``samples`` (float32 mono at ``sample_rate``) in ``frame_ms`` frames (or the given raw
    ``frames``: bytes or str), then ``{"type": "end"}``; returns what came back until the server closed."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    result = StreamResult()
    if frames is None:
        step = max(1, sample_rate * frame_ms // 1000)
        frames = [pcm_bytes(samples[i:i + step], fmt) for i in range(0, len(samples), step)]
    message = {"type": "start", "sample_rate": sample_rate, "format": fmt, **(start or {})}

    async def send(ws):
        await ws.send(json.dumps(message))
        result.began = began = time.monotonic()
        for i, frame in enumerate(frames):
            if realtime:  # a frame leaves once its last sample has been captured, as from a microphone
                delay = began + (i + 1) * frame_ms / 1000 - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await ws.send(frame)
        if end:
            await ws.send(json.dumps({"type": "end"}))

    async def run():
        async with connect(url, additional_headers=headers, origin=origin, max_size=None, open_timeout=30) as ws:
            sender = asyncio.create_task(send(ws))
            try:
                async for raw in ws:
                    data = json.loads(raw)
                    if data.get("type") == "status":
                        result.statuses.append(data)
                        if data.get("stream") == "started":
                            result.started = data
                        continue
                    result.events.append(data)
                    result.receive_times.append(time.monotonic())
                    if on_event is not None:
                        on_event(data, result)
            except ConnectionClosed:
                pass
            finally:
                sender.cancel()
                await asyncio.gather(sender, return_exceptions=True)
            result.close_code = ws.close_code  # 1006: the connection was lost without a close frame
            result.close_reason = ws.close_reason or ""

    await asyncio.wait_for(run(), timeout_s)
    return result
