#!/usr/bin/env bash
# Quick start: set up, then transcribe the packaged sample with the packaged default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/parakeet-trt transcribe "$@"
