#!/usr/bin/env python3
"""Bounded fuzzing of the audio and model-folder inputs; writes the figures as JSON.

    tools/fuzz/run_fuzz.py --driver build/asan/fuzz_driver --seconds 60 --out build/fuzz/results.json

Three targets share the time budget (--targets to pick):
  capi-audio    mutated WAVs through the C ABI (tools/fuzz/fuzz_driver.c: features, offline
                session, buffered stream) - built with ASan+UBSan by tools/fuzz/build_asan.sh
  capi-model    mutated model_meta.json / contract JSON through ptrt_model_load (and, when a
                folder loads, the same calls on one second of noise)
  python-audio  mutated WAVs through parakeet_trt.Session.transcribe (the Python API: file
                reading, rate and duration checks, resampling, the core)

Each target runs its cases in a child process that prints "case NAME" before and "done STATUS"
after each case. A child that dies (a sanitizer report, a signal) is a crash, one that stays on a
case longer than --case-timeout seconds is a hang; either way the case is saved under
<out dir>/findings/ and the run goes on with the next case. Exit status 1 if anything crashed or hung.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
try:
    import parakeet_trt  # noqa: F401  (installed, or on PYTHONPATH)
except ImportError:
    sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mutations import base_wavs, mutate_json, mutate_wav  # noqa: E402

DEMO = REPO / "python" / "parakeet_trt" / "models" / "demo"
TARGETS = ("capi-audio", "capi-model", "python-audio")
BATCH = 40


def speech() -> np.ndarray:
    import soundfile

    data, rate = soundfile.read(str(REPO / "python" / "parakeet_trt" / "samples" / "demo.wav"), dtype="float32")
    return data[rate: rate + rate // 2]  # half a second of speech


def model_template(work: Path) -> Path:
    """The demo model folder without demo.nemo (the runtime never reads it)."""
    template = work / "template"
    template.mkdir()
    for f in DEMO.iterdir():
        if f.name != "demo.nemo":
            shutil.copy(f, template / f.name)
    return template


def make_model_case(template: Path, folder: Path, rng: np.random.Generator) -> None:
    folder.mkdir()
    for f in template.iterdir():
        os.link(f, folder / f.name)  # hard links: the unchanged files cost nothing
    name = "model_meta.json" if rng.random() < 0.5 else "demo.contract.json"
    text = mutate_json(json.loads((template / name).read_text()), rng)
    (folder / name).unlink()
    (folder / name).write_text(text, encoding="utf-8", errors="surrogatepass")


class Watch:
    """Runs a child over a batch of cases, attributing a crash or a hang to the case it was on."""

    def __init__(self, case_timeout: float):
        self.case_timeout = case_timeout

    def run(self, command: list[str], cases: list[str], env=None) -> tuple[dict, str | None, str | None, str]:
        """Returns ({case: status}, the crashing case, the hanging case, stderr tail)."""
        process = subprocess.Popen(command + cases, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                   start_new_session=True)
        statuses, current, buffer = {}, None, b""
        deadline = time.monotonic() + self.case_timeout
        hang = None
        while True:
            ready, _, _ = select.select([process.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    text = line.decode("utf-8", "replace")
                    if text.startswith("case "):
                        current, deadline = text[5:], time.monotonic() + self.case_timeout
                    elif text.startswith("done ") and current is not None:
                        statuses[current] = text[5:]
                        current = None
            elif current is not None and time.monotonic() > deadline:
                hang = current
                os.killpg(process.pid, signal.SIGKILL)  # the child and anything it started
                break
        process.wait()
        stderr = process.stderr.read().decode("utf-8", "replace")
        crash = current if (hang is None and current is not None and process.returncode != 0) else None
        if hang is None and crash is None and process.returncode != 0:
            crash = "(driver start)"
        return statuses, crash, hang, stderr[-4000:]


def run_target(target: str, args, work: Path, seconds: float, rng: np.random.Generator) -> dict:
    findings = Path(args.out).parent / "findings"
    watch = Watch(args.case_timeout)
    wavs = base_wavs(speech()) if target != "capi-model" else []
    template = model_template(work) if target == "capi-model" else None
    result = {"cases": 0, "crashes": [], "hangs": [], "statuses": Counter(), "seconds": 0.0}
    started = time.monotonic()
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=1",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    batch_index = 0
    while time.monotonic() - started < seconds:
        batch_dir = work / f"{target}-{batch_index}"
        batch_dir.mkdir()
        cases = []
        for i in range(BATCH):
            path = batch_dir / f"case{i:03d}"
            if target == "capi-model":
                make_model_case(template, path, rng)
            else:
                path = path.with_suffix(".wav")
                path.write_bytes(mutate_wav(wavs[int(rng.integers(0, len(wavs)))], rng))
            cases.append(str(path))
        if target == "capi-audio":
            command = [args.driver, "audio", str(DEMO)]
        elif target == "capi-model":
            command = [args.driver, "model"]
        else:
            command = [sys.executable, __file__, "--worker"]
        remaining = cases
        while remaining:
            statuses, crash, hang, stderr = watch.run(command, remaining, env)
            result["cases"] += len(statuses)
            result["statuses"].update(statuses.values())
            bad = crash or hang
            if bad is None:
                break
            kind = "crashes" if crash else "hangs"
            result["cases"] += 1
            saved = findings / f"{target}-{kind}-{len(result[kind])}"
            saved.parent.mkdir(parents=True, exist_ok=True)
            if Path(bad).is_dir():
                shutil.copytree(bad, saved, dirs_exist_ok=True)
            elif Path(bad).is_file():
                shutil.copy(bad, saved)
            result[kind].append({"case": str(saved), "stderr": stderr})
            print(f"[fuzz] {target}: {kind[:-2] if kind == 'crashes' else 'hang'} on {bad}; saved {saved}",
                  file=sys.stderr)
            if bad not in remaining:
                break
            remaining = remaining[remaining.index(bad) + 1:]
        shutil.rmtree(batch_dir)
        batch_index += 1
    result["seconds"] = round(time.monotonic() - started, 1)
    result["statuses"] = dict(result["statuses"])
    return result


def worker(paths: list[str]) -> int:
    """python-audio child: each file through Session.transcribe; a ParakeetError is a handled outcome."""
    from parakeet_trt import ParakeetError, Session

    session = Session("demo")
    for path in paths:
        print(f"case {path}", flush=True)
        try:
            session.transcribe(path)
            status = "ok"
        except ParakeetError as error:
            status = type(error).__name__
        print(f"done {status}", flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--driver", default=str(REPO / "build" / "asan" / "fuzz_driver"),
                   help="the C ABI fuzz driver (default: build/asan/fuzz_driver, from tools/fuzz/build_asan.sh)")
    p.add_argument("--seconds", type=float, default=60.0, help="total time, shared by the targets (default 60)")
    p.add_argument("--targets", default=",".join(TARGETS), help=f"comma-separated subset of {TARGETS}")
    p.add_argument("--case-timeout", type=float, default=20.0, help="seconds on one case before it is a hang")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(REPO / "build" / "fuzz" / "results.json"), help="JSON figures")
    p.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker is not None:
        return worker(args.worker)
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        p.error(f"unknown targets {unknown}; choose from {TARGETS}")
    if any(t.startswith("capi") for t in targets) and not Path(args.driver).is_file():
        p.error(f"no fuzz driver at {args.driver}: build it with tools/fuzz/build_asan.sh")
    rng = np.random.default_rng(args.seed)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    results = {"seed": args.seed, "seconds_budget": args.seconds, "driver": os.path.relpath(args.driver, REPO),
               "sanitized": "asan" in args.driver, "targets": {}}
    with tempfile.TemporaryDirectory(prefix="ptrt-fuzz-") as tmp:
        for target in targets:
            work = Path(tmp) / target
            work.mkdir()
            results["targets"][target] = run_target(target, args, work, args.seconds / len(targets), rng)
            r = results["targets"][target]
            print(f"[fuzz] {target}: {r['cases']} cases in {r['seconds']} s, {len(r['crashes'])} crashes, "
                  f"{len(r['hangs'])} hangs; outcomes {r['statuses']}", file=sys.stderr)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    bad = sum(len(r["crashes"]) + len(r["hangs"]) for r in results["targets"].values())
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
