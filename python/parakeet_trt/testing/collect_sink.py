"""A live-pipeline sink that keeps every event, and a file played through the pipeline into it: for
tests and reports that score what `parakeet-trt live` emits (tests/test_captions.py,
tools/polish_report.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path


class CollectSink:
    name = "collect"
    metrics = None

    def __init__(self):
        self.events: list[dict] = []

    async def start(self, lane):
        pass

    async def emit(self, event):
        self.events.append(event)

    async def close(self):
        pass


def play_file(path: Path, streaming, *, session=None, realtime: bool = False, lane_engines=None,
              model: str = "demo") -> tuple[list[dict], dict]:
    """(events, run summary) of ``path`` through the live pipeline with ``streaming`` options (the
    default VAD), played in real time or as fast as it goes."""
    from parakeet_trt.live.pipeline import LiveConfig, run_live
    from parakeet_trt.live.sources import FileSource

    sink = CollectSink()
    summary = asyncio.run(run_live(FileSource(path, realtime=realtime), [sink],
                                   LiveConfig(model=model, streaming=streaming), session=session,
                                   lane_engines=lane_engines))
    return sink.events, summary
