"""TensorRT: profiles from the contract, precision policy, engine metadata, and the tools failing loudly
without TensorRT. Tests that need TensorRT itself skip with the reason."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from parakeet_trt.tensorrt import (EXIT_UNAVAILABLE, EngineMetaMismatch, ProfileError, all_profiles,
                                   check_engine_meta, engine_profiles, fp32_nodes, fp32_nodes_of_file,
                                   plan_model_engines, read_engine_meta, write_engine_meta)
from parakeet_trt.tensorrt.metadata import ENGINE_META_VERSION

REPO = Path(__file__).resolve().parents[1]
HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None
needs_no_tensorrt = pytest.mark.skipif(HAVE_TENSORRT, reason="TensorRT is installed: the 'unavailable' path is not reachable")
needs_tensorrt = pytest.mark.skipif(not HAVE_TENSORRT, reason="TensorRT is not installed (needs an NVIDIA GPU machine)")


def _contract(export_dir: Path) -> dict:
    meta = json.loads((export_dir / "model_meta.json").read_text())
    return json.loads((export_dir / meta["contract"]["file"]).read_text())


def test_encoder_profile_from_tiny_contract(tiny_export_dir):
    contract = _contract(tiny_export_dir)
    [profile] = engine_profiles(contract, "encoder")
    n_mels = contract["features"]["n_mels"]
    max_frames = contract["encoder"]["max_feature_frames"]
    lo, opt, hi = profile["audio_signal"]
    assert lo == (1, n_mels, 1)
    assert hi == (1, n_mels, max_frames)
    assert lo[2] <= opt[2] <= hi[2]  # the contract's opt (1000) is clamped into a small model's range
    assert profile["length"] == ((1,), (1,), (1,))


def test_decoder_joint_has_step_and_range_profiles(tiny_export_dir):
    contract = _contract(tiny_export_dir)
    step, full = engine_profiles(contract, "decoder_joint")
    enc_dim = contract["engines"]["decoder_joint"]["rules"]["encoder_outputs.shape[1]"]
    assert step["encoder_outputs"] == ((1, enc_dim, 1),) * 3  # fixed shape: CUDA-graph replay of the step
    assert full["encoder_outputs"][2] == (1, enc_dim, contract["encoder"]["max_encoder_frames"])
    assert step["targets"] == ((1, 1),) * 3


def test_streaming_profile_is_static_in_time():
    contract = json.loads((REPO / "contracts/parakeet-tdt-0.6b-v3.cache_aware.contract.json").read_text())
    [profile] = engine_profiles(contract, "encoder_streaming")
    s = contract["streaming"]
    assert profile["audio_signal"] == ((1, 128, s["window_frames"]),) * 3
    assert profile["cache_last_channel"] == ((1, 24, s["last_channel_cache_size"], 1024),) * 3
    assert set(all_profiles(contract)) == {"encoder_streaming"}


def test_profile_errors_name_the_field(tiny_export_dir):
    contract = _contract(tiny_export_dir)
    del contract["engines"]["encoder"]["profile"]["time"]
    with pytest.raises(ProfileError, match=r"engines\.encoder\.inputs\.audio_signal\.shape\[2\]: symbol 'time'"):
        engine_profiles(contract, "encoder")
    with pytest.raises(ProfileError, match="decoder_step"):
        engine_profiles(contract, "decoder_step")


def test_fp32_nodes_of_tiny_encoder(tiny_export_dir):
    path = tiny_export_dir / "encoder.onnx"
    model = onnx.load(str(path), load_external_data=False)
    expected = [n.name for n in model.graph.node if n.op_type in ("Softmax", "LayerNormalization", "Log")]
    chosen = fp32_nodes_of_file(path)
    assert [n.name for n in chosen] == expected
    kinds = {n.op_type for n in chosen}
    assert {"Softmax", "LayerNormalization"} <= kinds
    assert all(n.reason for n in chosen)
    # No MatMul, Conv or Add is forced to fp32: the heavy layers keep the reduced precision.
    assert not kinds & {"MatMul", "Conv", "Add"}


def _decomposed_ln_model(exponent: float) -> onnx.ModelProto:
    nodes = [
        helper.make_node("ReduceMean", ["x"], ["mean"], name="ln/mean", axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["centered"], name="ln/sub"),
        helper.make_node("Constant", [], ["two"], name="ln/two",
                         value=helper.make_tensor("v", TensorProto.FLOAT, [], [exponent])),
        helper.make_node("Pow", ["centered", "two"], ["sq"], name="ln/pow"),
        helper.make_node("ReduceMean", ["sq"], ["var"], name="ln/var", axes=[-1]),
        helper.make_node("Constant", [], ["eps"], name="ln/eps",
                         value=helper.make_tensor("e", TensorProto.FLOAT, [], [1e-5])),
        helper.make_node("Add", ["var", "eps"], ["var_eps"], name="ln/add"),
        helper.make_node("Sqrt", ["var_eps"], ["std"], name="ln/sqrt"),
        helper.make_node("Div", ["centered", "std"], ["y"], name="ln/div"),
        helper.make_node("MatMul", ["y", "w"], ["z"], name="proj"),
    ]
    graph = helper.make_graph(nodes, "ln", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor("w", TensorProto.FLOAT, [4, 4], [0.0] * 16)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_decomposed_layer_norm_is_found():
    chosen = fp32_nodes(_decomposed_ln_model(2.0))
    assert [n.name for n in chosen] == ["ln/mean", "ln/sub", "ln/pow", "ln/var", "ln/add", "ln/sqrt", "ln/div"]
    assert fp32_nodes(_decomposed_ln_model(3.0)) == []  # not a variance: left in reduced precision


def _meta(**overrides) -> dict:
    meta = {"engine_meta_version": ENGINE_META_VERSION, "engine": "encoder", "engine_file": "encoder.engine",
            "onnx_file": "encoder.onnx", "onnx_sha256": "0" * 64, "contract_file": "m.contract.json",
            "contract_sha256": "a" * 64, "tensorrt_version": "10.16.0", "compute_capability": "9.0",
            "precision": "fp16", "profiles": [], "fp32_nodes": []}
    meta.update(overrides)
    return meta


def test_engine_meta_round_trip_and_mismatches(tmp_path):
    engine = tmp_path / "encoder.engine"
    write_engine_meta(engine, _meta())
    meta = read_engine_meta(engine)
    check_engine_meta(meta, contract_sha256="a" * 64, tensorrt_version="10.16.0", compute_capability="9.0",
                      engine="encoder", precision="fp16")
    cases = [({"contract_sha256": "b" * 64}, "contract_sha256"), ({"tensorrt_version": "10.8.0"}, "tensorrt_version"),
             ({"compute_capability": "8.9"}, "compute_capability"), ({"engine": "decoder_joint"}, "engine")]
    for kwargs, field in cases:
        expected = dict(contract_sha256="a" * 64, tensorrt_version="10.16.0", compute_capability="9.0", engine="encoder")
        expected.update(kwargs)
        with pytest.raises(EngineMetaMismatch, match=f"engine meta {field}: expected {kwargs[field]}, got") as info:
            check_engine_meta(meta, **expected)
        assert info.value.field == field


def test_engine_meta_missing_file_and_field(tmp_path):
    from parakeet_trt.errors import ContractViolation

    with pytest.raises(ContractViolation, match="encoder.meta.json"):
        read_engine_meta(tmp_path / "encoder.engine")
    broken = _meta()
    del broken["precision"]
    (tmp_path / "encoder.meta.json").write_text(json.dumps(broken))
    with pytest.raises(EngineMetaMismatch, match="precision: expected present, got missing"):
        read_engine_meta(tmp_path / "encoder.engine")


def test_plan_of_tiny_export(tiny_export_dir, tmp_path):
    _, plans = plan_model_engines(tiny_export_dir / "model_meta.json", tmp_path, "bf16")
    assert [p.engine for p in plans] == ["encoder", "decoder_joint"]
    assert plans[0].fp32_nodes and plans[0].engine_path == tmp_path / "encoder.engine"


def _run(args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, timeout=120)


def test_build_trt_dry_run_prints_the_plan(tiny_export_dir, tmp_path):
    r = _run(["tools/build_trt/build_trt.py", "--meta", str(tiny_export_dir / "model_meta.json"),
              "--outdir", str(tmp_path), "--fp16", "--dry-run"])
    assert r.returncode == 0, r.stderr
    assert "profile 0 audio_signal: min [1," in r.stdout and "fp32 under fp16:" in r.stdout
    assert not list(tmp_path.iterdir())


@needs_no_tensorrt
def test_build_trt_fails_loudly_without_tensorrt(tiny_export_dir, tmp_path):
    for cmd in (["tools/build_trt/build_trt.py"], ["-m", "parakeet_trt.cli", "build-trt"]):
        r = _run([*cmd, "--meta", str(tiny_export_dir / "model_meta.json"), "--outdir", str(tmp_path)])
        assert r.returncode == EXIT_UNAVAILABLE, (r.stdout, r.stderr)
        assert "TensorRT is not installed" in r.stderr and "pip install tensorrt" in r.stderr
    assert not list(tmp_path.iterdir())


@needs_no_tensorrt
def test_trt_parity_fails_loudly_without_tensorrt(tmp_path):
    r = _run(["tools/tensorrt/trt_streaming_parity.py", "--engine", str(tmp_path / "encoder_streaming.engine"),
              "--ref", str(tmp_path / "ref.jsonl"), "--mode", "functional",
              "--contract", str(REPO / "contracts/parakeet-tdt-0.6b-v3.cache_aware.contract.json")])
    assert r.returncode == EXIT_UNAVAILABLE, (r.stdout, r.stderr)
    assert "TensorRT not available" in r.stderr


@needs_tensorrt
def test_tiny_encoder_engine_matches_onnxruntime(tiny_export_dir, tmp_path):
    import numpy as np
    import onnxruntime as ort

    from parakeet_trt.tensorrt import build_model_engines
    from parakeet_trt.tensorrt.runner import TrtSession

    meta = json.loads((tiny_export_dir / "model_meta.json").read_text())
    contract = _contract(tiny_export_dir)
    build_model_engines(tiny_export_dir / "model_meta.json", tmp_path, "fp32", timing_cache=tmp_path / "timing.cache")
    assert read_engine_meta(tmp_path / "encoder.engine")["contract_sha256"] == meta["contract"]["sha256"]
    assert (tmp_path / "timing.cache").stat().st_size > 0
    dtypes = {i["name"]: i["dtype"] for i in contract["engines"]["encoder"]["inputs"]}
    frames = 200
    feeds = {"audio_signal": np.random.default_rng(0).standard_normal(
                 (1, contract["features"]["n_mels"], frames)).astype(np.float32),
             "length": np.array([frames], dtype=dtypes["length"])}
    names = ["outputs", "encoded_lengths"]
    got = TrtSession(tmp_path / "encoder.engine", tiny_export_dir / meta["contract"]["file"]).run(names, feeds)
    ref = ort.InferenceSession(str(tiny_export_dir / "encoder.onnx"), providers=["CPUExecutionProvider"]).run(names, feeds)
    tol = contract["tolerances"]["encoder"]
    assert np.array_equal(got[1], ref[1])
    assert np.abs(got[0] - ref[0]).max() <= tol["abs"] + tol["rel"] * np.abs(ref[0]).max()


@needs_no_tensorrt
def test_validation_report_trt_fails_loudly_without_tensorrt(tmp_path):
    out = tmp_path / "VALIDATION_REPORT_TRT.md"
    r = _run(["tools/validation_report_trt.py", "--archs", "tiny", "--out", str(out)])
    assert r.returncode == EXIT_UNAVAILABLE, r.stderr
    assert "TensorRT not available" in r.stderr and "TensorRT is not installed" in r.stderr
    assert "nothing written" in r.stderr
    assert not out.exists()


def test_accuracy_metrics_on_synthetic_arrays():
    import numpy as np

    from parakeet_trt.tensorrt.accuracy import argmax_stability, error_stats, merge_error_stats, sequence_identity

    ref = np.linspace(-2.0, 2.0, 51)
    got = ref.copy()
    got[50] += 0.5  # one outlier of 51: max sees it, P99 half of it (interpolated), P95 not
    s = error_stats(got, ref)
    assert s["max_abs"] == pytest.approx(0.5) and s["max_rel"] == pytest.approx(0.25)
    assert s["max_abs_reference"] == pytest.approx(2.0)
    assert s["p95_abs"] == pytest.approx(0.0, abs=1e-12) and s["p99_abs"] == pytest.approx(0.25)
    assert merge_error_stats([s, error_stats(ref, ref)])["max_abs"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        error_stats(ref[:3], ref)

    logits = np.zeros((2, 3, 5))
    logits[..., 1] = 1.0
    other = logits.copy()
    other[0, 0, 2] = 2.0  # one of 6 positions changes its argmax
    other[1, 2, 4] = 9.0  # outside the first 4 classes (e.g. a TDT duration logit): ignored
    a = argmax_stability(other, logits, num_classes=4)
    assert (a["positions"], a["equal"]) == (6, 5) and a["share"] == pytest.approx(5 / 6)
    assert argmax_stability(other, logits)["equal"] == 4

    t = sequence_identity([[1, 2], [3], []], [[1, 2], [3, 4], []])
    assert (t["sequences"], t["identical"]) == (3, 2) and t["rate"] == pytest.approx(2 / 3)
