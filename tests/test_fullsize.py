"""Full-size (parakeet-tdt-0.6b-v3 architecture) test model and export.

Slow: building the cached model takes ~5 min and ~6 GB RAM, the export several minutes
(see docs/EXPORT_REPORT.md).  Both are cached under .cache/ (tests/conftest.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.fullsize

V = 8192


@pytest.fixture(scope="module")
def fullsize_meta(fullsize_export_dir):
    return json.loads((Path(fullsize_export_dir) / "model_meta.json").read_text())


@pytest.fixture(scope="module")
def fullsize_model(fullsize_nemo_path):
    from parakeet_trt.testing.test_models import load_test_model

    return load_test_model(fullsize_nemo_path)


def _ort(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_fullsize_stats_meet_the_bars(fullsize_nemo_path):
    from parakeet_trt.testing.test_models import stats_path_for
    from test_test_models import _assert_mix

    info = json.loads(stats_path_for(fullsize_nemo_path).read_text())
    assert info["arch"] == "parakeet-tdt-0.6b-v3"
    _assert_mix(info["stats"])


def test_fullsize_architecture(fullsize_model):
    m = fullsize_model
    n_params = sum(p.numel() for p in m.parameters())
    assert 0.55e9 < n_params < 0.7e9, n_params
    enc = m.encoder
    assert (enc.d_model, len(enc.layers), enc.subsampling_factor, enc._feat_in) == (1024, 24, 8, 128)
    assert m.decoder.prediction["embed"].weight.shape == (V + 1, 640)
    assert m.joint.joint_net[-1].weight.shape == (V + 6, 640)
    assert m.joint.enc.weight.shape == (640, 1024)
    assert m.tokenizer.vocab_size == V


def test_fullsize_meta(fullsize_meta):
    m = fullsize_meta
    assert (m["encoder"]["d_model"], m["encoder"]["n_layers"], m["encoder"]["max_encoder_frames"]) == (1024, 24, 5000)
    assert (m["decoding"]["vocab_size"], m["decoding"]["blank_id"], m["decoding"]["durations"]) == (V, V, [0, 1, 2, 3, 4])
    assert (m["decoder"]["num_outputs"], m["decoder"]["pred_hidden"], m["decoder"]["joint_hidden"]) == (8198, 640, 640)
    assert m["graphs"]["encoder"]["external_data"] == ["encoder.onnx.data"]
    assert m["graphs"]["decoder_joint"]["external_data"] == []
    assert m["decoder_step"]["tensors"]["embedding"] == {"offset": 0, "shape": [V + 1, 640], "nbytes": (V + 1) * 640 * 4}


def test_fullsize_checker_by_path(fullsize_export_dir):
    import onnx

    d = Path(fullsize_export_dir)
    onnx.checker.check_model(str(d / "encoder.onnx"))
    onnx.checker.check_model(str(d / "decoder_joint.onnx"))
    assert (d / "encoder.onnx").stat().st_size < 50_000_000  # weights live in encoder.onnx.data
    assert (d / "encoder.onnx.data").stat().st_size > 2_000_000_000


def test_fullsize_ort_encoder_and_decoder_joint(fullsize_export_dir, fullsize_model):
    from parakeet_trt.export.reference import nemo_decoder_joint, nemo_encoder, nemo_features
    from parakeet_trt.testing.test_models import make_test_signals

    d = Path(fullsize_export_dir)
    x = make_test_signals(0, duration_s=3.0, with_speech=False)["harmonic"]
    feats, flen = nemo_features(fullsize_model, x)
    ref, ref_len = nemo_encoder(fullsize_model, feats, flen)
    out, out_len = _ort(d / "encoder.onnx").run(None, {"audio_signal": feats, "length": flen})
    assert np.array_equal(out_len, ref_len)
    n = int(ref_len[0])
    diff = np.abs(out[0, :, :n] - ref[0, :, :n]).max()
    assert diff < 2e-3 * max(1.0, np.abs(ref).max()), diff

    rng = np.random.default_rng(0)
    enc = ref[:, :, :6].astype(np.float32)
    targets = np.array([[V, 5, 8191]], np.int32)
    tl = np.array([3], np.int32)
    h = (0.3 * rng.standard_normal((2, 1, 640))).astype(np.float32)
    c = (0.3 * rng.standard_normal((2, 1, 640))).astype(np.float32)
    r = nemo_decoder_joint(fullsize_model, enc, targets, tl, h, c)
    g = _ort(d / "decoder_joint.onnx").run(None, {"encoder_outputs": enc, "targets": targets, "target_length": tl,
                                                  "input_states_1": h, "input_states_2": c})
    assert g[0].shape == (1, 6, 3, 8198)
    assert np.abs(g[0] - r[0]).max() < 1e-5 * np.abs(r[0]).max() + 1e-4
    assert np.array_equal(g[0][..., : V + 1].argmax(-1), r[0][..., : V + 1].argmax(-1))


def test_fullsize_decoder_step_bin(fullsize_export_dir, fullsize_meta, fullsize_model):
    from parakeet_trt.export.decoder_weights import read_decoder_step

    t = read_decoder_step(Path(fullsize_export_dir) / "decoder_step.bin", fullsize_meta["decoder_step"])
    m = fullsize_model
    lstm = m.decoder.prediction["dec_rnn"].lstm
    assert np.array_equal(t["embedding"], m.decoder.prediction["embed"].weight.detach().numpy())
    assert np.array_equal(t["lstm.1.w_hh"], lstm.weight_hh_l1.detach().numpy())
    assert np.array_equal(t["joint.out.weight"], m.joint.joint_net[-1].weight.detach().numpy())
    assert np.array_equal(t["joint.enc.bias"], m.joint.enc.bias.detach().numpy())
    assert not t["embedding"][V].any()
