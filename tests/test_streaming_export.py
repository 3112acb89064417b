"""Streaming-encoder export: both profiles against NeMo's cache_aware_stream_step (functional and
closed-loop), their invariants, the C++ StreamingEncoderRunner, and loud failure on a graph of
another profile."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from conftest import CACHE, REPO, committed_contract_bytes

TINY = "tiny"
FULL = "parakeet-tdt-0.6b-v3"


@pytest.fixture(scope="session")
def isolated_dir():
    from parakeet_trt.parity.streaming import cached_streaming_export

    return cached_streaming_export(TINY, "chunk_isolated", CACHE)


@pytest.fixture(scope="session")
def cache_aware_dir():
    from parakeet_trt.parity.streaming import cached_streaming_export

    return cached_streaming_export(TINY, "cache_aware", CACHE)


def _ort(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _reference(nemo_model, export_dir, num_chunks, seed=5):
    from parakeet_trt.export.streaming import apply_streaming_params
    from parakeet_trt.parity.streaming import reference_features, reference_stream

    s = json.loads((export_dir / json.loads((export_dir / "model_meta.json").read_text())["contract"]["file"])
                   .read_text())["streaming"]
    prof = apply_streaming_params(nemo_model.encoder, s["profile"], chunk_size=s["chunk_size"],
                                  shift_size=s["shift_size"], left_chunks=s["left_chunks"],
                                  cache_size=s["last_channel_cache_size"])
    feats = reference_features(nemo_model.encoder._feat_in,
                               prof.window_frames + prof.advance_frames_per_call * num_chunks, seed)
    return prof, reference_stream(nemo_model.encoder, prof, feats, num_chunks)


@pytest.mark.parametrize("profile", ["chunk_isolated", "cache_aware"])
@pytest.mark.parametrize("mode", ["functional", "closed-loop"])
def test_ort_matches_nemo_per_chunk(profile, mode, tiny_nemo_model, isolated_dir, cache_aware_dir):
    from parakeet_trt.contract import TOLERANCES
    from parakeet_trt.parity.streaming import compare_stream

    export_dir = isolated_dir if profile == "chunk_isolated" else cache_aware_dir
    prof, records = _reference(tiny_nemo_model, export_dir, 60)
    summary = compare_stream(_ort(export_dir / "encoder_streaming.onnx"), records, mode, TOLERANCES["encoder_streaming"])
    assert summary["num_chunks"] == 60
    assert summary["pass_rate"] == 1.0, [c for c in summary["chunks"] if not c["passed"]][:3]
    # errors must not accumulate when ONNX Runtime feeds its own caches back
    assert summary["trend_ratio"] < 1.5, summary["trend_ratio"]


def test_chunk_isolated_invariants_hold_in_nemo(tiny_nemo_model, isolated_dir):
    prof, records = _reference(tiny_nemo_model, isolated_dir, 30)
    assert prof.profile == "chunk_isolated" and prof.cache_keep_per_call == 0
    for r in records:
        assert int(r["encoded_lengths"][0]) == 1
        assert r["outputs"].shape[2] == 1
        assert int(r["cache_last_channel_next_len"][0]) == 0


def test_cache_aware_cache_length_grows_to_cap(tiny_nemo_model, cache_aware_dir):
    prof, records = _reference(tiny_nemo_model, cache_aware_dir, 12)
    got = [int(r["cache_last_channel_next_len"][0]) for r in records]
    assert got == prof.cache_len_sequence(12)
    assert got[0] == prof.shift_size and got[-1] == prof.last_channel_cache_size
    assert all(r["outputs"].shape[2] == prof.shift_size for r in records)


def test_chunk_isolated_cache_size_changes_nothing(tiny_nemo_model):
    """NeMo's default cache (10000 frames; positional table extended so NeMo runs at all) and our
    default (cache_drop_size frames) give the same outputs: every cache slot stays masked."""
    from parakeet_trt.export.streaming import apply_streaming_params
    from parakeet_trt.parity.streaming import reference_features, reference_stream

    enc = tiny_nemo_model.encoder
    small = apply_streaming_params(enc, "chunk_isolated")
    feats = reference_features(enc._feat_in, small.window_frames + small.advance_frames_per_call * 6, 11)
    a = reference_stream(enc, small, feats, 6)
    big = apply_streaming_params(enc, "chunk_isolated", cache_size=10000)
    b = reference_stream(enc, big, feats, 6)
    apply_streaming_params(enc, "chunk_isolated")
    for x, y in zip(a, b):
        np.testing.assert_allclose(x["outputs"], y["outputs"], atol=1e-5, rtol=0)


def test_nemo_default_cache_does_not_fit_positional_table():
    """Documents why chunk_isolated does not keep NeMo's 10000-frame default cache."""
    from parakeet_trt.testing.test_models import load_test_model
    from parakeet_trt.testing.exports import cached_nemo_path
    import torch

    model = load_test_model(cached_nemo_path(TINY, None, CACHE))
    enc = model.encoder
    enc.setup_streaming_params()
    assert enc.streaming_cfg.last_channel_cache_size == 10000
    cc, ct, cl = enc.get_initial_cache_state(batch_size=1)
    x = torch.randn(1, enc._feat_in, enc.streaming_cfg.chunk_size[1] + enc.streaming_cfg.pre_encode_cache_size[1])
    with pytest.raises(RuntimeError, match="must match the size"), torch.inference_mode():
        enc.cache_aware_stream_step(x, torch.tensor([x.shape[-1]]), cc, ct, cl, keep_all_outputs=False)


