#!/usr/bin/env python3
"""Standing peer benchmark: parakeet_trt (fp32 and int8 exports) vs sherpa-onnx (its own fp32 and int8
exports) vs onnx-asr (its own export) vs NeMo, on the same .nemo, the same audio, the same threads.

    bench/bench_peers.py [--models demo parakeet-tdt-0.6b-v3] [--repeats 3] [--threads 2]
                         [--shorts 50] [--long-s 60] [--markdown docs/BENCH_PEERS.md]

Each system runs in its own process (bench/peer_worker.py): it loads the model, transcribes one long
file and then the short utterances one by one; the process reports load time, wall times and its
peak RSS. The peers run in their own venv (``<cache>/peers/venv``, made here on first use with
pip, so their ONNX Runtime cannot disturb ours) from exports they make themselves with their
published recipes (bench/peer_exports.py, run once per .nemo and cached under ``<cache>/peers``).
Repeats are interleaved (every system once, then again), and the table gives medians. Agreement is
with NeMo's own greedy decoding of the same audio: utterances whose text is identical, and the
word error rate of each system's text against NeMo's.

Models: ``demo`` (the packaged demo model; audio = held-out speech of its corpus) and
``parakeet-tdt-0.6b-v3`` (the full-size architecture with random weights, cached under <cache>;
its export takes minutes and about 2.5 GB per export, three exports in all).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import command_line, int8_model_folder, model_folder, nemo_of, publish, report_header  # noqa: E402

PEER_PACKAGES = ["sherpa-onnx", "onnx-asr[cpu]", "numpy"]
WORKER = Path(__file__).resolve().parent / "peer_worker.py"
EXPORTS = Path(__file__).resolve().parent / "peer_exports.py"


def log(msg: str) -> None:
    print(f"[bench-peers] {msg}", file=sys.stderr, flush=True)


def peers_root() -> Path:
    from parakeet_trt.testing.exports import cache_root

    return cache_root() / "peers"


def peer_python(root: Path) -> Path:
    """The peers' venv interpreter, creating the venv and installing the peers on first use."""
    venv = root / "venv"
    python = venv / "bin" / "python"
    if (venv / "READY").is_file():
        return python
    log(f"creating the peers' venv {venv} and installing {' '.join(PEER_PACKAGES)} (about a minute)")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--progress-bar", "off", *PEER_PACKAGES], check=True)
    (venv / "READY").write_text(" ".join(PEER_PACKAGES) + "\n")
    return python


def model_sources(name: str, root: Path) -> dict:
    """Every system's model folder for ``name``: ours (fp32, int8), the peers' exports, the .nemo."""
    ours = model_folder(name)
    nemo = nemo_of(name, ours)
    int8 = int8_model_folder(name, ours, log)
    base = int8.parent
    sherpa, onnx_asr = base / "sherpa-onnx", base / "onnx-asr"
    if not ((sherpa / "DONE").is_file() and (onnx_asr / "DONE").is_file()):
        log(f"building the peers' own exports of {nemo.name} -> {base}")
        subprocess.run([sys.executable, str(EXPORTS), str(nemo), str(sherpa), str(onnx_asr)], check=True)
    for folder in (ours, int8):  # hash in full once and stamp, so the timed loads are the steady state
        subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "verify", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)
    return {"nemo": nemo, "ours_fp32": ours, "ours_int8": int8, "sherpa": sherpa, "onnx_asr": onnx_asr}


def systems(src: dict, peer_py: Path) -> list[dict]:
    """(label, precision, interpreter, job fields) of every system measured."""
    return [
        {"label": "parakeet_trt", "precision": "fp32", "python": sys.executable, "system": "parakeet_trt",
         "model": str(src["ours_fp32"])},
        {"label": "parakeet_trt", "precision": "int8", "python": sys.executable, "system": "parakeet_trt",
         "model": str(src["ours_int8"])},
        {"label": "sherpa-onnx", "precision": "fp32", "python": str(peer_py), "system": "sherpa-onnx",
         "model": str(src["sherpa"]), "suffix": ""},
        {"label": "sherpa-onnx", "precision": "int8", "python": str(peer_py), "system": "sherpa-onnx",
         "model": str(src["sherpa"]), "suffix": ".int8"},
        {"label": "onnx-asr", "precision": "fp32", "python": str(peer_py), "system": "onnx-asr",
         "model": str(src["onnx_asr"])},
        {"label": "NeMo", "precision": "fp32 (PyTorch)", "python": sys.executable, "system": "nemo",
         "model": str(src["nemo"])},
    ]


