"""Held-out speech of the demo corpus: sentences the demo model understands but never trained on.

    audio, text = held_out_speech(0)          # eval-split utterance 0 of corpus seed 0

The end-to-end and live tests speak these rather than open English (``testing.signals.SENTENCES``):
the demo model knows the corpus's vocabulary and templates, so what it writes can be checked
against the text. The eval split is disjoint from training by construction
(``training.corpus.utterance_seed`` and ``text_split``).
"""

from __future__ import annotations

import numpy as np


def held_out_speech(index: int, seed: int = 0, edge_silence_s: float | None = 0.1) -> tuple[np.ndarray, str]:
    """(float32 16 kHz audio, normalized text) of held-out utterance ``index``, with ``edge_silence_s``
    of silence (and noise) before and after the speech, or the corpus's own drawn edges with None."""
    from parakeet_trt.training.corpus import make_utterance, utterance_seed

    edges = {} if edge_silence_s is None else {"lead_silence_s": edge_silence_s, "trail_silence_s": edge_silence_s}
    audio, text, _ = make_utterance(utterance_seed("eval", seed, index), **edges)
    return audio.astype(np.float32), text


def word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """Word edit distance summed over utterances over the reference word count."""
    from parakeet_trt.parity.ladder import word_errors

    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    counts = [word_errors(r, h) for r, h in zip(references, hypotheses)]
    return sum(e for e, _ in counts) / max(1, sum(n for _, n in counts))
