"""Segment-aware live streams (issue 14 item 1, first step): `live --segments` starts a fresh stream per
VAD segment. On held-out sentences separated by pauses: one final per sentence, finals in time order
that add up to the committed text (the patch protocol holds across segments), and words of every
sentence recognized. The mechanism itself (fresh session at the frame-aligned pre-roll, equal to that
session alone, the pause never reaching an encoder) is tested in C++ (test_streaming_session)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from parakeet_trt.testing.held_out import held_out_speech, word_error_rate


def test_live_segments_give_one_final_per_sentence(tmp_path):
    parts, refs = [], []
    for i in (3, 4, 5):
        audio, ref = held_out_speech(i)
        parts += [audio, np.zeros(16000, np.float32)]  # a 1 s pause between sentences
        refs.append(ref)
    wav = tmp_path / "sentences.wav"
    sf.write(wav, np.concatenate(parts), 16000)
    events = tmp_path / "events.jsonl"
    subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "live", "--input", str(wav), "--no-realtime",
                    "--ui", "none", "--events-out", str(events), "--segments"], check=True, capture_output=True,
                   timeout=300)
    log = [json.loads(line) for line in events.read_text().splitlines()]
    finals = [e for e in log if e["type"] == "final"]
    patches = [e for e in log if e["type"] == "patch"]
    assert len(finals) == 3, [f["text"] for f in finals]
    assert all(a["end_s"] <= b["start_s"] for a, b in zip(finals, finals[1:]))
    committed = "".join(f["text"] for f in finals)
    last_committed_len = max(p["committed_len"] for p in patches)
    assert len(committed) == last_committed_len
    assert word_error_rate([" ".join(refs)], [committed]) < 0.5
