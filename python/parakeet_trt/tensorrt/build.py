"""Build TensorRT engines from an exported model folder (TensorRT's Python API, imported lazily).

Everything before the TensorRT call (profiles from the contract, the fp32 node choice, the
metadata) is pure Python, so ``plan_model_engines`` runs and is tested without TensorRT.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from parakeet_trt.errors import ParakeetError
from parakeet_trt.tensorrt.metadata import ENGINE_META_VERSION, PRECISIONS, write_engine_meta
from parakeet_trt.tensorrt.precision import Fp32Node, fp32_nodes_of_file
from parakeet_trt.tensorrt.profiles import TENSORRT_ENGINES, Profile, engine_profiles, profiles_to_json

EXIT_UNAVAILABLE = 7  # = ptrt_status PTRT_ERROR_UNAVAILABLE / ErrorCode::kUnavailable

INSTALL_HINT = ("install it on a machine with an NVIDIA GPU and driver: pip install tensorrt "
                "(NVIDIA's wheels, TensorRT 10.x), or use the tensorrt Python bindings of a TensorRT tarball / "
                "NGC container")


class TensorRTUnavailable(ParakeetError):
    """TensorRT (or the CUDA runtime it needs) is not installed on this machine."""

    exit_code = EXIT_UNAVAILABLE


def import_tensorrt():
    try:
        import tensorrt  # noqa: PLC0415  (optional dependency, only where engines are built)
    except ImportError as error:
        raise TensorRTUnavailable(f"TensorRT is not installed ({error}); {INSTALL_HINT}") from None
    return tensorrt


def gpu_compute_capability(device: int = 0) -> str:
    """"major.minor" of a GPU, read from the CUDA runtime through ctypes (no CUDA Python package needed)."""
    for name in ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"):
        try:
            cudart = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        raise TensorRTUnavailable("the CUDA runtime (libcudart) is not installed; " + INSTALL_HINT)
    major, minor = ctypes.c_int(), ctypes.c_int()
    # cudaDevAttrComputeCapabilityMajor = 75, ...Minor = 76 (cuda_runtime_api.h, cudaDeviceAttr)
    if cudart.cudaDeviceGetAttribute(ctypes.byref(major), 75, device) or \
            cudart.cudaDeviceGetAttribute(ctypes.byref(minor), 76, device):
        raise TensorRTUnavailable(f"no usable CUDA device {device} (cudaDeviceGetAttribute failed)")
    return f"{major.value}.{minor.value}"


@dataclass
class EnginePlan:
    engine: str
    onnx_path: Path
    engine_path: Path
    profiles: List[Profile]
    fp32_nodes: List[Fp32Node] = field(default_factory=list)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def plan_model_engines(meta_path: Path, outdir: Path, precision: str = "fp32") -> tuple[Dict[str, Any], List[EnginePlan]]:
    """The engines a model folder yields: profiles from its contract, fp32 nodes under fp16/bf16."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    meta_path = Path(meta_path)
    model_dir = meta_path.parent
    meta = json.loads(meta_path.read_text())
    contract = json.loads((model_dir / meta["contract"]["file"]).read_text())
    plans = []
    for name in TENSORRT_ENGINES:
        if name not in contract["engines"]:
            continue
        onnx_path = model_dir / contract["engines"][name]["file"]
        plans.append(EnginePlan(name, onnx_path, Path(outdir) / f"{name}.engine", engine_profiles(contract, name),
                                fp32_nodes_of_file(onnx_path) if precision != "fp32" else []))
    if not plans:
        raise ValueError(f"{meta_path}: the contract has none of the engines TensorRT builds {TENSORRT_ENGINES}")
    return meta, plans


