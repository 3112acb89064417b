"""The model contract: ``<model>.contract.json``, written by the exporter beside the artifacts.

It states what the runtime may assume about an exported model and checks at load and at every
engine call: each engine's I/O names, dtypes, shape rules and optimization-profile ranges, the
graphs' hashes, the vocabulary, the decoding and feature settings, the streaming parameters and
the invariants of the streaming profile, and the parity tolerances of the validation ladder.
Every value is derived from the ``.nemo`` config (``model_config.yaml``) and the export metadata;
``parakeet_trt.contract.sources`` names the source of each.

``build_contract(meta, nemo_config) -> dict`` is pure (no torch, no files), so a re-export of the
same ``.nemo`` writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

CONTRACT_VERSION = 1

# Parity tolerances of the validation ladder (ONNX Runtime vs PyTorch, native vs ONNX Runtime).
# A component passes a comparison when max_abs_error <= abs + rel * max_abs_reference.
# Values: measured on the tiny and full-size test models (docs/VALIDATION_REPORT_ORT.md) with
# about 10x headroom; features from docs/PARITY_OFFLINE.md (DECISION_LOG, features).
TOLERANCES: Dict[str, Dict[str, Any]] = {
    "features": {"abs": 3e-3, "rel": 0.0,
                 "compare": "valid frames, C++ vs NeMo preprocessor (1e-3 on all but quiet noise and a pure chirp, "
                            "ill-conditioned in NeMo's own float32 arithmetic: DECISION_LOG, features)"},
    "encoder": {"abs": 1e-4, "rel": 1e-4, "compare": "valid frames, ONNX Runtime vs NeMo encoder"},
    "encoder_streaming": {"abs": 1e-4, "rel": 1e-4,
                          "compare": "outputs and next caches per chunk, ONNX Runtime vs NeMo cache_aware_stream_step"},
    "decoder_joint": {"abs": 1e-4, "rel": 1e-4, "compare": "raw logits and LSTM states, ONNX Runtime vs NeMo"},
    "decoder_step": {"abs": 1e-4, "rel": 1e-4, "compare": "joint logits and projected predictor, native C++ vs NeMo"},
    "tokens": {"identical": True, "compare": "decoded token ids, C++ pipeline vs NeMo greedy_batch"},
}


def contract_file_name(model_name: str) -> str:
    return f"{model_name}.contract.json"


def _cfg(config: Dict[str, Any], *path, default=None):
    node: Any = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _io(entries: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{"name": e["name"], "dtype": e["dtype"], "shape": list(e["shape"])} for e in entries]


def _graph_hashes(graph: Dict[str, Any], artifacts: Dict[str, str]) -> Dict[str, str]:
    return {f: artifacts[f] for f in [graph["file"], *graph.get("external_data", [])]}


def _graph_precision(graph: Dict[str, Any]) -> Dict[str, Any]:
    """The graph's precision and, when converted from fp32, how (export/precision.py)."""
    out: Dict[str, Any] = {"precision": graph.get("precision", "fp32")}
    if "conversion" in graph:
        out["conversion"] = graph["conversion"]
    return out


def _encoder_engine(meta: Dict[str, Any]) -> Dict[str, Any]:
    g, enc, feats = meta["graphs"]["encoder"], meta["encoder"], meta["features"]
    return {
        "file": g["file"],
        "sha256": _graph_hashes(g, meta["artifacts"]),
        **_graph_precision(g),
        "inputs": _io(g["inputs"]),
        "outputs": _io(g["outputs"]),
        "profile": {"batch": [1, 1, 1],
                    "time": [1, 1000, int(enc["max_feature_frames"])]},
        "rules": {
            "audio_signal.shape[1]": feats["n_mels"],
            "outputs.shape[1]": enc["d_model"],
            "outputs.shape[2]": enc["encoded_length_formula"].replace("feature_length", "time"),
            "encoded_lengths": enc["encoded_length_formula"].replace("feature_length", "length"),
            "length": "1 <= length <= time",
            "outputs": "finite",
        },
    }


def _decoder_joint_engine(meta: Dict[str, Any]) -> Dict[str, Any]:
    g, dec = meta["graphs"]["decoder_joint"], meta["decoder"]
    return {
        "file": g["file"],
        "sha256": _graph_hashes(g, meta["artifacts"]),
        **_graph_precision(g),
        "inputs": _io(g["inputs"]),
        "outputs": _io(g["outputs"]),
        "profile": {"batch": [1, 1, 1], "encoder_time": [1, 1, int(meta["encoder"]["max_encoder_frames"])],
                    "target_time": [1, 1, 1]},
        "rules": {
            "encoder_outputs.shape[1]": dec["encoder_dim"],
            "input_states_1.shape": [dec["pred_rnn_layers"], "batch", dec["pred_hidden"]],
            "outputs.shape[3]": dec["num_outputs"],
            "targets": f"0 <= targets <= {meta['decoding']['blank_id']} (blank = SOS)",
        },
    }


def _streaming_engine(meta: Dict[str, Any]) -> Dict[str, Any]:
    g, s = meta["graphs"]["encoder_streaming"], meta["streaming"]
    inv = s["invariants"]
    return {
        "file": g["file"],
        "sha256": _graph_hashes(g, meta["artifacts"]),
        **_graph_precision(g),
        "inputs": _io(g["inputs"]),
        "outputs": _io(g["outputs"]),
        "profile": {"batch": [1, 1, 1]},
        "rules": {
            "audio_signal.shape": ["batch", meta["features"]["n_mels"], s["window_frames"]],
            "length": f"{inv['min_length']} <= length <= {s['window_frames']}",
            "outputs.shape": ["batch", s["d_model"], s["output_frames_per_call"]],
            "encoded_lengths": inv["encoded_lengths_rule"],
            "cache_last_channel_next_len": inv["cache_len_rule"],
            "outputs": "finite",
        },
    }


