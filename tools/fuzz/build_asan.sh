#!/usr/bin/env bash
# Builds libparakeet_trt with AddressSanitizer + UndefinedBehaviorSanitizer in build/asan (no
# Python module, no unit tests) and the C ABI fuzz driver build/asan/fuzz_driver against it.
# Usage: tools/fuzz/build_asan.sh [build dir] [--driver-only]
#   --driver-only: the folder already holds an ASan+UBSan libparakeet_trt (scripts/test.sh's sanitizer
#   build); only the driver is compiled against it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out="${1:-build/asan}"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
if [ "${2:-}" != "--driver-only" ]; then
  cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARAKEET_TRT_BUILD_PYTHON=OFF \
    -DPARAKEET_TRT_BUILD_TESTS=OFF "-DCMAKE_CXX_FLAGS=$flags" "-DCMAKE_C_FLAGS=$flags" \
    "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
  cmake --build "$out" -j 2 --target parakeet_trt
fi
cc -std=c99 -O1 -g -Wall -Wextra -Werror $flags -Icpp/include tools/fuzz/fuzz_driver.c \
  -L"$out" -lparakeet_trt -Wl,-rpath,"$(cd "$out" && pwd)" -lm -o "$out/fuzz_driver"
echo "$out/fuzz_driver"
