"""The contract: written by the exporter, byte-stable, and enforced by Model::load (Python and C
ABI) for every kind of mismatch; the committed v3 contract and docs/CONTRACT_SOURCES.md in sync."""

from __future__ import annotations

import ctypes
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import CACHE, REPO, committed_contract_bytes

COMMITTED = REPO / "contracts" / "parakeet-tdt-0.6b-v3.contract.json"


def _meta(folder: Path) -> dict:
    return json.loads((folder / "model_meta.json").read_text())


def _write_meta(folder: Path, meta: dict) -> None:
    from parakeet_trt.export.artifacts import write_json

    write_json(folder / "model_meta.json", meta)


@pytest.fixture
def folder(tiny_export_dir, tmp_path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(tiny_export_dir, out)
    return out


@pytest.fixture(scope="module")
def isolated_dir():
    from parakeet_trt.parity.streaming import cached_streaming_export

    return cached_streaming_export("tiny", "chunk_isolated", CACHE)


def _load(folder, **kw):
    from parakeet_trt import _core

    return _core.Model.load(str(folder), **kw)


def test_export_writes_contract_matching_meta(tiny_export_dir):
    from parakeet_trt.contract import build_contract, contract_bytes
    from parakeet_trt.export.loading import inspect_nemo
    from parakeet_trt.testing.exports import cached_nemo_path

    meta = _meta(tiny_export_dir)
    path = tiny_export_dir / meta["contract"]["file"]
    contract = json.loads(path.read_text())
    assert contract["decoding"]["durations"] == meta["decoding"]["durations"]
    assert contract["engines"]["encoder"]["sha256"]["encoder.onnx"] == meta["artifacts"]["encoder.onnx"]
    assert contract["vocabulary"]["sha256"] == meta["vocabulary"]["sha256"]
    # pure function of meta + config: rebuilding gives the same bytes
    cfg = inspect_nemo(cached_nemo_path("tiny", None, CACHE)).config
    meta_without = {k: v for k, v in meta.items() if k != "contract"}
    assert contract_bytes(build_contract(meta_without, cfg)) == path.read_bytes()
    assert _load(tiny_export_dir).contract_file == meta["contract"]["file"]


def test_folder_without_contract_is_refused(folder):
    from parakeet_trt import ModelError

    meta = _meta(folder)
    (folder / meta.pop("contract")["file"]).unlink()
    _write_meta(folder, meta)
    with pytest.raises(ModelError, match="no contract"):
        _load(folder)


def test_graph_from_another_model(folder, isolated_dir):
    from parakeet_trt import ContractViolation

    shutil.copy(isolated_dir / "encoder_streaming.onnx", folder / "encoder.onnx")
    with pytest.raises(ContractViolation, match=r"engines\.encoder\.encoder\.onnx sha256: expected [0-9a-f]{64}, got"):
        _load(folder)


def test_graph_and_meta_swapped_together(folder, isolated_dir):
    """Another graph whose hash was also written into model_meta.json: the contract still refuses it."""
    from parakeet_trt import ContractViolation
    from parakeet_trt.hashing import sha256_file

    shutil.copy(isolated_dir / "encoder_streaming.onnx", folder / "encoder.onnx")
    meta = _meta(folder)
    meta["artifacts"]["encoder.onnx"] = sha256_file(folder / "encoder.onnx")
    _write_meta(folder, meta)
    with pytest.raises(ContractViolation, match=r"engines\.encoder\.encoder\.onnx sha256"):
        _load(folder)


def test_changed_vocabulary(folder):
    from parakeet_trt import ContractViolation

    vocab = folder / "vocab.txt"
    lines = vocab.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = "changed\n"
    vocab.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ContractViolation, match="vocab.txt sha256"):
        _load(folder)
    meta = _meta(folder)
    meta["decoding"]["vocab_size"] += 1
    meta["decoding"]["blank_id"] += 1
    _write_meta(folder, meta)
    with pytest.raises(ContractViolation, match=r"decoding\.vocab_size: expected 250, got 251"):
        _load(folder, verify_hashes=False)


@pytest.mark.parametrize("durations", [[0, 1, 2, 3, 5], [0, 1, 2, 3]])
def test_changed_duration_set(folder, durations):
    from parakeet_trt import ContractViolation

    meta = _meta(folder)
    meta["decoding"]["durations"] = durations
    _write_meta(folder, meta)
    with pytest.raises(ContractViolation, match=r"decoding\.durations: expected \[0, 1, 2, 3, 4\], got"):
        _load(folder)


def test_edited_contract(folder):
    from parakeet_trt import ContractViolation

    meta = _meta(folder)
    path = folder / meta["contract"]["file"]
    contract = json.loads(path.read_text())
    contract["decoding"]["max_symbols"] = 5
    path.write_text(json.dumps(contract))
    with pytest.raises(ContractViolation, match="contract.*sha256"):
        _load(folder)
    with pytest.raises(ContractViolation, match=r"decoding\.max_symbols: expected 5, got 10"):
        _load(folder, verify_hashes=False)


