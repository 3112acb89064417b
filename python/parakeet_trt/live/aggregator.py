"""Aggregator: where the events of several engine lanes would be merged (e.g. two models, or
per-speaker lanes). With one lane it passes events through unchanged."""

from __future__ import annotations


class PassThroughAggregator:
    def process(self, lane: str, event: dict) -> list[dict]:
        return [event]
