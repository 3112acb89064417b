"""NeMo's own buffered streaming, as the reference for the C++ buffered session.

    result = nemo_buffered_decode(model, audio, chunk_ms=560, left_ms=10000, right_ms=560)
    result["token_ids"], result["steps"]

This is the loop of NeMo's examples/asr/asr_chunked_inference/rnnt/speech_to_text_streaming_infer_rnnt.py
(NeMo 3.0.0; the script is not part of the installed package, so its loop is restated here for one
utterance, batch 1) running NeMo's own pieces: the model's forward (preprocessor without dither,
pad_to 0, then encoder) over the audio buffer, and the label-looping decoding computer of the
model's ``greedy_batch`` decoding with ``prev_batched_state`` carried between chunks. Contexts are
rounded down to whole encoder frames as the script does.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np


def _decoding_computer(model):
    from omegaconf import open_dict

    dec = getattr(model, "_ptrt_streaming_computer", None)
    if dec is not None:
        return dec
    import copy

    cfg = copy.deepcopy(model.cfg.decoding)
    with open_dict(cfg):
        cfg.strategy = "greedy_batch"
        cfg.greedy.use_cuda_graph_decoder = False
        cfg.preserve_alignments = False
        cfg.fused_batch_size = -1
    from nemo.collections.asr.parts.submodules.rnnt_decoding import RNNTBPEDecoding

    decoding = RNNTBPEDecoding(decoding_cfg=cfg, decoder=model.decoder, joint=model.joint, tokenizer=model.tokenizer)
    computer = decoding.decoding.decoding_computer
    computer.disable_cuda_graphs()
    object.__setattr__(model, "_ptrt_streaming_computer", computer)
    return computer


def nemo_buffered_decode(model, audio: np.ndarray, chunk_ms: int, left_ms: int, right_ms: int) -> Dict[str, Any]:
    """Token ids (and per-step counts) of NeMo's buffered streaming over ``audio`` (16 kHz float32)."""
    import torch

    model.eval()
    pre = model.preprocessor.featurizer
    old = (pre.dither, pre.pad_to)
    pre.dither, pre.pad_to = 0.0, 0
    try:
        sr = int(model.cfg.preprocessor.sample_rate)
        stride_s = float(model.cfg.preprocessor.window_stride)
        model_stride = int(model.cfg.encoder.subsampling_factor)
        feat_samples = (int(sr * stride_s) // model_stride) * model_stride
        enc_samples = feat_samples * model_stride
        features_per_sec = 1.0 / stride_s
        ctx_frames = [int(s / 1000.0 * features_per_sec / model_stride) for s in (left_ms, chunk_ms, right_ms)]
        L, C, R = (f * model_stride * feat_samples for f in ctx_frames)
        full = L + C + R
        x = torch.as_tensor(np.ascontiguousarray(audio, dtype=np.float32))[None]
        n = x.shape[1]
        computer = _decoding_computer(model)
        ids: list[int] = []
        steps = []
        state = None
        left_sample, right_sample = 0, min(C + R, n)
        buffer = torch.zeros([1, 0])
        b_left = b_chunk = b_right = 0
        with torch.inference_mode():
            while left_sample < n:
                buffer = torch.cat((buffer, x[:, left_sample:right_sample]), dim=1)
                added = min(right_sample, n) - left_sample
                is_last = right_sample >= n
                b_left += b_chunk
                b_chunk = 0
                b_right += added
                if is_last:
                    b_chunk, b_right = b_right, 0
                else:
                    b_chunk = C
                    b_right -= C
                extra = max(0, buffer.shape[1] - full)
                if extra > 0:
                    buffer = buffer[:, extra:]
                    b_left -= extra
                total = b_left + b_chunk + b_right
                assert total == buffer.shape[1]
                enc, _ = model(input_signal=buffer, input_signal_length=torch.tensor([total]))
                enc = enc.transpose(1, 2)[:, b_left // enc_samples:]
                # NeMo 3.0.0 returns (hyps, state); the script's older NeMo returned (hyps, alignments, state).
                result = computer(x=enc, out_len=torch.tensor([b_chunk // enc_samples]), prev_batched_state=state)
                hyps, state = result[0], result[-1]
                new = hyps.transcript[0, : int(hyps.current_lengths[0])].tolist()
                ids += [int(t) for t in new]
                steps.append({"audio_end_sample": int(right_sample), "num_committed": len(new), "is_last": is_last})
                left_sample = right_sample
                right_sample = min(right_sample + C, n)
    finally:
        pre.dither, pre.pad_to = old
    return {"token_ids": ids, "steps": steps, "text": model.tokenizer.ids_to_text(ids) if ids else "",
            "contexts_samples": (L, C, R)}
