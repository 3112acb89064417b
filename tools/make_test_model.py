#!/usr/bin/env python3
"""Build a deterministic random NeMo Parakeet-TDT test model (.nemo + .stats.json).

Thin CLI over parakeet_trt.testing.test_models.  Example:

    tools/make_test_model.py --arch tiny --seed 0 --out .cache/test_models/tiny-seed0.nemo
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))


def main(argv=None) -> int:
    from parakeet_trt.testing.test_models import ARCHS, save_test_model, stats_path_for

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="The same --arch/--seed always gives a byte-identical .nemo. Decoding statistics of "
               "NeMo's greedy_batch TDT decoding on test signals are printed and written to "
               "<out stem>.stats.json (and stored in the .nemo config under ptrt_test_model).",
    )
    ap.add_argument("--arch", required=True, choices=ARCHS, help="architecture to build")
    ap.add_argument("--seed", type=int, default=0, help="seed for weights, tokenizer corpus and shaping (default 0)")
    ap.add_argument("--out", required=True, type=Path, help="output .nemo path")
    ap.add_argument("--quiet", action="store_true", help="no progress messages on stderr")
    args = ap.parse_args(argv)
    info = save_test_model(args.arch, args.seed, args.out, verbose=not args.quiet)
    stats = {k: v for k, v in info.get("stats", {}).items() if k != "signals"}
    print(json.dumps({"out": str(args.out), "stats_file": str(stats_path_for(args.out)), "stats": stats}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
