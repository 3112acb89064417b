"""ONNX Runtime smoke test: run the exported graphs on random inputs, compare with NeMo."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np

from . import reference


def _session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def smoke_encoder(model, onnx_path: Path, seed: int = 0, batch: int = 2, time: int = 301) -> Dict[str, Any]:
    rng = np.random.default_rng(seed)
    feats = rng.standard_normal((batch, model.encoder._feat_in, time)).astype(np.float32)
    lengths = np.array([time] + [time - 57 * (i + 1) for i in range(batch - 1)], np.int64)
    ref_out, ref_len = reference.nemo_encoder(model, feats, lengths)
    out, out_len = _session(onnx_path).run(["outputs", "encoded_lengths"], {"audio_signal": feats, "length": lengths})
    diff = np.abs(out - ref_out)
    # compare only valid frames; beyond the length both are padding
    valid = np.zeros_like(diff, dtype=bool)
    for b, n in enumerate(ref_len):
        valid[b, :, :n] = True
    return {
        "input_shape": list(feats.shape),
        "lengths_equal": bool(np.array_equal(out_len, ref_len)),
        "max_abs_diff": float(diff[valid].max()),
        "max_abs_ref": float(np.abs(ref_out[valid]).max()),
    }


def smoke_decoder_joint(model, onnx_path: Path, seed: int = 0, batch: int = 3, enc_time: int = 5,
                        target_time: int = 4, session=None) -> Dict[str, Any]:
    rng = np.random.default_rng(seed)
    dec, joint = model.decoder, model.joint
    enc = rng.standard_normal((batch, joint.encoder_hidden, enc_time)).astype(np.float32)
    targets = rng.integers(0, dec.blank_idx + 1, (batch, target_time)).astype(np.int32)
    tl = np.full((batch,), target_time, np.int32)
    shape = (dec.pred_rnn_layers, batch, dec.pred_hidden)
    h = (0.5 * rng.standard_normal(shape)).astype(np.float32)
    c = (0.5 * rng.standard_normal(shape)).astype(np.float32)
    ref = reference.nemo_decoder_joint(model, enc, targets, tl, h, c)
    got = (session or _session(onnx_path)).run(
        ["outputs", "prednet_lengths", "output_states_1", "output_states_2"],
        {"encoder_outputs": enc, "targets": targets, "target_length": tl, "input_states_1": h, "input_states_2": c},
    )
    return {
        "input_shapes": {"encoder_outputs": list(enc.shape), "targets": list(targets.shape)},
        "max_abs_diff_logits": float(np.abs(got[0] - ref[0]).max()),
        "max_abs_logits": float(np.abs(ref[0]).max()),
        "max_abs_diff_states": float(max(np.abs(got[2] - ref[2]).max(), np.abs(got[3] - ref[3]).max())),
        "argmax_equal": bool(np.array_equal(got[0].argmax(-1), ref[0].argmax(-1))),
        "lengths_equal": bool(np.array_equal(got[1], ref[1])),
    }
