"""Cache-aware streaming encoder: profiles, NeMo's streaming parameters, the per-call window, the
invariants each profile guarantees, and the ONNX export of ``encoder_streaming.onnx``.

NeMo 3.0.0 facts this module relies on (read in ``conformer_encoder.py``):

- ``ASRModel.set_export_config({'cache_support': True})`` sets ``encoder.export_cache_support`` and
  then calls ``encoder.setup_streaming_params()`` with no arguments, which resets any streaming
  parameters set before. We call it first and apply ours after (``apply_streaming_params``).
- For a full-context model (``att_context_size [-1, -1]``, style ``regular``) the defaults are
  ``lookahead = n_layers * conv_context_size[1]`` (plus ``-n_layers`` for the -1 right context),
  ``cache_drop_size = lookahead``, ``last_channel_cache_size = 10000`` (``max_context``),
  ``valid_out_len = 1``. With 10000 cache frames NeMo's own step fails on a 5000-frame positional
  table (``RelPositionalEncoding`` slices beyond its rows), see ``default_cache_size``.
- ``forward_internal`` with caches: after subsampling it drops ``drop_extra_pre_encoded`` frames;
  ``cache_keep_size = T_after_drop - cache_drop_size`` (from the tensor size, not ``length``);
  ``cache_last_channel_next_len = clamp(cache_last_channel_len + cache_keep_size, max=cache_size)``;
  ``streaming_post_process(keep_all_outputs=False)`` keeps ``valid_out_len`` output frames and
  clamps ``encoded_lengths`` to it.

The graph always drops ``drop_extra_pre_encoded`` frames, so every call (the first included) feeds
``pre_encode_cache_size[1]`` frames of pre-encode cache before the new frames; zeros on the first
call. That is NeMo's ``pad_and_drop_preencoded=True`` chunking (``CacheAwareStreamingAudioBuffer``),
the one an exported graph can follow.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

PROFILES = ("chunk_isolated", "cache_aware")

STREAMING_INPUTS = ["audio_signal", "length", "cache_last_channel", "cache_last_time", "cache_last_channel_len"]
STREAMING_OUTPUTS = ["outputs", "encoded_lengths", "cache_last_channel_next", "cache_last_time_next",
                     "cache_last_channel_next_len"]
STREAMING_AXES = {name: {0: "batch"} for name in STREAMING_INPUTS + STREAMING_OUTPUTS}


def subsampled_length(n: int, subsampling_factor: int) -> int:
    """NeMo ``calc_length`` for stride-2, kernel-3, padding-1 convolutions (``dw_striding``)."""
    for _ in range(int(np.log2(subsampling_factor))):
        n = (n - 1) // 2 + 1
    return n


@dataclass
class StreamingProfile:
    """Everything one streaming export bakes in, and what each call must look like.

    Units: ``*_frames`` without a prefix are feature frames (10 ms); ``encoder_*`` are encoder
    frames (subsampling_factor feature frames).
    """

    profile: str
    chunk_size: Optional[int]  # encoder frames requested (None: NeMo default, chunk_isolated)
    shift_size: Optional[int]
    left_chunks: Optional[int]
    # NeMo CacheAwareStreamingConfig after our overrides
    nemo_chunk_size: List[int]  # feature frames [first, later]
    nemo_shift_size: List[int]
    cache_drop_size: int  # encoder frames recomputed each call (right context)
    last_channel_cache_size: int  # attention cache length (encoder frames)
    valid_out_len: int
    pre_encode_cache_size: int  # feature frames prepended each call
    drop_extra_pre_encoded: int
    # derived
    subsampling_factor: int
    n_layers: int
    d_model: int
    conv_cache_size: int  # conv_context_size[0]
    new_frames_per_call: int  # feature frames of new audio per call
    advance_frames_per_call: int  # feature frames the window moves per call
    window_frames: int  # pre_encode_cache_size + new_frames_per_call: the graph's static time size
    encoder_frames_after_drop: int
    cache_keep_per_call: int
    output_frames_per_call: int
    sources: Dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(d: Dict[str, Any]) -> "StreamingProfile":
        return StreamingProfile(**d)

    def expected_encoded_length(self, length: int) -> int:
        """``encoded_lengths`` for a window whose first ``length`` frames are valid (NeMo:
        calc_length, minus the dropped pre-encode frames, clamped to [0, valid_out_len])."""
        n = subsampled_length(int(length), self.subsampling_factor) - self.drop_extra_pre_encoded
        return max(0, min(n, self.valid_out_len))

    def min_length(self) -> int:
        """Shortest valid ``length`` that still yields one encoder frame."""
        return next(n for n in range(1, self.window_frames + 1) if self.expected_encoded_length(n) >= 1)

    def next_cache_len(self, cache_len: int) -> int:
        """``cache_last_channel_next_len`` for a full window, as NeMo computes it (no lower clamp)."""
        return min(cache_len + self.cache_keep_per_call, self.last_channel_cache_size)

    def invariants(self) -> Dict[str, Any]:
        """Per-call rules the runtime asserts (contract ``streaming.invariants``)."""
        inv = {
            "input_time_frames": self.window_frames,
            "encoded_lengths": self.output_frames_per_call,
            "encoded_lengths_rule": (f"clamp(calc_length(length) - {self.drop_extra_pre_encoded}, 0, "
                                     f"{self.valid_out_len}) (= encoded_lengths for a full window)"),
            "min_length": self.min_length(),
            "output_time_frames": self.output_frames_per_call,
            "cache_last_channel_shape": ["batch", self.n_layers, self.last_channel_cache_size, self.d_model],
            "cache_last_time_shape": ["batch", self.n_layers, self.d_model, self.conv_cache_size],
            "cache_len_rule": f"next = min(cache_len + {self.cache_keep_per_call}, {self.last_channel_cache_size})",
            "cache_len_growth_per_call": self.cache_keep_per_call,
            "cache_len_cap": self.last_channel_cache_size,
            "cache_len_first_call": 0,
        }
        if self.profile == "chunk_isolated":
            inv["cache_last_channel_next_len"] = 0
        return inv

    def cache_len_sequence(self, num_calls: int) -> List[int]:
        out, n = [], 0
        for _ in range(num_calls):
            n = self.next_cache_len(n)
            out.append(n)
        return out


def _nemo_cfg_value(v, index):
    return int(v[index]) if isinstance(v, (list, tuple)) else int(v)


def apply_streaming_params(encoder, profile: str, chunk_size: Optional[int] = None, shift_size: Optional[int] = None,
                           left_chunks: Optional[int] = None, cache_size: Optional[int] = None,
                           cache_drop_size: Optional[int] = None) -> StreamingProfile:
    """Set NeMo's streaming parameters on ``encoder`` for ``profile`` and return the derived profile.

    chunk_isolated: NeMo's defaults (``setup_streaming_params()``); each call feeds
    ``chunk_size[0]`` new feature frames, which makes ``cache_keep_size`` exactly 0, and the window
    advances ``shift_size[1]`` frames (one encoder frame).
    cache_aware: ``setup_streaming_params(chunk_size, shift_size, left_chunks)``; each call feeds
    ``chunk_size[1]`` new frames and advances ``shift_size[1]``.
    cache_size / cache_drop_size override ``last_channel_cache_size`` / ``cache_drop_size`` after
    NeMo's derivation (set on the attention and convolution modules too, as NeMo does).
    """
    from nemo.collections.asr.parts.submodules.causal_convs import CausalConv1D
    from nemo.collections.asr.parts.submodules.multi_head_attention import MultiHeadAttention

    from .errors import ExportError, UnsupportedModelError

    if profile not in PROFILES:
        raise ExportError(f"streaming profile must be one of {PROFILES}, got {profile!r}")
    pe = getattr(encoder, "pre_encode", None)
    if not hasattr(pe, "get_sampling_frames") or not isinstance(pe.get_sampling_frames(), list):
        raise UnsupportedModelError("streaming export supports striding subsampling (dw_striding/striding) only")
    sf = int(encoder.subsampling_factor)
    if profile == "chunk_isolated":
        if chunk_size is not None or shift_size is not None or left_chunks is not None:
            raise ExportError("chunk_isolated uses NeMo's default streaming parameters; "
                              "chunk/shift/left-chunks apply to the cache_aware profile")
        encoder.setup_streaming_params()
    else:
        if chunk_size is None or shift_size is None or left_chunks is None:
            raise ExportError("cache_aware needs --streaming-chunk-size, --streaming-shift-size and "
                              "--streaming-left-chunks (encoder frames)")
        if not (1 <= shift_size <= chunk_size) or left_chunks < 1:
            raise ExportError(f"cache_aware needs 1 <= shift <= chunk and left_chunks >= 1, got chunk {chunk_size}, "
                              f"shift {shift_size}, left_chunks {left_chunks}")
        encoder.setup_streaming_params(chunk_size=chunk_size, shift_size=shift_size, left_chunks=left_chunks)
    cfg = encoder.streaming_cfg
    sources = {
        "nemo_chunk_size": "nemo:ConformerEncoder.setup_streaming_params",
        "nemo_shift_size": "nemo:ConformerEncoder.setup_streaming_params",
        "cache_drop_size": "nemo:ConformerEncoder.setup_streaming_params",
        "last_channel_cache_size": "nemo:ConformerEncoder.setup_streaming_params",
        "valid_out_len": "nemo:ConformerEncoder.setup_streaming_params",
        "pre_encode_cache_size": "nemo:ConvSubsampling.get_streaming_cache_size",
        "drop_extra_pre_encoded": "nemo:ConformerEncoder.setup_streaming_params",
        "conv_cache_size": "nemo:ConformerEncoder.conv_context_size[0]",
    }
    if cache_size is None and profile == "chunk_isolated":
        # NeMo's default (max_context=10000) does not run in NeMo itself on a 5000-row positional
        # table, and the profile never keeps anything in it (cache_keep_size == 0: every slot stays
        # masked), so its length changes nothing but memory. One chunk's lookahead is enough.
        cache_size = default_cache_size(cfg)
        sources["last_channel_cache_size"] = "parakeet_trt default: cache_drop_size (NeMo's 10000 is unusable)"
    if cache_size is not None:
        if cache_size < 1:
            raise ExportError(f"--streaming-cache-size must be >= 1, got {cache_size}")
        cfg.last_channel_cache_size = int(cache_size)
        if "parakeet_trt default" not in sources["last_channel_cache_size"]:
            sources["last_channel_cache_size"] = "option:--streaming-cache-size"
    if cache_drop_size is not None:
        if cache_drop_size < 0:
            raise ExportError(f"--streaming-cache-drop-size must be >= 0, got {cache_drop_size}")
        cfg.cache_drop_size = int(cache_drop_size)
        for m in encoder.layers.modules():
            if isinstance(m, (MultiHeadAttention, CausalConv1D)) and hasattr(m, "_max_cache_len"):
                m.cache_drop_size = cfg.cache_drop_size
        sources["cache_drop_size"] = "option:--streaming-cache-drop-size"
    pre = _nemo_cfg_value(cfg.pre_encode_cache_size, 1)
    new = _nemo_cfg_value(cfg.chunk_size, 0 if profile == "chunk_isolated" else 1)
    window = pre + new
    after_drop = subsampled_length(window, sf) - int(cfg.drop_extra_pre_encoded)
    keep = after_drop - int(cfg.cache_drop_size)
    out_frames = min(after_drop, int(cfg.valid_out_len)) if cfg.valid_out_len > 0 else after_drop
    prof = StreamingProfile(
        profile=profile, chunk_size=chunk_size, shift_size=shift_size, left_chunks=left_chunks,
        nemo_chunk_size=[_nemo_cfg_value(cfg.chunk_size, 0), _nemo_cfg_value(cfg.chunk_size, 1)],
        nemo_shift_size=[_nemo_cfg_value(cfg.shift_size, 0), _nemo_cfg_value(cfg.shift_size, 1)],
        cache_drop_size=int(cfg.cache_drop_size), last_channel_cache_size=int(cfg.last_channel_cache_size),
        valid_out_len=int(cfg.valid_out_len), pre_encode_cache_size=pre,
        drop_extra_pre_encoded=int(cfg.drop_extra_pre_encoded), subsampling_factor=sf,
        n_layers=len(encoder.layers), d_model=int(encoder.d_model), conv_cache_size=int(encoder.conv_context_size[0]),
        new_frames_per_call=new, advance_frames_per_call=_nemo_cfg_value(cfg.shift_size, 1), window_frames=window,
        encoder_frames_after_drop=after_drop, cache_keep_per_call=keep, output_frames_per_call=out_frames,
        sources=sources,
    )
    if after_drop < 1 or out_frames < 1:
        raise ExportError(f"streaming window of {window} feature frames gives {after_drop} encoder frames")
    if profile == "chunk_isolated" and keep != 0:
        raise ExportError(f"chunk_isolated window keeps {keep} cache frames per call, expected 0")
    if profile == "cache_aware" and keep < 1:
        raise ExportError(f"cache_aware parameters keep {keep} frames per call (chunk - drop must be >= 1)")
    needed = after_drop + prof.last_channel_cache_size
    from .metadata import max_encoder_frames

    if needed > max_encoder_frames(encoder):
        encoder.set_max_audio_length(needed)
    return prof


def default_cache_size(cfg) -> int:
    return max(1, int(cfg.cache_drop_size))


def chunk_windows(features: np.ndarray, prof: StreamingProfile, num_valid: Optional[int] = None,
                  ) -> Iterator[Tuple[np.ndarray, int]]:
    """Split features [n_mels, T] into the graph's per-call windows [n_mels, window_frames].

    Call k covers new frames [k*advance, k*advance + new) preceded by ``pre_encode_cache_size``
    frames (zeros before the start). The last windows are zero-padded; ``length`` counts the valid
    frames of the window (pre-encode cache included), as CacheAwareStreamingAudioBuffer does.
    Stops once the new-frame start passes the valid frames.
    """
    n_mels, total = features.shape
    valid = total if num_valid is None else int(num_valid)
    pre, new, adv = prof.pre_encode_cache_size, prof.new_frames_per_call, prof.advance_frames_per_call
    padded = np.zeros((n_mels, pre + valid + new), np.float32)
    padded[:, pre:pre + valid] = features[:, :valid]
    start = 0
    while start < valid:
        length = pre + min(new, valid - start)
        if prof.expected_encoded_length(length) < 1:
            return  # a tail shorter than one encoder frame: the graph would emit nothing
        yield np.ascontiguousarray(padded[:, start:start + pre + new]), length
        start += adv


def initial_caches(prof: StreamingProfile, batch: int = 1) -> Dict[str, np.ndarray]:
    return {
        "cache_last_channel": np.zeros((batch, prof.n_layers, prof.last_channel_cache_size, prof.d_model), np.float32),
        "cache_last_time": np.zeros((batch, prof.n_layers, prof.d_model, prof.conv_cache_size), np.float32),
        "cache_last_channel_len": np.zeros((batch,), np.int64),
    }


def streaming_example(prof: StreamingProfile, feat_in: int, batch: int = 2):
    """Deterministic tracing input: full windows, caches partly filled (lengths differ per row)."""
    import torch

    g = torch.Generator().manual_seed(2468)
    feats = torch.randn(batch, feat_in, prof.window_frames, generator=g)
    lengths = torch.full((batch,), prof.window_frames, dtype=torch.int64)
    cc = torch.randn(batch, prof.n_layers, prof.last_channel_cache_size, prof.d_model, generator=g)
    ct = torch.randn(batch, prof.n_layers, prof.d_model, prof.conv_cache_size, generator=g)
    cl = torch.tensor([min(prof.last_channel_cache_size, i) for i in range(batch)], dtype=torch.int64)
    for b in range(batch):
        cc[b, :, : prof.last_channel_cache_size - int(cl[b])] = 0.0
    return feats, lengths, cc, ct, cl


def export_encoder_streaming(model, out_dir, prof: StreamingProfile, log=lambda m: None) -> Dict[str, Any]:
    """Trace NeMo's ``forward_for_export`` with caches into ``encoder_streaming.onnx``.

    Batch is dynamic; the time sizes are static (the profile's window, cache sizes), because NeMo
    derives ``cache_keep_size`` from the tensor's time size: another size is another contract.
    """
    from pathlib import Path

    from .onnx_export import export_graph

    enc = model.encoder
    example = streaming_example(prof, int(enc._feat_in))
    path = Path(out_dir) / "encoder_streaming.onnx"
    enc.export_cache_support = True
    try:
        info = export_graph(enc, example, path, STREAMING_INPUTS, STREAMING_OUTPUTS, STREAMING_AXES, log=log)
    finally:
        enc.export_cache_support = False
    _declare_static_output_shapes(path, prof)
    return info


def _declare_static_output_shapes(path, prof: StreamingProfile) -> None:
    """The tracer names the sliced output sizes (``Sliceoutputs_dim_2``...); the profile fixes them,
    so the graph declares them and its I/O reads as the contract."""
    import onnx

    static = {
        "outputs": [None, prof.d_model, prof.output_frames_per_call],
        "cache_last_channel_next": [None, prof.n_layers, prof.last_channel_cache_size, prof.d_model],
        "cache_last_time_next": [None, prof.n_layers, prof.d_model, prof.conv_cache_size],
    }
    m = onnx.load(str(path), load_external_data=False)
    for out in m.graph.output:
        for dim, size in zip(out.type.tensor_type.shape.dim, static.get(out.name, [])):
            if size is not None:
                dim.Clear()
                dim.dim_value = int(size)
    onnx.save_model(m, str(path))


def configure_for_export(model, profile: str, **params) -> StreamingProfile:
    """NeMo's export configuration (which resets streaming parameters), then ours on top."""
    model.set_export_config({"cache_support": "True"})
    prof = apply_streaming_params(model.encoder, profile, **params)
    model.encoder.export_cache_support = False  # set again only while tracing the streaming graph
    return prof


def nemo_stream_step(encoder, window: np.ndarray, length: int, caches: Dict[str, np.ndarray]
                     ) -> Dict[str, np.ndarray]:
    """One call of NeMo's ``cache_aware_stream_step`` in the graph's layout ([B, layers, ...] caches)."""
    import torch

    with torch.inference_mode():
        out = encoder.cache_aware_stream_step(
            processed_signal=torch.from_numpy(np.ascontiguousarray(window[None])),
            processed_signal_length=torch.tensor([length], dtype=torch.int64),
            cache_last_channel=torch.from_numpy(caches["cache_last_channel"]).transpose(0, 1).contiguous(),
            cache_last_time=torch.from_numpy(caches["cache_last_time"]).transpose(0, 1).contiguous(),
            cache_last_channel_len=torch.from_numpy(caches["cache_last_channel_len"]),
            keep_all_outputs=False,
        )
    o, ol, cc, ct, cl = out
    return {
        "outputs": o.numpy().copy(),
        "encoded_lengths": ol.numpy().astype(np.int64),
        "cache_last_channel_next": cc.transpose(0, 1).contiguous().numpy(),
        "cache_last_time_next": ct.transpose(0, 1).contiguous().numpy(),
        "cache_last_channel_next_len": cl.numpy().astype(np.int64),
    }