def _progress_monitor(trt, log: Callable[[str], None]):
    class Progress(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self._last = 0.0

        def phase_start(self, phase_name, parent_phase, num_steps):
            log(f"  [trt] {phase_name} ({num_steps} steps)")

        def step_complete(self, phase_name, step):
            now = time.monotonic()
            if now - self._last > 5.0:
                self._last = now
                log(f"  [trt] {phase_name}: step {step}")
            return True

        def phase_finish(self, phase_name):
            pass

    return Progress()


def build_engine(plan: EnginePlan, *, precision: str, contract_file: str, contract_sha256: str,
                 timing_cache: Optional[Path] = None, workspace_gib: Optional[float] = None,
                 log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Build and serialize one engine; writes ``<engine>.engine`` and ``<engine>.meta.json``."""
    trt = import_tensorrt()
    capability = gpu_compute_capability()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(plan.onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ParakeetError(f"{plan.onnx_path}: TensorRT's ONNX parser failed: {errors}")
    config = builder.create_builder_config()
    if workspace_gib:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * (1 << 30)))
    if hasattr(trt, "IProgressMonitor"):
        config.progress_monitor = _progress_monitor(trt, log)
    if precision != "fp32":
        config.set_flag(trt.BuilderFlag.FP16 if precision == "fp16" else trt.BuilderFlag.BF16)
        config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS)
        wanted = {n.name for n in plan.fp32_nodes}
        matched = set()
        for i in range(network.num_layers):
            layer = network.get_layer(i)
            # The ONNX parser names a layer after its node; a node that becomes several layers gets suffixes.
            node = next((w for w in wanted if layer.name == w or layer.name.startswith(w + "_")), None)
            if node is None:
                continue
            matched.add(node)
            layer.precision = trt.float32
            for j in range(layer.num_outputs):
                if layer.get_output_type(j) in (trt.float16, trt.bfloat16, trt.float32):
                    layer.set_output_type(j, trt.float32)
        if wanted - matched:
            log(f"  warning: {len(wanted - matched)} fp32 node(s) matched no TensorRT layer, e.g. "
                f"{sorted(wanted - matched)[:3]}")
    network_inputs = {network.get_input(i).name: network.get_input(i) for i in range(network.num_inputs)}
    for profile in plan.profiles:
        trt_profile = builder.create_optimization_profile()
        for name, (lo, opt, hi) in profile.items():
            if name not in network_inputs:
                raise ParakeetError(f"{plan.onnx_path}: contract input {name!r} is not a network input "
                                    f"(has {sorted(network_inputs)})")
            if -1 in tuple(network_inputs[name].shape):
                trt_profile.set_shape(name, lo, opt, hi)
        config.add_optimization_profile(trt_profile)
    cache = None
    if timing_cache is not None:
        data = Path(timing_cache).read_bytes() if Path(timing_cache).exists() else b""
        cache = config.create_timing_cache(data)
        config.set_timing_cache(cache, ignore_mismatch=False)
        log(f"  timing cache {timing_cache} ({len(data)} bytes)")
    started = time.monotonic()
    log(f"building {plan.engine} ({precision}, {len(plan.profiles)} profile(s)) from {plan.onnx_path.name}")
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ParakeetError(f"TensorRT failed to build {plan.engine} (see the messages above)")
    plan.engine_path.parent.mkdir(parents=True, exist_ok=True)
    plan.engine_path.write_bytes(bytes(serialized))
    if cache is not None:
        Path(timing_cache).write_bytes(bytes(config.get_timing_cache().serialize()))
    log(f"  {plan.engine_path} ({plan.engine_path.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
    engine_meta = {
        "engine_meta_version": ENGINE_META_VERSION, "engine": plan.engine, "engine_file": plan.engine_path.name,
        "onnx_file": plan.onnx_path.name, "onnx_sha256": _sha256(plan.onnx_path), "contract_file": contract_file,
        "contract_sha256": contract_sha256, "tensorrt_version": trt.__version__, "compute_capability": capability,
        "precision": precision, "profiles": profiles_to_json(plan.profiles),
        "fp32_nodes": [n.name for n in plan.fp32_nodes],
    }
    write_engine_meta(plan.engine_path, engine_meta)
    return engine_meta


def build_model_engines(meta_path: Path, outdir: Path, precision: str = "fp32", timing_cache: Optional[Path] = None,
                        workspace_gib: Optional[float] = None, dry_run: bool = False,
                        log: Callable[[str], None] = print) -> List[EnginePlan]:
    meta, plans = plan_model_engines(meta_path, outdir, precision)
    for plan in plans:
        log(f"{plan.engine}: {plan.onnx_path.name} -> {plan.engine_path}")
        for i, profile in enumerate(plan.profiles):
            for name, (lo, opt, hi) in sorted(profile.items()):
                log(f"  profile {i} {name}: min {list(lo)} opt {list(opt)} max {list(hi)}")
        if plan.fp32_nodes:
            kinds: Dict[str, int] = {}
            for n in plan.fp32_nodes:
                kinds[n.op_type] = kinds.get(n.op_type, 0) + 1
            log(f"  fp32 under {precision}: {len(plan.fp32_nodes)} nodes {dict(sorted(kinds.items()))}")
    if dry_run:
        return plans
    import_tensorrt()  # fail before the first build, not halfway
    for plan in plans:
        build_engine(plan, precision=precision, contract_file=meta["contract"]["file"],
                     contract_sha256=meta["contract"]["sha256"], timing_cache=timing_cache,
                     workspace_gib=workspace_gib, log=log)
    return plans


def add_build_trt_arguments(p) -> None:
    p.add_argument("--meta", required=True, type=Path, help="model_meta.json of an exported model folder")
    p.add_argument("--outdir", required=True, type=Path, help="folder for <engine>.engine and <engine>.meta.json")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--fp16", action="store_true", help="fp16 kernels; softmax, layer norm and log stay fp32")
    g.add_argument("--bf16", action="store_true", help="bf16 kernels; softmax, layer norm and log stay fp32")
    p.add_argument("--timing-cache", type=Path, default=None, help="TensorRT timing cache, read and updated")
    p.add_argument("--workspace-gib", type=float, default=None, help="builder workspace limit")
    p.add_argument("--dry-run", action="store_true", help="print profiles and fp32 nodes; do not build")


def run_build_trt(args) -> int:
    precision = "fp16" if args.fp16 else "bf16" if args.bf16 else "fp32"
    try:
        build_model_engines(args.meta, args.outdir, precision, args.timing_cache, args.workspace_gib, args.dry_run)
    except TensorRTUnavailable as error:
        print(f"parakeet-trt build-trt: unavailable: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return 0
