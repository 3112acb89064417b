#!/usr/bin/env python3
"""Per-stream memory of a buffered stream, before (the previous release) and after (this tree), in one run.

    bench/stream_memory.py [--models demo parakeet-tdt-0.6b-v3] [--streams 4] [--before-commit 96db657]
                           [--library build/dev/libparakeet_trt.so] [--out docs/STREAM_MEMORY.md]

Builds the previous release's C library (``git archive`` of ``--before-commit`` into a temporary folder,
CMake with -DPARAKEET_TRT_BUILD_PYTHON=OFF -DPARAKEET_TRT_BUILD_TESTS=OFF, target parakeet_trt; the
library is cached under <cache>/stream_memory/) and takes the current one (``--library``, else
$PARAKEET_TRT_LIBRARY, the installed package's lib/, build/ctest or build/dev). Both export the same C ABI.

For each library, model and history_ms (the default of ptrt_stream_options_init, and 0), a fresh
subprocess loads the model through the C ABI (ptrt_model_load) and creates ``--streams`` buffered
streams (ptrt_stream_create at the default chunk/left/right, with an external engine vtable that is
never called: no audio is pushed), reading VmRSS from /proc/self/status after malloc_trim(0) before the
model, after it, and after each stream. Reported: the model's RSS growth, the first stream's, and the
mean of each further stream's. The current core's decoder weights (NativeDecoderWeights, held once per
model) are sized with _core.decoder_weights_bytes.

``models``: ``demo`` (the packaged demo model) and ``parakeet-tdt-0.6b-v3`` (the full-size random-weight
test export, parakeet_trt.testing.exports.cached_export_dir, cached under $PARAKEET_TRT_CACHE or .cache).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_common import MODELS, REPO, command_line, display_path, model_folder, publish, report_header

BEFORE_COMMIT = "96db657"
ISSUE_BEFORE_DEMO_KB = {"default": 6981, 0: 1902}  # issue 13's figures for the demo model, previous release

# ---------------------------------------------------------------------------------------------
# Child: one library, one model, one history_ms; prints RSS figures as JSON.
# ---------------------------------------------------------------------------------------------

RunFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                         ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t)
DestroyFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
PTRT_ERROR_ENGINE = 5


class EngineVtable(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("self", ctypes.c_void_p), ("run", RunFn), ("destroy", DestroyFn)]


class StreamOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("chunk_ms", ctypes.c_int64), ("left_ms", ctypes.c_int64),
                ("right_ms", ctypes.c_int64), ("history_ms", ctypes.c_int64)]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_child(library: Path, model_dir: Path, streams: int, history_ms: int | None) -> dict:
    libc = ctypes.CDLL("libc.so.6")
    lib = ctypes.CDLL(str(library))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    lib.ptrt_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_model_destroy.argtypes = [ctypes.c_void_p]
    lib.ptrt_stream_options_init.argtypes = [ctypes.POINTER(StreamOptions)]
    lib.ptrt_stream_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(EngineVtable), ctypes.POINTER(StreamOptions),
                                       ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_stream_destroy.argtypes = [ctypes.c_void_p]

    def never_called(*_args):
        return PTRT_ERROR_ENGINE  # no audio is pushed: the engine must not run

    run_fn = RunFn(never_called)

    def settled_rss() -> int:
        libc.malloc_trim(0)
        return rss_kb()

    before_model = settled_rss()
    model = ctypes.c_void_p()
    if lib.ptrt_model_load(str(model_dir).encode(), None, ctypes.byref(model)) != 0:
        raise RuntimeError(f"ptrt_model_load({model_dir}): {lib.ptrt_last_error().decode()}")
    after_model = settled_rss()
    options = StreamOptions()
    lib.ptrt_stream_options_init(ctypes.byref(options))
    if history_ms is not None:
        options.history_ms = history_ms
    handles, after_stream = [], []
    for _ in range(streams):
        vtable = EngineVtable(ctypes.sizeof(EngineVtable), None, run_fn, DestroyFn())
        stream = ctypes.c_void_p()
        if lib.ptrt_stream_create(model, ctypes.byref(vtable), ctypes.byref(options), ctypes.byref(stream)) != 0:
            raise RuntimeError(f"ptrt_stream_create: {lib.ptrt_last_error().decode()}")
        handles.append(stream)
        after_stream.append(settled_rss())
    for stream in handles:
        lib.ptrt_stream_destroy(stream)
    lib.ptrt_model_destroy(model)
    return {"before_model_kb": before_model, "after_model_kb": after_model, "after_stream_kb": after_stream,
            "options": {"chunk_ms": options.chunk_ms, "left_ms": options.left_ms, "right_ms": options.right_ms,
                        "history_ms": options.history_ms}}


# ---------------------------------------------------------------------------------------------
# Parent: the libraries, one subprocess per measurement, the report.
# ---------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    from parakeet_trt.testing.exports import cache_root

    return cache_root() / "stream_memory"


def before_library(commit: str) -> Path:
    """The C library of ``commit``, built once and cached (keyed by the full commit hash)."""
    full = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", commit + "^{commit}"], check=True,
                          capture_output=True, text=True).stdout.strip()
    cached = cache_dir() / f"libparakeet_trt-{full[:12]}.so"
    if cached.is_file():
        return cached
    print(f"[stream_memory] building the C library of {commit} (once; cached at {cached})", file=sys.stderr,
          flush=True)
    with tempfile.TemporaryDirectory(prefix="ptrt-before-") as tmp:
        source, build = Path(tmp) / "src", Path(tmp) / "build"
        source.mkdir()
        archive = subprocess.run(["git", "-C", str(REPO), "archive", full], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(source)], input=archive, check=True)
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        subprocess.run(["cmake", "-S", str(source), "-B", str(build), *generator, "-DCMAKE_BUILD_TYPE=Release",
                        "-DPARAKEET_TRT_BUILD_PYTHON=OFF", "-DPARAKEET_TRT_BUILD_TESTS=OFF"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", str(build), "--target", "parakeet_trt", "-j", "2"], check=True,
                       stdout=subprocess.DEVNULL)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        shutil.copy2(build / "libparakeet_trt.so", partial)
        partial.replace(cached)  # another run never sees half a file
    return cached


def current_library(given: Path | None) -> Path:
    import parakeet_trt

    candidates = [given, os.environ.get("PARAKEET_TRT_LIBRARY"),
                  Path(parakeet_trt.__file__).parent / "lib" / "libparakeet_trt.so",
                  REPO / "build" / "ctest" / "libparakeet_trt.so", REPO / "build" / "dev" / "libparakeet_trt.so"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise FileNotFoundError(f"libparakeet_trt.so not found; looked at {[str(c) for c in candidates if c]} "
                            "(build it with cmake --build <dir> --target parakeet_trt, or pass --library)")


def measure(library: Path, model_dir: Path, streams: int, history_ms: int | None) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", "--library", str(library),
               "--child-model", str(model_dir), "--streams", str(streams)]
    if history_ms is not None:
        command += ["--history-ms", str(history_ms)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    after = [result["after_model_kb"]] + result["after_stream_kb"]
    growth = [b - a for a, b in zip(after, after[1:])]
    result.update(model_kb=result["after_model_kb"] - result["before_model_kb"], first_stream_kb=growth[0],
                  further_stream_kb=(sum(growth[1:]) / len(growth[1:])) if len(growth) > 1 else float("nan"),
                  mean_stream_kb=sum(growth) / len(growth))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["demo", "parakeet-tdt-0.6b-v3"],
                        choices=MODELS)
    parser.add_argument("--streams", type=int, default=4, help="streams created per measurement (>= 2)")
    parser.add_argument("--before-commit", default=BEFORE_COMMIT, help="the previous release's commit")
    parser.add_argument("--library", type=Path, default=None, help="the current libparakeet_trt.so")
    parser.add_argument("--out", type=Path, default=None, help="write the report (Markdown) here")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--history-ms", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure_child(args.library, args.child_model, args.streams, args.history_ms)))
        return 0
    if args.streams < 2:
        parser.error("--streams must be at least 2 (the first stream and the further ones are reported apart)")
    command = command_line("stream_memory.py", argv)
    load_at_start = os.getloadavg()

    from parakeet_trt import _core

    libraries = {f"before ({args.before_commit})": before_library(args.before_commit),
                 "after (this tree)": current_library(args.library)}
    rows, weights = [], {}
    for name in args.models:
        folder = model_folder(name)
        weights[name] = _core.decoder_weights_bytes(_core.Model.load(str(folder), False))
        for label, library in libraries.items():
            for history_ms in (None, 0):
                print(f"[stream_memory] {name} {label} history_ms={'default' if history_ms is None else history_ms}",
                      file=sys.stderr, flush=True)
                rows.append({"model": name, "library": label, "history": history_ms,
                             **measure(library, folder, args.streams, history_ms)})

    publish(report(args, command, load_at_start, libraries, rows, weights), args.out)
    return 0


def report(args, command, load_at_start, libraries, rows, weights) -> list[str]:
    lines = report_header(
        "Per-stream memory: previous release against this tree", command,
        f", glibc malloc; 1-minute load average {load_at_start[0]:.2f} at start (memory figures do not depend on it). "
        "Libraries: " + "; ".join(f"{label}: `{display_path(path)}`" for label, path in libraries.items()) + ".") + [
        f"Each row is one fresh process: the model loaded through the C ABI (ptrt_model_load), then {args.streams} "
        "buffered streams created with ptrt_stream_create at ptrt_stream_options_init's chunk/left/right and the "
        "history_ms shown (an external engine vtable that is never called: no audio pushed). RSS is VmRSS after "
        "malloc_trim(0), in KB. 'each further stream' is the mean growth of streams 2..N.",
        "",
        "| model | library | history_ms | model load KB | first stream KB | each further stream KB | "
        f"RSS after {args.streams} streams KB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        history = r["options"]["history_ms"]
        lines.append(f"| {r['model']} | {r['library']} | {history}{' (default)' if r['history'] is None else ''} | "
                     f"{r['model_kb']:,} | {r['first_stream_kb']:,} | {r['further_stream_kb']:,.0f} | "
                     f"{r['after_stream_kb'][-1]:,} |")
    lines.append("")
    for name, size in weights.items():
        after = [r for r in rows if r["model"] == name and r["library"].startswith("after")]
        before = [r for r in rows if r["model"] == name and r["library"].startswith("before")]
        per_stream = ", ".join(f"{r['further_stream_kb']:,.0f} KB at history_ms={r['options']['history_ms']}"
                               for r in after)
        saved = "; ".join(f"history_ms={a['options']['history_ms']}: {b['further_stream_kb'] / max(a['further_stream_kb'], 1):.1f}x "
                          f"less, {b['further_stream_kb'] - a['further_stream_kb']:,.0f} KB = "
                          f"{(b['further_stream_kb'] - a['further_stream_kb']) / (size / 1024):.2f} copies of the weights"
                          for a, b in zip(after, before))
        lines.append(f"- {name}: the decoder weights (NativeDecoderWeights) hold {size / 1e6:.1f} MB "
                     f"({size // 1024:,} KB), once per model (in 'model load'); each further stream adds "
                     f"{per_stream}. Against before, per stream: {saved}.")
    lines.append("- What a stream still holds is its own state, sized at creation: the audio ring (twice the samples a "
                 "step may read: left + chunk + right context, or history_ms when longer), the log-mel ring, the "
                 "feature buffer and the projected encoder frames; with the default 10 s left context that is most "
                 "of the demo model's per-stream figure, whose weights are small.")
    if "demo" in weights:
        lines.append(f"- Issue 13's before figure on the demo model: {ISSUE_BEFORE_DEMO_KB['default']:,} KB per stream "
                     f"at the default history_ms, {ISSUE_BEFORE_DEMO_KB[0]:,} KB at history_ms=0.")
    lines.append("")
    return lines


if __name__ == "__main__":
    sys.exit(main())
