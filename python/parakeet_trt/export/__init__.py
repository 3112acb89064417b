"""Deterministic export of NeMo Parakeet-TDT / RNNT models for parakeet_trt.

``export_model(nemo_path, out_dir, component='all', device='cpu', smoke_test_ort=False,
max_audio_s=None) -> ExportResult`` writes ``encoder.onnx`` (+ ``encoder.onnx.data``
when the graph exceeds the protobuf limit), ``decoder_joint.onnx``,
``decoder_step.bin``, ``vocab.txt`` and ``model_meta.json``.

NeMo and torch are imported lazily (inside functions), so importing this package
is cheap.  Errors are ``ExportError`` subclasses that name the problem.
"""

from __future__ import annotations

from .errors import (
    CorruptNemoFileError,
    ExportError,
    NemoFileNotFoundError,
    OutputDirError,
    UnsupportedModelError,
)

__all__ = [
    "export_model",
    "ExportResult",
    "ExportError",
    "NemoFileNotFoundError",
    "CorruptNemoFileError",
    "UnsupportedModelError",
    "OutputDirError",
    "COMPONENTS",
]

COMPONENTS = ("all", "encoder", "decoder_joint", "encoder_streaming")


def __getattr__(name: str):
    if name in ("export_model", "ExportResult"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
