"""Engine metadata (``<engine>.meta.json``), written beside a serialized TensorRT engine at build time
and checked at load time.

A TensorRT engine is only valid for the TensorRT version and GPU architecture that built it, and
only for the graph (hence the contract) it was built from. The check names the field, the
expected and the actual value, like every other contract violation.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Optional

from parakeet_trt.errors import ContractViolation

ENGINE_META_VERSION = 1
PRECISIONS = ("fp32", "fp16", "bf16")
REQUIRED_FIELDS = ("engine_meta_version", "engine", "engine_file", "onnx_file", "onnx_sha256", "contract_file",
                   "contract_sha256", "tensorrt_version", "compute_capability", "precision", "profiles",
                   "fp32_nodes")


class EngineMetaMismatch(ContractViolation):
    """An engine's metadata does not match the model, the TensorRT library or the GPU."""

    def __init__(self, field: str, expected: Any, actual: Any):
        super().__init__(f"contract violation: engine meta {field}: expected {expected}, got {actual}")
        self.field, self.expected, self.actual = field, expected, actual


def engine_meta_path(engine_path: Path) -> Path:
    engine_path = Path(engine_path)
    return engine_path.with_name(engine_path.stem + ".meta.json")


def write_engine_meta(engine_path: Path, meta: Dict[str, Any]) -> Path:
    missing = [f for f in REQUIRED_FIELDS if f not in meta]
    if missing:
        raise ValueError(f"engine meta lacks {missing}")
    path = engine_meta_path(engine_path)
    path.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return path


def read_engine_meta(engine_path: Path) -> Dict[str, Any]:
    path = engine_meta_path(engine_path)
    if not path.exists():
        raise EngineMetaMismatch(f"{path.name}", "a metadata file beside the engine (parakeet-trt build-trt)",
                                 "no such file")
    meta = json.loads(path.read_text())
    for field in REQUIRED_FIELDS:
        if field not in meta:
            raise EngineMetaMismatch(field, "present", "missing")
    return meta


def check_engine_meta(meta: Dict[str, Any], *, contract_sha256: str, tensorrt_version: Optional[str] = None,
                      compute_capability: Optional[str] = None, engine: Optional[str] = None,
                      precision: Optional[str] = None) -> None:
    """Raise EngineMetaMismatch on the first field that differs; None skips that field's check."""
    if meta.get("engine_meta_version") != ENGINE_META_VERSION:
        raise EngineMetaMismatch("engine_meta_version", ENGINE_META_VERSION, meta.get("engine_meta_version"))
    checks = (("contract_sha256", contract_sha256), ("engine", engine), ("tensorrt_version", tensorrt_version),
              ("compute_capability", compute_capability), ("precision", precision))
    for field, expected in checks:
        actual = meta.get(field)
        if field == "tensorrt_version":  # an engine is tied to a release (major.minor.patch), not a build number
            expected = tensorrt_release(expected) if expected is not None else None
            actual = tensorrt_release(str(actual))
        if expected is not None and actual != expected:
            raise EngineMetaMismatch(field, expected, actual)


def tensorrt_release(version: str) -> str:
    return ".".join(str(version).split(".")[:3])
