"""``export_model``: the whole export, in a fixed order, with progress on stderr."""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from . import artifacts, decoder_weights, loading, metadata, onnx_export, precision as precisions, streaming
from .errors import ExportError

COMPONENTS = ("all", "encoder", "decoder_joint", "encoder_streaming")


def parse_components(component: str) -> List[str]:
    """``all`` = encoder + decoder_joint; a comma-separated list selects graphs explicitly."""
    parts = [c.strip() for c in str(component).split(",") if c.strip()]
    if not parts or any(c not in COMPONENTS for c in parts):
        raise ExportError(f"component must be one or more of {COMPONENTS} (comma-separated), got {component!r}")
    out: List[str] = []
    for c in parts:
        for g in (("encoder", "decoder_joint") if c == "all" else (c,)):
            if g not in out:
                out.append(g)
    return out


@dataclass
class ExportResult:
    out_dir: Path
    meta: Dict[str, Any]
    files: Dict[str, str]  # name -> sha256
    smoke: Optional[Dict[str, Any]] = None
    timings_s: Dict[str, float] = field(default_factory=dict)


def _stderr_log(msg: str) -> None:
    print(f"[export] {msg}", file=sys.stderr, flush=True)


def _extend_positional_table(model, max_audio_s: float, log) -> int:
    """Make the encoder accept ``max_audio_s`` seconds per call (facts §2.2 / §6 #7)."""
    enc = model.encoder
    fz = model.preprocessor.featurizer
    sr = int(model.preprocessor._sample_rate)
    n_samples = int(math.ceil(max_audio_s * sr))
    feat_frames = 1 + n_samples // fz.hop_length  # what the preprocessor outputs (center=True)
    needed = metadata._subsampled_length(enc, feat_frames)
    if needed > metadata.max_encoder_frames(enc):
        log(f"extending the positional table to {needed} encoder frames for {max_audio_s} s")
        enc.set_max_audio_length(needed)
    return needed


