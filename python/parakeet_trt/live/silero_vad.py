"""Silero VAD through ONNX Runtime, with the ONNX model the ``silero-vad`` PyPI package ships.

The package's own wrapper needs torch; this runs its ``silero_vad.onnx`` directly, as the
package's OnnxWrapper does (16 kHz: 512-sample windows, each preceded by the previous window's
last 64 samples; a (2, 1, 128) recurrent state). Install the package with ``pip install
--no-deps silero-vad`` (scripts/setup.sh does): its metadata requires torch, which this does not use.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from parakeet_trt.live.sources import AudioSourceError

WINDOW = 512   # samples at 16 kHz (32 ms), the model's fixed window
CONTEXT = 64   # samples of the previous window prepended to each window


def silero_model_path():
    # Found without importing the package: its __init__ imports torch, which a runtime setup lacks.
    spec = importlib.util.find_spec("silero_vad")
    if spec is None or not spec.submodule_search_locations:
        raise AudioSourceError("--vad silero needs the silero-vad package's ONNX model: "
                               "pip install --no-deps silero-vad (or use --vad energy)")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "silero_vad.onnx"


class SileroVad:
    def __init__(self, sample_rate_hz: int = 16000, *, threshold: float = 0.5, negative_threshold: float | None = None):
        import onnxruntime

        if sample_rate_hz != 16000:
            raise ValueError(f"SileroVad runs at 16000 Hz, got {sample_rate_hz}")
        path = silero_model_path()
        if not path.is_file():
            raise AudioSourceError(f"the silero-vad package has no {path}; reinstall it (pip install --no-deps silero-vad)")
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self.threshold = threshold
        self.negative_threshold = threshold - 0.15 if negative_threshold is None else negative_threshold
        self._state = np.zeros((2, 1, 128), np.float32)
        self._context = np.zeros(CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self._sr = np.array(16000, dtype=np.int64)
        self.speech = False
        self.last_probability = 0.0
        self.trailing_silence_ms = 0.0

    def probability(self, window: np.ndarray) -> float:
        x = np.concatenate([self._context, window])[None, :].astype(np.float32)
        out, self._state = self._session.run(None, {"input": x, "state": self._state, "sr": self._sr})
        self._context = window[-CONTEXT:].copy()
        return float(out.reshape(-1)[0])

    def process(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        usable = len(data) - len(data) % WINDOW
        for begin in range(0, usable, WINDOW):
            p = self.last_probability = self.probability(np.asarray(data[begin:begin + WINDOW], np.float32))
            # Hysteresis as Silero's VADIterator: speech starts above threshold, ends below negative_threshold.
            if p >= self.threshold:
                self.speech = True
            elif p < self.negative_threshold:
                self.speech = False
            self.trailing_silence_ms = 0.0 if self.speech else self.trailing_silence_ms + WINDOW / 16.0
        self._pending = np.array(data[usable:], dtype=np.float32)
