"""Held-out utterances joined into live-like streams (issue 14's evaluation set): utterances of the
demo corpus's eval split, each with the corpus's own drawn pause edges (noise before and after the
speech), concatenated `per_stream` at a time. Used by tests/test_captions.py and tools/live_report.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class JoinedStream:
    audio: np.ndarray          # float32, 16 kHz
    references: list[str]      # the utterances' texts, in order
    offsets_s: list[float]     # where each utterance starts in the stream

    @property
    def reference(self) -> str:
        return " ".join(self.references)

    @property
    def duration_s(self) -> float:
        return len(self.audio) / 16000


def joined_streams(utterances: int = 60, per_stream: int = 5, first: int = 0) -> list[JoinedStream]:
    """`utterances` held-out utterances from index `first`, joined `per_stream` at a time."""
    from parakeet_trt.testing.held_out import held_out_speech

    streams = []
    for start in range(first, first + utterances, per_stream):
        parts, texts, offsets, at = [], [], [], 0
        for index in range(start, min(start + per_stream, first + utterances)):
            audio, text = held_out_speech(index, edge_silence_s=None)
            offsets.append(at / 16000)
            parts.append(audio)
            texts.append(text)
            at += len(audio)
        streams.append(JoinedStream(np.concatenate(parts).astype(np.float32), texts, offsets))
    return streams