def export_model(
    nemo_path,
    out_dir,
    component: str = "all",
    device: str = "cpu",
    smoke_test_ort: bool = False,
    max_audio_s: Optional[float] = None,
    log: Optional[Callable[[str], None]] = _stderr_log,
    streaming_profile: Optional[str] = None,
    streaming_chunk_size: Optional[int] = None,
    streaming_shift_size: Optional[int] = None,
    streaming_left_chunks: Optional[int] = None,
    streaming_cache_size: Optional[int] = None,
    streaming_cache_drop_size: Optional[int] = None,
    precision: str = "fp32",
) -> ExportResult:
    """Export ``nemo_path`` into ``out_dir``.

    component: ``all`` (everything), ``encoder`` or ``decoder_joint`` (that graph plus
    decoder_step.bin, vocab.txt and a model_meta.json that lists only what was written).
    device: torch device for tracing; ``cpu`` is the tested path.
    smoke_test_ort: also run the graphs in ONNX Runtime on random inputs and compare with NeMo.
    max_audio_s: extend the encoder's positional table so one call can take this much audio.
    streaming_*: the cache-aware streaming encoder (component ``encoder_streaming``): profile
    ``chunk_isolated`` (NeMo's defaults) or ``cache_aware`` (chunk/shift/left_chunks in encoder
    frames); cache sizes override NeMo's derived values. See export/streaming.py.
    precision: ``fp32``, ``int8`` or ``fp16`` for the encoder graphs (export/precision.py).
    """
    log = log or (lambda m: None)
    components = parse_components(component)
    want_streaming = "encoder_streaming" in components
    if streaming_profile is None and want_streaming:
        streaming_profile = "cache_aware" if streaming_chunk_size is not None else "chunk_isolated"
    if not want_streaming and any(v is not None for v in (streaming_profile, streaming_chunk_size, streaming_shift_size,
                                                          streaming_left_chunks, streaming_cache_size,
                                                          streaming_cache_drop_size)):
        raise ExportError("streaming options apply to --component encoder_streaming only")
    precisions.check_precision(precision)
    if max_audio_s is not None and not (max_audio_s > 0):
        raise ExportError(f"max_audio_s must be > 0, got {max_audio_s!r}")
    t0 = time.monotonic()
    timings: Dict[str, float] = {}
    archive = loading.inspect_nemo(nemo_path)
    out = artifacts.prepare_out_dir(out_dir)
    log(f"restoring {archive.path} ({archive.size_bytes / 1e6:.1f} MB)")
    model = loading.restore_model(archive, device=device)
    timings["restore"] = time.monotonic() - t0
    decoder_weights.check_prediction_path(model)
    dec_meta = metadata.decoding_meta(model)  # validates durations vs joint outputs early
    if max_audio_s is not None:
        _extend_positional_table(model, max_audio_s, log)

    import nemo
    import onnx
    import torch

    graphs: Dict[str, Any] = {}
    stream_prof = None
    if "encoder" in components:
        t = time.monotonic()
        info = onnx_export.export_encoder(model, out, log=log)
        onnx_export.check_graph(out / "encoder.onnx")
        info = precisions.apply_precision(out, info, precision, log)
        graphs["encoder"] = metadata.graph_entry(info, onnx_export.graph_io(out / "encoder.onnx"))
        timings["encoder"] = time.monotonic() - t
    if "decoder_joint" in components:
        t = time.monotonic()
        info = onnx_export.export_decoder_joint(model, out, log=log)
        onnx_export.check_graph(out / "decoder_joint.onnx")
        graphs["decoder_joint"] = metadata.graph_entry(info, onnx_export.graph_io(out / "decoder_joint.onnx"))
        timings["decoder_joint"] = time.monotonic() - t
    if want_streaming:
        t = time.monotonic()
        stream_prof = streaming.configure_for_export(
            model, streaming_profile, chunk_size=streaming_chunk_size, shift_size=streaming_shift_size,
            left_chunks=streaming_left_chunks, cache_size=streaming_cache_size,
            cache_drop_size=streaming_cache_drop_size)
        log(f"streaming profile {stream_prof.profile}: window {stream_prof.window_frames} feature frames, "
            f"{stream_prof.output_frames_per_call} output frame(s)/call, cache {stream_prof.last_channel_cache_size}")
        info = streaming.export_encoder_streaming(model, out, stream_prof, log=log)
        onnx_export.check_graph(out / "encoder_streaming.onnx")
        info = precisions.apply_precision(out, info, precision, log)
        graphs["encoder_streaming"] = metadata.graph_entry(info, onnx_export.graph_io(out / "encoder_streaming.onnx"))
        timings["encoder_streaming"] = time.monotonic() - t
    for name, expected_in, expected_out in (
        ("encoder", onnx_export.ENCODER_INPUTS, onnx_export.ENCODER_OUTPUTS),
        ("decoder_joint", onnx_export.DECODER_JOINT_INPUTS, onnx_export.DECODER_JOINT_OUTPUTS),
        ("encoder_streaming", streaming.STREAMING_INPUTS, streaming.STREAMING_OUTPUTS),
    ):
        if name in graphs:
            got_in = [d["name"] for d in graphs[name]["inputs"]]
            got_out = [d["name"] for d in graphs[name]["outputs"]]
            if got_in != expected_in or got_out != expected_out:
                raise ExportError(f"{name}.onnx has I/O {got_in} -> {got_out}, expected {expected_in} -> {expected_out}")

    log("writing decoder_step.bin and vocab.txt")
    step_meta = decoder_weights.write_decoder_step(model, out / "decoder_step.bin")
    vocab_meta = artifacts.write_vocab(model, out / "vocab.txt")
    if vocab_meta["size"] != dec_meta["vocab_size"]:
        raise ExportError(f"vocabulary has {vocab_meta['size']} entries, decoder vocab is {dec_meta['vocab_size']}")

    files = []
    for g in graphs.values():
        files += [g["file"]] + g["external_data"]
    files += ["decoder_step.bin", "vocab.txt"]
    log("hashing artifacts")
    hashes = {f: artifacts.sha256_file(out / f) for f in files}
    meta = {
        "format_version": metadata.FORMAT_VERSION,
        "model_name": archive.path.stem,
        "model_class": type(model).__name__,
        "source": {
            "nemo_sha256": archive.sha256,
            "nemo_version": nemo.__version__,
            "torch_version": torch.__version__,
            "onnx_version": onnx.__version__,
            "onnx_opset": onnx_export.OPSET,
            "onnx_exporter": "torch.onnx.export(dynamo=False) (TorchScript), as NeMo 3.0.0 Exportable._export",
            "exporter_version": metadata.EXPORTER_VERSION,
            "component": component,
            "max_audio_s_requested": max_audio_s,
            "precision": precision,
        },
        "features": metadata.feature_meta(model),
        "encoder": metadata.encoder_meta(model),
        "decoding": dec_meta,
        "decoder": metadata.decoder_meta(model),
        "vocabulary": vocab_meta,
        "graphs": graphs,
        "decoder_step": step_meta,
        "artifacts": hashes,
    }
    if stream_prof is not None:
        meta["streaming"] = {**stream_prof.as_dict(), "invariants": stream_prof.invariants()}
    from parakeet_trt.contract import write_contract

    meta["contract"] = write_contract(out, meta, archive.config)
    artifacts.write_json(out / "model_meta.json", meta)
    result = ExportResult(out_dir=out, meta=meta, files=hashes, timings_s=timings)

    if smoke_test_ort:
        from . import smoke

        t = time.monotonic()
        result.smoke = {}
        if "encoder" in graphs:
            log("ORT smoke test: encoder")
            result.smoke["encoder"] = smoke.smoke_encoder(model, out / "encoder.onnx")
            log(f"  encoder: {result.smoke['encoder']}")
        if "decoder_joint" in graphs:
            log("ORT smoke test: decoder_joint")
            result.smoke["decoder_joint"] = smoke.smoke_decoder_joint(model, out / "decoder_joint.onnx")
            log(f"  decoder_joint: {result.smoke['decoder_joint']}")
        timings["smoke_test"] = time.monotonic() - t
    timings["total"] = time.monotonic() - t0
    log(f"done in {timings['total']:.1f} s -> {out}")
    return result