def _decoder_step(meta: Dict[str, Any]) -> Dict[str, Any]:
    step = meta["decoder_step"]
    return {"file": step["file"], "sha256": {step["file"]: meta["artifacts"][step["file"]]},
            "tensors": {name: list(t["shape"]) for name, t in sorted(step["tensors"].items())}}


def build_contract(meta: Dict[str, Any], nemo_config: Dict[str, Any]) -> Dict[str, Any]:
    """The contract of an export, from its model_meta.json content and the .nemo's model_config.yaml."""
    feats, enc, dec, decoding = meta["features"], meta["encoder"], meta["decoder"], meta["decoding"]
    engines: Dict[str, Any] = {}
    if "encoder" in meta["graphs"]:
        engines["encoder"] = _encoder_engine(meta)
    if "decoder_joint" in meta["graphs"]:
        engines["decoder_joint"] = _decoder_joint_engine(meta)
    if "encoder_streaming" in meta["graphs"]:
        engines["encoder_streaming"] = _streaming_engine(meta)
    engines["decoder_step"] = _decoder_step(meta)
    src = meta["source"]
    contract: Dict[str, Any] = {
        "contract_version": CONTRACT_VERSION,
        "model_name": meta["model_name"],
        "model_class": meta["model_class"],
        "source": {k: src[k] for k in ("nemo_sha256", "nemo_version", "torch_version", "onnx_version", "onnx_opset",
                                       "exporter_version")},
        "features": {k: feats[k] for k in (
            "sample_rate_hz", "n_fft", "win_length", "hop_length", "n_mels", "preemph", "log", "log_zero_guard_type",
            "log_zero_guard_value", "lowfreq_hz", "highfreq_hz", "mel_norm", "mag_power", "normalize",
            "normalize_eps", "window", "window_periodic", "stft_pad_mode", "pad_to", "pad_value", "dither",
            "dither_at_inference", "frame_splicing", "exact_pad", "valid_length_formula", "num_frames_formula")},
        "encoder": {
            "d_model": enc["d_model"],
            "n_layers": enc["n_layers"],
            "n_heads": _cfg(nemo_config, "encoder", "n_heads"),
            "subsampling": _cfg(nemo_config, "encoder", "subsampling"),
            "subsampling_factor": enc["subsampling_factor"],
            "frame_stride_s": enc["frame_stride_s"],
            "feat_in": enc["feat_in"],
            "self_attention_model": enc["self_attention_model"],
            "att_context_size": enc["att_context_size"],
            "att_context_style": _cfg(nemo_config, "encoder", "att_context_style", default="regular"),
            "conv_kernel_size": _cfg(nemo_config, "encoder", "conv_kernel_size"),
            "pos_emb_max_len": _cfg(nemo_config, "encoder", "pos_emb_max_len"),
            "max_encoder_frames": enc["max_encoder_frames"],
            "max_feature_frames": enc["max_feature_frames"],
            "encoded_length_formula": enc["encoded_length_formula"],
        },
        "decoding": {
            "model_type": decoding["model_type"],
            "vocab_size": decoding["vocab_size"],
            "blank_id": decoding["blank_id"],
            "durations": decoding["durations"],
            "max_symbols": decoding["max_symbols"],
            "strategy": decoding["strategy"],
            "num_outputs": dec["num_outputs"],
            "logit_layout": decoding["logit_layout"],
            "pred_hidden": dec["pred_hidden"],
            "pred_rnn_layers": dec["pred_rnn_layers"],
            "joint_hidden": dec["joint_hidden"],
        },
        "vocabulary": {"file": meta["vocabulary"]["file"], "size": meta["vocabulary"]["size"],
                       "sha256": meta["vocabulary"]["sha256"], "tokenizer": meta["vocabulary"]["tokenizer"]},
        "engines": engines,
        "tolerances": TOLERANCES,
    }
    if "streaming" in meta:
        s = meta["streaming"]  # profile parameters, their sources and the per-call invariants
        contract["streaming"] = dict(s)
    return contract


def contract_bytes(contract: Dict[str, Any]) -> bytes:
    return (json.dumps(contract, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write_contract(out_dir: Path, meta: Dict[str, Any], nemo_config: Dict[str, Any]) -> Dict[str, str]:
    """Write ``<model>.contract.json`` into ``out_dir``; returns the model_meta.json entry (file, sha256)."""
    data = contract_bytes(build_contract(meta, nemo_config))
    name = contract_file_name(meta["model_name"])
    (Path(out_dir) / name).write_bytes(data)
    return {"file": name, "sha256": hashlib.sha256(data).hexdigest()}


def load_contract(model_dir: Path, meta: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    model_dir = Path(model_dir)
    if meta is None:
        meta = json.loads((model_dir / "model_meta.json").read_text())
    return json.loads((model_dir / meta["contract"]["file"]).read_text())


def passes(tolerance: Dict[str, Any], max_abs_error: float, max_abs_reference: float) -> bool:
    return bool(max_abs_error <= tolerance["abs"] + tolerance["rel"] * max_abs_reference)
