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

    from parakeet_trt.parity.streaming import compare_stream, contract_beside, read_reference, report_stream

    contract = json.loads((args.contract or contract_beside(args.onnx)).read_text())
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
    return report_stream(summary, args.json_out, args.plot, f"{args.onnx.parent.name}: {args.mode}")


if __name__ == "__main__":
    sys.exit(main())
