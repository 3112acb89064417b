"""Deterministic NeMo Parakeet-TDT test models with random weights.

A test model is a real ``nemo.collections.asr.models.EncDecRNNTBPEModel`` built
from a config dict (no download), with seeded random weights and a SentencePiece
BPE tokenizer trained deterministically on text made from a word list.  The same
``(arch, seed)`` gives the same state_dict, the same tokenizer and a byte-identical
``.nemo`` file.

Random transducers decode badly for tests: an untrained joint tends to emit one
token forever or only blanks.  After the random init the joint is reshaped,
deterministically and from data, so that NeMo's own ``greedy_batch`` TDT
decoding of ordinary inputs gives a realistic mix (``_shape_joint``):

1. Calibration audio: ``calibration_signals`` (white/pink noise, chirp, gated tones,
   a harmonic "speech-like" signal, silence, quiet noise), one independent draw per
   duration in ``CALIBRATION_DURATIONS_S``, run through NeMo's preprocessor + encoder.
2. ``joint.enc``: the leading ``OFFSET_DIRECTIONS`` directions of the per-utterance
   encoder means are projected out (a random encoder gives each utterance its own
   offset, which would make whole utterances all-blank or all-token), then every
   projected unit is standardised (zero mean, unit std over calibration frames).
   ``joint.pred`` is standardised over predictor outputs reached by random token
   histories.
3. The joint hidden units are split into a frame-only group A (rows of ``joint.pred``
   zeroed) and a mixed group B (frame + predictor state).
4. Final joint layer: token rows read group B only (std ``TOKEN_LOGIT_STD`` over
   (frame, state) samples, centred so no token is favoured); blank and duration rows
   read group A (std ``FRAME_LOGIT_STD``) plus a smaller group-B share
   (``STATE_LOGIT_STD``).  One group-A unit, the one least active on silence, is
   turned into a "stuck frame" detector active on ``STUCK_FRAME_SHARE`` of the
   calibration frames, wired to favour duration 0 and suppress blank: there NeMo
   emits tokens at one frame until the ``max_symbols`` guard fires.
5. Biases: duration biases fitted so each duration wins ``DURATION_TARGET`` of the
   (frame, state) samples; the blank bias set by a quantile, then tuned by bisection
   with NeMo's own decoder in the loop so blank wins ``BLANK_TARGET`` of the joint
   evaluations on the calibration audio.

Statistics of NeMo's decoding on the test signals are computed after shaping,
stored in the model config (``ptrt_test_model.stats``) and, by
``save_test_model``, in a sidecar ``<model>.stats.json``.

Heavy imports (torch, NeMo) happen inside functions.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import logging
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import wave
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

__test__ = False  # not a pytest module, despite its name

BUILDER_VERSION = 3
ARCHS = ("tiny", "parakeet-tdt-0.6b-v3")
DURATIONS = [0, 1, 2, 3, 4]
MAX_SYMBOLS = 10
SAMPLE_RATE_HZ = 16000
WORD_LIST = "/usr/share/dict/american-english"

# Shares of calibration frames on which each duration wins (durations 0..4).
DURATION_TARGET = [0.07, 0.30, 0.25, 0.21, 0.17]
# Share of joint evaluations on which blank should win.
BLANK_TARGET = 0.5
# Std of the token logits over (frame, state) samples, and of blank/duration logits.
TOKEN_LOGIT_STD = 8.0
FRAME_LOGIT_STD = 6.0
STATE_LOGIT_STD = 3.0
# Share of calibration frames that become "stuck" (duration 0, no blank: the guard fires there)
# and how hard they are pushed (logit units at the median activation).
STUCK_FRAME_SHARE = 0.04
STUCK_PUSH = 40.0
QUIET_SIGNALS = ("silence", "quiet_noise")
# Calibration uses one independently drawn set of calibration_signals per duration.
CALIBRATION_DURATIONS_S = (2.0, 3.0, 5.0, 8.0)
# Leading directions of per-utterance encoder means removed from joint.enc.
OFFSET_DIRECTIONS = 16

_ARCH_PARAMS: Dict[str, Dict[str, Any]] = {
    # Small, but every dimension distinct (D=128, H=96, J=80, V=250, C=256) so that
    # transposed or mixed-up tensors fail loudly in parity tests.
    "tiny": dict(
        n_mels=128, n_layers=2, d_model=128, n_heads=4, ff_expansion_factor=4,
        subsampling_conv_channels=64, conv_kernel_size=9,
        pred_hidden=96, pred_rnn_layers=2, joint_hidden=80, vocab_size=250,
        corpus_sentences=4000,
    ),
    # facts §1.1: the exact parakeet-tdt-0.6b-v3 architecture.
    "parakeet-tdt-0.6b-v3": dict(
        n_mels=128, n_layers=24, d_model=1024, n_heads=8, ff_expansion_factor=4,
        subsampling_conv_channels=256, conv_kernel_size=9,
        pred_hidden=640, pred_rnn_layers=2, joint_hidden=640, vocab_size=8192,
        corpus_sentences=60000,
    ),
}

log = logging.getLogger("parakeet_trt.testing")


def _say(verbose: bool, msg: str) -> None:
    if verbose:
        print(f"[test_models] {msg}", file=sys.stderr, flush=True)


def _check_arch(arch: str) -> Dict[str, Any]:
    if arch not in _ARCH_PARAMS:
        raise ValueError(f"unknown test-model arch {arch!r}; expected one of {list(ARCHS)}")
    return _ARCH_PARAMS[arch]


# --------------------------------------------------------------------------------------
# config


def model_config(arch: str, tokenizer_dir: str) -> Dict[str, Any]:
    """The NeMo model config (the ``model:`` section) for ``arch``."""
    return tdt_model_config(_check_arch(arch), tokenizer_dir)


def tdt_model_config(p: Dict[str, Any], tokenizer_dir: str) -> Dict[str, Any]:
    """A FastConformer + TDT NeMo model config from architecture parameters (keys of ``_ARCH_PARAMS``;
    optional ``dropout`` and ``spec_augment`` override the regularisation)."""
    durations = list(DURATIONS)
    dropout = p.get("dropout", 0.1)
    return {
        "sample_rate": SAMPLE_RATE_HZ,
        "compute_eval_loss": False,
        "log_prediction": True,
        "rnnt_reduction": "mean_volume",
        "skip_nan_grad": False,
        "model_defaults": {
            "enc_hidden": p["d_model"],
            "pred_hidden": p["pred_hidden"],
            "joint_hidden": p["joint_hidden"],
            "tdt_durations": durations,
            "num_tdt_durations": len(durations),
        },
        "tokenizer": {"dir": tokenizer_dir, "type": "bpe"},
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": SAMPLE_RATE_HZ,
            "normalize": "per_feature",
            "window_size": 0.025,
            "window_stride": 0.01,
            "window": "hann",
            "features": p["n_mels"],
            "n_fft": 512,
            "log": True,
            "frame_splicing": 1,
            "dither": 1.0e-05,
            "pad_to": 0,
            "pad_value": 0.0,
        },
        "spec_augment": {
            "_target_": "nemo.collections.asr.modules.SpectrogramAugmentation",
            "freq_masks": 2,
            "time_masks": 10,
            "freq_width": 27,
            "time_width": 0.05,
            **p.get("spec_augment", {}),
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConformerEncoder",
            "feat_in": p["n_mels"],
            "feat_out": -1,
            "n_layers": p["n_layers"],
            "d_model": p["d_model"],
            "use_bias": False,
            "subsampling": "dw_striding",
            "subsampling_factor": 8,
            "subsampling_conv_channels": p["subsampling_conv_channels"],
            "causal_downsampling": False,
            "ff_expansion_factor": p["ff_expansion_factor"],
            "self_attention_model": "rel_pos",
            "n_heads": p["n_heads"],
            "att_context_size": [-1, -1],
            "att_context_style": "regular",
            "xscaling": False,
            "untie_biases": True,
            "pos_emb_max_len": 5000,
            "conv_kernel_size": p["conv_kernel_size"],
            "conv_norm_type": "batch_norm",
            "conv_context_size": None,
            "dropout": dropout,
            "dropout_pre_encoder": dropout,
            "dropout_emb": 0.0,
            "dropout_att": dropout,
            "stochastic_depth_drop_prob": 0.0,
            "stochastic_depth_mode": "linear",
            "stochastic_depth_start_layer": 1,
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.RNNTDecoder",
            "normalization_mode": None,
            "random_state_sampling": False,
            "blank_as_pad": True,
            "prednet": {
                "pred_hidden": p["pred_hidden"],
                "pred_rnn_layers": p["pred_rnn_layers"],
                "t_max": None,
                "dropout": 0.2,
            },
        },
        "joint": {
            "_target_": "nemo.collections.asr.modules.RNNTJoint",
            "log_softmax": None,
            "preserve_memory": False,
            "fuse_loss_wer": True,
            "fused_batch_size": 4,
            "jointnet": {"joint_hidden": p["joint_hidden"], "activation": "relu", "dropout": 0.2},
            "num_extra_outputs": len(durations),
        },
        "decoding": {
            "strategy": "greedy_batch",
            "model_type": "tdt",
            "durations": durations,
            "greedy": {"max_symbols": MAX_SYMBOLS},
        },
        "loss": {
            "loss_name": "tdt",
            "tdt_kwargs": {
                "fastemit_lambda": 0.0,
                "clamp": -1.0,
                "durations": durations,
                "sigma": 0.02,
                "omega": 0.1,
            },
        },
    }


# --------------------------------------------------------------------------------------
# tokenizer


def _pseudo_words(rng: random.Random, n: int) -> List[str]:
    cons, vow = "bcdfghjklmnprstvwz", "aeiou"
    out = []
    for _ in range(n):
        k = rng.randint(1, 4)
        out.append("".join(rng.choice(cons) + rng.choice(vow) for _ in range(k)))
    return out


def _load_words(seed: int) -> tuple[List[str], str]:
    """Word list lines (sorted, deduplicated) and a description of the source."""
    path = Path(WORD_LIST)
    if path.is_file():
        data = path.read_bytes()
        words = sorted({w.strip() for w in data.decode("utf-8", "replace").splitlines() if w.strip()})
        return words, f"{WORD_LIST} sha256={hashlib.sha256(data).hexdigest()}"
    # Fallback for machines without wamerican: deterministic pseudo-words.
    return sorted(set(_pseudo_words(random.Random(1234), 40000))), "pseudo-words(seed=1234)"


def _corpus(seed: int, n_sentences: int) -> tuple[List[str], str]:
    words, source = _load_words(seed)
    rng = random.Random(f"ptrt-corpus-{seed}")
    sentences = []
    for _ in range(n_sentences):
        n = rng.randint(4, 16)
        ws = [rng.choice(words) for _ in range(n)]
        ws[0] = ws[0][:1].upper() + ws[0][1:]
        for i in range(n - 1):
            if rng.random() < 0.08:
                ws[i] += ","
        end = rng.choices([".", "?", "!"], weights=[8, 1, 1])[0]
        sentences.append(" ".join(ws) + end)
    return sentences, source


def train_tokenizer(out_dir: str | os.PathLike, vocab_size: int, seed: int, n_sentences: int) -> Dict[str, Any]:
    """Train a SentencePiece BPE tokenizer on the word-list corpus; see ``train_tokenizer_on``."""
    sentences, source = _corpus(seed, n_sentences)
    info = train_tokenizer_on(sentences, out_dir, vocab_size, seed)
    return {"corpus_source": source, "corpus_sentences": n_sentences, **info}


def train_tokenizer_on(sentences: List[str], out_dir: str | os.PathLike, vocab_size: int,
                       seed: int) -> Dict[str, Any]:
    """Train a SentencePiece BPE tokenizer deterministically on ``sentences``; write NeMo's tokenizer dir.

    Files: ``tokenizer.model``, ``tokenizer.vocab`` (piece<TAB>score) and ``vocab.txt``
    (NeMo's BERT-style list, as ``create_spt_model`` writes it).  Special pieces:
    ``<unk>`` = 0, ``<pad>`` = 1, no bos/eos.
    """
    import sentencepiece as spm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    spm.set_random_generator_seed(seed)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences),
        model_writer=buf,
        model_type="bpe",
        vocab_size=vocab_size,
        character_coverage=1.0,
        num_threads=1,
        shuffle_input_sentence=False,
        input_sentence_size=0,
        hard_vocab_limit=True,
        unk_id=0,
        pad_id=1,
        bos_id=-1,
        eos_id=-1,
        split_digits=True,
        minloglevel=2,
    )
    model_bytes = buf.getvalue()
    (out / "tokenizer.model").write_bytes(model_bytes)
    sp = spm.SentencePieceProcessor(model_proto=model_bytes)
    if sp.get_piece_size() != vocab_size:
        raise RuntimeError(f"tokenizer has {sp.get_piece_size()} pieces, wanted {vocab_size}")
    with open(out / "tokenizer.vocab", "w", encoding="utf-8", newline="\n") as f:
        for i in range(vocab_size):
            f.write(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n")
    special = {"<s>", "</s>", "<pad>", "<unk>"}
    with open(out / "vocab.txt", "w", encoding="utf-8", newline="\n") as f:
        for i in range(vocab_size):
            piece = sp.id_to_piece(i)
            if piece in special:
                continue
            tok = piece[1:] if piece.startswith("\u2581") else f"##{piece}"
            f.write((tok if tok else piece[0]) + "\n")
    return {"model_sha256": hashlib.sha256(model_bytes).hexdigest()}


# --------------------------------------------------------------------------------------
# signals


def _envelope(rng: np.random.Generator, n: int, sr: int) -> np.ndarray:
    """Syllable-like on/off amplitude envelope."""
    env = np.zeros(n, np.float64)
    t = 0
    while t < n:
        on = int(rng.uniform(0.08, 0.35) * sr)
        off = int(rng.uniform(0.03, 0.25) * sr)
        seg = np.hanning(max(on, 2))[: max(0, min(on, n - t))]
        env[t : t + len(seg)] = seg
        t += on + off
    return env


def calibration_signals(seed: int, duration_s: float = 3.0) -> Dict[str, np.ndarray]:
    """Deterministic synthetic 16 kHz signals (no external tools) used to shape the joint."""
    sr = SAMPLE_RATE_HZ
    n = int(duration_s * sr)
    rng = np.random.default_rng([seed, 0xCA11])
    t = np.arange(n) / sr
    sig: Dict[str, np.ndarray] = {}
    sig["white_noise"] = 0.1 * rng.standard_normal(n)
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / sr)
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    pink = np.fft.irfft(spec, n)
    sig["pink_noise"] = 0.2 * pink / (np.abs(pink).max() + 1e-9)
    f0, f1 = 100.0, 6000.0
    phase = 2 * np.pi * f0 * duration_s / math.log(f1 / f0) * (np.exp(t / duration_s * math.log(f1 / f0)) - 1)
    sig["chirp"] = 0.3 * np.sin(phase)
    # speech-like: harmonic source with a wandering f0, gated by syllable envelopes,
    # with random "formant" weighting per syllable-ish stretch.
    f0c = 120 + 30 * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 6)) + 10 * rng.standard_normal() * np.sin(2 * np.pi * 3.1 * t)
    ph = 2 * np.pi * np.cumsum(f0c) / sr
    harm = np.zeros(n)
    for k in range(1, 30):
        w = np.exp(-((k * 140 - rng.uniform(300, 900)) / 400.0) ** 2) + 0.3 * np.exp(-((k * 140 - 2200) / 600.0) ** 2)
        harm += w * np.sin(k * ph + rng.uniform(0, 2 * np.pi))
    harm = harm / (np.abs(harm).max() + 1e-9)
    sig["harmonic"] = 0.4 * harm * _envelope(rng, n, sr) + 0.003 * rng.standard_normal(n)
    tone = np.zeros(n)
    for fr in (440.0, 1000.0, 2500.0):
        tone += np.sin(2 * np.pi * fr * t) * (rng.uniform(size=1) > 0.3)
    gate = np.repeat(rng.uniform(size=n // 1600 + 1) > 0.4, 1600)[:n]
    sig["tones"] = 0.2 * tone * gate
    sig["silence"] = np.zeros(n)
    sig["quiet_noise"] = 1e-3 * rng.standard_normal(n)
    return {k: v.astype(np.float32) for k, v in sig.items()}


def espeak_speech(text: str, voice: str = "en-us", words_per_minute: int = 160) -> Optional[np.ndarray]:
    """Synthesize ``text`` with espeak-ng, resampled to 16 kHz float32; None if unavailable."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        return None
    try:
        wav_bytes = subprocess.run(
            [exe, "-v", voice, "-s", str(words_per_minute), "--stdout", text],
            check=True, capture_output=True, timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    with wave.open(io.BytesIO(wav_bytes)) as w:
        sr = w.getframerate()
        if w.getsampwidth() != 2:
            return None
        nframes = w.getnframes()
        raw = w.readframes(nframes if 0 < nframes < 2**31 - 1 else 2**31 - 1)
        ch = w.getnchannels()
    x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    if sr != SAMPLE_RATE_HZ:
        from scipy.signal import resample_poly

        g = math.gcd(sr, SAMPLE_RATE_HZ)
        x = resample_poly(x, SAMPLE_RATE_HZ // g, sr // g).astype(np.float32)
    return x


ESPEAK_TEXTS = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.",
    "The quick brown fox jumps over the lazy dog while twelve wizards quietly box jumping frogs.",
)


def make_test_signals(seed: int = 0, duration_s: float = 4.0, with_speech: bool = True) -> Dict[str, np.ndarray]:
    """Typical inputs: noise, tones, chirp, speech-like, silence and (if available) espeak speech."""
    sig = calibration_signals(seed + 1000, duration_s)
    if with_speech:
        for i, text in enumerate(ESPEAK_TEXTS):
            x = espeak_speech(text)
            if x is not None:
                sig[f"espeak_{i}"] = x
    return sig


# --------------------------------------------------------------------------------------
# NeMo helpers


def _quiet_nemo() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from nemo.utils import logging as nemo_logging

        nemo_logging.setLevel(logging.ERROR)
    except Exception:  # pragma: no cover
        pass


def _torch():
    import torch

    return torch


def _encode(model, audio: np.ndarray):
    torch = _torch()
    x = torch.as_tensor(np.ascontiguousarray(audio, dtype=np.float32)).reshape(1, -1)
    n = torch.tensor([x.shape[1]], dtype=torch.int64)
    feats, feat_len = model.preprocessor(input_signal=x, length=n)
    enc, enc_len = model.encoder(audio_signal=feats, length=feat_len)
    return enc, enc_len


def _reference_decoding(model):
    """NeMo's own RNNTBPEDecoding built from the model's decoding config, with token durations."""
    dec = getattr(model, "_ptrt_reference_decoding", None)
    if dec is not None:
        return dec
    from omegaconf import open_dict
    from nemo.collections.asr.parts.submodules.rnnt_decoding import RNNTBPEDecoding

    cfg = copy.deepcopy(model.cfg.decoding)
    with open_dict(cfg):
        cfg.tdt_include_token_duration = True
    dec = RNNTBPEDecoding(decoding_cfg=cfg, decoder=model.decoder, joint=model.joint, tokenizer=model.tokenizer)
    object.__setattr__(model, "_ptrt_reference_decoding", dec)
    return dec


def decode_with_nemo(model, audio_float32_16k) -> Dict[str, Any]:
    """Decode one utterance with NeMo itself (preprocessor, encoder, the model's TDT decoding).

    CPU, eval mode, ``torch.inference_mode()``.  Returns ``token_ids`` (list[int]),
    ``token_frames`` (NeMo's per-token timestamps, encoder frame index),
    ``token_durations`` (the TDT durations, in frames), ``text`` and
    ``num_encoder_frames``.
    """
    torch = _torch()
    model.eval()
    with torch.inference_mode():
        enc, enc_len = _encode(model, audio_float32_16k)
    return decode_encoded_with_nemo(model, enc, enc_len)


def decode_encoded_with_nemo(model, encoder_output, encoded_length) -> Dict[str, Any]:
    """NeMo's TDT decoding of a given encoder output ([1, D, T] or [D, T]; numpy or torch).

    Use it to check a decoder against NeMo on identical encoder outputs (e.g. the ONNX
    Runtime encoder's output).  Same result dict as ``decode_with_nemo``.
    """
    torch = _torch()
    enc = torch.as_tensor(np.asarray(encoder_output, dtype=np.float32)) if not torch.is_tensor(encoder_output) \
        else encoder_output.float()
    if enc.dim() == 2:
        enc = enc[None]
    enc_len = torch.as_tensor(np.asarray(encoded_length, dtype=np.int64)).reshape(-1)
    with torch.inference_mode():
        hyps = _reference_decoding(model).rnnt_decoder_predictions_tensor(
            encoder_output=enc, encoded_lengths=enc_len, return_hypotheses=True
        )
    hyp = hyps[0]
    ids = [int(v) for v in (hyp.y_sequence.tolist() if hasattr(hyp.y_sequence, "tolist") else hyp.y_sequence)]
    ts = hyp.timestamp
    frames = [int(v) for v in (ts.tolist() if hasattr(ts, "tolist") else ts)]
    td = hyp.token_duration
    durs = [int(v) for v in (td.tolist() if hasattr(td, "tolist") else td)]
    return {
        "token_ids": ids,
        "token_frames": frames,
        "token_durations": durs,
        "text": hyp.text,
        "num_encoder_frames": int(enc_len[0]),
    }


class _JointRecorder:
    """Records every joint evaluation NeMo's decoder makes (batch 1)."""

    def __init__(self, joint):
        self.joint = joint
        self.logits: List[np.ndarray] = []

    def __enter__(self):
        orig = type(self.joint).joint_after_projection
        joint = self.joint

        def wrapped(f, g):
            out = orig(joint, f, g)
            self.logits.append(out.detach().reshape(-1, out.shape[-1]).float().cpu().numpy().copy())
            return out

        joint.joint_after_projection = wrapped
        return self

    def __exit__(self, *exc):
        del self.joint.joint_after_projection
        return False


def _gap(x: np.ndarray) -> np.ndarray:
    part = np.partition(x, -2, axis=-1)
    return part[..., -1] - part[..., -2]


def _signal_stats(model, audio: np.ndarray) -> Dict[str, Any]:
    V = model.decoder.vocab_size
    nd = len(model.cfg.decoding.durations)
    max_symbols = int(model.cfg.decoding.greedy.get("max_symbols", MAX_SYMBOLS))
    with _JointRecorder(model.joint) as rec:
        res = decode_with_nemo(model, audio)
    logits = np.concatenate(rec.logits, axis=0) if rec.logits else np.zeros((0, V + 1 + nd), np.float32)
    tok_slice = logits[:, : V + 1]
    dur_slice = logits[:, V + 1 :]
    blank_evals = int((tok_slice.argmax(-1) == V).sum()) if len(logits) else 0
    frames = res["token_frames"]
    durs = res["token_durations"]
    per_frame: Dict[int, List[int]] = {}
    for i, fr in enumerate(frames):
        per_frame.setdefault(fr, []).append(i)
    guard = sum(1 for idx in per_frame.values() if len(idx) >= max_symbols and durs[idx[-1]] == 0)
    tg = _gap(tok_slice) if len(logits) else np.zeros(0)
    dg = _gap(dur_slice) if len(logits) else np.zeros(0)
    return {
        "num_samples": int(len(audio)),
        "num_encoder_frames": res["num_encoder_frames"],
        "num_joint_evals": int(len(logits)),
        "blank_evals": blank_evals,
        "num_tokens": len(res["token_ids"]),
        "distinct_tokens": len(set(res["token_ids"])),
        "duration_hist": [int(sum(1 for d in durs if d == v)) for v in model.cfg.decoding.durations],
        "guard_firings": int(guard),
        "token_margins": tg.tolist(),
        "duration_margins": dg.tolist(),
        "text": res["text"],
        "token_ids": res["token_ids"],
    }


def _summarize(per_signal: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    tm = np.array([m for s in per_signal.values() for m in s["token_margins"]], np.float64)
    dm = np.array([m for s in per_signal.values() for m in s["duration_margins"]], np.float64)
    evals = sum(s["num_joint_evals"] for s in per_signal.values())
    blanks = sum(s["blank_evals"] for s in per_signal.values())
    hist = np.sum([s["duration_hist"] for s in per_signal.values()], axis=0).tolist()

    def q(a, p):
        return float(np.quantile(a, p)) if len(a) else float("nan")

    signals = {}
    for name, s in per_signal.items():
        signals[name] = {
            k: s[k]
            for k in ("num_samples", "num_encoder_frames", "num_joint_evals", "blank_evals", "num_tokens",
                      "distinct_tokens", "duration_hist", "guard_firings")
        }
        signals[name]["blank_fraction"] = round(s["blank_evals"] / max(1, s["num_joint_evals"]), 4)
        signals[name]["text_head"] = s["text"][:80]
    all_tokens = sum(s["num_tokens"] for s in per_signal.values())
    return {
        "num_signals": len(per_signal),
        "joint_evals": evals,
        "blank_evals": blanks,
        "blank_fraction": round(blanks / max(1, evals), 4),
        "num_tokens": all_tokens,
        "tokens_per_frame": round(all_tokens / max(1, sum(s["num_encoder_frames"] for s in per_signal.values())), 4),
        "distinct_tokens_total": None,  # filled by decoding_stats
        "duration_hist": [int(v) for v in hist],
        "guard_firings": int(sum(s["guard_firings"] for s in per_signal.values())),
        "token_margin": {"min": q(tm, 0), "p0.1%": q(tm, 0.001), "p1%": q(tm, 0.01), "median": q(tm, 0.5),
                         "count_below_1e-3": int((tm < 1e-3).sum()), "count_below_1e-2": int((tm < 1e-2).sum())},
        "duration_margin": {"min": q(dm, 0), "p0.1%": q(dm, 0.001), "p1%": q(dm, 0.01), "median": q(dm, 0.5),
                            "count_below_1e-3": int((dm < 1e-3).sum()), "count_below_1e-2": int((dm < 1e-2).sum())},
        "signals": signals,
    }


def decoding_stats(model, signals: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Statistics of NeMo's greedy TDT decoding of ``signals`` (name -> 16 kHz float32).

    ``blank_fraction``: share of joint evaluations whose token-slice argmax is blank.
    ``duration_hist``: durations of emitted tokens.  ``guard_firings``: frames where
    ``max_symbols`` tokens were emitted and the last had duration 0 (NeMo then forces
    the frame to advance).  ``token_margin``/``duration_margin``: top-1 minus top-2
    logit over the token(+blank) slice and over the duration slice, per evaluation.
    """
    _quiet_nemo()
    per = {name: _signal_stats(model, x) for name, x in signals.items()}
    out = _summarize(per)
    out["distinct_tokens_total"] = len({t for s in per.values() for t in s["token_ids"]})
    return out


# --------------------------------------------------------------------------------------
# model construction


def _perturb_norms(model, gen) -> None:
    """Give norms and rel-pos biases non-trivial values (a trained model has them)."""
    torch = _torch()
    with torch.no_grad():
        for name, mod in model.encoder.named_modules():
            if isinstance(mod, (torch.nn.LayerNorm, torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                if getattr(mod, "weight", None) is not None:
                    mod.weight.copy_(1.0 + 0.1 * torch.randn(mod.weight.shape, generator=gen))
                if getattr(mod, "bias", None) is not None:
                    mod.bias.copy_(0.05 * torch.randn(mod.bias.shape, generator=gen))
                if isinstance(mod, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                    mod.running_mean.copy_(0.05 * torch.randn(mod.running_mean.shape, generator=gen))
                    mod.running_var.copy_(torch.exp(0.2 * torch.randn(mod.running_var.shape, generator=gen)))
        for name, p in model.encoder.named_parameters():
            if name.endswith("pos_bias_u") or name.endswith("pos_bias_v"):
                p.copy_(0.02 * torch.randn(p.shape, generator=gen))


def _predictor_samples(model, gen, n_seqs: int, seq_len: int):
    """Predictor outputs g after random token histories (SOS output included)."""
    torch = _torch()
    V = model.decoder.vocab_size
    blank = model.decoder.blank_idx
    y = torch.randint(0, V, (n_seqs, seq_len), generator=gen)
    y = torch.cat([torch.full((n_seqs, 1), blank, dtype=torch.long), y], dim=1)
    g, _ = model.decoder.predict(y, state=None, add_sos=False, batch_size=n_seqs)
    return g.reshape(-1, g.shape[-1])


def _standardize_linear(lin, x) -> None:
    """Rescale ``lin`` so that ``lin(x)`` has zero mean, unit std per output unit."""
    torch = _torch()
    with torch.no_grad():
        y = lin(x)
        mu = y.mean(0)
        sd = y.std(0).clamp_min(1e-6)
        lin.weight.div_(sd[:, None])
        lin.bias.sub_(mu).div_(sd)


def _fit_duration_bias(d_raw, target):
    """Biases b so that argmax(d_raw + b) hits each column with the target share."""
    torch = _torch()
    target = torch.tensor(target, dtype=d_raw.dtype)
    b = torch.zeros(d_raw.shape[1], dtype=d_raw.dtype)
    for _ in range(400):
        share = torch.bincount((d_raw + b).argmax(1), minlength=d_raw.shape[1]).to(d_raw.dtype) / d_raw.shape[0]
        b += 0.5 * (target - share) * d_raw.std()
    return b


def _shape_joint(model, seed: int, verbose: bool) -> Dict[str, Any]:
    torch = _torch()
    gen = torch.Generator().manual_seed(seed * 7919 + 17)
    joint = model.joint
    V = model.decoder.vocab_size
    nd = len(DURATIONS)
    J = joint.joint_hidden
    final = joint.joint_net[-1]
    n_a = max(8, J // 4)
    group_a = torch.arange(0, n_a)
    group_b = torch.arange(n_a, J)

    # 1. calibration: encoder frames and predictor outputs
    cal = {}
    for k, dur in enumerate(CALIBRATION_DURATIONS_S):
        cal.update({f"{name}_{k}": x for name, x in calibration_signals(seed + k, dur).items()})
    encoded = {}
    with torch.inference_mode(False), torch.no_grad():
        frames, frame_counts = [], []
        for name, x in cal.items():
            enc, enc_len = _encode(model, x)
            encoded[name] = (enc, enc_len)
            frames.append(enc[0, :, : int(enc_len[0])].T)
            frame_counts.append(int(enc_len[0]))
        enc_frames = torch.cat(frames, 0)  # [N, D]
        g = _predictor_samples(model, gen, n_seqs=64, seq_len=24)  # [M, H]
        # A random encoder gives every utterance a large offset of its own (its frames
        # share a direction set by length and signal type), which would make whole
        # utterances all-blank or all-token.  Project the leading directions of the
        # utterance means out of joint.enc so the joint reads within-utterance variation.
        means = torch.stack([f.mean(0) for f in frames])
        _, _, vt = torch.linalg.svd(means - means.mean(0), full_matrices=False)
        r = min(OFFSET_DIRECTIONS, len(frames) - 1)
        proj = torch.eye(vt.shape[1]) - vt[:r].T @ vt[:r]
        joint.enc.weight.copy_(joint.enc.weight @ proj)
        _standardize_linear(joint.enc, enc_frames)
        _standardize_linear(joint.pred, g)
        # 2. group A is frame-only
        joint.pred.weight[group_a] = 0.0
        joint.pred.bias[group_a] = 0.0
        # 2b. one group-A unit becomes a "stuck frame" detector: active only on the top
        #     STUCK_FRAME_SHARE of calibration frames; there it forces duration 0 and
        #     suppresses blank, so NeMo emits tokens until the max_symbols guard fires.
        #     The unit is the group-A unit that is least active on silence.
        Fc = joint.enc(enc_frames)
        quiet = torch.cat([torch.full((n,), name.rsplit("_", 1)[0] in QUIET_SIGNALS)
                           for name, n in zip(cal, frame_counts)])
        q_all = torch.quantile(Fc[~quiet][:, group_a], 1.0 - STUCK_FRAME_SHARE, dim=0)
        quiet_max = Fc[quiet][:, group_a].max(0).values
        pick = int(torch.argmax(q_all - quiet_max))
        stuck = int(group_a[pick])
        joint.enc.bias[stuck] -= q_all[pick]
        group_a = torch.cat([group_a[pick : pick + 1], group_a[:pick], group_a[pick + 1 :]])  # stuck unit first
        F = joint.enc(enc_frames)  # [N, J]
        G = joint.pred(g)  # [M, J]
        # (frame, state) samples
        n_pairs = 4096
        fi = torch.randint(0, F.shape[0], (n_pairs,), generator=gen)
        gi = torch.randint(0, G.shape[0], (n_pairs,), generator=gen)
        H = torch.relu(F[fi] + G[gi])  # [P, J]
        HA_frames = torch.relu(F[:, group_a])  # [N, A]

        # 3. final layer: tokens read group B; blank and durations read group A (the frame)
        #    plus a smaller share of group B (the predictor state), so that a frame that
        #    favours "token, duration 0" usually leaves after a few tokens, and only some
        #    frames keep emitting until the max_symbols guard fires.
        W = torch.zeros(V + 1 + nd, J)
        b = torch.zeros(V + 1 + nd)
        HB = H[:, group_b]
        Wt = torch.randn(V, len(group_b), generator=gen)
        Wt *= TOKEN_LOGIT_STD / (HB @ Wt.T).std()
        zt = HB @ Wt.T
        b[:V] = -zt.mean(0)  # centred: no token favoured on average
        W[:V, group_b] = Wt
        Wf = torch.randn(1 + nd, n_a, generator=gen)
        zf = HA_frames @ Wf.T
        Wf *= FRAME_LOGIT_STD / zf.std(0).clamp_min(1e-6)[:, None]
        Ws = torch.randn(1 + nd, len(group_b), generator=gen)
        zs = HB @ Ws.T
        Ws *= STATE_LOGIT_STD / zs.std(0).clamp_min(1e-6)[:, None]
        Wf[:, 0] = 0.0  # column of the stuck unit (group_a[0]) is wired by hand
        act = torch.relu(F[:, stuck])
        push = STUCK_PUSH / act[act > 0].median()
        Wf[0, 0] = -push  # blank row
        Wf[1, 0] = push  # duration 0 row
        W[V:, group_a] = Wf
        W[V:, group_b] = Ws
        zfs = H[:, group_a] @ Wf.T + HB @ Ws.T  # [P, 1+nd] blank and duration logits on (frame, state) pairs
        zfs = zfs - zfs.mean(0)
        b[V:] = -(H[:, group_a] @ Wf.T + HB @ Ws.T).mean(0)
        # 4. duration biases: every duration wins its target share of (frame, state) pairs
        b[V + 1 :] += _fit_duration_bias(zfs[:, 1:], DURATION_TARGET)
        # blank bias: quantile of (blank - best token) over (frame, state) pairs
        zmax = (zt + b[:V]).max(1).values
        margin = zfs[:, 0] - zmax
        b[V] += -torch.quantile(margin, 1.0 - BLANK_TARGET)
        final.weight.copy_(W)
        final.bias.copy_(b)

    # 5. tune the blank bias with NeMo's decoder in the loop (bisection on the shift)
    def blank_fraction() -> float:
        evals = blanks = 0
        for enc, enc_len in encoded.values():
            with _JointRecorder(joint) as rec:
                decode_encoded_with_nemo(model, enc, enc_len)
            lg = np.concatenate(rec.logits, 0)
            evals += len(lg)
            blanks += int((lg[:, : V + 1].argmax(-1) == V).sum())
        return blanks / max(1, evals)

    base = float(final.bias[V])
    lo, hi = -3 * TOKEN_LOGIT_STD, 3 * TOKEN_LOGIT_STD
    shift = 0.0
    best = (float("inf"), 0.0, None)
    for it in range(12):
        with torch.no_grad():
            final.bias[V] = base + shift
        frac = blank_fraction()
        _say(verbose, f"blank-bias tuning {it}: shift={shift:+.3f} blank_fraction={frac:.3f}")
        if abs(frac - BLANK_TARGET) < best[0]:
            best = (abs(frac - BLANK_TARGET), shift, frac)
        if abs(frac - BLANK_TARGET) < 0.03:
            break
        if frac < BLANK_TARGET:
            lo = shift
        else:
            hi = shift
        shift = 0.5 * (lo + hi)
    _, shift, frac = best
    with torch.no_grad():
        final.bias[V] = base + shift
    return {
        "group_a_units": n_a,
        "group_b_units": int(len(group_b)),
        "token_logit_std": TOKEN_LOGIT_STD,
        "frame_logit_std": FRAME_LOGIT_STD,
        "state_logit_std": STATE_LOGIT_STD,
        "stuck_frame_share": STUCK_FRAME_SHARE,
        "stuck_push": STUCK_PUSH,
        "offset_directions_removed": OFFSET_DIRECTIONS,
        "calibration_durations_s": list(CALIBRATION_DURATIONS_S),
        "duration_target": DURATION_TARGET,
        "blank_target": BLANK_TARGET,
        "blank_bias_shift": round(shift, 6),
        "calibration_blank_fraction": round(float(frac), 4),
        "calibration_signals": sorted(cal),
        "stuck_unit": stuck,
        "calibration_encoder_frames": int(enc_frames.shape[0]),
    }


# Intra-op threads of the data-driven joint shaping (two: what the committed models were built with).
BUILD_THREADS = 2


def build_test_model(arch: str, seed: int, *, verbose: bool = False, shape_joint: bool = True,
                     compute_stats: bool = True):
    """Build a seeded random ``EncDecRNNTBPEModel`` (eval mode, CPU) for ``arch``.

    ``shape_joint=False`` leaves the raw random joint (for experiments only).
    The tokenizer lives in a temporary directory owned by the returned model
    (``model._ptrt_tmpdir``); keep the model alive until it is saved.
    """
    p = _check_arch(arch)
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    _quiet_nemo()
    torch = _torch()
    from omegaconf import OmegaConf, open_dict
    from nemo.collections.asr.models import EncDecRNNTBPEModel

    tmp = tempfile.TemporaryDirectory(prefix="ptrt_tok_")
    _say(verbose, f"training tokenizer (V={p['vocab_size']}, seed={seed})")
    tok_info = train_tokenizer(tmp.name, p["vocab_size"], seed, p["corpus_sentences"])
    cfg = OmegaConf.create(model_config(arch, tmp.name))
    _say(verbose, f"constructing {arch} with seed {seed}")
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    model = EncDecRNNTBPEModel(cfg=cfg)
    object.__setattr__(model, "_ptrt_tmpdir", tmp)
    model.eval()
    model.to("cpu")
    for prm in model.parameters():
        prm.requires_grad_(False)
    _perturb_norms(model, torch.Generator().manual_seed(seed * 31 + 5))
    info: Dict[str, Any] = {
        "builder": "parakeet_trt.testing.test_models",
        "builder_version": BUILDER_VERSION,
        "arch": arch,
        "seed": seed,
        "tokenizer": tok_info,
    }
    # The joint shaping and the statistics run NeMo on the model: its matmuls' reduction order, and so
    # the shaped weights' last bits, depend on torch's thread count. Pin it, so a process that set
    # another count (a NeMo reference on one thread) rebuilds the same bytes.
    threads = torch.get_num_threads()
    torch.set_num_threads(BUILD_THREADS)
    try:
        if shape_joint:
            _say(verbose, "shaping the joint")
            info["joint_shaping"] = _shape_joint(model, seed, verbose)
        if compute_stats:
            _say(verbose, "decoding test signals with NeMo for statistics")
            stats = decoding_stats(model, make_test_signals(seed))
            info["stats"] = stats
            _say(verbose, "stats: " + json.dumps({k: v for k, v in stats.items() if k != "signals"}))
    finally:
        torch.set_num_threads(threads)
    with open_dict(model.cfg):
        model.cfg.tokenizer.dir = "ptrt-test-tokenizer"  # keep no temp path in the saved config
        model.cfg.ptrt_test_model = _json_clean(info)
    return model


def _json_clean(obj):
    """Round floats to keep configs stable and readable; NaN -> None."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else float(f"{obj:.6g}")
    if isinstance(obj, dict):
        return {str(k): _json_clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_clean(v) for v in obj]
    return obj


_UUID_ARTIFACT = re.compile(r"^(?:\./)?([0-9a-f]{32})_(.+)$")


def _write_nemo_deterministic(model, path: Path) -> None:
    """``model.save_to`` and repack: fixed artifact names (content hash instead of uuid4),
    sorted members, zero mtimes/owners.  Same weights and config -> same bytes."""
    with tempfile.TemporaryDirectory(prefix="ptrt_nemo_") as td:
        raw = Path(td) / "raw.nemo"
        model.save_to(str(raw))
        files: Dict[str, bytes] = {}
        with tarfile.open(raw, "r:*") as tar:
            for m in tar.getmembers():
                if m.isfile():
                    files[m.name[2:] if m.name.startswith("./") else m.name] = tar.extractfile(m).read()
        renames = {}
        for name, data in list(files.items()):
            mt = _UUID_ARTIFACT.match(name)
            if mt:
                new = f"{hashlib.sha256(data).hexdigest()[:32]}_{mt.group(2)}"
                renames[name] = new
        for old, new in renames.items():
            files[new] = files.pop(old)
        cfg_text = files["model_config.yaml"].decode("utf-8")
        for old, new in renames.items():
            cfg_text = cfg_text.replace(old, new)
        files["model_config.yaml"] = cfg_text.encode("utf-8")
        tmp_out = Path(td) / "out.nemo"
        with tarfile.open(tmp_out, "w", format=tarfile.GNU_FORMAT) as tar:
            for name in sorted(files):
                ti = tarfile.TarInfo("./" + name)
                ti.size = len(files[name])
                ti.mtime = 0
                ti.mode = 0o644
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ""
                tar.addfile(ti, io.BytesIO(files[name]))
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".partial")
        shutil.copyfile(tmp_out, part)
        os.replace(part, path)


def stats_path_for(nemo_path: str | os.PathLike) -> Path:
    p = Path(nemo_path)
    return p.with_name(p.stem + ".stats.json")


def save_test_model(arch: str, seed: int, path: str | os.PathLike, *, verbose: bool = False) -> Dict[str, Any]:
    """Build and write ``path`` (.nemo, byte-deterministic) plus ``<stem>.stats.json``.

    Returns the builder info dict (arch, seed, tokenizer, joint_shaping, stats).
    """
    path = Path(path)
    model = build_test_model(arch, seed, verbose=verbose)
    from omegaconf import OmegaConf

    info = OmegaConf.to_container(model.cfg.ptrt_test_model, resolve=True)
    _say(verbose, f"writing {path}")
    _write_nemo_deterministic(model, path)
    sp = stats_path_for(path)
    sp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return info


def load_test_model(path: str | os.PathLike):
    """Restore a .nemo on CPU in eval mode, parameters frozen (requires_grad False)."""
    _quiet_nemo()
    from nemo.collections.asr.models import ASRModel

    model = ASRModel.restore_from(str(path), map_location="cpu")
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def default_cache_dir() -> Path:
    env = os.environ.get("PARAKEET_TRT_CACHE")
    if env:
        return Path(env) / "test_models"
    repo = Path(__file__).resolve().parents[3]
    if (repo / "pyproject.toml").is_file():
        return repo / ".cache" / "test_models"
    return Path.home() / ".cache" / "parakeet_trt" / "test_models"


def cached_test_model_path(arch: str, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                           *, verbose: bool = False) -> Path:
    """Path of the cached ``(arch, seed)`` model, building it on first use.

    Cache dir: ``cache_dir``, else ``$PARAKEET_TRT_CACHE/test_models``, else
    ``<repo>/.cache/test_models``.  The file name carries the builder version, so
    a builder change invalidates old entries.  Concurrent callers are serialised
    with a lock file.
    """
    _check_arch(arch)
    d = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{arch}-seed{seed}-b{BUILDER_VERSION}.nemo"
    if path.is_file() and stats_path_for(path).is_file():
        return path
    import fcntl

    with open(d / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (path.is_file() and stats_path_for(path).is_file()):
            save_test_model(arch, seed, path, verbose=verbose)
    return path


load_nemo_model = load_test_model  # alias used by tests/conftest.py
