#!/usr/bin/env python3
"""Build TensorRT engines for an exported model folder.

    tools/build_trt/build_trt.py --meta DIR/model_meta.json --outdir DIR [--fp16|--bf16] [--timing-cache F]
        [--workspace-gib G] [--dry-run]

Writes <engine>.engine and <engine>.meta.json (contract sha256, TensorRT version, GPU compute
capability, precision, profiles) per engine of the contract (encoder, encoder_streaming,
decoder_joint). Same as `parakeet-trt build-trt`. Exit codes: 0 built (or --dry-run), 1 build
failure, 2 bad command line, 7 TensorRT or the CUDA runtime not installed.
"""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from parakeet_trt.tensorrt.build import add_build_trt_arguments, run_build_trt

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_build_trt_arguments(p)
    return run_build_trt(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
