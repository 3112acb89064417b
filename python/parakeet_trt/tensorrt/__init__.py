"""TensorRT: optimization profiles, precision policy, engine metadata and the engine builder.

Importable without TensorRT; only ``build_engine`` and the parity runner import ``tensorrt``, and
they raise ``TensorRTUnavailable`` (exit code 7 in the tools) when it is missing.
"""

from parakeet_trt.tensorrt.build import (
    EXIT_UNAVAILABLE,
    TensorRTUnavailable,
    build_engine,
    build_model_engines,
    import_tensorrt,
    plan_model_engines,
)
from parakeet_trt.tensorrt.metadata import EngineMetaMismatch, check_engine_meta, read_engine_meta, write_engine_meta
from parakeet_trt.tensorrt.precision import Fp32Node, fp32_nodes, fp32_nodes_of_file
from parakeet_trt.tensorrt.profiles import ProfileError, all_profiles, engine_profiles

__all__ = [
    "EXIT_UNAVAILABLE", "EngineMetaMismatch", "Fp32Node", "ProfileError", "TensorRTUnavailable", "all_profiles",
    "build_engine", "build_model_engines", "check_engine_meta", "engine_profiles", "fp32_nodes",
    "fp32_nodes_of_file", "import_tensorrt", "plan_model_engines", "read_engine_meta", "write_engine_meta",
]
