"""The README's first command: the packaged demo model and sample; the random-weight fixture model;
the C ABI's surface."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import parakeet_trt
from parakeet_trt.models import (DEFAULT_MODEL, RANDOM_WEIGHTS_MODEL, demo_sample, packaged_models,
                                 random_model_sample, resolve_model_dir)

# The demo model's word error rate on its sample (measured at packaging, docs/DEMO_MODEL_EVAL.md).
DEMO_SAMPLE_MAX_WER = 0.25


def test_transcribe_with_no_arguments_uses_the_demo_model_and_sample():
    """The quick start: the demo model writes the demo sample's words (three held-out sentences)."""
    from parakeet_trt.testing.held_out import word_error_rate

    assert DEFAULT_MODEL == "demo" and "demo" in packaged_models()
    result = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "transcribe", "--json"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["file"] == str(demo_sample())
    reference = " ".join(demo_sample().with_suffix(".txt").read_text().split())
    assert word_error_rate([reference], [line["text"]]) <= DEMO_SAMPLE_MAX_WER, (reference, line["text"])
    assert set(line) == {"file", "text", "token_ids", "token_frames", "token_durations", "words"}
    assert len(line["token_ids"]) == len(line["token_frames"]) == len(line["token_durations"]) > 0
    assert all(set(w) == {"word", "start_s", "end_s"} and w["end_s"] >= w["start_s"] for w in line["words"])


def test_packaged_default_model_is_the_tiny_test_export(tiny_export_dir):
    """tools/make_random_weights_model.py rebuilds it; this catches drift between it and the exporter."""
    assert RANDOM_WEIGHTS_MODEL in packaged_models()
    packaged = json.loads((resolve_model_dir(RANDOM_WEIGHTS_MODEL) / "model_meta.json").read_text())
    fresh = json.loads((tiny_export_dir / "model_meta.json").read_text())
    assert packaged["artifacts"] == fresh["artifacts"]
    assert parakeet_trt.Session(RANDOM_WEIGHTS_MODEL).transcribe(random_model_sample()).token_ids


def test_c_abi_exports_only_ptrt_symbols():
    from test_c_abi import find_library

    if shutil.which("nm") is None:
        raise AssertionError("nm (binutils) is needed to inspect the library's symbols")
    out = subprocess.run(["nm", "-D", "--defined-only", str(find_library())], capture_output=True, text=True,
                         check=True).stdout
    names = [line.split()[-1] for line in out.splitlines() if line.strip()]
    assert names and all(name.startswith("ptrt_") for name in names), [n for n in names if not n.startswith("ptrt_")]
