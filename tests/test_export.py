"""The ONNX / decoder-step exporter (parakeet_trt.export) on the tiny test model."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = ("encoder.onnx", "decoder_joint.onnx", "decoder_step.bin", "vocab.txt", "model_meta.json")

# ORT (CPU, fp32) vs PyTorch: measured ~2e-6 (encoder) and ~1e-6 relative (logits) on the tiny model.
ENCODER_ATOL = 1e-4
LOGITS_RTOL_OF_MAX = 1e-5
STATES_ATOL = 1e-5


@pytest.fixture(scope="module")
def exports(tiny_nemo_path, tmp_path_factory):
    """Two fresh exports of the same .nemo (the first with the ORT smoke test)."""
    from parakeet_trt.export import export_model

    a = export_model(tiny_nemo_path, tmp_path_factory.mktemp("export_a"), smoke_test_ort=True, log=None)
    b = export_model(tiny_nemo_path, tmp_path_factory.mktemp("export_b"), log=None)
    return a, b


@pytest.fixture(scope="module")
def export_dir(exports):
    return exports[0].out_dir


@pytest.fixture(scope="module")
def meta(export_dir):
    return json.loads((export_dir / "model_meta.json").read_text())


def _ort(path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def test_export_is_byte_deterministic(exports):
    a, b = exports
    contract = a.meta["contract"]["file"]
    assert contract == f"{a.meta['model_name']}.contract.json"
    assert sorted(p.name for p in a.out_dir.iterdir()) == sorted(ARTIFACTS + (contract,))
    for name in ARTIFACTS + (contract,):
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name


def test_onnx_checker(export_dir):
    import onnx

    for name in ("encoder.onnx", "decoder_joint.onnx"):
        onnx.checker.check_model(str(export_dir / name))
        m = onnx.load(str(export_dir / name))
        assert max(o.version for o in m.opset_import if o.domain in ("", "ai.onnx")) == 17


def test_meta_file_format(export_dir, meta):
    text = (export_dir / "model_meta.json").read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    for key in ("format_version", "model_name", "model_class", "source", "features", "encoder", "decoding",
                "decoder", "vocabulary", "graphs", "decoder_step", "artifacts"):
        assert key in meta, key
    assert meta["format_version"] == 1
    assert meta["source"]["onnx_opset"] == 17
    for name, digest in meta["artifacts"].items():
        import hashlib

        assert hashlib.sha256((export_dir / name).read_bytes()).hexdigest() == digest, name


def test_meta_values_come_from_the_model(meta, tiny_nemo_model, tiny_nemo_path):
    m = tiny_nemo_model
    assert meta["model_name"] == Path(tiny_nemo_path).stem
    assert meta["model_class"] == "EncDecRNNTBPEModel"
    f = meta["features"]
    assert (f["sample_rate_hz"], f["n_fft"], f["win_length"], f["hop_length"], f["n_mels"]) == (16000, 512, 400, 160, 128)
    assert f["preemph"] == 0.97 and f["sources"]["preemph"].startswith("nemo_default")
    assert f["log_zero_guard_value"] == 2.0 ** -24
    assert (f["stft_pad_mode"], f["window_periodic"], f["normalize"], f["mel_norm"]) == ("constant", False, "per_feature", "slaney")
    assert f["valid_length_formula"] == "(num_samples + 2*256 - 512) // 160"
    assert (f["highfreq_hz"], f["lowfreq_hz"], f["dither"], f["pad_to"]) == (8000.0, 0.0, 1e-5, 0)
    e = meta["encoder"]
    assert (e["d_model"], e["subsampling_factor"], e["n_layers"], e["feat_in"]) == (128, 8, 2, 128)
    assert e["max_encoder_frames"] == 5000 and e["frame_stride_s"] == 0.08
    d = meta["decoding"]
    assert (d["vocab_size"], d["blank_id"], d["durations"], d["max_symbols"], d["strategy"]) == (
        250, 250, [0, 1, 2, 3, 4], 10, "greedy_batch")
    dec = meta["decoder"]
    assert (dec["pred_hidden"], dec["pred_rnn_layers"], dec["joint_hidden"], dec["num_outputs"], dec["encoder_dim"]) == (
        m.decoder.pred_hidden, 2, m.joint.joint_hidden, 256, 128)
    g = meta["graphs"]
    assert g["encoder"]["inputs"] == [
        {"name": "audio_signal", "dtype": "float32", "shape": ["batch", 128, "time"]},
        {"name": "length", "dtype": "int64", "shape": ["batch"]}]
    assert g["encoder"]["outputs"] == [
        {"name": "outputs", "dtype": "float32", "shape": ["batch", 128, "encoded_time"]},
        {"name": "encoded_lengths", "dtype": "int64", "shape": ["batch"]}]
    assert [i["name"] for i in g["decoder_joint"]["inputs"]] == [
        "encoder_outputs", "targets", "target_length", "input_states_1", "input_states_2"]
    assert [i["dtype"] for i in g["decoder_joint"]["inputs"]] == ["float32", "int32", "int32", "float32", "float32"]
    assert [o["name"] for o in g["decoder_joint"]["outputs"]] == [
        "outputs", "prednet_lengths", "output_states_1", "output_states_2"]
    assert g["encoder"]["external_data"] == [] and g["decoder_joint"]["external_data"] == []


def test_features_formula_matches_nemo(meta, tiny_nemo_model):
    from parakeet_trt.export.reference import nemo_features

    for n in (400, 16000, 16159, 16160, 33333):
        feats, lengths = nemo_features(tiny_nemo_model, np.random.default_rng(n).standard_normal(n).astype(np.float32) * 0.1)
        assert lengths[0] == (n + 2 * 256 - 512) // 160
        assert feats.shape[-1] == 1 + n // 160


def test_smoke_test_report(exports):
    smoke = exports[0].smoke
    assert smoke["encoder"]["lengths_equal"] and smoke["encoder"]["max_abs_diff"] < ENCODER_ATOL
    dj = smoke["decoder_joint"]
    assert dj["argmax_equal"] and dj["lengths_equal"]
    assert dj["max_abs_diff_logits"] <= LOGITS_RTOL_OF_MAX * dj["max_abs_logits"] + 1e-5


@pytest.mark.parametrize("batch,time", [(1, 17), (1, 400), (3, 233)])
def test_ort_encoder_matches_pytorch(export_dir, tiny_nemo_model, batch, time):
    from parakeet_trt.export.reference import nemo_encoder, nemo_features
    from parakeet_trt.testing.test_models import make_test_signals

    sig = list(make_test_signals(0, duration_s=time * 160 / 16000 + 0.01, with_speech=False).values())
    audio = np.stack([sig[i][: (time - 1) * 160 + 80] for i in range(batch)])
    lengths = np.array([audio.shape[1] - 1000 * i for i in range(batch)], np.int64)
    feats, flen = nemo_features(tiny_nemo_model, audio, lengths)
    ref, ref_len = nemo_encoder(tiny_nemo_model, feats, flen)
    out, out_len = _ort(export_dir / "encoder.onnx").run(None, {"audio_signal": feats, "length": flen})
    assert np.array_equal(out_len, ref_len)
    assert out.shape == ref.shape
    for b in range(batch):
        n = ref_len[b]
        np.testing.assert_allclose(out[b, :, :n], ref[b, :, :n], atol=ENCODER_ATOL, rtol=0)


def test_ort_encoder_batch_equals_single(export_dir, tiny_nemo_model):
    """Padding does not leak: a padded batch row gives the same valid frames as the row alone."""
    from parakeet_trt.export.reference import nemo_features

    rng = np.random.default_rng(3)
    audio = (0.1 * rng.standard_normal((2, 32000))).astype(np.float32)
    feats, flen = nemo_features(tiny_nemo_model, audio, np.array([32000, 20000]))
    sess = _ort(export_dir / "encoder.onnx")
    both, blen = sess.run(None, {"audio_signal": feats, "length": flen})
    single, slen = sess.run(None, {"audio_signal": feats[1:, :, : int(flen[1]) + 1], "length": flen[1:]})
    n = int(slen[0])
    assert n == blen[1]
    np.testing.assert_allclose(both[1, :, :n], single[0, :, :n], atol=1e-4, rtol=0)


@pytest.mark.parametrize("batch,enc_time,target_time", [(1, 1, 1), (2, 7, 3)])
def test_ort_decoder_joint_matches_pytorch(export_dir, tiny_nemo_model, batch, enc_time, target_time):
    from parakeet_trt.export.reference import nemo_decoder_joint, nemo_encoder, nemo_features
    from parakeet_trt.testing.test_models import make_test_signals

    m = tiny_nemo_model
    x = make_test_signals(1, with_speech=False)["harmonic"]
    e, el = nemo_encoder(m, *nemo_features(m, x))
    rng = np.random.default_rng(batch * 100 + enc_time)
    starts = rng.integers(0, int(el[0]) - enc_time, batch)
    enc = np.stack([e[0, :, s : s + enc_time] for s in starts]).astype(np.float32)
    targets = rng.integers(0, 251, (batch, target_time)).astype(np.int32)
    targets[0, 0] = 250  # blank = SOS
    tl = np.full((batch,), target_time, np.int32)
    h = (0.3 * rng.standard_normal((2, batch, m.decoder.pred_hidden))).astype(np.float32)
    c = (0.3 * rng.standard_normal((2, batch, m.decoder.pred_hidden))).astype(np.float32)
    ref = nemo_decoder_joint(m, enc, targets, tl, h, c)
    got = _ort(export_dir / "decoder_joint.onnx").run(None, {
        "encoder_outputs": enc, "targets": targets, "target_length": tl, "input_states_1": h, "input_states_2": c})
    assert got[0].shape == (batch, enc_time, target_time, 256)
    tol = LOGITS_RTOL_OF_MAX * np.abs(ref[0]).max() + 1e-5
    np.testing.assert_allclose(got[0], ref[0], atol=tol, rtol=0)
    assert np.array_equal(got[1], ref[1])
    np.testing.assert_allclose(got[2], ref[2], atol=STATES_ATOL, rtol=0)
    np.testing.assert_allclose(got[3], ref[3], atol=STATES_ATOL, rtol=0)
    V = 250
    assert np.array_equal(got[0][..., : V + 1].argmax(-1), ref[0][..., : V + 1].argmax(-1))
    assert np.array_equal(got[0][..., V + 1 :].argmax(-1), ref[0][..., V + 1 :].argmax(-1))


def test_decoder_step_bin_equals_nemo_parameters(export_dir, meta, tiny_nemo_model):
    from parakeet_trt.export.decoder_weights import read_decoder_step

    m = tiny_nemo_model
    step = meta["decoder_step"]
    raw = (export_dir / "decoder_step.bin").read_bytes()
    assert len(raw) == step["total_bytes"]
    assert step["order"][0] == "embedding" and step["order"][-1] == "joint.out.bias"
    end = 0
    for name in step["order"]:
        e = step["tensors"][name]
        assert e["offset"] % 64 == 0 and e["offset"] >= end
        assert raw[end : e["offset"]] == b"\0" * (e["offset"] - end)  # zero padding
        end = e["offset"] + e["nbytes"]
    t = read_decoder_step(export_dir / "decoder_step.bin", step)
    lstm = m.decoder.prediction["dec_rnn"].lstm
    expected = {
        "embedding": m.decoder.prediction["embed"].weight,
        "joint.enc.weight": m.joint.enc.weight, "joint.enc.bias": m.joint.enc.bias,
        "joint.pred.weight": m.joint.pred.weight, "joint.pred.bias": m.joint.pred.bias,
        "joint.out.weight": m.joint.joint_net[-1].weight, "joint.out.bias": m.joint.joint_net[-1].bias,
    }
    for L in range(2):
        expected.update({f"lstm.{L}.w_ih": getattr(lstm, f"weight_ih_l{L}"), f"lstm.{L}.w_hh": getattr(lstm, f"weight_hh_l{L}"),
                         f"lstm.{L}.b_ih": getattr(lstm, f"bias_ih_l{L}"), f"lstm.{L}.b_hh": getattr(lstm, f"bias_hh_l{L}")})
    assert set(expected) == set(step["order"])
    for name, p in expected.items():
        assert np.array_equal(t[name], p.detach().numpy()), name
    assert t["embedding"].shape == (251, m.decoder.pred_hidden) and not t["embedding"][250].any()
    assert t["joint.out.weight"].shape == (256, m.joint.joint_hidden)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_decoder_step_semantics_reproduce_nemo(export_dir, meta, tiny_nemo_model):
    """A numpy LSTM + joint from decoder_step.bin reproduces NeMo's predictor step and joint."""
    from parakeet_trt.export.decoder_weights import read_decoder_step
    from parakeet_trt.export.reference import nemo_joint_logits, nemo_predictor_step

    m = tiny_nemo_model
    t = read_decoder_step(export_dir / "decoder_step.bin", meta["decoder_step"])
    H = m.decoder.pred_hidden
    rng = np.random.default_rng(0)
    h = np.zeros((2, 1, H), np.float32)
    c = np.zeros((2, 1, H), np.float32)
    for token in [250, 3, 17, 249, 0]:
        G_ref, h_ref, c_ref = nemo_predictor_step(m, [token], h, c)
        x = t["embedding"][token]
        h_new, c_new = h.copy(), c.copy()
        for L in range(2):
            gates = t[f"lstm.{L}.w_ih"] @ x + t[f"lstm.{L}.b_ih"] + t[f"lstm.{L}.w_hh"] @ h[L, 0] + t[f"lstm.{L}.b_hh"]
            i, f, g, o = np.split(gates, 4)
            c_new[L, 0] = _sigmoid(f) * c[L, 0] + _sigmoid(i) * np.tanh(g)
            h_new[L, 0] = _sigmoid(o) * np.tanh(c_new[L, 0])
            x = h_new[L, 0]
        G = t["joint.pred.weight"] @ x + t["joint.pred.bias"]
        np.testing.assert_allclose(h_new, h_ref, atol=1e-5)
        np.testing.assert_allclose(c_new, c_ref, atol=1e-5)
        np.testing.assert_allclose(G, G_ref[0], atol=1e-4)
        frame = rng.standard_normal(m.joint.encoder_hidden).astype(np.float32)
        F = t["joint.enc.weight"] @ frame + t["joint.enc.bias"]
        logits = t["joint.out.weight"] @ np.maximum(F + G, 0) + t["joint.out.bias"]
        ref = nemo_joint_logits(m, frame[None], G_ref)[0]
        np.testing.assert_allclose(logits, ref, atol=1e-5 * np.abs(ref).max() + 1e-5)
        h, c = h_ref, c_ref


