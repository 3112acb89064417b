#!/usr/bin/env python3
"""Run the exporter for real and write docs/EXPORT_REPORT.md.

Measures the export command as a subprocess (wall time and peak RSS through
``/usr/bin/time -v`` when present, else by polling with psutil), then lists artifact
sizes and SHA-256, the ORT smoke-test differences, and, with --determinism, runs the
export a second time into a scratch directory and compares every file byte for byte.

Default model: the cached full-size test model (parakeet-tdt-0.6b-v3 architecture,
seed 7, built on first use); its export goes to .cache/exports/<arch>-seed<seed>, the
directory tests/conftest.py reuses.
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
import tempfile
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="parakeet-tdt-0.6b-v3", help="test-model arch when --model is not given")
    ap.add_argument("--seed", type=int, default=7, help="test-model seed when --model is not given (default 7)")
    ap.add_argument("--model", type=Path, default=None, help="a .nemo to export instead of the cached test model")
    ap.add_argument("--out", type=Path, default=None, help="export directory (default .cache/exports/<arch>-seed<seed>)")
    ap.add_argument("--determinism", action="store_true", help="export a second time and compare bytes")
    ap.add_argument("--no-smoke-test", action="store_true", help="skip --smoke-test-ort")
    ap.add_argument("--report", type=Path, default=REPO / "docs" / "EXPORT_REPORT.md")
    args = ap.parse_args(argv)

    if args.model is None:
        from parakeet_trt.testing.test_models import cached_test_model_path

        print(f"[report] test model {args.arch} seed {args.seed} (building if not cached)", file=sys.stderr)
        args.model = cached_test_model_path(args.arch, args.seed, verbose=True)
        default_out = REPO / ".cache" / "exports" / f"{args.arch}-seed{args.seed}"
    else:
        default_out = REPO / ".cache" / "exports" / args.model.stem
    out = args.out or default_out
    if out.exists():
        shutil.rmtree(out)
    py = sys.executable
    cmd = [py, str(EXPORT_CLI), "--model", str(args.model), "--out", str(out), "--component", "all", "--device", "cpu"]
    if not args.no_smoke_test:
        cmd.append("--smoke-test-ort")
    print(f"[report] running: {' '.join(cmd)}", file=sys.stderr)
    run1 = _run_measured(cmd)
    if run1["returncode"] != 0:
        sys.stderr.write(run1["stderr"][-5000:])
        raise SystemExit(f"export failed with exit code {run1['returncode']}")
    summary = json.loads(run1["stdout"])
    meta = json.loads((out / "model_meta.json").read_text())

    det = None
    if args.determinism:
        scratch = Path(tempfile.mkdtemp(prefix="ptrt_det_", dir=str(out.parent)))
        cmd2 = [py, str(EXPORT_CLI), "--model", str(args.model), "--out", str(scratch), "--quiet"]
        print("[report] second export for the determinism check", file=sys.stderr)
        run2 = _run_measured(cmd2)
        if run2["returncode"] != 0:
            raise SystemExit("second export failed")
        names = sorted(p.name for p in out.iterdir())
        det = {"files": {}, "wall_s": run2["wall_s"], "peak_rss_bytes": run2["peak_rss_bytes"]}
        for n in names:
            a, b = out / n, scratch / n
            same = b.exists() and a.stat().st_size == b.stat().st_size and _same_bytes(a, b)
            det["files"][n] = same
        det["all_identical"] = all(det["files"].values()) and sorted(p.name for p in scratch.iterdir()) == names
        shutil.rmtree(scratch)

    import nemo
    import onnx
    import onnxruntime
    import torch

    lines = []
    w = lines.append
    w("# Export report")
    w("")
    w("Generated by `tools/export_report.py` (it runs the exporter; nothing here is typed by hand).")
    w("")
    w(f"- date: {_dt.date.today().isoformat()}")
    w(f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, "
      f"{_fmt_bytes(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES'))} RAM, {platform.system()} {platform.release()}")
    w(f"- python {platform.python_version()}, torch {torch.__version__}, nemo_toolkit {nemo.__version__}, "
      f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}")
    w(f"- model: `{args.model.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model}` "
      f"({_fmt_bytes(args.model.stat().st_size)}, sha256 `{meta['source']['nemo_sha256']}`)")
    stats_file = args.model.with_name(args.model.stem + ".stats.json")
    if stats_file.exists():
        info = json.loads(stats_file.read_text())
        w(f"- test model: arch `{info['arch']}`, seed {info['seed']} (random weights, shaped joint; "
          f"see `python/parakeet_trt/testing/test_models.py`)")
    w("")
    w("## Command")
    w("")
    w("```")
    w(" ".join(str(c) if not str(c).startswith(str(REPO)) else os.path.relpath(str(c), REPO) for c in cmd))
    w("```")
    w("")
    w("## Cost")
    w("")
    w("| measure | value |")
    w("|---|---|")
    w(f"| wall time (whole command, incl. Python/NeMo import) | {run1['wall_s']:.1f} s |")
    if run1["cpu_s"][0] is not None:
        w(f"| CPU time user / system | {run1['cpu_s'][0]:.1f} s / {run1['cpu_s'][1]:.1f} s |")
    w(f"| peak RSS | {_fmt_bytes(run1['peak_rss_bytes'])} ({run1['how']}) |")
    for k, v in sorted(summary.get("timings_s", {}).items()):
        w(f"| stage `{k}` | {v:.1f} s |")
    w("")
    w("## Artifacts")
    w("")
    w("| file | size | sha256 |")
    w("|---|---:|---|")
    for n in sorted(p.name for p in out.iterdir()):
        digest = meta["artifacts"].get(n)
        if digest is None:
            from parakeet_trt.export.artifacts import sha256_file

            digest = sha256_file(out / n) + " (not listed in artifacts: it is the meta itself)"
        w(f"| `{n}` | {(out / n).stat().st_size:,} B | `{digest}` |")
    w("")
    w(f"Encoder external data: {meta['graphs']['encoder']['external_data'] or 'none'}; "
      f"max_encoder_frames {meta['encoder']['max_encoder_frames']} "
      f"({meta['encoder']['max_encoder_frames'] * meta['encoder']['frame_stride_s']:.0f} s of audio per call).")
    w("")
    if "smoke_test_ort" in summary:
        w("## ONNX Runtime smoke test (random inputs, CPU EP, fp32)")
        w("")
        w("```json")
        w(json.dumps(summary["smoke_test_ort"], indent=2, sort_keys=True))
        w("```")
        w("")
    if det is not None:
        w("## Determinism")
        w("")
        w(f"Second export of the same .nemo into a scratch directory ({det['wall_s']:.1f} s, peak RSS "
          f"{_fmt_bytes(det['peak_rss_bytes'])}): **{'byte-identical' if det['all_identical'] else 'DIFFERENT'}**.")
        w("")
        for n, same in det["files"].items():
            w(f"- `{n}`: {'identical' if same else 'differs'}")
        w("")
    w("## Export progress log (stderr)")
    w("")
    w("```")
    for line in run1["stderr"].splitlines():
        if line.startswith("[export]"):
            w(line)
    w("```")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text("\n".join(lines) + "\n", encoding="utf-8")
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
