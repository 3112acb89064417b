#!/usr/bin/env bash
# Compile-checks the C++ TensorRT engine against a folder of TensorRT headers, without TensorRT or CUDA
# installed: g++ -fsyntax-only -Wall -Wextra -Werror on cpp/src/engines/tensorrt/tensorrt_engine.cpp and
# engines/tensorrt_support.cpp. Used by hand (docs/DECISION_LOG.md "TensorRT 11"): CI cannot fetch
# NVIDIA's headers, and the project never copies them into the repository.
#
#   tools/tensorrt/compile_check.sh TENSORRT_INCLUDE_DIR [CUDA_INCLUDE_DIR]
#
# TENSORRT_INCLUDE_DIR: the include/ folder of github.com/NVIDIA/TensorRT at a release tag (v10.16, v11.1,
# ...) or of a TensorRT install (/usr/include/x86_64-linux-gnu). CUDA_INCLUDE_DIR: a folder with
# cuda_runtime_api.h; without one, a stand-in declaring only cudaStream_t and cudaEvent_t (all that
# NvInferRuntime.h needs from it) is written to a temporary folder.
set -euo pipefail
if [ $# -lt 1 ] || [ ! -f "$1/NvInferRuntime.h" ]; then
  echo "usage: $0 TENSORRT_INCLUDE_DIR [CUDA_INCLUDE_DIR]  (the folder must hold NvInferRuntime.h)" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/../.." && pwd)"
trt_include="$1"
cuda_include="${2:-}"
if [ -z "$cuda_include" ]; then
  cuda_include="$(mktemp -d)"
  trap 'rm -rf "$cuda_include"' EXIT
  printf 'typedef struct CUstream_st* cudaStream_t;\ntypedef struct CUevent_st* cudaEvent_t;\n' \
    > "$cuda_include/cuda_runtime_api.h"
fi
version="$(grep -hE '^#define TRT_(MAJOR|MINOR|PATCH)_ENTERPRISE|^#define NV_TENSORRT_(MAJOR|MINOR|PATCH) ' \
  "$trt_include/NvInferVersion.h" | awk '{print $3}' | head -3 | paste -sd. -)"
for source in cpp/src/engines/tensorrt/tensorrt_engine.cpp cpp/src/engines/tensorrt_support.cpp; do
  ${CXX:-g++} -std=c++17 -fsyntax-only -Wall -Wextra -Werror -DPTRT_WITH_TENSORRT \
    -I"$repo/cpp/include" -I"$repo/cpp/src" -isystem "$trt_include" -isystem "$cuda_include" "$repo/$source"
  echo "ok: $source against TensorRT $version headers ($trt_include)"
done
