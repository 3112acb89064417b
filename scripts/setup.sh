#!/usr/bin/env bash
# Creates .venv and installs parakeet_trt into it. Idempotent.
#   scripts/setup.sh          runtime only (numpy, onnxruntime, soundfile, soxr + the C++ core)
#   scripts/setup.sh --live   also the 'live' extra: browser captions (aiohttp), microphone (sounddevice), Silero VAD
#   scripts/setup.sh --serve  also the 'serve' extra: parakeet-trt serve (Ray Serve, FastAPI, multipart uploads)
#   scripts/setup.sh --dev    everything: also NeMo + torch (the reference), test tools and the system packages tests use
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
live=0
serve=0
for arg in "$@"; do
  case "$arg" in
    --dev) dev=1 ;;
    --live) live=1 ;;
    --serve) serve=1 ;;
    *) echo "usage: scripts/setup.sh [--live] [--serve] [--dev]" >&2; exit 2 ;;
  esac
done
PYTHON=${PYTHON:-python3}

# System packages, installed only when missing (Debian/Ubuntu names): a C++17 compiler, CMake and
# Ninja build the core; venv and the Python headers build the extension; the tests speak test
# sentences with espeak-ng and draw words from wamerican.
missing=()
command -v g++ >/dev/null || missing+=(g++)
command -v cmake >/dev/null || missing+=(cmake)
command -v ninja >/dev/null || missing+=(ninja-build)
"$PYTHON" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
[ -f "$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ] || missing+=(python3-dev)
if [ "$dev" = 1 ]; then
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  [ -f /usr/share/dict/american-english ] || missing+=(wamerican)
  # The live captions' browser test drives the system Chromium through Playwright.
  command -v chromium >/dev/null || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${missing[*]}" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv" >&2
  "$PYTHON" -m venv .venv
fi
pip_install() { .venv/bin/python -m pip install --disable-pip-version-check -q "$@"; }
pip_install "scikit-build-core>=0.10" "pybind11>=2.12"

# The LLM lane's tests run llama.cpp's OpenAI-compatible server (llama-cpp-python[server]). PyPI has
# only its source: pip compiles llama.cpp (about 8 minutes on two cores, 20+ on a loaded machine), so
# the wheel is built ONCE into .cache/wheels (-j2, nice'd) and installed from there afterwards (seconds).
LLAMA_CPP_PYTHON_VERSION=0.3.36
install_llama_server() {
  if .venv/bin/python -c "import llama_cpp, llama_cpp.server" 2>/dev/null; then return; fi
  local wheels=.cache/wheels
  mkdir -p "$wheels"
  if ! ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl >/dev/null 2>&1; then
    echo "[setup] building llama-cpp-python $LLAMA_CPP_PYTHON_VERSION from source into $wheels (once; several minutes)" >&2
    nice -n 10 env CMAKE_BUILD_PARALLEL_LEVEL=2 \
      CMAKE_ARGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
      .venv/bin/python -m pip wheel --disable-pip-version-check -q --no-deps "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -w "$wheels"
  fi
  pip_install "$(ls "$wheels"/llama_cpp_python-"$LLAMA_CPP_PYTHON_VERSION"-*.whl | head -1)[server]"
}

if [ "$dev" = 1 ]; then
  # torch first, pinned: NeMo would otherwise pull the newest torch. On this project's machines pip
  # finds a local CPU build of 2.13.0; elsewhere PyPI's 2.13.0 (with CUDA packages) is what installs.
  echo "[setup] installing torch 2.13.0 and NeMo 3.0.0 (first time: several minutes)" >&2
  pip_install "torch==2.13.0"
  pip_install --no-build-isolation ".[export,test,live,serve]"
  # Silero VAD's ONNX model (run with ONNX Runtime); --no-deps: its metadata pulls torch/torchaudio.
  pip_install --no-deps "silero-vad==6.2.3"
  install_llama_server
elif [ "$live" = 1 ] || [ "$serve" = 1 ]; then
  extras=""
  if [ "$live" = 1 ]; then extras="live"; fi
  if [ "$serve" = 1 ]; then extras="${extras:+$extras,}serve"; fi
  echo "[setup] building and installing parakeet_trt with the extras: $extras" >&2
  pip_install --no-build-isolation ".[$extras]"
  pip_install --no-deps "silero-vad==6.2.3"
else
  echo "[setup] building and installing parakeet_trt" >&2
  pip_install --no-build-isolation .
  # Silero VAD's ONNX model: the live captions' default VAD (--no-deps: its metadata pulls torch).
  pip_install --no-deps "silero-vad==6.2.3"
fi
echo "[setup] done: $(.venv/bin/python -c 'import parakeet_trt; print("parakeet_trt", parakeet_trt.__version__)')" >&2
