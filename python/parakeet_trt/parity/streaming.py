"""Streaming-encoder parity: the PyTorch reference stream (NeMo's cache_aware_stream_step) and the
ONNX Runtime comparison in functional and closed-loop modes. Shared by the tools
(tools/verify_nemo/streaming_encoder_reference.py, tools/onnxruntime/onnx_streaming_parity.py),
the tests and the validation report.

Reference file format: one JSON line per chunk (``chunk``, ``length``, ``inputs_sha256`` of the
window, ``outputs`` as a nested list, ``encoded_lengths``, ``cache_last_channel_len`` in and out,
``cache_*_sha256`` digests) plus ``<jsonl>.npz`` holding every tensor (``c{k}.<name>``) so the
functional mode can feed the reference's caches back exactly.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from parakeet_trt.export.streaming import (STREAMING_OUTPUTS, StreamingProfile, chunk_windows, initial_caches,
                                           nemo_stream_step)

CACHE_INPUTS = ("cache_last_channel", "cache_last_time", "cache_last_channel_len")
NEXT = {"cache_last_channel": "cache_last_channel_next", "cache_last_time": "cache_last_time_next",
        "cache_last_channel_len": "cache_last_channel_next_len"}


def digest(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def profile_from_contract(contract: Dict[str, Any]) -> StreamingProfile:
    fields = StreamingProfile.__dataclass_fields__
    return StreamingProfile.from_dict({k: v for k, v in contract["streaming"].items() if k in fields})


def reference_features(n_mels: int, num_frames: int, seed: int) -> np.ndarray:
    """Seeded N(0, 1) features: what per-feature normalized log-mels look like to the encoder."""
    return np.random.default_rng(seed).standard_normal((n_mels, num_frames)).astype(np.float32)


def reference_stream(encoder, prof: StreamingProfile, features: np.ndarray, num_chunks: Optional[int] = None,
                     ) -> List[Dict[str, np.ndarray]]:
    """Run NeMo chunk by chunk; returns per chunk the inputs (window, length, caches) and outputs."""
    caches = initial_caches(prof)
    records = []
    for k, (window, length) in enumerate(chunk_windows(features, prof)):
        if num_chunks is not None and k >= num_chunks:
            break
        out = nemo_stream_step(encoder, window, length, caches)
        records.append({"audio_signal": window[None], "length": np.array([length], np.int64), **caches, **out})
        caches = {name: out[NEXT[name]] for name in CACHE_INPUTS}
    return records


def write_reference(records: List[Dict[str, np.ndarray]], jsonl_path: Path, meta: Dict[str, Any]) -> None:
    jsonl_path = Path(jsonl_path)
    tensors = {}
    with jsonl_path.open("w") as f:
        f.write(json.dumps({"header": meta}, sort_keys=True) + "\n")
        for k, r in enumerate(records):
            for name, value in r.items():
                tensors[f"c{k}.{name}"] = value
            line = {
                "chunk": k, "length": int(r["length"][0]), "inputs_sha256": digest(r["audio_signal"]),
                "outputs": np.round(r["outputs"][0].astype(np.float64), 7).tolist(),
                "encoded_lengths": int(r["encoded_lengths"][0]),
                "cache_last_channel_len": int(r["cache_last_channel_len"][0]),
                "cache_last_channel_next_len": int(r["cache_last_channel_next_len"][0]),
                "cache_last_channel_next_sha256": digest(r["cache_last_channel_next"]),
                "cache_last_time_next_sha256": digest(r["cache_last_time_next"]),
            }
            f.write(json.dumps(line, sort_keys=True) + "\n")
    np.savez(str(jsonl_path) + ".npz", **tensors)


def read_reference(jsonl_path: Path) -> tuple[Dict[str, Any], List[Dict[str, np.ndarray]]]:
    lines = Path(jsonl_path).read_text().splitlines()
    header = json.loads(lines[0])["header"]
    data = np.load(str(jsonl_path) + ".npz")
    records = []
    for k in range(len(lines) - 1):
        records.append({key.split(".", 1)[1]: data[key] for key in data.files if key.startswith(f"c{k}.")})
    return header, records


def _err(got: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    diff = float(np.abs(got.astype(np.float64) - ref).max()) if ref.size else 0.0
    scale = float(np.abs(ref).max()) if ref.size else 0.0
    return diff, diff / max(scale, 1e-12), scale


def compare_stream(session, records: List[Dict[str, np.ndarray]], mode: str, tolerance: Dict[str, float],
                   ) -> Dict[str, Any]:
    """Run the ONNX graph over the reference's windows.

    functional: every chunk gets the reference's input caches (isolates one call's error).
    closed-loop: chunk k gets ONNX Runtime's own caches from chunk k-1 (errors may accumulate).
    Per chunk: max abs / relative error of outputs and next caches, lengths equal, pass/fail.
    """
    if mode not in ("functional", "closed-loop"):
        raise ValueError(f"mode must be functional or closed-loop, got {mode!r}")
    own = None
    chunks = []
    for k, r in enumerate(records):
        feeds = {"audio_signal": r["audio_signal"], "length": r["length"]}
        caches = {n: r[n] for n in CACHE_INPUTS} if (mode == "functional" or own is None) else own
        feeds.update(caches)
        got = dict(zip(STREAMING_OUTPUTS, session.run(STREAMING_OUTPUTS, feeds)))
        own = {n: got[NEXT[n]] for n in CACHE_INPUTS}
        e_out, rel_out, scale = _err(got["outputs"], r["outputs"])
        e_cc, _, scale_cc = _err(got["cache_last_channel_next"], r["cache_last_channel_next"])
        e_ct, _, scale_ct = _err(got["cache_last_time_next"], r["cache_last_time_next"])
        lengths_ok = bool(np.array_equal(got["encoded_lengths"], r["encoded_lengths"]) and
                          np.array_equal(got["cache_last_channel_next_len"], r["cache_last_channel_next_len"]))
        ok = lengths_ok and all(e <= tolerance["abs"] + tolerance["rel"] * s
                                for e, s in ((e_out, scale), (e_cc, scale_cc), (e_ct, scale_ct)))
        chunks.append({"chunk": k, "max_abs_error": e_out, "rel_error": rel_out, "max_abs_ref": scale,
                       "cache_channel_error": e_cc, "cache_time_error": e_ct, "lengths_equal": lengths_ok,
                       "cache_len": int(got["cache_last_channel_next_len"][0]), "passed": bool(ok)})
    return summarize(chunks, mode, tolerance)


def summarize(chunks: List[Dict[str, Any]], mode: str, tolerance: Dict[str, float]) -> Dict[str, Any]:
    errors = np.array([c["max_abs_error"] for c in chunks]) if chunks else np.zeros(1)
    return {
        "mode": mode, "tolerance": tolerance, "num_chunks": len(chunks),
        "pass_rate": float(np.mean([c["passed"] for c in chunks])) if chunks else 0.0,
        "max_abs_error": float(errors.max()), "p95_abs_error": float(np.percentile(errors, 95)),
        "p99_abs_error": float(np.percentile(errors, 99)),
        "max_rel_error": float(max((c["rel_error"] for c in chunks), default=0.0)),
        "trend_ratio": trend_ratio(errors), "chunks": chunks,
    }


def trend_ratio(errors: np.ndarray) -> float:
    """Median error of the last third over the first third: ~1 when errors do not accumulate."""
    n = len(errors)
    if n < 6:
        return 1.0
    third = n // 3
    first, last = float(np.median(errors[:third])), float(np.median(errors[-third:]))
    return last / max(first, 1e-12)


def plot_errors(summaries: Dict[str, Dict[str, Any]], png_path: Path, title: str) -> None:
    """Error per chunk over time, one line per run (mode/profile), log scale, tolerance dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3.6), dpi=100)
    for label, s in summaries.items():
        ax.plot([c["chunk"] for c in s["chunks"]], [max(c["max_abs_error"], 1e-9) for c in s["chunks"]],
                label=label, linewidth=1)
    tol = next(iter(summaries.values()))["tolerance"]["abs"] if summaries else None
    if tol:
        ax.axhline(tol, color="k", linestyle="--", linewidth=0.8, label="abs tolerance")
    ax.set_yscale("log")
    ax.set_xlabel("chunk (call)")
    ax.set_ylabel("max |ORT - NeMo| of outputs")
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path, metadata={"Software": None})
    plt.close(fig)


