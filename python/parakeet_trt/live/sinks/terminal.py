"""Terminal captions: the open segment on one line, updated in place (committed text plain, the
partial dimmed); each final becomes a permanent line. Without a terminal (a pipe or a file) only the
finals are written, one per line. Render time = when the write has been flushed."""

from __future__ import annotations

import shutil
import sys
import time

from parakeet_trt.live.protocol import Display

DIM, RESET, CLEAR_LINE = "\x1b[2m", "\x1b[0m", "\r\x1b[K"


class TerminalSink:
    name = "terminal"

    def __init__(self, stream=None, *, metrics=None, interactive: bool | None = None):
        self.stream = stream or sys.stdout
        self.metrics = metrics
        self.interactive = self.stream.isatty() if interactive is None else interactive
        self.display = Display()
        self.segment_start = 0  # character offset where the open segment starts

    async def start(self, lane=None) -> None:
        pass

    def _width(self) -> int:
        return max(20, shutil.get_terminal_size((100, 24)).columns - 1)

    def _live_line(self) -> str:
        committed = self.display.text[self.segment_start:self.display.committed_len].lstrip()
        partial = self.display.partial_text if committed else self.display.partial_text.lstrip()
        width = self._width()
        if len(committed) + len(partial) > width:  # keep the newest words visible
            overflow = len(committed) + len(partial) - width
            cut = min(overflow, len(committed))
            committed, partial = "…" + committed[cut + 1:], partial[overflow - cut:] if overflow > cut else partial
        return CLEAR_LINE + committed + DIM + partial + RESET

    async def emit(self, event: dict) -> None:
        self.display.apply(event)
        if event["type"] == "final":
            line = event["text"].strip()
            self.segment_start = self.display.committed_len
            self.stream.write((CLEAR_LINE if self.interactive else "") + line + "\n")
            if self.interactive:
                self.stream.write(self._live_line())
        elif self.interactive and event["type"] in ("patch", "snapshot"):
            self.stream.write(self._live_line())
        else:
            return
        self.stream.flush()
        if self.metrics is not None:
            self.metrics.rendered(self.name, event, time.monotonic())

    async def close(self) -> None:
        if self.interactive:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
