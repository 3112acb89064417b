#!/usr/bin/env python3
"""Run the exporter for real and write docs/EXPORT_REPORT.md.

    tools/export_report.py [--archs tiny,parakeet-tdt-0.6b-v3] [--no-compare] [--keep]

For each cached test model (built on first use), three exports, each as a subprocess measured for
wall time, CPU time and peak RSS (``/usr/bin/time -v`` when present, else psutil polling): the
offline graphs with the ORT smoke test, and the streaming encoder for the chunk_isolated and
cache_aware profiles. Lists every file (the contract included) with its size and SHA-256, checks the
hashes against model_meta.json, and compares each file byte for byte with the cached export the
tests use (the determinism check: same .nemo and options, another process). Exports go to
.cache/report_exports and are removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
EXPORT_CLI = REPO / "tools" / "export_onnx" / "export.py"


def _run_measured(cmd: list[str]) -> dict:
    """Run ``cmd``; return wall time, peak RSS (bytes), exit code, stdout, stderr."""
    time_bin = "/usr/bin/time" if Path("/usr/bin/time").exists() else None
    t0 = time.monotonic()
    if time_bin:
        p = subprocess.run([time_bin, "-v"] + cmd, capture_output=True, text=True)
        wall = time.monotonic() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        peak = int(m.group(1)) * 1024 if m else None
        user = re.search(r"User time \(seconds\): ([\d.]+)", p.stderr)
        sys_t = re.search(r"System time \(seconds\): ([\d.]+)", p.stderr)
        how = "/usr/bin/time -v (max RSS of the process)"
        cpu = (float(user.group(1)) if user else None, float(sys_t.group(1)) if sys_t else None)
    else:
        import psutil

        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        ps = psutil.Process(proc.pid)
        peak = 0
        while proc.poll() is None:
            try:
                rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(recursive=True))
                peak = max(peak, rss)
            except psutil.Error:
                pass
            time.sleep(0.2)
        out, err = proc.communicate()
        p = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
        wall = time.monotonic() - t0
        how = "psutil polling every 0.2 s (RSS of process tree)"
        cpu = (None, None)
    return {"returncode": p.returncode, "wall_s": wall, "peak_rss_bytes": peak, "how": how, "cpu_s": cpu,
            "stdout": p.stdout, "stderr": p.stderr}


def _fmt_bytes(n) -> str:
    if n is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


def _rel(p) -> str:
    s = str(p)
    return os.path.relpath(s, REPO) if s.startswith(str(REPO)) else s


def export_specs(arch: str) -> list[tuple[str, list[str]]]:
    """(name, exporter options) for each export the report covers: the offline graphs, then the
    streaming encoder per profile with the parameters the tests and the validation ladder use."""
    from parakeet_trt.parity.streaming import TEST_CACHE_AWARE

    cache_aware = [f"--streaming-{k.replace('_', '-')}={v}" for k, v in TEST_CACHE_AWARE[arch].items()]
    return [
        ("offline", ["--component", "all", "--smoke-test-ort"]),
        ("chunk_isolated", ["--component", "encoder_streaming", "--streaming-profile", "chunk_isolated"]),
        ("cache_aware", ["--component", "encoder_streaming", "--streaming-profile", "cache_aware"] + cache_aware),
    ]


def cached_counterpart(arch: str, name: str, cache: Path) -> Path:
    """The cached export the tests use for the same (model, options): written by another process,
    so byte equality with it is the determinism check."""
    from parakeet_trt.parity.streaming import cached_streaming_export
    from parakeet_trt.testing.exports import cached_export_dir

    return cached_export_dir(arch, None, cache) if name == "offline" else cached_streaming_export(arch, name, cache)


def run_export(model: Path, out: Path, options: list[str]) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, str(EXPORT_CLI), "--model", str(model), "--out", str(out), "--device", "cpu"] + options
    print(f"[report] running: {' '.join(cmd)}", file=sys.stderr, flush=True)
    run = _run_measured(cmd)
    if run["returncode"] != 0:
        sys.stderr.write(run["stderr"][-5000:])
        raise SystemExit(f"export failed with exit code {run['returncode']}")
    run["cmd"] = cmd
    run["summary"] = json.loads(run["stdout"])
    run["meta"] = json.loads((out / "model_meta.json").read_text())
    return run


def artifact_rows(out: Path, meta: dict, reference: Path | None) -> list[str]:
    """One row per file: size, SHA-256 (checked against the meta: artifacts, and the contract's own
    entry), and whether it equals the cached export's file byte for byte."""
    from parakeet_trt.export.artifacts import sha256_file

    listed = dict(meta["artifacts"])
    listed[meta["contract"]["file"]] = meta["contract"]["sha256"]
    rows = ["| file | size | sha256 | same bytes as the cached export |", "|---|---:|---|---|"]
    for n in sorted(p.name for p in out.iterdir()):
        digest = sha256_file(out / n)
        if n == "model_meta.json":
            note = " (the meta itself)"
        elif listed.get(n) == digest:
            note = " (contract)" if n == meta["contract"]["file"] else ""
        else:
            note = f" (**meta says {listed.get(n)}**)"
        same = "n/a" if reference is None else (
            "yes" if (reference / n).is_file() and _same_bytes(out / n, reference / n) else "**no**")
        rows.append(f"| `{n}` | {(out / n).stat().st_size:,} B | `{digest}`{note} | {same} |")
    return rows


