"""The native C++ onnxruntime engine against Python onnxruntime, on the packaged demo model.

The C++ side is ``onnxruntime_engine_tool`` (cpp/tests/onnxruntime_engine_tool.cpp), built with the C++
tests beside libparakeet_trt.so (scripts/test.sh: build/ctest). It opens the same libonnxruntime.so that
the Python package ships (PTRT_ONNXRUNTIME_LIBRARY), so the two must agree on the library version, the
providers, every graph input/output name and dtype (which proves the OrtApi slot indices the engine
declares), and the encoder's outputs on the same features.
"""
import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "python" / "parakeet_trt" / "models" / "demo"
ONNX_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64", "tensor(int32)": "int32"}


def tool() -> Path:
    library = os.environ.get("PARAKEET_TRT_LIBRARY", "")
    candidates = [Path(library).parent / "onnxruntime_engine_tool" if library else None,
                  REPO / "build" / "ctest" / "onnxruntime_engine_tool"]
    for c in candidates:
        if c is not None and c.is_file():
            return c
    pytest.fail(f"onnxruntime_engine_tool not found in {[str(c) for c in candidates if c]}: build the C++ tests "
                f"(scripts/test.sh builds build/ctest) and set PARAKEET_TRT_LIBRARY to build/ctest/libparakeet_trt.so")


def tool_env() -> dict:
    env = dict(os.environ)
    if not env.get("PTRT_ONNXRUNTIME_LIBRARY"):
        env["PTRT_ONNXRUNTIME_LIBRARY"] = sorted(
            glob.glob(os.path.join(os.path.dirname(ort.__file__), "capi", "libonnxruntime.so*")))[0]
    return env


def run_tool(*args, program=None, env=None) -> dict:
    done = subprocess.run([str(program or tool()), *map(str, args)], capture_output=True, text=True,
                          env=env or tool_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


@pytest.mark.parametrize("folder", ["parakeet_trt", "parakeet_trt/lib"])
def test_finds_the_onnxruntime_package_beside_the_library(tmp_path, folder):
    """Without a path or PTRT_ONNXRUNTIME_LIBRARY, the library is found where the wheel installs it relative
    to parakeet_trt's code: site-packages/parakeet_trt/_core*.so and .../parakeet_trt/lib/libparakeet_trt.so
    both look in site-packages/onnxruntime/capi/."""
    site = tmp_path / "site-packages"
    (site / folder).mkdir(parents=True)
    (site / "onnxruntime").symlink_to(Path(ort.__file__).parent)
    program = site / folder / "onnxruntime_engine_tool"
    shutil.copy(tool(), program)
    env = {k: v for k, v in os.environ.items() if k != "PTRT_ONNXRUNTIME_LIBRARY"}
    info = run_tool("info", DEMO, "encoder", program=program, env=env)
    assert info["version"] == ort.__version__


@pytest.mark.parametrize("graph", ["encoder", "decoder_joint"])
def test_graph_info_matches_python_onnxruntime(graph):
    info = run_tool("info", DEMO, graph)
    session = ort.InferenceSession(str(DEMO / f"{graph}.onnx"), providers=["CPUExecutionProvider"])
    assert info["version"] == ort.__version__
    assert info["providers"].split(",") == ort.get_available_providers()
    assert info["inputs"] == ",".join(f"{i.name}:{ONNX_DTYPES[i.type]}" for i in session.get_inputs())
    assert info["outputs"] == ",".join(f"{o.name}:{ONNX_DTYPES[o.type]}" for o in session.get_outputs())
    assert info["description"] == f"onnxruntime {ort.__version__} {graph}.onnx CPUExecutionProvider"


def test_encoder_outputs_match_python_onnxruntime(tmp_path):
    frames, repeats = 400, 20
    features = np.random.default_rng(0).standard_normal((1, 80, frames)).astype(np.float32)
    (tmp_path / "features.f32").write_bytes(features.tobytes())
    native = run_tool("encode", DEMO, frames, tmp_path / "features.f32", tmp_path / "out.f32", repeats)

    session = ort.InferenceSession(str(DEMO / "encoder.onnx"), providers=["CPUExecutionProvider"])
    feeds = {"audio_signal": features, "length": np.array([frames], dtype=np.int64)}
    outputs, lengths = session.run(["outputs", "encoded_lengths"], feeds)  # warm-up, and the reference
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(["outputs", "encoded_lengths"], feeds)
        times.append((time.perf_counter() - start) * 1000)
    python_ms = sorted(times)[repeats // 2]

    assert native["shape"] == ",".join(map(str, outputs.shape))
    assert int(native["encoded_lengths"]) == int(lengths[0])
    got = np.fromfile(tmp_path / "out.f32", dtype=np.float32).reshape(outputs.shape)
    diff = float(np.max(np.abs(got - outputs)))
    print(f"\nencoder [1, 80, {frames}] on onnxruntime {ort.__version__} CPU, median of {repeats}: "
          f"native {float(native['median_ms']):.3f} ms, Python onnxruntime {python_ms:.3f} ms; max |diff| {diff:.2e}")
    assert diff <= 1e-5
