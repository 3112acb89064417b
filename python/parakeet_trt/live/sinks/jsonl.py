"""JSONL event log: one protocol event per line, flushed per event, so that a crash loses no
committed text (docs/PATCH_PROTOCOL.md; read back with protocol.read_events).

The log is the durable record of a run: when it cannot be opened or written (a full disk, a
closed pipe) the sink raises DurableSinkError, which ends the run with an error exit, instead of
being dropped like a display sink."""

from __future__ import annotations

import sys

from parakeet_trt.errors import DurableSinkError
from parakeet_trt.live.protocol import to_json_line


class JsonlSink:
    name = "jsonl"

    def __init__(self, path: str, file=None):
        """file: an open text file to write instead of opening path (tests, or a caller's stream)."""
        self.path = path
        self._file = file
        self._owned = False
        self._failed = False

    def _fail(self, doing: str, error: OSError) -> DurableSinkError:
        self._failed = True
        reason = error.strerror or str(error)
        return DurableSinkError(f"cannot {doing} the event log {self.path}: {reason}; the log is the run's durable "
                                "record, so the run stops")

    async def start(self, lane=None) -> None:
        if self._file is not None:
            return
        try:
            self._file = sys.stdout if self.path == "-" else open(self.path, "w", encoding="utf-8")
        except OSError as error:
            raise self._fail("open", error) from None
        self._owned = self._file is not sys.stdout

    async def emit(self, event: dict) -> None:
        try:
            self._file.write(to_json_line(event))
            self._file.flush()
        except OSError as error:
            raise self._fail("write", error) from None

    async def close(self) -> None:
        if self._file is None:
            return
        try:
            if self._owned:
                self._file.close()
            else:
                self._file.flush()
        except OSError as error:
            if not self._failed:  # a failure already reported is not reported twice
                raise self._fail("close", error) from None
