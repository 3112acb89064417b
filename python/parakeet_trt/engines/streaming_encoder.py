"""The cache-aware streaming encoder of an export (``--component encoder_streaming``), run by the
C++ ``StreamingEncoderRunner`` (session-owned caches, contract asserted at every call) on an ONNX
Runtime engine.

    enc = StreamingEncoder(model_dir)
    for window, length in enc.windows(features, num_valid):   # [n_mels, window_frames] per call
        out = enc.run(window, length)      # {"outputs": [d_model, frames], "encoded_length", "cache_len"}
    enc.reset()                            # next stream

A ``ContractViolation`` (wrong window, wrong encoded length or cache length, a graph of another
profile) stops the stream: further calls raise until ``reset()``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np

from parakeet_trt import _core
from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine
from parakeet_trt.errors import ModelError


class StreamingEncoder:
    def __init__(self, model_dir, providers: list[str] | None = None, verify_hashes: bool = True,
                 intra_op_threads: int = 0, engine=None):
        """engine: any object with ``run(inputs, outputs)`` instead of ONNX Runtime (tests)."""
        self.model_dir = Path(model_dir)
        self.model = _core.Model.load(str(self.model_dir), verify_hashes)
        self.meta = json.loads((self.model_dir / "model_meta.json").read_text())
        self.contract = json.loads((self.model_dir / self.meta["contract"]["file"]).read_text())
        if "encoder_streaming" not in self.contract["engines"]:
            raise ModelError(f"{self.model_dir} has no streaming encoder (export with --component encoder_streaming)")
        spec = self.contract["engines"]["encoder_streaming"]
        if engine is None:
            engine = OnnxRuntimeEngine(self.model_dir / spec["file"], spec["sha256"] if verify_hashes else None,
                                       spec, providers=providers, intra_op_threads=intra_op_threads)
        self.engine = engine
        self.runner = _core.StreamingEncoderRunner(self.model, engine)
        self.streaming = self.contract["streaming"]

    @property
    def profile(self) -> str:
        return self.runner.profile

    def windows(self, features: np.ndarray, num_valid: int | None = None) -> Iterator[Tuple[np.ndarray, int]]:
        from parakeet_trt.export.streaming import StreamingProfile, chunk_windows

        fields = StreamingProfile.__dataclass_fields__
        prof = StreamingProfile.from_dict({k: v for k, v in self.streaming.items() if k in fields})
        return chunk_windows(np.asarray(features, np.float32), prof, num_valid)

    def run(self, window: np.ndarray, length: int) -> dict:
        return self.runner.run(window, int(length))

    def reset(self) -> None:
        self.runner.reset()