# cache_aware parameters of the test exports (encoder frames): 1.28 s chunks, 0.64 s shift.
TEST_CACHE_AWARE = {"tiny": dict(chunk_size=16, shift_size=8, left_chunks=2),
                    "parakeet-tdt-0.6b-v3": dict(chunk_size=16, shift_size=8, left_chunks=4)}


def cached_streaming_export(arch: str, profile: str, cache_dir: Optional[Path] = None,
                            params: Optional[Dict[str, int]] = None) -> Path:
    """``--component encoder_streaming`` export of test model ``arch`` (default seed) for ``profile``,
    cached under ``<cache>/streaming_exports``; rebuilt when the exporter version, the .nemo or the
    parameters change. ``params`` (cache_aware: chunk_size, shift_size, left_chunks in encoder
    frames) default to TEST_CACHE_AWARE; other values get their own folder (``-c{C}s{S}k{K}``)."""
    from parakeet_trt.export import export_model
    from parakeet_trt.export.metadata import EXPORTER_VERSION
    from parakeet_trt.hashing import sha256_file
    from parakeet_trt.testing.exports import cache_root, cached_nemo_path, make_room_for_export

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    nemo = cached_nemo_path(arch, None, root)
    default = TEST_CACHE_AWARE[arch] if profile == "cache_aware" else {}
    params = default if params is None else dict(params)
    suffix = "" if params == default else "-c{chunk_size}s{shift_size}k{left_chunks}".format(**params)
    out = root / "streaming_exports" / f"{nemo.stem}-{profile}{suffix}"
    meta_path = out / "model_meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        s = meta.get("streaming", {})
        if (meta["source"].get("exporter_version") != EXPORTER_VERSION
                or meta["source"].get("nemo_sha256") != sha256_file(nemo)
                or any(s.get(k) != v for k, v in params.items()) or s.get("profile") != profile):
            meta_path.unlink()
    if not meta_path.is_file():
        make_room_for_export(root, arch, out)
        export_model(nemo, out, component="encoder_streaming", streaming_profile=profile,
                     **{f"streaming_{k}": v for k, v in params.items()})
    return out


