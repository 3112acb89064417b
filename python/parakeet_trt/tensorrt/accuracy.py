"""Accuracy metrics of reduced-precision engines (tools/validation_report_trt.py): pure numpy.

``error_stats``: element-wise absolute error of a result against a reference (max abs, max rel to the
reference's largest magnitude, P95/P99 of the absolute error). ``argmax_stability``: the share of
positions (frames, decoder steps) whose argmax over the last axis equals the reference's.
``sequence_identity``: the share of token sequences identical to the reference's.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np


def error_stats(got: np.ndarray, ref: np.ndarray) -> Dict[str, float]:
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        raise ValueError(f"shapes differ: {got.shape} vs {ref.shape}")
    if ref.size == 0:
        return {"max_abs": 0.0, "max_rel": 0.0, "p95_abs": 0.0, "p99_abs": 0.0, "max_abs_reference": 0.0}
    err = np.abs(got - ref).ravel()
    scale = float(np.abs(ref).max())
    return {"max_abs": float(err.max()), "max_rel": float(err.max()) / max(scale, 1e-12),
            "p95_abs": float(np.percentile(err, 95)), "p99_abs": float(np.percentile(err, 99)),
            "max_abs_reference": scale}


def merge_error_stats(parts: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Several arrays' stats in one row: maxima of max/rel, maxima of the percentiles (conservative)."""
    if not parts:
        return error_stats(np.zeros(0), np.zeros(0))
    return {k: max(p[k] for p in parts) for k in parts[0]}


def argmax_stability(got: np.ndarray, ref: np.ndarray, num_classes: Optional[int] = None) -> Dict[str, Any]:
    """Share of positions whose argmax over the last axis (its first ``num_classes`` entries) is the reference's."""
    got, ref = np.asarray(got), np.asarray(ref)
    if got.shape != ref.shape:
        raise ValueError(f"shapes differ: {got.shape} vs {ref.shape}")
    if num_classes is not None:
        got, ref = got[..., :num_classes], ref[..., :num_classes]
    equal = got.argmax(-1) == ref.argmax(-1)
    return {"positions": int(equal.size), "equal": int(equal.sum()),
            "share": float(equal.mean()) if equal.size else 1.0}


def sequence_identity(got: Sequence[Sequence[int]], ref: Sequence[Sequence[int]]) -> Dict[str, Any]:
    if len(got) != len(ref):
        raise ValueError(f"{len(got)} sequences vs {len(ref)} reference sequences")
    identical = sum(list(a) == list(b) for a, b in zip(got, ref))
    return {"sequences": len(ref), "identical": identical, "rate": identical / len(ref) if ref else 1.0}