def test_wrong_feature_count_at_load(folder):
    from parakeet_trt import ContractViolation

    meta = _meta(folder)
    meta["features"]["n_mels"] = 80
    meta["encoder"]["feat_in"] = 80
    _write_meta(folder, meta)
    with pytest.raises(ContractViolation, match=r"features\.n_mels: expected 128, got 80"):
        _load(folder)


def test_wrong_graph_io_at_load(folder):
    from parakeet_trt import ContractViolation

    meta = _meta(folder)
    meta["graphs"]["encoder"]["inputs"][0]["shape"][1] = 80
    _write_meta(folder, meta)
    with pytest.raises(ContractViolation, match=r"audio_signal'\.shape: expected \[\?, 128, \?\], got \[\?, 80, \?\]"):
        _load(folder)


def test_wrong_feature_count_per_call(isolated_dir):
    from parakeet_trt import ContractViolation
    from parakeet_trt.engines.streaming_encoder import StreamingEncoder

    enc = StreamingEncoder(isolated_dir, providers=["CPUExecutionProvider"])
    w = enc.runner.window_frames
    with pytest.raises(ContractViolation, match=r"feature count\): expected 128, got 80"):
        enc.run(np.zeros((80, w), np.float32), w)
    enc.reset()
    with pytest.raises(ContractViolation, match=rf"window frames\): expected {w}, got {w + 8}"):
        enc.run(np.zeros((128, w + 8), np.float32), w)


class _Corrupting:
    """Runs the real ONNX Runtime engine, then corrupts one output like a broken engine would."""

    def __init__(self, inner, name, value):
        self.inner, self.name, self.value = inner, name, value
        self.description = "corrupting test engine"

    def run(self, inputs, outputs):
        self.inner.run(inputs, outputs)
        outputs[self.name][...] = self.value


@pytest.mark.parametrize("name, value, match", [
    ("cache_last_channel_next_len", 3, r"cache_last_channel_next_len \(call 0, profile chunk_isolated\): expected 0, got 3"),
    ("cache_last_channel_next_len", -1, r"cache_last_channel_next_len .*expected 0, got -1"),
    ("encoded_lengths", 2, r"encoded_lengths \(call 0, profile chunk_isolated\): expected 1, got 2"),
    ("cache_last_time_next", np.nan, r"cache_last_time_next: expected finite values"),
])
def test_corrupted_engine_outputs(isolated_dir, name, value, match):
    from parakeet_trt import ContractViolation
    from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine
    from parakeet_trt.engines.streaming_encoder import StreamingEncoder

    meta = _meta(isolated_dir)
    contract = json.loads((isolated_dir / meta["contract"]["file"]).read_text())
    spec = contract["engines"]["encoder_streaming"]
    inner = OnnxRuntimeEngine(isolated_dir / spec["file"], spec["sha256"], spec, providers=["CPUExecutionProvider"])
    enc = StreamingEncoder(isolated_dir, engine=_Corrupting(inner, name, value))
    window, length = next(iter(enc.windows(np.zeros((128, 200), np.float32))))
    with pytest.raises(ContractViolation, match=match):
        enc.run(window, length)


def test_c_abi_reports_contract_violation(folder):
    """The C ABI maps the violation to its own status code with the field in the message."""
    import parakeet_trt

    lib = ctypes.CDLL(str(Path(parakeet_trt.__file__).parent / "lib" / "libparakeet_trt.so"))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    meta = _meta(folder)
    meta["decoding"]["durations"] = [0, 1, 2, 3, 5]
    _write_meta(folder, meta)
    handle = ctypes.c_void_p()
    status = lib.ptrt_model_load(str(folder).encode(), None, ctypes.byref(handle))
    assert status == 4  # PTRT_ERROR_CONTRACT_VIOLATION
    assert b"decoding.durations: expected [0, 1, 2, 3, 4], got [0, 1, 2, 3, 5]" in lib.ptrt_last_error()


def test_committed_v3_contract_sources_doc_in_sync():
    """docs/CONTRACT_SOURCES.md is generated from the committed contract; every numeric value
    in the contract has a source entry."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("contract_sources", REPO / "tools" / "contract_sources.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    contracts = mod.load_committed()
    assert set(contracts) == {"offline", "chunk_isolated", "cache_aware"}
    assert mod.render(contracts) == (REPO / "docs" / "CONTRACT_SOURCES.md").read_text(encoding="utf-8")
    assert [m for c in contracts.values() for m in mod.missing_sources(c)] == []
    inv = contracts["chunk_isolated"]["streaming"]["invariants"]
    assert (inv["encoded_lengths"], inv["output_time_frames"], inv["cache_last_channel_next_len"]) == (1, 1, 0)
    assert contracts["chunk_isolated"]["streaming"]["cache_drop_size"] == 72  # facts §4.2: 24 layers x 3


@pytest.mark.fullsize
def test_committed_v3_contract_matches_export(fullsize_export_dir):
    """contracts/parakeet-tdt-0.6b-v3.contract.json is what the exporter writes for the full-size
    architecture (tools/contract_sources.py --update regenerates it). The streaming profiles'
    committed contracts are checked by test_streaming_export's full-size test, on its own export:
    the test cache holds one full-size export at a time."""
    assert committed_contract_bytes(fullsize_export_dir) == COMMITTED.read_bytes()
