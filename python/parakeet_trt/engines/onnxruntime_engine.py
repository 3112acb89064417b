"""ONNX Runtime as an external engine of the C++ core.

ONNX Runtime's PyPI wheel ships no C/C++ headers, so the core reaches it through this object: the
core calls ``run(inputs, outputs)`` with numpy views of its own buffers and ONNX Runtime writes
the results straight into them through IOBinding (no copy on the way out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parakeet_trt.errors import ContractViolation, ModelError
from parakeet_trt.hashing import sha256_file

_ORT_TYPES = {"tensor(float)": np.float32, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def default_providers() -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


class OnnxRuntimeEngine:
    """Runs one exported graph. Checks the graph's hash and I/O names against the model's metadata."""

    def __init__(self, graph_path: Path, expected_sha256: dict[str, str] | None, expected_io: dict | None = None,
                 providers: list[str] | None = None, intra_op_threads: int = 0):
        """expected_sha256: file name → sha256 for the graph and its external-data files (None skips)."""
        import onnxruntime as ort

        graph_path = Path(graph_path)
        if not graph_path.is_file():
            raise ModelError(f"graph file not found: {graph_path}")
        for name, expected in (expected_sha256 or {}).items():
            path = graph_path.parent / name
            if not path.is_file():
                raise ModelError(f"graph file not found: {path}")
            actual = sha256_file(path)
            if actual != expected:
                raise ContractViolation(f"contract violation: artifacts.{name} sha256: expected {expected}, got {actual}")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        if intra_op_threads:
            options.intra_op_num_threads = intra_op_threads
        try:
            self.session = ort.InferenceSession(str(graph_path), sess_options=options,
                                                providers=providers or default_providers())
        except Exception as exc:
            raise ModelError(f"ONNX Runtime cannot load {graph_path}: {exc}") from exc
        self.description = f"onnxruntime {ort.__version__} {graph_path.name} {self.session.get_providers()[0]}"
        self.input_types = {i.name: i.type for i in self.session.get_inputs()}
        self.output_types = {o.name: o.type for o in self.session.get_outputs()}
        self.shapes = {t.name: list(t.shape) for t in [*self.session.get_inputs(), *self.session.get_outputs()]}
        if expected_io:
            self._check_io(expected_io)
        self._binding = self.session.io_binding()

    def _check_io(self, expected_io: dict) -> None:
        for kind, actual in (("inputs", self.input_types), ("outputs", self.output_types)):
            for spec in expected_io.get(kind, []):
                name = spec["name"]
                if name not in actual:
                    raise ContractViolation(
                        f"contract violation: {self.description} {kind[:-1]} '{name}': expected present, "
                        f"got absent (graph has {sorted(actual)})")
                want = "tensor(float)" if spec["dtype"] == "float32" else f"tensor({spec['dtype']})"
                if actual[name] != want:
                    raise ContractViolation(
                        f"contract violation: {kind[:-1]} '{name}' dtype: expected {want}, got {actual[name]}")
                got_shape = self.shapes[name]
                want_shape = spec.get("shape")
                if want_shape is not None and (len(got_shape) != len(want_shape) or any(
                        isinstance(w, int) and g != w for w, g in zip(want_shape, got_shape))):
                    raise ContractViolation(
                        f"contract violation: {kind[:-1]} '{name}' shape: expected {want_shape}, got {got_shape}")

    def run(self, inputs: dict, outputs: dict) -> None:
        binding = self._binding
        try:
            for name, array in inputs.items():
                if name in self.input_types:
                    binding.bind_cpu_input(name, array)
            for name, array in outputs.items():
                binding.bind_output(name, "cpu", 0, array.dtype, list(array.shape), array.ctypes.data)
            try:
                self.session.run_with_iobinding(binding)
            except Exception as exc:
                self._raise_if_shape_mismatch(exc, inputs, outputs)
                raise
        finally:
            # The views point into the session's buffers; never keep them past the call.
            binding.clear_binding_inputs()
            binding.clear_binding_outputs()

    def _raise_if_shape_mismatch(self, exc: Exception, inputs: dict, outputs: dict) -> None:
        """ONNX Runtime refuses a bound output whose shape differs from what the graph computes: that
        is a contract violation (the graph is not the one the contract sizes buffers for). Re-run
        unbound, on the failure path only, to name the output and both shapes."""
        if "shape" not in str(exc).lower():
            return
        feeds = {k: np.asarray(v) for k, v in inputs.items() if k in self.input_types}
        try:
            got = dict(zip(self.output_types, self.session.run(list(self.output_types), feeds)))
        except Exception:
            return
        for name, array in outputs.items():
            if name in got and tuple(got[name].shape) != tuple(array.shape):
                raise ContractViolation(f"contract violation: {self.description} output '{name}' shape: expected "
                                        f"{list(array.shape)}, got {list(got[name].shape)}") from exc

    def run_copy(self, feeds: dict) -> dict:
        """Plain run returning fresh arrays (parity tools and tests)."""
        names = list(self.output_types)
        return dict(zip(names, self.session.run(names, feeds)))
