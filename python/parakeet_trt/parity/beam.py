"""Beam-search parity: our C++ TdtBeamDecoder vs NeMo's TDT beam search (``strategy="beam"``).

Both decode the SAME encoder output (NeMo's own encoder on NeMo's features), so the comparison
isolates the decoders: NeMo's BeamTDTInfer with the model's decoder/joint in torch, ours with the
exported decoder weights (NativeDecoderStep) on ``project_encoder`` of that output.

    decoding = nemo_beam_decoding(nemo_model, beam_size=4)   # RNNTBPEDecoding -> BeamTDTInfer
    enc = nemo_encoder_output(nemo_model, samples)           # [D, T], shared by both decoders
    row = compare_beam(decoding, core_model, enc)

The whole offline path (``Session.transcribe(decoding="beam")``: C++ features, the exported encoder,
the recognizer's beam search) against NeMo's beam search on that path's own encoder output:

    enc = exported_encoder_output(session, samples)          # [D, T] of the exported encoder
    row = compare_recognizer_beam(decoding, session, samples, enc)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BeamRow:
    beam_size: int
    num_encoder_frames: int
    num_hypotheses: int          # n-best length (NeMo's; ours must equal it)
    ids_equal: bool              # every hypothesis' token ids, in order
    timestamps_equal: bool       # NeMo's beam timestamps (frame + duration) for every token
    max_score_diff: float        # over every hypothesis of the n-best
    max_relative_diff: float     # max |diff| / max(1, |NeMo score|)
    best_tokens: int
    best_score: float            # NeMo's


def nemo_beam_decoding(nemo_model, beam_size: int):
    """NeMo's decoding for ``strategy="beam"`` with the n-best list (return_best_hypothesis=False),
    the model's durations and NeMo's defaults otherwise (score_norm=True, temperature 1)."""
    import copy

    from omegaconf import OmegaConf, open_dict
    from nemo.collections.asr.parts.submodules.rnnt_decoding import RNNTBPEDecoding
    from nemo.collections.asr.parts.submodules.tdt_beam_decoding import BeamTDTInfer

    cfg = copy.deepcopy(nemo_model.cfg.decoding)
    with open_dict(cfg):
        cfg.strategy = "beam"
        cfg.beam = OmegaConf.create({"beam_size": int(beam_size), "return_best_hypothesis": False})
    decoding = RNNTBPEDecoding(decoding_cfg=cfg, decoder=nemo_model.decoder, joint=nemo_model.joint,
                               tokenizer=nemo_model.tokenizer)
    if not isinstance(decoding.decoding, BeamTDTInfer) or decoding.decoding.search_type != "default":
        raise AssertionError(f"strategy=beam built {type(decoding.decoding).__name__}, not BeamTDTInfer(default)")
    return decoding


def nemo_encoder_output(nemo_model, samples: np.ndarray) -> np.ndarray:
    """NeMo's preprocessor + encoder on one utterance: [D, T_enc] float32 (valid frames only)."""
    from parakeet_trt.export.reference import nemo_encoder, nemo_features

    feats, length = nemo_features(nemo_model, samples)
    enc, enc_len = nemo_encoder(nemo_model, feats, length)
    return np.ascontiguousarray(enc[0, :, : int(enc_len[0])])


def nemo_nbest(decoding, encoder_output: np.ndarray) -> list[dict]:
    """NeMo's n-best for one [D, T] encoder output: token_ids, timestamps, score, best first."""
    import torch

    enc = torch.as_tensor(encoder_output, dtype=torch.float32)[None]
    length = torch.tensor([enc.shape[2]], dtype=torch.int64)
    with torch.inference_mode():
        (nbest,) = decoding.decoding(encoder_output=enc, encoded_lengths=length)
    out = []
    for hyp in nbest[0].n_best_hypotheses:
        out.append({"token_ids": [int(v) for v in hyp.y_sequence],
                    "timestamps": [int(v) for v in hyp.timestamp], "score": float(hyp.score)})
    return out


