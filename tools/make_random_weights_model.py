#!/usr/bin/env python3
"""Build the packaged random-weight fixture model (`random-weights-test`) and its sample, which the C++,
Rust and pytest fixtures use.

    tools/make_random_weights_model.py [--seed 1234] [--out python/parakeet_trt/models/random-weights-test]

The model is the project's `tiny` test architecture (tools/make_test_model.py) with seeded random
weights, exported with tools/export_onnx/export.py; the sample is espeak-ng speech. Both are
deterministic, so running this again reproduces the committed files byte for byte.
Its weights are random, so its text is not meaningful (the default model is `demo`). Its model_name stays
`default` (the .nemo stem below) so the committed artifacts and their hashes do not change.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

SAMPLE_TEXT = "the quick brown fox jumps over the lazy dog"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1234, help="test-model seed (default 1234, as the tests use)")
    parser.add_argument("--out", type=Path, default=REPO / "python/parakeet_trt/models/random-weights-test",
                        help="where the exported model folder goes")
    parser.add_argument("--sample", type=Path, default=REPO / "python/parakeet_trt/samples/sample.wav",
                        help="where the sample WAV goes")
    args = parser.parse_args()

    import soundfile

    from parakeet_trt.export import export_model
    from parakeet_trt.testing.signals import speak
    from parakeet_trt.testing.test_models import save_test_model

    with tempfile.TemporaryDirectory() as tmp:
        nemo_path = Path(tmp) / "default.nemo"
        print(f"[default-model] building tiny test model (seed {args.seed})", file=sys.stderr)
        save_test_model("tiny", args.seed, nemo_path)
        staging = Path(tmp) / "export"
        print(f"[default-model] exporting to {args.out}", file=sys.stderr)
        export_model(nemo_path, staging, component="all", device="cpu")
        if args.out.exists():
            shutil.rmtree(args.out)
        shutil.copytree(staging, args.out)

    args.sample.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.sample, speak(SAMPLE_TEXT), 16000, subtype="PCM_16")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"[default-model] wrote {args.out} ({total / 1e6:.2f} MB) and {args.sample}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
