#!/usr/bin/env python3
"""Export a NeMo Parakeet-TDT (or RNNT) .nemo model for parakeet_trt; same as `parakeet-trt export`.

Run with --help for the options and the files it writes (parakeet_trt/export/cli.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from parakeet_trt.export.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
