#!/usr/bin/env python3
"""Generate docs/VALIDATION_REPORT_ORT.md (+ one PNG per model): the ONNX Runtime validation ladder.

    tools/validation_report_ort.py [--archs tiny,parakeet-tdt-0.6b-v3] [--out docs/VALIDATION_REPORT_ORT.md] [--quick]

For each test model (cached exports, built on first use): features, offline encoder, decoder_joint,
native decoder step, decoded tokens, the streaming encoder of each profile (functional and
closed-loop, error per chunk plotted), and each profile's tokens against offline decoding of the
same audio (token edit distance; WER once the demo model exists). Runs single-threaded so the
numbers regenerate identically; only the timings line changes between runs. --quick runs every rung
on fewer signals and chunks (QUICK) so tests/test_reports.py can check that in well under a minute;
its report says so in the header and is never the committed one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
NUM_CHUNKS = {"tiny": 60, "parakeet-tdt-0.6b-v3": 16}
QUICK = {"synthetic": 2, "speech": 1, "num_chunks": 6}
TIMINGS_PREFIX = "Timings (s): "


def _fmt(x: float) -> str:
    return f"{x:.2e}"


def rung_row(r: dict, verdict: str | None = None) -> str:
    """One ladder rung as table cells from `component` on (the TensorRT report prefixes a precision)."""
    verdict = verdict or ("pass" if r["passed"] else "FAIL")
    if r["component"] == "tokens":
        return (f"tokens | {r['items']} signals, {r['tokens']} NeMo tokens | identical on "
                f"{r['identical']}/{r['items']} | | | identical ids | {verdict} |")
    tol = r["tolerance"]
    return (f"{r['component']} | {r.get('items', '')} | {_fmt(r['max_abs_error'])} | {_fmt(r['max_abs_reference'])} | "
            f"{_fmt(r['rel_error'])} | {tol['abs']:g}, {tol['rel']:g} | {verdict} |")


def stream_row(s: dict) -> str:
    """One streaming-encoder summary as table cells from `chunks` on."""
    return (f"{s['num_chunks']} | {s['pass_rate']:.3f} | {_fmt(s['max_abs_error'])} | {_fmt(s['p95_abs_error'])} | "
            f"{_fmt(s['p99_abs_error'])} | {s['trend_ratio']:.2f} | {s['chunks'][-1]['cache_len']} |")


def load_arch(arch: str, cache: Path, quick: bool = False) -> SimpleNamespace:
    """A test model's exports (cached), NeMo model, core model, ORT session, signals and chunk count."""
    import parakeet_trt
    from parakeet_trt import _core
    from parakeet_trt.parity.streaming import cached_streaming_export
    from parakeet_trt.testing.exports import cached_export_dir, cached_nemo_path
    from parakeet_trt.testing.signals import speech_signals, synthetic_signals
    from parakeet_trt.testing.test_models import load_test_model

    export_dir = cached_export_dir(arch, None, cache)
    speech = speech_signals(0, include_long=False)
    signals = synthetic_signals(0) + speech if arch == "tiny" else synthetic_signals(0)[:4] + speech[:3]
    num_chunks = NUM_CHUNKS[arch]
    if quick:
        speech = speech[:QUICK["speech"]]
        signals = synthetic_signals(0)[:QUICK["synthetic"]] + speech
        num_chunks = QUICK["num_chunks"]
    return SimpleNamespace(
        export_dir=export_dir,
        stream_dirs={p: cached_streaming_export(arch, p, cache) for p in ("chunk_isolated", "cache_aware")},
        nemo=load_test_model(cached_nemo_path(arch, None, cache)), core_model=_core.Model.load(str(export_dir)),
        session=parakeet_trt.Session(export_dir, providers=["CPUExecutionProvider"], intra_op_threads=1),
        speech=speech, signals=signals, num_chunks=num_chunks)


