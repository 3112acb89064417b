"""JSONL event log: one protocol event per line, flushed per event, so that a crash loses no
committed text (docs/PATCH_PROTOCOL.md; read back with protocol.read_events)."""

from __future__ import annotations

import sys

from parakeet_trt.live.protocol import to_json_line


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: str):
        self.path = path
        self._file = None

    async def start(self, lane=None) -> None:
        try:
            self._file = sys.stdout if self.path == "-" else open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise OSError(f"cannot write the event log {self.path}: {error.strerror}") from None

    async def emit(self, event: dict) -> None:
        self._file.write(to_json_line(event))
        self._file.flush()

    async def close(self) -> None:
        if self._file is not None and self._file is not sys.stdout:
            self._file.close()
