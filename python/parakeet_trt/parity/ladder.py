"""The ONNX Runtime validation ladder: every component against its reference, in order.

features (C++ vs NeMo) -> offline encoder (ORT vs NeMo) -> decoder_joint (ORT vs NeMo) -> native
decoder step (C++ vs NeMo) -> decoded tokens (C++ pipeline vs NeMo, identical ids) -> streaming
encoder per profile (ORT vs NeMo per chunk, functional and closed-loop) -> streaming tokens vs
offline tokens of the same audio (token edit distance).

Each rung returns a dict with the measured errors and ``passed`` against the contract's tolerances.
Used by tools/validation_report_ort.py and tests/test_ort_ladder.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import numpy as np

from parakeet_trt.contract import TOLERANCES, passes


def _ort(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1  # fixed reduction order: the report regenerates identically
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _rung(name: str, err: float, ref: float, **extra) -> Dict[str, Any]:
    tol = TOLERANCES[name]
    return {"component": name, "max_abs_error": err, "max_abs_reference": ref,
            "rel_error": err / max(ref, 1e-12), "passed": passes(tol, err, ref), "tolerance": tol, **extra}


def features_rung(nemo_model, core_model, signals) -> Dict[str, Any]:
    from parakeet_trt.parity.offline import compare_features, nemo_features

    rows = compare_features(nemo_model, core_model, signals)
    ref = max(float(np.abs(nemo_features(nemo_model, s.samples)[0]).max()) for s in signals)
    return _rung("features", max(r.max_abs_diff_valid for r in rows), ref, items=len(rows))


def encoder_rung(nemo_model, export_dir: Path, core_model, signals, session=None) -> Dict[str, Any]:
    """session: anything with ONNX Runtime's ``run(output_names, feeds)`` (default: ORT on encoder.onnx)."""
    from parakeet_trt import _core
    from parakeet_trt.export.reference import nemo_encoder

    sess = session or _ort(export_dir / "encoder.onnx")
    fx = _core.FeatureExtractor(core_model)
    err = ref = 0.0
    lengths_ok = True
    for s in signals:
        feats, valid = fx.compute(s.samples)
        if valid == 0:
            continue
        r, rl = nemo_encoder(nemo_model, feats[None], np.array([valid]))
        o, ol = sess.run(["outputs", "encoded_lengths"], {"audio_signal": feats[None], "length": np.array([valid])})
        n = int(rl[0])
        lengths_ok &= bool(ol[0] == n)
        err = max(err, float(np.abs(o[0, :, :n] - r[0, :, :n]).max()))
        ref = max(ref, float(np.abs(r[0, :, :n]).max()))
    out = _rung("encoder", err, ref, items=len(signals), lengths_equal=lengths_ok)
    out["passed"] = out["passed"] and lengths_ok
    return out


def decoder_joint_rung(nemo_model, export_dir: Path, session=None, batch: int = 3) -> Dict[str, Any]:
    from parakeet_trt.export.smoke import smoke_decoder_joint

    r = smoke_decoder_joint(nemo_model, export_dir / "decoder_joint.onnx", seed=3, batch=batch, enc_time=7,
                            target_time=5, session=session)
    out = _rung("decoder_joint", max(r["max_abs_diff_logits"], r["max_abs_diff_states"]), r["max_abs_logits"],
                argmax_equal=r["argmax_equal"])
    out["passed"] = out["passed"] and r["argmax_equal"] and r["lengths_equal"]
    return out


def decoder_step_rung(nemo_model, core_model, num_steps: int = 40, seed: int = 0) -> Dict[str, Any]:
    """Native C++ LSTM step + joint vs NeMo's predict + joint on a random token walk."""
    from parakeet_trt import _core
    from parakeet_trt.export.reference import nemo_joint_logits, nemo_predictor_step

    step = _core.NativeDecoderStep(core_model)
    rng = np.random.default_rng(seed)
    dec = nemo_model.decoder
    L, H = dec.pred_rnn_layers, dec.pred_hidden
    h = np.zeros((L, 1, H), np.float32)
    c = np.zeros((L, 1, H), np.float32)
    state = step.make_state()
    err = ref = 0.0
    token = core_model.blank_id
    argmax_equal = True
    for _ in range(num_steps):
        G, h, c = nemo_predictor_step(nemo_model, [token], h, c)
        state = step.predict(token, state)
        frame = rng.standard_normal((1, core_model.encoder_dim)).astype(np.float32)
        ref_logits = nemo_joint_logits(nemo_model, frame, G)[0]
        ours = step.joint(step.project_encoder(frame.T)[0], state)
        err = max(err, float(np.abs(ours - ref_logits).max()), float(np.abs(np.asarray(state.projected) - G[0]).max()))
        ref = max(ref, float(np.abs(ref_logits).max()))
        argmax_equal &= int(np.argmax(ours[: core_model.vocab_size + 1])) == int(np.argmax(ref_logits[: core_model.vocab_size + 1]))
        token = int(rng.integers(0, core_model.vocab_size))
    out = _rung("decoder_step", err, ref, items=num_steps, argmax_equal=bool(argmax_equal))
    out["passed"] = out["passed"] and argmax_equal
    return out


