#!/usr/bin/env bash
# Creates .venv and installs parakeet_trt into it. Idempotent.
#   scripts/setup.sh          runtime only (numpy, onnxruntime, soundfile, soxr + the C++ core)
#   scripts/setup.sh --dev    also NeMo + torch (the reference), test tools and system packages
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[ "${1:-}" = "--dev" ] && dev=1
PYTHON=${PYTHON:-python3}

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@"; }

if [ "$dev" = 1 ]; then
  # System tools the tests use: espeak-ng speaks test sentences, wamerican gives the word list.
  missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  [ -f /usr/share/dict/american-english ] || missing+=(wamerican)
  command -v cmake >/dev/null || missing+=(cmake)
  command -v ninja >/dev/null || missing+=(ninja-build)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "[setup] installing system packages: ${missing[*]}" >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # The pinned CPU torch first: an unpinned torch (pulled by NeMo) would fetch the CUDA build.
  echo "[setup] installing torch 2.13.0 (CPU) and NeMo 3.0.0 (first time: several minutes)" >&2
  pip_install "torch==2.13.0"
  pip_install "scikit-build-core>=0.10" "pybind11>=2.12"
  pip_install --no-build-isolation ".[export,test]"
else
  pip_install "scikit-build-core>=0.10" "pybind11>=2.12"
  echo "[setup] building and installing parakeet_trt" >&2
  pip_install --no-build-isolation .
fi
echo "[setup] done: $(.venv/bin/python -c 'import parakeet_trt; print("parakeet_trt", parakeet_trt.__version__)')" >&2
