#!/usr/bin/env python3
"""TensorRT parity of the streaming encoder against the PyTorch reference.

    tools/tensorrt/trt_streaming_parity.py --engine DIR/encoder_streaming.engine --ref F.jsonl \
        --mode functional|closed-loop [--contract C] [--json-out S] [--plot P.png]

The TensorRT twin of tools/onnxruntime/onnx_streaming_parity.py, on the same reference files and
the same comparison (parakeet_trt.parity.streaming.compare_stream): functional feeds every chunk
the reference's input caches, closed-loop TensorRT's own caches from the previous chunk. The
engine's <engine>.meta.json is checked against the contract, TensorRT and the GPU first.
Exit codes: 0 every chunk passes, 1 a chunk fails, 5 engine metadata mismatch, 7 TensorRT, CUDA or
a GPU not available on this machine.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EXIT_CONTRACT = 5


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", required=True, type=Path)
    p.add_argument("--ref", required=True, type=Path)
    p.add_argument("--mode", required=True, choices=["functional", "closed-loop"])
    p.add_argument("--contract", type=Path, default=None, help="default: the contract beside the engine")
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--plot", type=Path, default=None, help="PNG of the error per chunk")
    args = p.parse_args(argv)

    from parakeet_trt.parity.streaming import compare_stream, contract_beside, read_reference, report_stream
    from parakeet_trt.tensorrt import EXIT_UNAVAILABLE, EngineMetaMismatch, TensorRTUnavailable

    contract_path = args.contract or contract_beside(args.engine)
    try:
        from parakeet_trt.tensorrt.runner import TrtSession

        session = TrtSession(args.engine, contract_path)
    except TensorRTUnavailable as error:
        print(f"trt_streaming_parity: TensorRT not available: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except EngineMetaMismatch as error:
        print(f"trt_streaming_parity: {error}", file=sys.stderr)
        return EXIT_CONTRACT
    tolerance = {k: session.contract["tolerances"]["encoder_streaming"][k] for k in ("abs", "rel")}
    _, records = read_reference(args.ref)
    summary = compare_stream(session, records, args.mode, tolerance)
    return report_stream(summary, args.json_out, args.plot, f"{args.engine.parent.name}: TensorRT {args.mode}")


if __name__ == "__main__":
    sys.exit(main())
