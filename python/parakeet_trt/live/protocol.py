"""The patch protocol (docs/PATCH_PROTOCOL.md): event validation, replay, JSON lines.

Events are the dicts the C++ transcript state produces (``parakeet_trt._core.TranscriptState``),
plus what the pipeline adds (``capture_time``, ``emit_time``). A :class:`Display` is a client: it
applies events in order, checks every protocol rule and holds the text a reader sees.
"""

from __future__ import annotations

import json

EVENT_TYPES = ("patch", "final", "snapshot", "status", "polish")


class ProtocolError(ValueError):
    """An event breaks a protocol rule (named in the message)."""


class Display:
    """The displayed text rebuilt from events: ``text[:committed_len]`` is committed and never changes."""

    def __init__(self):
        self.text = ""
        self.committed_len = 0
        self.last_seq = 0
        self.finals: list[dict] = []
        self.polished: dict[int, dict] = {}  # segment -> its latest polish event (a layer over the finals)
        self.last_polish_seq = 0

    @property
    def committed_text(self) -> str:
        return self.text[: self.committed_len]

    @property
    def partial_text(self) -> str:
        return self.text[self.committed_len:]

    def apply(self, event: dict) -> None:
        kind = event.get("type")
        if kind not in EVENT_TYPES:
            raise ProtocolError(f"unknown event type {kind!r}")
        if kind == "status":
            return
        seq = event.get("seq")
        if not isinstance(seq, int):
            raise ProtocolError(f"{kind} event without an integer seq: {event!r}")
        if kind == "polish":
            self._apply_polish(event, seq)
            return
        if kind == "snapshot":
            if seq < self.last_seq:
                raise ProtocolError(f"snapshot seq {seq} is older than the last applied seq {self.last_seq}")
            self.text, self.committed_len, self.last_seq = event["text"], int(event["committed_len"]), seq
            if "finals" in event:  # the browser sink's snapshot carries the segments so far
                self.finals = list(event["finals"])
            for polish in event.get("polished", ()):  # and the polished segments
                self.polished[polish["segment"]] = polish
                self.last_polish_seq = max(self.last_polish_seq, polish["seq"])
            return
        if seq <= self.last_seq:
            raise ProtocolError(f"seq {seq} does not increase (last {self.last_seq})")
        self.last_seq = seq
        if kind == "final":
            self.finals.append(event)
            return
        committed_len, replace_from, text = int(event["committed_len"]), int(event["replace_from"]), event["text"]
        if committed_len < self.committed_len:
            raise ProtocolError(f"committed_len decreased from {self.committed_len} to {committed_len} (seq {seq})")
        if replace_from < self.committed_len:
            raise ProtocolError(f"replace_from {replace_from} is below the committed length {self.committed_len} (seq {seq})")
        if replace_from > len(self.text):
            raise ProtocolError(f"replace_from {replace_from} is past the displayed text ({len(self.text)}) (seq {seq})")
        self.text = self.text[:replace_from] + text
        if committed_len > len(self.text):
            raise ProtocolError(f"committed_len {committed_len} is past the displayed text ({len(self.text)}) (seq {seq})")
        self.committed_len = committed_len

    def _apply_polish(self, event: dict, seq: int) -> None:
        """A polish event has its own seq (the LLM lane's, strictly increasing) and names a final segment
        already shown; it changes nothing of the display, only the polished layer."""
        if seq <= self.last_polish_seq:
            raise ProtocolError(f"polish seq {seq} does not increase (last {self.last_polish_seq})")
        segments = {f.get("segment") for f in self.finals}
        if event.get("segment") not in segments:
            raise ProtocolError(f"polish event for segment {event.get('segment')!r}, which has no final (seq {seq})")
        self.last_polish_seq = seq
        self.polished[event["segment"]] = event

    @property
    def polished_text(self) -> str:
        """The finals' text with each polished segment's text instead of its raw text (single spaces)."""
        parts = [self.polished[f["segment"]]["text"] if f.get("segment") in self.polished else f["text"].strip()
                 for f in self.finals]
        return " ".join(p for p in parts if p)


# Times are written to the microsecond: 3.28, not 3.2800000000000002 (binary float noise).
JSON_DECIMALS = 6


def round_floats(value, decimals: int = JSON_DECIMALS):
    """`value` with every float rounded to `decimals` places (dicts, lists and tuples walked): applied
    where JSON is written, so the numbers read as they were meant."""
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, dict):
        return {k: round_floats(v, decimals) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [round_floats(v, decimals) for v in value]
    return value


def to_json_line(event: dict) -> str:
    """One event as one line of JSON (UTF-8, no ASCII escaping, no spaces, floats to the microsecond)."""
    return json.dumps(round_floats(event), ensure_ascii=False, separators=(",", ":")) + "\n"


def read_events(path) -> list[dict]:
    """Events of a JSONL log; a torn last line (a crash mid-write) is ignored, any other bad line raises."""
    events = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError as error:
            if number == len(lines):
                break
            raise ProtocolError(f"{path}:{number}: not JSON ({error})") from None
    return events
