"""TensorRT, through its Python API, as an external engine of the C++ core: an engine built by
``parakeet-trt build-trt`` (``<engine_dir>/<graph>.engine`` + ``.meta.json``) run by
``parakeet_trt.tensorrt.runner.TrtSession``.

    engine = TensorRtPythonEngine.load(engine_dir, "encoder", contract_path)  # TensorRTUnavailable without it
    engine.run(inputs, outputs)        # the core's call: numpy views of its buffers, written in place

TensorRT is imported only here, on use: without it (or without CUDA or a GPU) ``load`` raises
``TensorRTUnavailable`` (exit code 7 in the CLI) before it looks for the engine file, so the message
is about what to install. The engine's metadata (contract hash, TensorRT version, GPU) is checked
by TrtSession when it loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parakeet_trt.errors import ModelError


class TensorRtPythonEngine:
    """The core's ``run(inputs, outputs)`` over any session with ``run(output_names, feeds) -> arrays``
    (a TrtSession; an ONNX Runtime InferenceSession has the same call, which the tests use)."""

    def __init__(self, session, description: str):
        self._session, self.description = session, description

    @classmethod
    def load(cls, engine_dir, graph: str, contract_path) -> "TensorRtPythonEngine":
        from parakeet_trt.tensorrt.build import import_tensorrt
        from parakeet_trt.tensorrt.runner import TrtSession

        import_tensorrt()  # TensorRTUnavailable first: without TensorRT no engine can be built or run
        engine_path = Path(engine_dir) / f"{graph}.engine"
        if not engine_path.is_file():
            raise ModelError(f"no TensorRT engine at {engine_path}; build one with: parakeet-trt build-trt "
                             f"--meta <model folder>/model_meta.json --outdir {Path(engine_dir)}")
        return cls(TrtSession(engine_path, Path(contract_path)), f"tensorrt {engine_path.name}")

    def run(self, inputs: dict, outputs: dict) -> None:
        results = self._session.run(list(outputs), dict(inputs))
        for (name, buffer), result in zip(outputs.items(), results):
            np.copyto(buffer, np.asarray(result).reshape(buffer.shape).astype(buffer.dtype, copy=False))
