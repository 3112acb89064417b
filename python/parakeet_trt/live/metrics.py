"""Latency and stability of live captions, measured on the pipeline clock (time.monotonic()).

* update latency, per sink: capture time of the last audio sample an event reflects to the moment
  the sink rendered it (terminal: written and flushed; browser: reported by the page);
* text latency, per word (identified by its start time): partial = first shown - capture time of
  the word's last sample; final = committed - the same;
* stability: revisions per committed word (text changes of a word before its commit), time from a
  word's first appearance to its commit, partial shrink events (the displayed text got shorter),
  characters rewritten per second of audio.
"""

from __future__ import annotations

import numpy as np

from parakeet_trt.live.protocol import Display


def percentiles_ms(values_s: list[float]) -> dict:
    if not values_s:
        return {"count": 0}
    ms = np.asarray(values_s) * 1000.0
    return {"count": int(len(ms)), "p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "p99": float(np.percentile(ms, 99)), "max": float(ms.max())}


class MetricsRecorder:
    def __init__(self, origin: float, stream_to_capture=None):
        """origin: the pipeline clock's zero (monotonic); stream_to_capture(t_s) -> monotonic capture time."""
        self.origin = origin
        self.stream_to_capture = stream_to_capture
        self.render_latency: dict[str, list[float]] = {}
        self.display = Display()
        self.first_seen: dict[float, float] = {}     # word start_s -> emit time (pipeline clock)
        self.first_end: dict[float, float] = {}      # word start_s -> its end_s when first seen
        self.word_text: dict[float, str] = {}
        self.revisions: dict[float, int] = {}
        self.committed_at: dict[float, float] = {}
        self.committed_end: dict[float, float] = {}
        self.shrinks = 0
        self.rewritten_chars = 0
        self.patches = 0
        self.finals = 0
        self.audio_end_s = 0.0

    # --- inputs ---------------------------------------------------------------------------------

    def event(self, event: dict) -> None:
        """Every event the lane emits, in order (stability and text latency)."""
        kind = event["type"]
        if kind == "final":
            self.finals += 1
        if kind != "patch":
            self.display.apply(event)
            return
        before = len(self.display.text)
        self.display.apply(event)
        self.patches += 1
        self.audio_end_s = max(self.audio_end_s, event.get("audio_end_s", 0.0))
        self.rewritten_chars += max(0, before - event["replace_from"])
        if len(self.display.text) < before:
            self.shrinks += 1
        now = event["emit_time_s"]
        for word in event.get("words", []):
            key = round(word["start_s"], 3)
            if key in self.committed_at:
                continue
            if key not in self.first_seen:
                self.first_seen[key], self.first_end[key], self.revisions[key] = now, word["end_s"], 0
            elif self.word_text.get(key) != word["word"]:
                self.revisions[key] += 1
            self.word_text[key] = word["word"]
            if word["committed"]:
                self.committed_at[key], self.committed_end[key] = now, word["end_s"]

    def rendered(self, sink: str, event: dict, render_monotonic: float) -> None:
        if "capture_time_s" not in event:
            return
        self.render_latency.setdefault(sink, []).append(render_monotonic - self.origin - event["capture_time_s"])

    # --- report ---------------------------------------------------------------------------------

    def _capture_s(self, stream_s: float) -> float | None:
        if self.stream_to_capture is None:
            return None
        return self.stream_to_capture(stream_s) - self.origin

    def summary(self) -> dict:
        partial, final, to_commit = [], [], []
        for key, seen in self.first_seen.items():
            captured = self._capture_s(self.first_end[key])
            if captured is not None:
                partial.append(seen - captured)
            if key in self.committed_at:
                to_commit.append(self.committed_at[key] - seen)
                captured = self._capture_s(self.committed_end[key])
                if captured is not None:
                    final.append(self.committed_at[key] - captured)
        committed = [k for k in self.committed_at]
        return {
            "update_latency_ms": {sink: percentiles_ms(v) for sink, v in sorted(self.render_latency.items())},
            "partial_text_latency_ms": percentiles_ms(partial),
            "final_text_latency_ms": percentiles_ms(final),
            # per word, for pooling several runs (tools/live_report.py --captions)
            "partial_text_latency_samples_ms": [round(1000 * v, 1) for v in partial],
            "final_text_latency_samples_ms": [round(1000 * v, 1) for v in final],
            "first_appearance_to_commit_ms": percentiles_ms(to_commit),
            "revisions_per_committed_word": float(np.mean([self.revisions[k] for k in committed])) if committed else 0.0,
            "committed_words": len(committed),
            "partial_shrink_events": self.shrinks,
            "rewritten_chars_per_s": self.rewritten_chars / self.audio_end_s if self.audio_end_s else 0.0,
            "patches": self.patches,
            "finals": self.finals,
            "audio_s": self.audio_end_s,
        }
