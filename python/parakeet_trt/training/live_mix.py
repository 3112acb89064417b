"""Live-like training examples for the demo model v2: what a microphone stream and a VAD hand the model.

    audio, text, meta = make_live_example(seed=0, index=17, open_sentences=sentences)

One training example (LIVE_MIX_VERSION names the recipe; change it whenever any of this changes):

* **Parts.** One utterance, or with probability ``JOIN_PROB`` 2 to ``MAX_PARTS`` joined: a part is
  added while the parts so far and it stay within ``MAX_EXAMPLE_S`` (the pause before it, up to
  ``PAUSE_S[1]``, is not counted). A part is a corpus utterance (``corpus.plan_utterance``, its own voice,
  rate, noise and edge silences) whose text is, with probability ``OPEN_TEXT_SHARE``, an open-English
  sentence (WordNet, ``training.open_text``) instead of a template sentence.
* **Pauses between parts** of 0.2-2.0 s, filled with one of: the room tone of a quiet microphone
  (pink noise at -70..-50 dBFS), brown rumble at -60..-45 dBFS, or digital zeros (a muted or gated
  input).
* **Level changes.** Each part gets its own gain (-15..0 dB), so speakers differ in level; with
  probability ``RAMP_PROB`` the whole example fades by up to +-12 dB end to end (a slow AGC or a
  moving talker); the example's peak is drawn from -40..-1 dBFS, so quiet input is normal (no AGC
  needed at run time).
* **VAD-style crops.** With probability ``CROP_PROB`` the example starts 0-320 ms before its first
  speech (the pre-roll a segmenter keeps) and ends 0.1-0.9 s after its last speech.
* **Digital silence.** With probability ``ZEROS_PROB`` 0.1-1.0 s of exact zeros before and/or after.

Speech spans come from the corpus's renderer, so every cut falls in a pause: the text of an example is
exactly what it says. Cutting long streams inside words (what a buffered window's edges do) is left
to the trainer's window-statistics augmentation; espeak-ng gives no word times to cut text by.

All draws come from ``numpy.random.default_rng`` seeded by ``(seed, index)``; the parts' corpus seeds
are train-split seeds derived from the same pair, so no example can contain an eval-split utterance.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from .corpus import SAMPLE_RATE_HZ, colored_noise, plan_utterance, render, text_split

LIVE_MIX_VERSION = "live-mix-v1"
OPEN_TEXT_SHARE = 0.4
JOIN_PROB = 0.35
MAX_PARTS = 4
MAX_EXAMPLE_S = 20.0
PAUSE_S = (0.2, 2.0)
PART_GAIN_DB = (-15.0, 0.0)
RAMP_PROB = 0.3
RAMP_DB = 12.0
PEAK_DBFS = (-40.0, -1.0)
CROP_PROB = 0.4
PREROLL_S = (0.0, 0.32)
TAIL_S = (0.1, 0.9)
ZEROS_PROB = 0.15
ZEROS_S = (0.1, 1.0)
PAUSE_FILLS = ("room_tone", "rumble", "zeros")


def part_seed(seed: int, index: int, part: int) -> int:
    """A train-split corpus seed (even) for part ``part`` of example ``index``."""
    digest = hashlib.sha256(f"{LIVE_MIX_VERSION}|{seed}|{index}|{part}".encode()).digest()
    return 2 * (int.from_bytes(digest[:8], "big") >> 1)


def _open_sentence(rng: np.random.Generator, sentences: Sequence[str]) -> str:
    """A training-split open sentence (the corpus's text split keeps 1/8 of all texts for eval)."""
    for _ in range(1000):
        text = sentences[int(rng.integers(len(sentences)))]
        if text_split(text) == "train":
            return text
    raise RuntimeError("no training-split open sentence found in 1000 draws")


def _pause(rng: np.random.Generator, seconds: float) -> tuple[np.ndarray, str]:
    n = int(round(seconds * SAMPLE_RATE_HZ))
    fill = PAUSE_FILLS[int(rng.integers(len(PAUSE_FILLS)))]
    if fill == "zeros":
        return np.zeros(n), fill
    color, dbfs = ("pink", rng.uniform(-70, -50)) if fill == "room_tone" else ("brown", rng.uniform(-60, -45))
    return colored_noise(rng, n, color) * 10 ** (dbfs / 20), fill


def make_live_example(seed: int, index: int, open_sentences: Sequence[str]) -> tuple[np.ndarray, str, dict]:
    """(float32 16 kHz audio, text, metadata) of training example ``index`` (see the module doc)."""
    rng = np.random.default_rng([seed, index, 0x11fe])
    parts = 1 if rng.random() >= JOIN_PROB else int(rng.integers(2, MAX_PARTS + 1))
    pieces, texts, spans, fills = [], [], [], []
    length = 0
    for k in range(parts):
        overrides = {"text": _open_sentence(rng, open_sentences)} if (
            open_sentences and rng.random() < OPEN_TEXT_SHARE) else {}
        audio, meta = render(plan_utterance(part_seed(seed, index, k), **overrides))
        if k and (length + len(audio)) / SAMPLE_RATE_HZ > MAX_EXAMPLE_S:
            break
        audio = audio.astype(np.float64) * 10 ** (rng.uniform(*PART_GAIN_DB) / 20)
        if k:
            pause, fill = _pause(rng, rng.uniform(*PAUSE_S))
            pieces.append(pause)
            fills.append(fill)
            length += len(pause)
        spans += [(length + a, length + b) for a, b in meta["speech_spans"]]
        pieces.append(audio)
        texts.append(meta["text"])
        length += len(audio)
    mix = np.concatenate(pieces)
    cropped = rng.random() < CROP_PROB
    if cropped:
        start = max(0, spans[0][0] - int(rng.uniform(*PREROLL_S) * SAMPLE_RATE_HZ))
        end = min(len(mix), spans[-1][1] + int(rng.uniform(*TAIL_S) * SAMPLE_RATE_HZ))
        mix, spans = mix[start:end], [(a - start, b - start) for a, b in spans]
    if rng.random() < RAMP_PROB:
        mix = mix * 10 ** (np.linspace(0.0, rng.uniform(-RAMP_DB, RAMP_DB), len(mix)) / 20)
    mix = mix * (10 ** (rng.uniform(*PEAK_DBFS) / 20) / max(float(np.max(np.abs(mix))), 1e-12))
    zeros = (0, 0)
    if rng.random() < ZEROS_PROB:
        zeros = tuple(int(rng.uniform(*ZEROS_S) * SAMPLE_RATE_HZ) if rng.random() < 0.6 else 0 for _ in range(2))
        mix = np.concatenate([np.zeros(zeros[0]), mix, np.zeros(zeros[1])])
        spans = [(a + zeros[0], b + zeros[0]) for a, b in spans]
    text = " ".join(texts)
    meta = {"live_mix_version": LIVE_MIX_VERSION, "seed": seed, "index": index, "parts": len(texts), "part_texts": texts,
            "pause_fills": fills, "cropped": cropped, "digital_zeros": list(zeros),
            "speech_spans": [list(s) for s in spans], "num_samples": len(mix)}
    return mix.astype(np.float32), text, meta
