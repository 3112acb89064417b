#!/usr/bin/env python3
"""ONNX Runtime parity of the streaming encoder against the PyTorch reference.

    tools/onnxruntime/onnx_streaming_parity.py --onnx DIR/encoder_streaming.onnx --ref F.jsonl \
        --mode functional|closed-loop --providers cpu|cuda [--contract C] [--json-out S] [--plot P.png]

functional: every chunk gets the reference's input caches; closed-loop: ONNX Runtime's own caches
from the previous chunk. Per chunk: max abs and relative error of the outputs and next caches,
lengths equal, pass/fail against the contract's `tolerances.encoder_streaming` (the contract
beside the graph unless --contract). Prints the pass rate, P95/P99 error and the trend ratio;
exits 1 when any chunk fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _find_contract(onnx_path: Path) -> Path:
    meta = json.loads((onnx_path.parent / "model_meta.json").read_text())
    return onnx_path.parent / meta["contract"]["file"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--onnx", required=True, type=Path)
    p.add_argument("--ref", required=True, type=Path)
    p.add_argument("--mode", required=True, choices=["functional", "closed-loop"])
    p.add_argument("--providers", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--contract", type=Path, default=None)
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None, help="PNG of the error per chunk")
    args = p.parse_args(argv)

    import onnxruntime as ort

    from parakeet_trt.parity.streaming import compare_stream, plot_errors, read_reference

    contract = json.loads((args.contract or _find_contract(args.onnx)).read_text())
    tolerance = {k: contract["tolerances"]["encoder_streaming"][k] for k in ("abs", "rel")}
    providers = ["CUDAExecutionProvider"] if args.providers == "cuda" else ["CPUExecutionProvider"]
    if args.providers == "cuda" and "CUDAExecutionProvider" not in ort.get_available_providers():
        print("error: CUDAExecutionProvider is not available in this onnxruntime", file=sys.stderr)
        return 2
    so = ort.SessionOptions()
    so.log_severity_level = 3
    session = ort.InferenceSession(str(args.onnx), so, providers=providers)
    _, records = read_reference(args.ref)
    summary = compare_stream(session, records, args.mode, tolerance)
    for c in summary["chunks"]:
        print(f"chunk {c['chunk']:4d}  max_abs {c['max_abs_error']:.3e}  rel {c['rel_error']:.3e}  "
              f"cache_len {c['cache_len']:5d}  {'ok' if c['passed'] else 'FAIL'}")
    print(f"{args.mode}: {summary['num_chunks']} chunks, pass rate {summary['pass_rate']:.3f}, "
          f"max {summary['max_abs_error']:.3e}, P95 {summary['p95_abs_error']:.3e}, "
          f"P99 {summary['p99_abs_error']:.3e}, trend (last/first third) {summary['trend_ratio']:.2f}")
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    if args.plot:
        plot_errors({args.mode: summary}, args.plot, f"{args.onnx.parent.name}: {args.mode}")
    return 0 if summary["pass_rate"] == 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