def our_nbest(core_model, encoder_output: np.ndarray, beam_size: int) -> list[dict]:
    """Our TdtBeamDecoder's n-best on project_encoder of one [D, T] encoder output."""
    from parakeet_trt import _core

    projected = _core.NativeDecoderStep(core_model).project_encoder(encoder_output)
    decoder = _core.TdtBeamDecoder(core_model, beam_size)
    nbest = decoder.decode(projected, projected.shape[0])
    if decoder.expansion_bound_reached:  # NeMo has no bound: the result would not be NeMo's
        raise AssertionError(f"max_expansions_per_frame cut a frame ({decoder.peak_expansions_per_frame})")
    return nbest


def exported_encoder_output(session, samples: np.ndarray) -> np.ndarray:
    """The offline path's encoder output for one utterance: C++ features, the folder's exported encoder
    in ONNX Runtime (CPU): [D, T_enc] float32 (valid frames only)."""
    from parakeet_trt import _core
    from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine

    core = session.model
    features, valid = _core.FeatureExtractor(core).compute(samples)
    encoder = OnnxRuntimeEngine(core.directory + "/" + core.encoder_file, None)
    out = encoder.run_copy({"audio_signal": features[None], "length": np.array([valid], dtype=np.int64)})
    return np.ascontiguousarray(out["outputs"][0, :, : int(out["encoded_lengths"][0])])


def compare_nbest(beam_size: int, num_frames: int, theirs: list[dict], ours: list[dict]) -> BeamRow:
    """NeMo's n-best (nemo_nbest) against ours (dicts with token_ids, token_frames, token_durations, score)."""
    same_length = len(theirs) == len(ours)
    ids_equal = same_length and all(t["token_ids"] == list(o["token_ids"]) for t, o in zip(theirs, ours))
    stamps_equal = same_length and all(
        t["timestamps"] == [f + d for f, d in zip(o["token_frames"], o["token_durations"])]
        for t, o in zip(theirs, ours))
    pairs = list(zip(theirs, ours)) if same_length else []
    diff = max((abs(t["score"] - o["score"]) for t, o in pairs), default=0.0) if same_length else float("inf")
    relative = max((abs(t["score"] - o["score"]) / max(1.0, abs(t["score"])) for t, o in pairs), default=0.0) \
        if same_length else float("inf")
    return BeamRow(beam_size, num_frames, len(theirs), ids_equal, stamps_equal, diff, relative,
                   len(theirs[0]["token_ids"]) if theirs else 0, theirs[0]["score"] if theirs else 0.0)


def compare_beam(decoding, core_model, enc: np.ndarray) -> BeamRow:
    """NeMo's n-best (``decoding`` from nemo_beam_decoding) against ours on one [D, T] encoder output."""
    beam_size = int(decoding.decoding.beam_size)
    return compare_nbest(beam_size, enc.shape[1], nemo_nbest(decoding, enc), our_nbest(core_model, enc, beam_size))


def compare_recognizer_beam(decoding, session, samples: np.ndarray, enc: np.ndarray) -> BeamRow:
    """NeMo's n-best on ``enc`` (exported_encoder_output of ``samples``) against the whole list that
    ``session.transcribe(samples, decoding="beam")`` returns (nbest at its maximum)."""
    from parakeet_trt.session import DECODING

    beam_size = int(decoding.decoding.beam_size)
    result = session.transcribe(samples, session.sample_rate_hz, decoding="beam", beam_size=beam_size,
                                nbest=DECODING["max_nbest"])
    if result.num_encoder_frames != enc.shape[1]:
        raise AssertionError(f"the session encoded {result.num_encoder_frames} frames, the exported encoder {enc.shape[1]}")
    if result.nbest and result.text != result.nbest[0].text:
        raise AssertionError(f"transcript text {result.text!r} is not the best hypothesis' {result.nbest[0].text!r}")
    ours = [{"token_ids": h.token_ids, "token_frames": h.token_frames, "token_durations": h.token_durations,
             "score": h.score} for h in result.nbest]
    return compare_nbest(beam_size, enc.shape[1], nemo_nbest(decoding, enc), ours)
