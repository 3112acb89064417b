#!/usr/bin/env bash
# The test command: set up everything (NeMo reference included), then run the C++ unit tests
# (CTest) and the Python tests (pytest). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev

echo "[test] C++ unit tests (CTest)" >&2
pybind11_dir=$(.venv/bin/python -m pybind11 --cmakedir)
cmake -S . -B build/ctest -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARAKEET_TRT_BUILD_PYTHON=OFF \
  -Dpybind11_DIR="$pybind11_dir" >/dev/null
cmake --build build/ctest -j 2
# The native onnxruntime engine's tests load the wheel's libonnxruntime.so (the wheel ships no headers).
export PTRT_ONNXRUNTIME_LIBRARY="$(.venv/bin/python -c "import glob, os, onnxruntime; print(sorted(glob.glob(os.path.join(os.path.dirname(onnxruntime.__file__), 'capi', 'libonnxruntime.so*')))[0])")"
ctest --test-dir build/ctest --output-on-failure

# The same C++ tests under ThreadSanitizer and under AddressSanitizer + UndefinedBehaviorSanitizer
# (issue 13: a model shared by many streams and threads). Separate build folders, built once and kept.
sanitized_ctest() {  # name, -fsanitize= value, extra flags
  local dir="build/sanitize-$1"
  echo "[test] C++ unit tests under -fsanitize=$2 ($dir)" >&2
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARAKEET_TRT_BUILD_PYTHON=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=$2 $3 -fno-omit-frame-pointer -O1" \
    -DCMAKE_CXX_FLAGS="-fsanitize=$2 $3 -fno-omit-frame-pointer -O1" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$2" -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=$2" \
    -Dpybind11_DIR="$pybind11_dir" >/dev/null
  cmake --build "$dir" -j 2
  ctest --test-dir "$dir" --output-on-failure
}
# ONNX Runtime's wheel is not instrumented: its thread pool's own locking is invisible to TSan
# (cpp/tests/tsan.supp); races with any frame of ours still fail the run.
TSAN_OPTIONS="halt_on_error=1 report_mutex_bugs=0 suppressions=$(pwd)/cpp/tests/tsan.supp" sanitized_ctest thread thread
ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
  sanitized_ctest address-undefined address,undefined -fno-sanitize-recover=undefined
# ---- fuzzing (issue 18; tools/fuzz/): the C ABI under ASan+UBSan and the Python API, 60 s in all.
# A crash or a hang fails the run; the case is saved under build/fuzz/findings/.
echo "[test] fuzzing audio and model folders, C ABI under ASan+UBSan + Python API (60 s, tools/fuzz)" >&2
tools/fuzz/build_asan.sh build/sanitize-address-undefined --driver-only >/dev/null
.venv/bin/python tools/fuzz/run_fuzz.py --driver build/sanitize-address-undefined/fuzz_driver --seconds 60 --out build/fuzz/ci.json
# ---- end of fuzzing

echo "[test] Rust crates over the C ABI (cargo test)" >&2
[ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
if command -v cargo >/dev/null; then
  PARAKEET_TRT_LIB_DIR="$(pwd)/build/ctest" cargo test --quiet --manifest-path rust/Cargo.toml
else
  echo "[test] SKIPPED the Rust tests: cargo (Rust >= 1.77) is not installed; install it with rustup" >&2
fi

echo "[test] Python tests (pytest)" >&2
export PARAKEET_TRT_LIBRARY="$(pwd)/build/ctest/libparakeet_trt.so"
exec .venv/bin/python -m pytest -ra "$@"