def test_vocab_txt(export_dir, meta, tiny_nemo_model):
    lines = (export_dir / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    pieces = lines[:-1]
    sp = tiny_nemo_model.tokenizer.tokenizer
    assert pieces == [sp.id_to_piece(i) for i in range(250)]
    assert meta["vocabulary"]["size"] == 250 and meta["vocabulary"]["file"] == "vocab.txt"


def test_component_encoder_only(tiny_nemo_path, tmp_path):
    from parakeet_trt.export import export_model

    res = export_model(tiny_nemo_path, tmp_path, component="encoder", log=None)
    assert sorted(res.meta["graphs"]) == ["encoder"]
    assert not (tmp_path / "decoder_joint.onnx").exists()
    assert "decoder_joint.onnx" not in res.meta["artifacts"]


def test_max_audio_s_extends_positional_table(tiny_nemo_path, tmp_path):
    import onnx
    from parakeet_trt.export import export_model

    res = export_model(tiny_nemo_path, tmp_path, component="encoder", max_audio_s=600.0, log=None)
    e = res.meta["encoder"]
    # 600 s -> 1 + 9600000 // 160 = 60001 feature frames -> ceil(60001 / 8) = 7501 encoder frames
    assert e["max_encoder_frames"] == 7501
    assert e["max_audio_samples"] >= 600 * 16000
    m = onnx.load(str(tmp_path / "encoder.onnx"))
    tensors = list(m.graph.initializer) + [a.t for n in m.graph.node if n.op_type == "Constant" for a in n.attribute]
    rows = [tuple(t.dims) for t in tensors if len(t.dims) == 3 and t.dims[1] == 2 * 7501 - 1]
    assert rows, "positional table with 2*7501-1 rows not found in the graph"


def _tar_with(path: Path, files: dict):
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            ti = tarfile.TarInfo("./" + name)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))


