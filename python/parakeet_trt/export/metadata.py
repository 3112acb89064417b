"""``model_meta.json``: every value read from the .nemo config and modules, or probed
from NeMo's own code where the config is silent (the ``sources`` maps say which)."""

from __future__ import annotations

from typing import Any, Dict, List

FORMAT_VERSION = 1
EXPORTER_VERSION = 4  # 4: graphs carry "precision" (issue 20)


def _plain(v):
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(v):
            return OmegaConf.to_container(v, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return v


def _cfg_get(cfg, key, default=None):
    try:
        v = cfg.get(key, default)
    except AttributeError:
        v = default
    return _plain(v)


def _probe_stft_pad_mode(fz) -> str:
    """Which padding NeMo's STFT really applies (constant since NeMo 2.5, reflect before)."""
    import torch

    if fz.exact_pad:
        return "none(exact_pad)"
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 4000, generator=g)
    ref = fz.stft(x)
    for mode in ("constant", "reflect"):
        y = torch.stft(x, n_fft=fz.n_fft, hop_length=fz.hop_length, win_length=fz.win_length, center=True,
                       window=fz.window.to(torch.float), return_complex=True, pad_mode=mode)
        if torch.allclose(ref, y, atol=1e-5, rtol=1e-5):
            return mode
    return "unknown"