@pytest.mark.parametrize("profile", ["chunk_isolated", "cache_aware"])
def test_runner_matches_reference(profile, tiny_nemo_model, isolated_dir, cache_aware_dir):
    from parakeet_trt.engines.streaming_encoder import StreamingEncoder

    export_dir = isolated_dir if profile == "chunk_isolated" else cache_aware_dir
    prof, records = _reference(tiny_nemo_model, export_dir, 20)
    enc = StreamingEncoder(export_dir, providers=["CPUExecutionProvider"])
    for r in records:
        out = enc.run(r["audio_signal"][0], int(r["length"][0]))
        np.testing.assert_allclose(out["outputs"], r["outputs"][0], atol=1e-4, rtol=0)
        assert out["encoded_length"] == int(r["encoded_lengths"][0])
        assert out["cache_len"] == int(r["cache_last_channel_next_len"][0])
    enc.reset()
    assert enc.runner.calls == 0 and enc.runner.cache_len == 0


def _export_other_profile_graph(tiny_nemo_model, out_dir, **overrides):
    """A graph with chunk_isolated's window and I/O shapes that is not chunk_isolated: NeMo's
    streaming config edited after derivation (cache_drop_size / valid_out_len)."""
    from nemo.collections.asr.parts.submodules.causal_convs import CausalConv1D
    from nemo.collections.asr.parts.submodules.multi_head_attention import MultiHeadAttention
    from parakeet_trt.export.streaming import apply_streaming_params, export_encoder_streaming

    enc = tiny_nemo_model.encoder
    prof = apply_streaming_params(enc, "chunk_isolated")
    for key, value in overrides.items():
        setattr(enc.streaming_cfg, key, value)
        if key == "cache_drop_size":
            for m in enc.layers.modules():
                if isinstance(m, (MultiHeadAttention, CausalConv1D)) and hasattr(m, "_max_cache_len"):
                    m.cache_drop_size = value
    try:
        export_encoder_streaming(tiny_nemo_model, out_dir, prof)
    finally:
        apply_streaming_params(enc, "chunk_isolated")


@pytest.mark.parametrize("overrides, field", [
    ({"cache_drop_size": 2}, "cache_last_channel_next_len"),  # caches for real: a cache_aware graph
    ({"valid_out_len": 2}, "outputs"),                         # two output frames per call
])
def test_chunk_isolated_refuses_other_profile_graph(overrides, field, tiny_nemo_model, isolated_dir, tmp_path):
    import parakeet_trt
    from parakeet_trt.engines.streaming_encoder import StreamingEncoder

    folder = tmp_path / "model"
    shutil.copytree(isolated_dir, folder)
    graph_dir = tmp_path / "graph"
    graph_dir.mkdir()
    _export_other_profile_graph(tiny_nemo_model, graph_dir, **overrides)
    shutil.copy(graph_dir / "encoder_streaming.onnx", folder / "encoder_streaming.onnx")
    # at load: the graph's hash is not the contract's
    with pytest.raises(parakeet_trt.ContractViolation, match="encoder_streaming.onnx sha256"):
        StreamingEncoder(folder)
    # without hash checks, the per-call invariants stop it on the first call
    enc = StreamingEncoder(folder, verify_hashes=False, providers=["CPUExecutionProvider"])
    window, length = next(iter(enc.windows(np.zeros((128, 200), np.float32))))
    with pytest.raises(parakeet_trt.ContractViolation, match=field) as info:
        enc.run(window, length)
    assert "expected" in str(info.value) and "got" in str(info.value)
    with pytest.raises(parakeet_trt.ParakeetError, match="reset"):
        enc.run(window, length)  # the pipeline stays stopped


@pytest.mark.fullsize
@pytest.mark.parametrize("profile", ["chunk_isolated", "cache_aware"])
def test_fullsize_streaming_profile(profile, fullsize_nemo_path, speech_signal):
    """Per profile, on its one cached full-size export (the test cache holds one at a time): the
    committed contract, the encoder against NeMo's stream step, and the cache-aware session's
    tokens against NeMo's cache-aware streaming."""
    import gc

    import torch

    import parakeet_trt
    from parakeet_trt.testing.nemo_cache_aware import load_streaming_reference, nemo_cache_aware_decode
    from test_streaming_cache_aware import stream

    from parakeet_trt.contract import TOLERANCES
    from parakeet_trt.export.loading import inspect_nemo, restore_model
    from parakeet_trt.parity.streaming import cached_streaming_export, compare_stream
    from parakeet_trt.testing.exports import cached_nemo_path

    export_dir = cached_streaming_export(FULL, profile, CACHE)
    committed = REPO / "contracts" / f"{FULL}.{profile}.contract.json"
    assert committed_contract_bytes(export_dir) == committed.read_bytes(), \
        f"{committed.name} differs from the exporter's (tools/contract_sources.py --update regenerates it)"
    model = restore_model(inspect_nemo(cached_nemo_path(FULL, None, CACHE)))
    prof, records = _reference(model, export_dir, 8)
    session = _ort(export_dir / "encoder_streaming.onnx")
    for mode in ("functional", "closed-loop"):
        summary = compare_stream(session, records, mode, TOLERANCES["encoder_streaming"])
        assert summary["pass_rate"] == 1.0, (mode, summary["max_abs_error"])
    del model, session, records
    gc.collect()

    torch.set_num_threads(1)
    runtime = parakeet_trt.Session(export_dir, intra_op_threads=1)
    audio = speech_signal.astype(np.float32)
    _, updates = stream(runtime, audio)
    reference = load_streaming_reference(fullsize_nemo_path, runtime.meta["streaming"])
    ref = nemo_cache_aware_decode(reference, audio)
    assert updates[-1].committed_token_ids == ref["token_ids"] and ref["token_ids"]
    assert [u.new_committed for u in updates][:len(ref["steps"])] == [s["num_committed"] for s in ref["steps"]]