def tokens_rung(nemo_model, session, signals) -> Dict[str, Any]:
    from parakeet_trt.parity.offline import compare_decoding

    rows = compare_decoding(nemo_model, session, signals, session.model.max_symbols)
    identical = sum(r.identical for r in rows)
    return {"component": "tokens", "items": len(rows), "identical": identical, "passed": identical == len(rows),
            "tokens": sum(r.num_tokens_nemo for r in rows), "tolerance": TOLERANCES["tokens"]}


def streaming_rungs(nemo_model, export_dir: Path, num_chunks: int, seed: int = 0,
                    session=None) -> Dict[str, Dict[str, Any]]:
    import json

    from parakeet_trt.export.streaming import apply_streaming_params
    from parakeet_trt.parity.streaming import compare_stream, reference_features, reference_stream

    meta = json.loads((export_dir / "model_meta.json").read_text())
    s = json.loads((export_dir / meta["contract"]["file"]).read_text())["streaming"]
    prof = apply_streaming_params(nemo_model.encoder, s["profile"], chunk_size=s["chunk_size"],
                                  shift_size=s["shift_size"], left_chunks=s["left_chunks"],
                                  cache_size=s["last_channel_cache_size"])
    feats = reference_features(nemo_model.encoder._feat_in,
                               prof.window_frames + prof.advance_frames_per_call * num_chunks, seed)
    records = reference_stream(nemo_model.encoder, prof, feats, num_chunks)
    sess = session or _ort(export_dir / "encoder_streaming.onnx")
    tol = {k: TOLERANCES["encoder_streaming"][k] for k in ("abs", "rel")}
    return {mode: compare_stream(sess, records, mode, tol) for mode in ("functional", "closed-loop")}


def edit_distance(a: List[int], b: List[int]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(edit distance in words, reference word count) of one utterance's transcript."""
    return edit_distance(ref.split(), hyp.split()), len(ref.split())


def streaming_vs_offline(export_dir: Path, offline_session, signals) -> Dict[str, Any]:
    """Tokens of the streaming encoder (C++ runner, whole-utterance features cut into the profile's
    windows, outputs concatenated, C++ TDT decoding) against offline decoding of the same audio."""
    from parakeet_trt import _core
    from parakeet_trt.engines.streaming_encoder import StreamingEncoder

    enc = StreamingEncoder(export_dir, providers=["CPUExecutionProvider"], intra_op_threads=1)
    fx = _core.FeatureExtractor(enc.model)
    step = _core.NativeDecoderStep(enc.model)
    decoder = _core.TdtGreedyDecoder(enc.model, step)
    total_dist = total_ref = 0
    rows = []
    for s in signals:
        feats, valid = fx.compute(s.samples)
        enc.reset()
        frames = []
        for window, length in enc.windows(feats, valid):
            out = enc.run(window, length)
            frames.append(out["outputs"][:, : out["encoded_length"]])
        if not frames:
            continue
        encoded = np.concatenate(frames, axis=1)
        ids, _, _ = decoder.decode(step.project_encoder(np.ascontiguousarray(encoded)), encoded.shape[1])
        ref = offline_session.transcribe(s.samples, 16000).token_ids
        d = edit_distance(list(ids), list(ref))
        rows.append({"signal": s.name, "offline_tokens": len(ref), "streaming_tokens": len(ids), "edit_distance": d})
        total_dist += d
        total_ref += len(ref)
    return {"profile": enc.profile, "signals": rows, "token_edit_distance": total_dist, "offline_tokens": total_ref,
            "token_error_rate": total_dist / max(total_ref, 1)}