def arch_section(arch: str, seed: int, model: Path, runs: dict, references: dict) -> list[str]:
    lines = [f"## {arch} (seed {seed})", ""]
    lines.append(f"Model `{_rel(model)}` ({_fmt_bytes(model.stat().st_size)}, sha256 "
                 f"`{runs['offline']['meta']['source']['nemo_sha256']}`), random weights, shaped joint "
                 "(`python/parakeet_trt/testing/test_models.py`).")
    lines += ["", "| export | wall time | CPU user / system | peak RSS | stages (s) |", "|---|---:|---:|---:|---|"]
    for name, run in runs.items():
        cpu = "n/a" if run["cpu_s"][0] is None else f"{run['cpu_s'][0]:.1f} s / {run['cpu_s'][1]:.1f} s"
        stages = ", ".join(f"{k} {v:.1f}" for k, v in sorted(run["summary"].get("timings_s", {}).items()))
        lines.append(f"| {name} | {run['wall_s']:.1f} s | {cpu} | {_fmt_bytes(run['peak_rss_bytes'])} | {stages} |")
    lines += ["", f"Wall time covers the whole command (Python and NeMo import included); peak RSS by "
              f"{runs['offline']['how']}.", ""]
    for name, run in runs.items():
        meta = run["meta"]
        lines += [f"### {arch}: {name}", "", "```", " ".join(_rel(c) for c in run["cmd"]), "```", ""]
        if "streaming" in meta:
            s = meta["streaming"]
            lines += [f"Profile `{s['profile']}`: window {s['window_frames']} feature frames, "
                      f"{s['output_frames_per_call']} output frame(s) per call, advance {s['advance_frames_per_call']} "
                      f"feature frames, attention cache {s['last_channel_cache_size']} frames "
                      + (f"(chunk {s['chunk_size']}, shift {s['shift_size']}, left chunks {s['left_chunks']})."
                         if s["chunk_size"] is not None else "(NeMo's default streaming parameters)."), ""]
        else:
            lines += [f"max_encoder_frames {meta['encoder']['max_encoder_frames']} "
                      f"({meta['encoder']['max_encoder_frames'] * meta['encoder']['frame_stride_s']:.0f} s of audio "
                      "per call).", ""]
        lines += artifact_rows(Path(run["summary"]["out_dir"]), meta, references.get(name)) + [""]
        if "smoke_test_ort" in run["summary"]:
            lines += ["ONNX Runtime smoke test (random inputs, CPU EP, fp32):", "", "```json",
                      json.dumps(run["summary"]["smoke_test_ort"], sort_keys=True), "```", ""]
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", default="tiny,parakeet-tdt-0.6b-v3", help="test-model architectures, comma-separated")
    ap.add_argument("--no-compare", action="store_true", help="skip the byte comparison with the cached exports")
    ap.add_argument("--keep", action="store_true", help="keep the exports under .cache/report_exports")
    ap.add_argument("--report", type=Path, default=REPO / "docs" / "EXPORT_REPORT.md")
    args = ap.parse_args(argv)

    from parakeet_trt.testing.exports import cached_nemo_path, default_seed

    import nemo
    import onnx
    import onnxruntime
    import torch

    cache = REPO / ".cache"
    body = []
    for arch in args.archs.split(","):
        model = cached_nemo_path(arch, None, cache)
        runs, references = {}, {}
        for name, options in export_specs(arch):
            out = cache / "report_exports" / (model.stem if name == "offline" else f"{model.stem}-{name}")
            runs[name] = run_export(model, out, options)
            if not args.no_compare:
                references[name] = cached_counterpart(arch, name, cache)
        body += arch_section(arch, default_seed(arch), model, runs, references)
        if not args.keep:
            for run in runs.values():
                shutil.rmtree(run["summary"]["out_dir"])

    head = [
        "# Export report", "",
        "Generated by `tools/export_report.py` (it runs the exporter as a subprocess for each export; nothing "
        "here is typed by hand). For each test model: the offline graphs (`--component all`) and the streaming "
        "encoder (`--component encoder_streaming`) for the `chunk_isolated` and `cache_aware` profiles; every "
        "export also writes the contract `<model>.contract.json`. The last column compares each file with the "
        "cached export the tests use (written earlier by another process): the export is deterministic when "
        "every row says yes.", "",
        f"- date: {_dt.date.today().isoformat()}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"{_fmt_bytes(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))} RAM, "
        f"{platform.system()} {platform.release()}",
        f"- python {platform.python_version()}, torch {torch.__version__}, nemo_toolkit {nemo.__version__}, "
        f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}", "",
    ]
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(head + body), encoding="utf-8")
    print(f"[report] wrote {args.report}", file=sys.stderr)
    return 0


def _same_bytes(a: Path, b: Path, chunk: int = 1 << 24) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True


if __name__ == "__main__":
    sys.exit(main())