def feature_meta(model) -> Dict[str, Any]:
    import librosa
    import numpy as np
    import torch

    pre = model.preprocessor
    fz = pre.featurizer
    cfg = model.cfg.preprocessor
    sr = int(pre._sample_rate)
    n_mels = int(fz.fb.shape[1])
    lowfreq = _cfg_get(cfg, "lowfreq", 0)
    highfreq = _cfg_get(cfg, "highfreq", None) or sr / 2
    mel_norm = _cfg_get(cfg, "mel_norm", "slaney")
    window = _cfg_get(cfg, "window", "hann")
    guard = fz.log_zero_guard_value_fn(torch.zeros(1))
    # the filterbank NeMo holds must be the librosa one described here
    fb = librosa.filters.mel(sr=sr, n_fft=fz.n_fft, n_mels=n_mels, fmin=lowfreq, fmax=highfreq, norm=mel_norm)
    if not np.allclose(fb, fz.fb[0].numpy(), atol=1e-7):
        raise RuntimeError("NeMo's mel filterbank differs from librosa.filters.mel with the recorded settings")
    periodic = bool(torch.equal(fz.window, torch.hann_window(fz.win_length, periodic=True))) if window == "hann" else None
    pad_amount = fz.stft_pad_amount if fz.stft_pad_amount is not None else fz.n_fft // 2
    valid_formula = f"(num_samples + 2*{pad_amount} - {fz.n_fft}) // {fz.hop_length}"
    for n in (1, 159, 160, 161, 16000, 16001, 123457):
        got = int(fz.get_seq_len(torch.tensor([n]))[0])
        if got != (n + 2 * pad_amount - fz.n_fft) // fz.hop_length:
            raise RuntimeError(f"NeMo valid-length formula changed: N={n} -> {got}")
    # frames NeMo's preprocessor actually outputs (center=True STFT, pad_to=0)
    x = torch.zeros(1, 16001)
    feats, _ = pre(input_signal=x, length=torch.tensor([16001]))
    num_frames = int(feats.shape[-1])
    frames_formula = f"1 + num_samples // {fz.hop_length}" if not fz.exact_pad else "see NeMo exact_pad"
    if not fz.exact_pad and num_frames != 1 + 16001 // fz.hop_length and not fz.pad_to:
        raise RuntimeError(f"unexpected STFT frame count {num_frames} for 16001 samples")

    keys_from_cfg = {
        "sample_rate_hz": "sample_rate", "n_fft": "n_fft", "win_length": "window_size", "hop_length": "window_stride",
        "n_mels": "features", "preemph": "preemph", "log": "log", "log_zero_guard_type": "log_zero_guard_type",
        "log_zero_guard_value": "log_zero_guard_value", "lowfreq_hz": "lowfreq", "highfreq_hz": "highfreq",
        "mel_norm": "mel_norm", "mag_power": "mag_power", "normalize": "normalize", "window": "window",
        "pad_to": "pad_to", "pad_value": "pad_value", "dither": "dither", "frame_splicing": "frame_splicing",
        "exact_pad": "exact_pad",
    }
    sources = {}
    for k, ck in keys_from_cfg.items():
        alt = {"win_length": "n_window_size", "hop_length": "n_window_stride"}.get(k)
        if ck in cfg or (alt and alt in cfg):
            sources[k] = f"config:preprocessor.{ck if ck in cfg else alt}"
        else:
            sources[k] = "nemo_default:AudioToMelSpectrogramPreprocessor.__init__"
    sources["stft_pad_mode"] = "probed:FilterbankFeatures.stft"
    sources["valid_length_formula"] = "probed:FilterbankFeatures.get_seq_len"
    sources["num_frames_formula"] = "probed:AudioToMelSpectrogramPreprocessor.forward"
    sources["normalize_eps"] = "nemo:features.CONSTANT (added to std)"
    if highfreq and _cfg_get(cfg, "highfreq", None) is None:
        sources["highfreq_hz"] = "nemo_default:highfreq=None -> sample_rate/2"
    from nemo.collections.asr.parts.preprocessing import features as nemo_features

    return {
        "sample_rate_hz": sr,
        "n_fft": int(fz.n_fft),
        "win_length": int(fz.win_length),
        "hop_length": int(fz.hop_length),
        "n_mels": n_mels,
        "preemph": None if fz.preemph is None else float(fz.preemph),
        "log": bool(fz.log),
        "log_zero_guard_type": fz.log_zero_guard_type,
        "log_zero_guard_value": float(guard),
        "lowfreq_hz": float(lowfreq),
        "highfreq_hz": float(highfreq),
        "mel_norm": mel_norm,
        "mel_scale": "slaney (librosa htk=False)",
        "mag_power": float(fz.mag_power),
        "normalize": fz.normalize if isinstance(fz.normalize, str) else _plain(fz.normalize),
        "normalize_eps": float(nemo_features.CONSTANT),
        "normalize_std": "unbiased (n-1) over valid frames; NaN -> 0; then + normalize_eps",
        "window": window,
        "window_periodic": periodic,
        "stft_center": not bool(fz.exact_pad),
        "stft_pad_mode": _probe_stft_pad_mode(fz),
        "pad_to": int(fz.pad_to) if isinstance(fz.pad_to, int) else fz.pad_to,
        "pad_value": float(fz.pad_value),
        "dither": float(fz.dither),
        "dither_at_inference": False,
        "frame_splicing": int(fz.frame_splicing),
        "exact_pad": bool(fz.exact_pad),
        "valid_length_formula": valid_formula,
        "num_frames_formula": frames_formula,
        "preemph_masks_beyond_length": True,
        "frames_beyond_valid_length": "set to pad_value",
        "mel_filterbank_shape": [n_mels, int(fz.fb.shape[2])],
        "sources": sources,
    }


def _subsampled_length(encoder, n: int) -> int:
    import torch
    from nemo.collections.asr.parts.submodules.subsampling import calc_length

    pe = encoder.pre_encode
    if not hasattr(pe, "_sampling_num"):
        return n
    return int(calc_length(torch.tensor([n]), all_paddings=pe._left_padding + pe._right_padding,
                           kernel_size=pe._kernel_size, stride=pe._stride, ceil_mode=pe._ceil_mode,
                           repeat_num=pe._sampling_num)[0])