def contract_beside(graph_path: Path) -> Path:
    """The contract named by the model_meta.json in the folder of a graph or engine file."""
    meta = json.loads((Path(graph_path).parent / "model_meta.json").read_text())
    return Path(graph_path).parent / meta["contract"]["file"]


def summary_lines(summary: Dict[str, Any]) -> List[str]:
    """The per-chunk lines and the closing line the streaming parity tools print."""
    lines = [f"chunk {c['chunk']:4d}  max_abs {c['max_abs_error']:.3e}  rel {c['rel_error']:.3e}  "
             f"cache_len {c['cache_len']:5d}  {'ok' if c['passed'] else 'FAIL'}" for c in summary["chunks"]]
    lines.append(f"{summary['mode']}: {summary['num_chunks']} chunks, pass rate {summary['pass_rate']:.3f}, "
                 f"max {summary['max_abs_error']:.3e}, P95 {summary['p95_abs_error']:.3e}, "
                 f"P99 {summary['p99_abs_error']:.3e}, trend (last/first third) {summary['trend_ratio']:.2f}")
    return lines


def report_stream(summary: Dict[str, Any], json_out: Optional[Path], plot_path: Optional[Path], title: str) -> int:
    """Print the summary, write the optional JSON and plot; the tools' exit code (0 all chunks pass, else 1)."""
    print("\n".join(summary_lines(summary)))
    if json_out:
        Path(json_out).write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    if plot_path:
        plot_errors({summary["mode"]: summary}, plot_path, title)
    return 0 if summary["pass_rate"] == 1.0 else 1
