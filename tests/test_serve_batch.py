"""``parakeet-trt transcribe-batch`` on Ray Data (issue 16 item 6): every file's line equals
``parakeet-trt transcribe --json`` of it, a bad file gets an error line (exit 4), and a rerun transcribes
only what is missing (a line cut off by a killed run included). Each run is bounded by BATCH_S.
"""

from __future__ import annotations

import json
import subprocess
import sys

import soundfile

from parakeet_trt.testing.held_out import held_out_speech

BATCH_S = 240


def batch(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "transcribe-batch", *args], capture_output=True,
                          text=True, timeout=BATCH_S)


def test_a_folder_is_transcribed_resumably(tmp_path):
    folder = tmp_path / "audio"
    (folder / "sub").mkdir(parents=True)
    paths = []
    for i in range(4):
        path = folder / ("sub" if i % 2 else "") / f"utt{i}.wav"
        soundfile.write(path, held_out_speech(i)[0], 16000)
        paths.append(str(path))
    (folder / "broken.wav").write_bytes(b"RIFF not really a wave file")
    expected = {}
    for line in subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "transcribe", "--json", *paths],
                               capture_output=True, text=True, timeout=120, check=True).stdout.splitlines():
        record = json.loads(line)
        expected[record["file"]] = record
    out = tmp_path / "results.jsonl"

    first = batch(str(folder), "--out", str(out), "--workers", "2")
    assert first.returncode == 4, first.stderr[-2000:]
    records = {r["file"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert "cannot read audio file" in records.pop(str(folder / "broken.wav"))["error"]
    assert records == expected  # text, tokens, words: as transcribe --json

    # A killed run: two lines lost, the last one cut in half. The rerun does only those (and the broken file).
    lines = out.read_text().splitlines(keepends=True)
    kept = [line for line in lines if "broken" not in line][:2]
    out.write_text("".join(kept) + lines[-1][:20])
    second = batch(str(folder), "--out", str(out), "--workers", "1")
    assert second.returncode == 4 and "5 files, 2 already in" in second.stderr and "3 to transcribe" in second.stderr
    records = {}
    for line in out.read_text().splitlines():
        record = json.loads(line)
        records[record["file"]] = record
    records.pop(str(folder / "broken.wav"))
    assert records == expected

    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"audio_filepath": p, "duration": 1.0}) + "\n" for p in paths[:2]))
    third = batch(str(manifest), "--out", str(out))
    assert third.returncode == 0 and "2 files, 2 already in" in third.stderr  # nothing to do: Ray is not started
