"""Audio as a stream would deliver it: a file read into 16 kHz mono float32 blocks, for pushing into
a :class:`parakeet_trt.StreamingSession` (the README's Python example) or a ``BackgroundStream``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 16000  # what every Parakeet-TDT model's front end takes


def audio_blocks(path: str | Path, block_ms: int = 100, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Iterator[np.ndarray]:
    """Yields the file's audio (any format libsndfile reads, any rate and channel count), resampled to
    `sample_rate_hz` mono float32, in blocks of `block_ms` (the last one shorter). Errors are those of
    ``Session.transcribe`` for the same file (InvalidAudioError / AudioFileError naming the problem)."""
    from parakeet_trt.audio import prepare_audio

    if not isinstance(block_ms, int) or isinstance(block_ms, bool) or block_ms <= 0:
        raise ValueError(f"block_ms must be a positive integer, got {block_ms!r}")
    samples, _ = prepare_audio(path, None, sample_rate_hz)
    step = max(1, sample_rate_hz * block_ms // 1000)
    for begin in range(0, len(samples), step):
        yield samples[begin:begin + step]
