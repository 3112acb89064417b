"""The LLM lane: finals (and the candidate windows of the revision window) go in without waiting;
``polish`` events come out when the LLM has answered and the C++ guard has accepted the answer.

It never sits on the caption path: submit_final() and offer_candidates() only append to a bounded
queue. Workers (as many as --llm-concurrency) take every waiting final up to merge_max_words words as
one request (merged, counted), so a slow LLM polishes bigger batches instead of falling further
behind; beyond queue_segments waiting finals the oldest are skipped (counted). A request past its
deadline, a failed request and a rejected answer leave the raw text standing (counted)."""

from __future__ import annotations

import asyncio
import collections
import time

from parakeet_trt import _core
from parakeet_trt.llm.client import ChatClient, LlmError
from parakeet_trt.llm.options import LlmOptions
from parakeet_trt.llm.prompt import grammar_for, max_tokens_for, messages_for

WINDOW_TOLERANCE_S = 0.02
KEPT_WINDOWS = 256


def validate_windows(windows: list[dict]) -> None:
    """Raises ValueError naming the problem when candidate windows break the format (docs/PATCH_PROTOCOL.md)."""
    _core.check_polish([], windows, 0.0, 0.0, "")


class PolishLane:
    def __init__(self, options: LlmOptions, emit, *, client=None, log=None, clock_origin: float | None = None):
        """emit: async callable taking each polish event; log: callable taking a line (optional)."""
        self.options = options
        self.client = client or ChatClient(options)
        self.emit = emit
        self.log = log or (lambda line: None)
        self.origin = time.monotonic() if clock_origin is None else clock_origin
        self.pending: collections.deque = collections.deque()
        self.windows: list[dict] = []
        self.seq = 0
        self.in_flight = 0
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._finished = False
        self._closed = False
        self.round_trips_s: list[float] = []
        self.counters = {"finals": 0, "requests": 0, "merged": 0, "skipped": 0, "accepted": 0, "rejected": 0,
                         "failed": 0, "timed_out": 0, "polish_events": 0, "candidate_windows": 0,
                         "rejections": collections.Counter(), "edits": collections.Counter()}
        self._workers = [asyncio.create_task(self._worker()) for _ in range(options.concurrency)]

    # --- in (never waits) -------------------------------------------------------------------------

    def offer_candidates(self, windows: list[dict]) -> None:
        """Time-aligned candidates of the current revision window; a later offer replaces the windows it overlaps."""
        validate_windows(windows)
        if not windows:
            return
        start, end = windows[0]["start_s"], windows[-1]["end_s"]
        self.windows = [w for w in self.windows if w["end_s"] <= start or w["start_s"] >= end] + list(windows)
        self.windows.sort(key=lambda w: w["start_s"])
        del self.windows[:-KEPT_WINDOWS]
        self.counters["candidate_windows"] += len(windows)

    def submit_final(self, final: dict, candidates: list[dict] | None = None) -> None:
        """A final event (docs/PATCH_PROTOCOL.md) to polish, with candidate windows of its span (optional;
        by default the final's own "candidates" field, where the aggregator put them)."""
        if final.get("type") != "final" or not final.get("words"):
            return
        if candidates is None:
            candidates = final.get("candidates")
        if candidates:
            validate_windows(candidates)
        self.counters["finals"] += 1
        self.pending.append({"final": final, "windows": list(candidates or [])})
        while len(self.pending) > self.options.queue_segments:
            self.pending.popleft()
            self.counters["skipped"] += 1
        self._idle.clear()
        self._wakeup.set()

    # --- the workers ------------------------------------------------------------------------------

    def _take_batch(self) -> list[dict]:
        batch = [self.pending.popleft()]
        words = len(batch[0]["final"]["words"])
        while self.pending and words + len(self.pending[0]["final"]["words"]) <= self.options.merge_max_words:
            item = self.pending.popleft()
            words += len(item["final"]["words"])
            batch.append(item)
        if len(batch) > 1:
            self.counters["merged"] += len(batch)
        return batch

    async def _worker(self) -> None:
        while True:
            while not self.pending:
                if self.in_flight == 0:
                    self._idle.set()
                self._wakeup.clear()
                await self._wakeup.wait()
            batch = self._take_batch()
            self.in_flight += 1
            try:
                await self._polish(batch)
            except Exception as error:  # a bug or a sink failure must not stop the lane
                self.counters["failed"] += len(batch)
                self.log(f"polish failed: {error}")
            finally:
                self.in_flight -= 1

    def _windows_for(self, batch: list[dict], start: float, end: float) -> list[dict]:
        chosen: list[dict] = []
        candidates = [w for item in batch for w in item["windows"]] + self.windows
        for w in sorted(candidates, key=lambda w: w["start_s"]):
            inside = w["start_s"] >= start - WINDOW_TOLERANCE_S and w["end_s"] <= end + WINDOW_TOLERANCE_S
            if inside and (not chosen or w["start_s"] >= chosen[-1]["end_s"]):
                chosen.append(w)
        return chosen

    async def _polish(self, batch: list[dict]) -> None:
        finals = [item["final"] for item in batch]
        heard = [{"word": w["word"], "start_s": w["start_s"], "end_s": w["end_s"]} for f in finals for w in f["words"]]
        # The editable span: the heard words, widened by the finals' own windows (a decode may hear a
        # word in the pause after the last heard one); offered windows must lie inside it.
        own = [w for item in batch for w in item["windows"]]
        start = min([heard[0]["start_s"]] + [w["start_s"] for w in own])
        end = max([w["end_s"] for w in heard] + [w["end_s"] for w in own])
        windows = self._windows_for(batch, start, end)
        self.counters["requests"] += 1
        sent = time.monotonic()
        try:
            answer = await self.client.complete(
                messages_for(heard, windows, start, end), max_tokens=max_tokens_for(heard, windows),
                grammar=grammar_for(heard, windows, start, end) if self.options.grammar else None)
        except asyncio.TimeoutError:
            self.counters["timed_out"] += len(finals)
            return
        except LlmError as error:
            self.counters["failed"] += len(finals)
            self.log(f"LLM request failed: {error}")
            return
        self.round_trips_s.append(time.monotonic() - sent)
        verdict = _core.check_polish(heard, windows, start, end, answer)
        if not verdict["accepted"]:
            self.counters["rejected"] += len(finals)
            self.counters["rejections"][verdict["rejection"]] += 1
            self.log(f"polish rejected (segments {[f['segment'] for f in finals]}): {verdict['reason']}")
            return
        for final, words, edits in _split_by_segment(finals, verdict, windows):
            self.seq += 1
            for e in edits:
                self.counters["edits"][e["kind"]] += 1
            event = {"type": "polish", "seq": self.seq, "segment": final["segment"], "final_seq": final["seq"],
                     "text": " ".join(w["word"] for w in words), "edits": edits, "words": words,
                     "emit_time_s": time.monotonic() - self.origin}
            self.counters["polish_events"] += 1
            await self.emit(event)
        # Counted once every event is out: a sink that fails counts the finals as failed (the worker), not both.
        self.counters["accepted"] += len(finals)

    # --- out --------------------------------------------------------------------------------------

    async def finish(self, timeout_s: float | None = None) -> None:
        """Waits (bounded: the request deadline plus a second by default) for the waiting finals, then stops."""
        if self._finished:
            return
        self._finished = True
        timeout_s = self.options.timeout_s + 1.0 if timeout_s is None else timeout_s
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except asyncio.TimeoutError:
            self.counters["skipped"] += len(self.pending)
            self.pending.clear()
        await self.close()

    async def close(self) -> None:
        """Stops at once (what waits is dropped, requests in flight are cancelled); safe to call again, and
        the way out when the stream itself is cancelled mid-finish."""
        self._finished = True
        if self._closed:
            return
        self._closed = True
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        await self.client.close()

    def summary(self) -> dict:
        out = {k: (dict(v) if isinstance(v, collections.Counter) else v) for k, v in self.counters.items()}
        out["client"] = dict(self.client.counters)
        trips = sorted(self.round_trips_s)
        if trips:
            out["round_trip_ms"] = {"count": len(trips), "p50": 1000 * trips[len(trips) // 2],
                                    "max": 1000 * trips[-1]}
        return out


def _split_by_segment(finals: list[dict], verdict: dict, windows: list[dict]):
    """The accepted words and edits of a merged request, per final: a word belongs to the final whose
    span holds its midpoint (the next final's start is the boundary), a choice to the final holding its
    window's midpoint (a choice that drops words may have no word of its own)."""
    bounds = [f["words"][0]["start_s"] for f in finals[1:]] + [float("inf")]

    def owner_at(t: float) -> int:
        k = 0
        while t >= bounds[k]:
            k += 1
        return k

    owner = [owner_at((w["start_s"] + w["end_s"]) / 2) for w in verdict["words"]]  # non-decreasing
    starts = [sum(1 for o in owner if o < k) for k in range(len(finals))]
    edits_of = [[] for _ in finals]
    for e in verdict["edits"]:
        if e["kind"] == "choice":
            window = windows[e["window"]]
            k = owner_at((window["start_s"] + window["end_s"]) / 2)
        else:
            k = owner[e["word"]]
        edits_of[k].append(dict(e, word=e["word"] - starts[k]))
    for k, final in enumerate(finals):
        words = [w for w, o in zip(verdict["words"], owner) if o == k]
        yield final, words, edits_of[k]
