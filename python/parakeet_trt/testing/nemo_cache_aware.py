"""NeMo's own cache-aware streaming, as the reference for the C++ cache-aware session.

    model = load_streaming_reference(nemo_path, streaming)   # streaming: the contract's section
    result = nemo_cache_aware_decode(model, audio)
    result["token_ids"], result["steps"]

This is the loop of NeMo 3.0.0's examples/asr/asr_cache_aware_streaming/
speech_to_text_cache_aware_streaming_infer.py (``perform_streaming``; the script is not part of the
installed package, so its loop is restated here for one utterance) running NeMo's own pieces:

- ``CacheAwareStreamingAudioBuffer(model, online_normalization=True, pad_and_drop_preencoded=True)``
  computes the features (preprocessor with dither 0, pad_to 0, normalize None) and yields the
  windows (pre-encode cache + chunk, each normalized per feature over its own frames);
- ``model.conformer_stream_step`` runs the encoder with the caches and decodes with
  ``previous_hypotheses`` (greedy TDT, label looping, decoder state carried across chunks),
  ``keep_all_outputs=buffer.is_buffer_empty()``, ``drop_extra_pre_encoded`` on every step.

The encoder gets the streaming parameters of the export (``configure_for_export`` with the
contract's chunk, shift, left chunks and cache sizes), on a freshly loaded model (the settings
change the encoder's modules; NeMo models cannot be deep-copied).

Two adaptations, both to the exported graph, which has a static time size:

- every window is zero-padded on the right to the graph's window (``length`` marks the valid
  frames), where NeMo's buffer cuts the last windows short;
- chunk_isolated feeds ``new_frames_per_call`` new frames per window (NeMo's ``chunk_size[0]``,
  which keeps the cache empty) where the buffer with ``pad_and_drop_preencoded`` would take
  ``chunk_size[1]``: the buffer's streaming config is given the graph's chunk.
"""

from __future__ import annotations

import copy
from typing import Any, Dict

import numpy as np


def load_streaming_reference(nemo_path, streaming: Dict[str, Any]):
    """A fresh NeMo model from ``nemo_path`` with the export's streaming parameters (``streaming``:
    the contract's section); checks that they give the export's window, shift and cache rules."""
    from parakeet_trt.export.streaming import configure_for_export
    from parakeet_trt.testing.test_models import load_nemo_model

    m = load_nemo_model(nemo_path)
    m.eval()
    params = {}
    if streaming["profile"] == "cache_aware":
        params = dict(chunk_size=streaming["chunk_size"], shift_size=streaming["shift_size"],
                      left_chunks=streaming["left_chunks"])
    prof = configure_for_export(m, streaming["profile"], cache_size=streaming["last_channel_cache_size"],
                                cache_drop_size=streaming["cache_drop_size"], **params)
    for name in ("window_frames", "new_frames_per_call", "advance_frames_per_call", "pre_encode_cache_size",
                 "valid_out_len", "cache_keep_per_call", "drop_extra_pre_encoded", "last_channel_cache_size"):
        if getattr(prof, name) != streaming[name]:
            raise ValueError(f"reference streaming parameters differ from the export: {name} "
                             f"{getattr(prof, name)} != {streaming[name]}")
    m._ptrt_streaming = dict(streaming)
    return m


def nemo_cache_aware_decode(model, audio: np.ndarray, pad_windows: bool = True) -> Dict[str, Any]:
    """Token ids (and per-step counts) of NeMo's cache-aware streaming over ``audio`` (16 kHz
    float32); ``model`` from :func:`load_streaming_reference`. ``pad_windows=False`` feeds the last
    windows cut short as NeMo's buffer yields them (what the exported graph cannot take)."""
    import torch
    from nemo.collections.asr.parts.utils.streaming_utils import CacheAwareStreamingAudioBuffer

    m = model
    streaming = m._ptrt_streaming
    window_frames = int(streaming["window_frames"])
    buffer = CacheAwareStreamingAudioBuffer(model=m, online_normalization=True, pad_and_drop_preencoded=True)
    if streaming["profile"] == "chunk_isolated":
        cfg = copy.deepcopy(buffer.streaming_cfg)
        cfg.chunk_size = [int(streaming["new_frames_per_call"])] * 2
        buffer.streaming_cfg = cfg
    ids: list[int] = []
    steps = []
    if len(audio) == 0:
        return {"token_ids": ids, "steps": steps, "text": ""}
    buffer.append_audio(np.ascontiguousarray(audio, dtype=np.float32))
    cache_channel, cache_time, cache_len = m.encoder.get_initial_cache_state(batch_size=1)
    hyps = None
    drop = int(m.encoder.streaming_cfg.drop_extra_pre_encoded)
    with torch.inference_mode():
        for chunk, lengths in buffer:
            pad = window_frames - chunk.shape[-1]
            if pad > 0 and pad_windows:
                chunk = torch.nn.functional.pad(chunk, (0, pad))
            before = len(hyps[0].y_sequence) if hyps else 0
            (_, _, cache_channel, cache_time, cache_len, hyps) = m.conformer_stream_step(
                processed_signal=chunk, processed_signal_length=lengths, cache_last_channel=cache_channel,
                cache_last_time=cache_time, cache_last_channel_len=cache_len,
                keep_all_outputs=buffer.is_buffer_empty(), previous_hypotheses=hyps,
                drop_extra_pre_encoded=drop, return_transcription=True)
            seq = hyps[0].y_sequence
            seq = seq.tolist() if hasattr(seq, "tolist") else list(seq)
            steps.append({"num_committed": len(seq) - before, "length": int(lengths[0])})
        if hyps:
            seq = hyps[0].y_sequence
            ids = [int(t) for t in (seq.tolist() if hasattr(seq, "tolist") else seq)]
    return {"token_ids": ids, "steps": steps, "text": m.tokenizer.ids_to_text(ids) if ids else ""}
