"""A TensorRT engine behind ONNX Runtime's ``run(output_names, feeds)`` call, for the parity tools.

Device buffers are torch CUDA tensors (torch is already a dependency of the parity tools), so no
CUDA Python package is needed. Never run here: see docs/DECISION_LOG.md, "TensorRT (issue 7)".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, List

import numpy as np

from parakeet_trt.tensorrt.build import TensorRTUnavailable, gpu_compute_capability, import_tensorrt
from parakeet_trt.tensorrt.metadata import check_engine_meta, read_engine_meta


class TrtSession:
    def __init__(self, engine_path: Path, contract_path: Path):
        trt = import_tensorrt()
        try:
            import torch
        except ImportError:
            raise TensorRTUnavailable("the TensorRT parity runner needs torch with CUDA") from None
        if not torch.cuda.is_available():
            raise TensorRTUnavailable("no CUDA device visible to torch")
        import hashlib

        meta = read_engine_meta(engine_path)
        check_engine_meta(meta, contract_sha256=hashlib.sha256(Path(contract_path).read_bytes()).hexdigest(),
                          tensorrt_version=trt.__version__, compute_capability=gpu_compute_capability())
        self._torch, self._trt = torch, trt
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(Path(engine_path).read_bytes())
        self._context = self._engine.create_execution_context()
        self._stream = torch.cuda.Stream()
        self._names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self.contract = json.loads(Path(contract_path).read_text())

    def _torch_dtype(self, name: str):
        trt, torch = self._trt, self._torch
        return {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
                trt.int64: torch.int64, trt.bfloat16: torch.bfloat16}[self._engine.get_tensor_dtype(name)]

    def run(self, output_names: List[str], feeds: Dict[str, np.ndarray]) -> List[np.ndarray]:
        torch, trt = self._torch, self._trt
        keep = {}
        for name, value in feeds.items():
            tensor = torch.from_numpy(np.ascontiguousarray(value)).to("cuda", self._torch_dtype(name))
            keep[name] = tensor
            self._context.set_input_shape(name, tuple(value.shape))
            self._context.set_tensor_address(name, tensor.data_ptr())
        outputs = {}
        for name in self._names:
            if self._engine.get_tensor_mode(name) != trt.TensorIOMode.OUTPUT:
                continue
            shape = tuple(self._context.get_tensor_shape(name))
            outputs[name] = torch.empty(shape, dtype=self._torch_dtype(name), device="cuda")
            self._context.set_tensor_address(name, outputs[name].data_ptr())
        if not self._context.execute_async_v3(self._stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        self._stream.synchronize()
        return [outputs[n].float().cpu().numpy() if outputs[n].dtype in (torch.float16, torch.bfloat16)
                else outputs[n].cpu().numpy() for n in output_names]