def run_arch(arch: str, cache: Path, out_dir: Path, timings: dict, quick: bool = False) -> list[str]:
    from parakeet_trt.parity import ladder
    from parakeet_trt.parity.streaming import plot_errors

    t0 = time.monotonic()
    m = load_arch(arch, cache, quick)
    export_dir, stream_dirs, nemo, core_model, session = m.export_dir, m.stream_dirs, m.nemo, m.core_model, m.session
    speech, signals, num_chunks = m.speech, m.signals, m.num_chunks
    rungs = [
        ladder.features_rung(nemo, core_model, signals),
        ladder.encoder_rung(nemo, export_dir, core_model, signals),
        ladder.decoder_joint_rung(nemo, export_dir),
        ladder.decoder_step_rung(nemo, core_model),
        ladder.tokens_rung(nemo, session, signals),
    ]
    streams = {p: ladder.streaming_rungs(nemo, d, num_chunks) for p, d in stream_dirs.items()}
    vs_offline = {p: ladder.streaming_vs_offline(d, session, speech) for p, d in stream_dirs.items()}
    png = out_dir / f"VALIDATION_REPORT_ORT_{arch}.png"
    plot_errors({f"{p} {m}": s for p, modes in streams.items() for m, s in modes.items()}, png,
                f"{arch}: streaming encoder error per chunk (ORT vs NeMo)")
    timings[arch] = time.monotonic() - t0

    lines = [f"## {arch} (seed {core_model.name.split('seed')[-1].split('-')[0]})", "",
             "| component | compared | max abs error | max abs reference | relative | tolerance (abs, rel) | result |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {rung_row(r)}" for r in rungs]
    lines += ["", "Streaming encoder (`encoder_streaming.onnx`) per profile, seeded N(0,1) features:", "",
              "| profile | mode | chunks | pass rate | max abs | P95 | P99 | trend (last/first third) | cache len (last) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for p, modes in streams.items():
        for m, s in modes.items():
            lines.append(f"| {p} | {m} | {stream_row(s)}")
    lines += ["", f"![error per chunk]({png.name})", "",
              "Streaming tokens against offline decoding of the same audio (espeak-ng speech; whole-utterance "
              "features cut into the profile's windows; random weights, so only the distance is meaningful):", "",
              "| profile | signals | offline tokens | token edit distance | token error rate |", "|---|---|---|---|---|"]
    for p, v in vs_offline.items():
        lines.append(f"| {p} | {len(v['signals'])} | {v['offline_tokens']} | {v['token_edit_distance']} | "
                     f"{v['token_error_rate']:.3f} |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="tiny,parakeet-tdt-0.6b-v3")
    p.add_argument("--out", type=Path, default=REPO / "docs" / "VALIDATION_REPORT_ORT.md")
    p.add_argument("--quick", action="store_true", help=f"fewer signals and chunks ({QUICK}); for tests")
    args = p.parse_args(argv)
    cache = Path(os.environ.get("PARAKEET_TRT_CACHE", REPO / ".cache"))
    import onnxruntime
    import torch
    import nemo

    timings: dict = {}
    body = []
    for arch in args.archs.split(","):
        print(f"[validation] {arch}", file=sys.stderr, flush=True)
        body += run_arch(arch, cache, args.out.parent, timings, args.quick)
    head = ["# ONNX Runtime validation report", "",
            "Generated by `tools/validation_report_ort.py`; do not edit by hand. Each component against its "
            "reference (NeMo in PyTorch, CPU), tolerances from the contract (`tolerances`). "
            "The demo model joins this report once it exists (issue 8).", "",
            f"Versions: onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, nemo {nemo.__version__}; "
            "CPUExecutionProvider, 1 thread.", "",
            *([f"Quick mode {QUICK}: not the committed report.", ""] if args.quick else []),
            TIMINGS_PREFIX + ", ".join(f"{a} {t:.0f}" for a, t in timings.items()), ""]
    args.out.write_text("\n".join(head + body), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
