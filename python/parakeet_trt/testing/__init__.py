"""Deterministic, randomly initialised NeMo TDT models for tests and parity checks.

Everything here needs NeMo and torch; they are imported lazily, on first use of
an attribute, so ``import parakeet_trt.testing`` itself stays cheap.

Public API (see :mod:`parakeet_trt.testing.test_models`):

- ``ARCHS``: the architecture names (``"tiny"``, ``"parakeet-tdt-0.6b-v3"``).
- ``build_test_model(arch, seed, *, verbose=False) -> EncDecRNNTBPEModel``
- ``save_test_model(arch, seed, path, *, verbose=False) -> dict`` (the stats)
- ``cached_test_model_path(arch, seed, cache_dir=None) -> pathlib.Path``
- ``load_test_model(path) -> EncDecRNNTBPEModel``
- ``decode_with_nemo(model, audio_float32_16k) -> dict``
- ``make_test_signals(seed=0, duration_s=4.0) -> dict[str, np.ndarray]``
- ``espeak_speech(text, ...) -> np.ndarray | None``
- ``decoding_stats(model, signals) -> dict``
"""

from __future__ import annotations

_EXPORTS = (
    "ARCHS",
    "build_test_model",
    "save_test_model",
    "cached_test_model_path",
    "load_test_model",
    "decode_with_nemo",
    "decode_encoded_with_nemo",
    "load_nemo_model",
    "make_test_signals",
    "calibration_signals",
    "espeak_speech",
    "decoding_stats",
    "default_cache_dir",
)

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        from . import test_models

        return getattr(test_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