def max_encoder_frames(encoder) -> int:
    """Longest encoder output the positional table supports (rel_pos: pe has 2L-1 rows)."""
    pe = encoder.pos_enc.pe
    if encoder.self_attention_model in ("rel_pos", "rel_pos_local_attn"):
        return int(pe.size(1) // 2 + 1)
    return int(pe.size(1))


def encoder_meta(model) -> Dict[str, Any]:
    enc = model.encoder
    fz = model.preprocessor.featurizer
    sr = int(model.preprocessor._sample_rate)
    max_frames = max_encoder_frames(enc)
    # largest feature length whose subsampled length fits
    lo, hi = 1, max_frames * enc.subsampling_factor * 2 + 16
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _subsampled_length(enc, mid) <= max_frames:
            lo = mid
        else:
            hi = mid - 1
    max_feat = lo
    sf = int(enc.subsampling_factor)
    formula = f"(feature_length - 1) // {sf} + 1"
    ok = all(_subsampled_length(enc, n) == (n - 1) // sf + 1 for n in (1, 2, 7, 8, 9, 100, 1100, 1101, 4001))
    return {
        "d_model": int(enc.d_model),
        "subsampling_factor": sf,
        "n_layers": int(len(enc.layers)),
        "max_encoder_frames": max_frames,
        "max_feature_frames": int(max_feat),
        "max_audio_samples": int(max_feat * fz.hop_length - 1),
        "frame_stride_s": round(fz.hop_length * sf / sr, 9),
        "feat_in": int(enc._feat_in),
        "self_attention_model": enc.self_attention_model,
        "att_context_size": [int(x) for x in enc.att_context_size],
        "encoded_length_formula": formula if ok else "nemo subsampling.calc_length",
        "sources": {
            "max_encoder_frames": "encoder.pos_enc.pe rows (2L-1) -> L; extended by --max-audio-s",
            "encoded_length_formula": "probed:subsampling.calc_length",
        },
    }


def decoding_meta(model) -> Dict[str, Any]:
    cfg = model.cfg.decoding
    durations = [int(d) for d in (_cfg_get(cfg, "durations", None) or [])]
    greedy = _cfg_get(cfg, "greedy", {}) or {}
    max_symbols = greedy.get("max_symbols", greedy.get("max_symbols_per_step", None))
    src = "config:decoding.greedy.max_symbols"
    if max_symbols is None:
        from nemo.collections.asr.parts.submodules.rnnt_greedy_decoding import GreedyBatchedRNNTInferConfig

        max_symbols = GreedyBatchedRNNTInferConfig().max_symbols_per_step
        src = "nemo_default:GreedyBatchedRNNTInferConfig.max_symbols_per_step"
    n_extra = int(model.joint.num_extra_outputs)
    if durations and n_extra != len(durations):
        from .errors import UnsupportedModelError

        raise UnsupportedModelError(f"joint has {n_extra} extra outputs but decoding.durations is {durations}")
    if not durations and n_extra:
        from .errors import UnsupportedModelError

        raise UnsupportedModelError(f"joint has {n_extra} extra outputs but no TDT durations (multi-blank RNNT?)")
    return {
        "vocab_size": int(model.decoder.vocab_size),
        "blank_id": int(model.decoder.blank_idx),
        "durations": durations,
        "max_symbols": None if max_symbols is None else int(max_symbols),
        "strategy": str(_cfg_get(cfg, "strategy", "greedy_batch")),
        "model_type": "tdt" if durations else "rnnt",
        "logit_layout": "[0, V) tokens, V blank, (V, V+1+len(durations)) duration logits",
        "sources": {"durations": "config:decoding.durations (= loss.tdt_kwargs.durations)",
                    "max_symbols": src, "blank_id": "decoder.blank_idx (= vocab_size)"},
    }


def decoder_meta(model) -> Dict[str, Any]:
    dec, joint = model.decoder, model.joint
    return {
        "pred_hidden": int(dec.pred_hidden),
        "pred_rnn_layers": int(dec.pred_rnn_layers),
        "joint_hidden": int(joint.joint_hidden),
        "num_outputs": int(joint.num_classes_with_blank),
        "encoder_dim": int(joint.encoder_hidden),
        "joint_activation": str(joint.activation),
        "blank_as_pad": bool(dec.blank_as_pad),
    }


def graph_entry(info: Dict[str, Any], io: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    entry = {"file": info["file"], "external_data": list(info["external_data"]), "inputs": io["inputs"],
             "outputs": io["outputs"], "precision": info.get("precision", "fp32")}
    if "conversion" in info:
        entry["conversion"] = info["conversion"]
    return entry