def make_audio(name: str, folder: Path, shorts: int, long_s: float) -> tuple[Path, list[Path], float, float]:
    """Held-out speech of the demo corpus: ``shorts`` utterances, and utterances joined to ``long_s`` seconds."""
    from parakeet_trt.testing.held_out import held_out_speech

    short_paths, total = [], 0.0
    for i in range(shorts):
        audio, _ = held_out_speech(i)
        p = folder / f"short{i:03d}.npy"
        np.save(p, audio)
        short_paths.append(p)
        total += len(audio) / 16000
    pieces, n, i = [], 0, 1000
    while n < long_s * 16000:
        audio, _ = held_out_speech(i, edge_silence_s=0.3)
        pieces.append(audio)
        n += len(audio)
        i += 1
    long_audio = np.concatenate(pieces)[: int(long_s * 16000)].astype(np.float32)
    long_path = folder / "long.npy"
    np.save(long_path, long_audio)
    return long_path, short_paths, len(long_audio) / 16000, total


def run_worker(spec: dict, long_path: Path, short_paths: list[Path], threads: int, work: Path) -> dict:
    job = {k: v for k, v in spec.items() if k not in ("label", "precision", "python")}
    job.update(threads=threads, long=str(long_path), shorts=[str(p) for p in short_paths])
    job_path = work / "job.json"
    job_path.write_text(json.dumps(job))
    done = subprocess.run([spec["python"], str(WORKER), str(job_path)], capture_output=True, text=True,
                          env=dict(os.environ))
    if done.returncode != 0:
        raise RuntimeError(f"{spec['label']} {spec['precision']} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def word_errors_vs(reference: str, hypothesis: str) -> tuple[int, int]:
    from parakeet_trt.parity.ladder import word_errors

    return word_errors(reference, hypothesis)


def bench_model(name: str, args, peer_py: Path, root: Path) -> dict:
    src = model_sources(name, root)
    load_before = os.getloadavg()[0]
    specs = systems(src, peer_py)
    with tempfile.TemporaryDirectory(prefix="ptrt_peers_") as td:
        work = Path(td)
        long_path, short_paths, long_s, shorts_s = make_audio(name, work, args.shorts, args.long_s)
        runs: dict = {i: [] for i in range(len(specs))}
        for r in range(args.repeats):
            for i, spec in enumerate(specs):
                if spec["system"] == "nemo" and r >= args.nemo_repeats:
                    continue
                log(f"{name}: repeat {r + 1}/{args.repeats}: {spec['label']} {spec['precision']}")
                runs[i].append(run_worker(spec, long_path, short_paths, args.threads, work))
    nemo_run = runs[len(specs) - 1][0]
    nemo_texts = [nemo_run["long_text"], *nemo_run["short_texts"]]
    rows = []
    for i, spec in enumerate(specs):
        first = runs[i][0]
        texts = [first["long_text"], *first["short_texts"]]
        errs = [word_errors_vs(ref, hyp) for ref, hyp in zip(nemo_texts, texts)]
        med = {k: statistics.median(run[k] for run in runs[i]) for k in ("load_s", "long_s", "short_s", "peak_rss_mb")}
        rows.append({"system": spec["label"], "precision": spec["precision"], **med, "versions": first["versions"],
                     "long_rtfx": long_s / med["long_s"], "short_rtfx": shorts_s / med["short_s"],
                     "same_text": sum(a == b for a, b in zip(nemo_texts, texts)), "utterances": len(texts),
                     "wer_vs_nemo": sum(e for e, _ in errs) / max(1, sum(n for _, n in errs))})
    return {"model": name, "long_s": long_s, "shorts": len(short_paths), "shorts_s": shorts_s, "rows": rows,
            "repeats": args.repeats, "nemo_repeats": min(args.nemo_repeats, args.repeats),
            "load_average": [load_before, os.getloadavg()[0]],
            "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def plot(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 4), squeeze=False)
    for ax, res in zip(axes[0], results):
        labels = [f"{r['system']}\n{r['precision'].split()[0]}" for r in res["rows"]]
        x = np.arange(len(labels))
        ax.bar(x - 0.2, [r["long_rtfx"] for r in res["rows"]], 0.4, label=f"{res['long_s']:.0f} s file")
        ax.bar(x + 0.2, [r["short_rtfx"] for r in res["rows"]], 0.4, label=f"{res['shorts']} short utterances")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_ylabel("RTFx (audio seconds per wall second)")
        ax.set_title(res["model"])
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def report(results: list[dict], args, png: Path | None) -> list[str]:
    lines = report_header(
        "Peer benchmark: parakeet_trt vs sherpa-onnx vs onnx-asr vs NeMo", command_line("bench_peers.py", args.argv),
        f"; {args.threads} threads per system. Other processes may share the machine: each model's section "
        "gives the load average before and after its runs; timings are medians of interleaved repeats")
    lines += ["Each system runs its own export of the same `.nemo` (bench/peer_exports.py: sherpa-onnx's "
              "NeMo TDT recipe, fp32 and its int8; NeMo's `ASRModel.export` for onnx-asr; `parakeet-trt export "
              "--precision fp32|int8` for ours) in its own process; the peers in their own venv. "
              "Agreement: utterances (the long file and each short one) whose text equals NeMo's, and the "
              "word error rate against NeMo's text. Load times are steady-state: our folders were checked with "
              "`parakeet-trt verify` first (a full hash, then verified stamps: see docs/DECISION_LOG.md).", ""]
    if png:
        lines += [f"![RTFx per system]({png.name})", ""]
    found = {r["system"]: ", ".join(f"{k} {v}" for k, v in r["versions"].items())
             for res in results for r in res["rows"]}
    lines += ["Versions: " + "; ".join(f"{system}: {v}" for system, v in found.items()) + ".", ""]
    for res in results:
        lines += [f"## {res['model']}", "",
                  f"Audio: one {res['long_s']:.0f} s file; {res['shorts']} short utterances, {res['shorts_s']:.0f} s "
                  "in all (held-out speech of the demo corpus). Measured " + res.get("measured_at", "?") +
                  f"; {res['repeats']} repeats (NeMo {res['nemo_repeats']}); load average "
                  f"{res['load_average'][0]:.2f} before, {res['load_average'][1]:.2f} after"
                  + (" (results of an earlier run of this command, included with --include)" if res.get("included")
                     else "") + ".", "",
                  "| system | precision | load s | long file s | RTFx | shorts s | RTFx | peak RSS MB | same text as NeMo | WER vs NeMo |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in res["rows"]:
            lines.append(f"| {r['system']} | {r['precision']} | {r['load_s']:.2f} | {r['long_s']:.2f} | "
                         f"{r['long_rtfx']:.1f} | {r['short_s']:.2f} | {r['short_rtfx']:.1f} | {r['peak_rss_mb']:.0f} | "
                         f"{r['same_text']}/{r['utterances']} | {100 * r['wer_vs_nemo']:.2f}% |")
        ours = {r["precision"]: r for r in res["rows"] if r["system"] == "parakeet_trt"}
        sherpa8 = next(r for r in res["rows"] if r["system"] == "sherpa-onnx" and r["precision"] == "int8")
        lines += ["", f"Ratios: parakeet_trt int8 / fp32: {ours['fp32']['long_s'] / ours['int8']['long_s']:.2f}× "
                  f"(long), {ours['fp32']['short_s'] / ours['int8']['short_s']:.2f}× (shorts); parakeet_trt int8 / "
                  f"sherpa-onnx int8: {sherpa8['long_s'] / ours['int8']['long_s']:.2f}× (long), "
                  f"{sherpa8['short_s'] / ours['int8']['short_s']:.2f}× (shorts).", ""]
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["demo", "parakeet-tdt-0.6b-v3"],
                        choices=["demo", "tiny", "parakeet-tdt-0.6b-v3"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--nemo-repeats", type=int, default=1,
                        help="runs of NeMo (the reference text; the slowest system by far), at most --repeats")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shorts", type=int, default=50, help="short utterances (held-out speech)")
    parser.add_argument("--long-s", type=float, default=60.0, help="length of the long file, seconds")
    parser.add_argument("--markdown", type=Path, default=None, help="write the report here (and the plot beside it)")
    parser.add_argument("--json", type=Path, default=None, help="write the raw results here")
    parser.add_argument("--include", type=Path, nargs="*", default=[],
                        help="--json files of earlier runs whose models are reported too (marked as included)")
    args = parser.parse_args(argv)
    args.argv = argv if argv is not None else sys.argv[1:]
    root = peers_root()
    peer_py = peer_python(root)
    start = time.monotonic()
    results = []
    for path in args.include:
        results += [{**res, "included": True} for res in json.loads(path.read_text())]
    results += [bench_model(name, args, peer_py, root) for name in args.models]
    log(f"measured in {time.monotonic() - start:.0f} s")
    png = args.markdown.with_name("bench_peers.png") if args.markdown else None
    if png:
        plot(results, png)
    publish(report(results, args, png), args.markdown)
    if args.json:
        args.json.write_text(json.dumps([r for r in results if not r.get("included")], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
