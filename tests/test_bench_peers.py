"""The standing peer benchmark (bench/bench_peers.py) in a CI-sized run on the demo model: it makes the
peers' venv (pip, first run only), the peers' own exports of demo.nemo and our int8 export, runs every
system in its own process, and reports. Checked: every system ran and read the audio, ours agrees
with NeMo text for text, and the report and plot are written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_peers_quick_run_on_the_demo_model(tmp_path):
    report, raw = tmp_path / "BENCH_PEERS.md", tmp_path / "peers.json"
    proc = subprocess.run([sys.executable, str(REPO / "bench" / "bench_peers.py"), "--models", "demo", "--repeats", "1",
                           "--shorts", "3", "--long-s", "10", "--markdown", str(report), "--json", str(raw)],
                          capture_output=True, text=True, cwd=REPO, timeout=900, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr[-4000:]
    (result,) = json.loads(raw.read_text())
    rows = {(r["system"], r["precision"].split()[0]): r for r in result["rows"]}
    assert set(rows) == {("parakeet_trt", "fp32"), ("parakeet_trt", "int8"), ("sherpa-onnx", "fp32"),
                         ("sherpa-onnx", "int8"), ("onnx-asr", "fp32"), ("NeMo", "fp32")}
    for row in rows.values():
        assert row["long_s"] > 0 and row["short_s"] > 0 and row["peak_rss_mb"] > 10
        assert row["wer_vs_nemo"] < 0.5, row  # every system reads the held-out speech
    assert rows[("parakeet_trt", "fp32")]["same_text"] == rows[("parakeet_trt", "fp32")]["utterances"] == 4
    assert "| parakeet_trt | int8 |" in report.read_text()
    assert (tmp_path / "bench_peers.png").stat().st_size > 1000
