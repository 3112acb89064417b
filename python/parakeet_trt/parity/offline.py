"""Offline parity: C++ features vs NeMo's preprocessor, and our decoded tokens vs NeMo greedy_batch.

Used by the tests (which assert) and by tools/verify_nemo/offline_parity.py (which writes
docs/PARITY_OFFLINE.md), so the report shows exactly what the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class FeatureRow:
    name: str
    duration_s: float
    num_frames: int
    num_valid_frames: int
    max_abs_diff: float          # over every frame, padding included
    max_abs_diff_valid: float    # over the valid frames


@dataclass
class DecodeRow:
    name: str
    duration_s: float
    num_encoder_frames: int
    num_tokens_nemo: int
    num_tokens_ours: int
    identical: bool              # ids, frames, durations and text all equal
    first_difference: str
    durations_seen: tuple
    guard_firings: int


def nemo_features(nemo_model, samples: np.ndarray) -> tuple[np.ndarray, int]:
    """NeMo's preprocessor on one utterance: ([n_mels, T] float32, valid length)."""
    from parakeet_trt.export.reference import nemo_features as batched_nemo_features

    feats, length = batched_nemo_features(nemo_model, samples)
    return np.asarray(feats)[0], int(np.asarray(length)[0])


def compare_features(nemo_model, core_model, signals) -> list[FeatureRow]:
    from parakeet_trt import _core

    extractor = _core.FeatureExtractor(core_model)
    rows = []
    for signal in signals:
        ours, valid = extractor.compute(signal.samples)
        ref, ref_valid = nemo_features(nemo_model, signal.samples)
        if ours.shape != ref.shape or valid != ref_valid:
            raise AssertionError(f"{signal.name}: shape/length {ours.shape}/{valid} vs NeMo {ref.shape}/{ref_valid}")
        diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
        rows.append(FeatureRow(signal.name, signal.duration_s, ours.shape[1], valid, float(diff.max()),
                               float(diff[:, :valid].max()) if valid else 0.0))
    return rows


def guard_firings(frames: list[int], max_symbols: int) -> int:
    """Frames at which max_symbols consecutive tokens were emitted (where NeMo's guard forces +1)."""
    count, run, previous = 0, 0, None
    for frame in frames:
        run = run + 1 if frame == previous else 1
        previous = frame
        if run == max_symbols:
            count += 1
    return count


def _first_difference(ref: dict, ours) -> str:
    pairs = list(zip(ref["token_ids"], ref["token_frames"], ref["token_durations"]))
    mine = list(zip(ours.token_ids, ours.token_frames, ours.token_durations))
    for i, (a, b) in enumerate(zip(pairs, mine)):
        if a != b:
            return f"token {i}: NeMo (id, frame, dur)={a}, ours={b}"
    if len(pairs) != len(mine):
        return f"lengths differ: NeMo {len(pairs)} tokens, ours {len(mine)}"
    if ref["text"] != ours.text:
        return f"text differs: NeMo {ref['text']!r}, ours {ours.text!r}"
    return ""


def compare_decoding(nemo_model, session, signals, max_symbols: int) -> list[DecodeRow]:
    from parakeet_trt.testing.test_models import decode_with_nemo

    rows = []
    for signal in signals:
        ref = decode_with_nemo(nemo_model, signal.samples)
        ours = session.transcribe(signal.samples, 16000)
        diff = _first_difference(ref, ours)
        rows.append(DecodeRow(
            signal.name, signal.duration_s, ref["num_encoder_frames"], len(ref["token_ids"]), len(ours.token_ids),
            diff == "", diff, tuple(sorted(set(ref["token_durations"]))),
            guard_firings(ref["token_frames"], max_symbols)))
    return rows