def test_bad_inputs_raise_clear_errors(tiny_nemo_path, tmp_path):
    from parakeet_trt.export import (CorruptNemoFileError, NemoFileNotFoundError, OutputDirError,
                                     UnsupportedModelError, export_model)

    out = tmp_path / "out"
    with pytest.raises(NemoFileNotFoundError, match="not found"):
        export_model(tmp_path / "missing.nemo", out, log=None)
    with pytest.raises(NemoFileNotFoundError, match="not a regular file"):
        export_model(tmp_path, out, log=None)
    truncated = tmp_path / "truncated.nemo"
    data = Path(tiny_nemo_path).read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptNemoFileError, match="truncated"):
        export_model(truncated, out, log=None)
    garbage = tmp_path / "garbage.nemo"
    garbage.write_bytes(b"this is not a tar archive" * 100)
    with pytest.raises(CorruptNemoFileError):
        export_model(garbage, out, log=None)
    empty = tmp_path / "empty.nemo"
    empty.write_bytes(b"")
    with pytest.raises(CorruptNemoFileError, match="empty"):
        export_model(empty, out, log=None)
    ctc = tmp_path / "ctc.nemo"
    _tar_with(ctc, {"model_config.yaml": b"target: nemo.collections.asr.models.ctc_bpe_models.EncDecCTCModelBPE\n"
                                         b"encoder: {}\ndecoder: {}\npreprocessor: {}\n",
                    "model_weights.ckpt": b"x"})
    with pytest.raises(UnsupportedModelError, match="not a transducer"):
        export_model(ctc, out, log=None)
    noweights = tmp_path / "noweights.nemo"
    _tar_with(noweights, {"model_config.yaml": b"target: x\n"})
    with pytest.raises(CorruptNemoFileError, match="model_weights.ckpt"):
        export_model(noweights, out, log=None)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(OutputDirError, match="not a directory"):
        export_model(tiny_nemo_path, blocker, log=None)
    with pytest.raises(OutputDirError, match="not writable"):
        export_model(tiny_nemo_path, blocker / "sub", log=None)
    with pytest.raises(Exception, match="component"):
        export_model(tiny_nemo_path, out, component="joint", log=None)


def test_cli_help_and_error_exit(tmp_path):
    script = REPO / "tools" / "export_onnx" / "export.py"
    r = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, check=True)
    for opt in ("--model", "--out", "--component", "--device", "--smoke-test-ort", "--max-audio-s"):
        assert opt in r.stdout
    r = subprocess.run([sys.executable, str(script), "--model", str(tmp_path / "nope.nemo"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not found" in r.stderr
