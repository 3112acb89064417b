"""Deterministic test audio: silence, noise, tones, chirps and espeak-ng speech, 0.1 s to 60 s.

Every signal is mono float32 at 16 kHz and reproducible from its name. Speech comes from the
system's espeak-ng (Debian package espeak-ng), resampled from its native 22.05 kHz with libsoxr.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE_HZ = 16000

SENTENCES = [
    "the quick brown fox jumps over the lazy dog",
    "please call stella and ask her to bring these things with her from the store",
    "a large number of tests run on real audio every day",
    "streaming captions must never flicker on the screen",
    "seven slim swans swam silently southward",
    "she sells sea shells by the sea shore in the summer",
    "numbers such as three hundred and forty two are spoken slowly",
    "the weather tomorrow will be cloudy with a chance of rain",
]

VOICES = ["en-us", "en-gb", "en-us+f3", "en-us+m7", "en-gb+f2"]


@dataclass(frozen=True)
class Signal:
    name: str
    samples: np.ndarray  # float32, 16 kHz mono

    @property
    def duration_s(self) -> float:
        return len(self.samples) / SAMPLE_RATE_HZ


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def speak(text: str, voice: str = "en-us", words_per_minute: int = 160, pitch: int = 50) -> np.ndarray:
    """Synthesize speech with espeak-ng; returns 16 kHz float32."""
    import soundfile
    import soxr

    if not espeak_available():
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(words_per_minute), "-p", str(pitch), "-w", str(wav), text],
                       check=True, capture_output=True)
        data, rate = soundfile.read(str(wav), dtype="float32")
    return soxr.resample(data, rate, SAMPLE_RATE_HZ, quality="VHQ").astype(np.float32)


def _seconds(s: float) -> int:
    return int(round(s * SAMPLE_RATE_HZ))


def _noise(rng: np.random.Generator, seconds: float, amplitude: float) -> np.ndarray:
    return (rng.standard_normal(_seconds(seconds)) * amplitude).astype(np.float32)


def _tone(seconds: float, freq_hz: float, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(_seconds(seconds)) / SAMPLE_RATE_HZ
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def _chirp(seconds: float, f0: float, f1: float) -> np.ndarray:
    t = np.arange(_seconds(seconds)) / SAMPLE_RATE_HZ
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t * t / (2 * seconds))
    return (0.4 * np.sin(phase)).astype(np.float32)


def speech_sequence(rng: np.random.Generator, total_s: float, gap_s: float = 0.4) -> np.ndarray:
    parts, length, i = [], 0, 0
    while length < _seconds(total_s):
        sentence = SENTENCES[i % len(SENTENCES)]
        voice = VOICES[i % len(VOICES)]
        piece = speak(sentence, voice=voice, words_per_minute=140 + 20 * (i % 4))
        parts += [piece, _noise(rng, gap_s, 0.002)]
        length += len(piece) + _seconds(gap_s)
        i += 1
    return np.concatenate(parts)[: _seconds(total_s)]


def synthetic_signals(seed: int = 0) -> list[Signal]:
    """Signals that need no speech synthesizer."""
    rng = np.random.default_rng(seed)
    square = np.sign(_tone(0.7, 220.0)).astype(np.float32) * 0.5
    impulses = np.zeros(_seconds(1.0), np.float32)
    impulses[:: _seconds(0.1)] = 0.9
    return [
        Signal("silence_0.1s", np.zeros(_seconds(0.1), np.float32)),
        Signal("silence_2s", np.zeros(_seconds(2.0), np.float32)),
        Signal("noise_0.1s", _noise(rng, 0.1, 0.1)),
        Signal("noise_1s", _noise(rng, 1.0, 0.3)),
        Signal("noise_quiet_1s", _noise(rng, 1.0, 1e-4)),
        Signal("tone_440hz_0.5s", _tone(0.5, 440.0)),
        Signal("two_tones_1.3s", _tone(1.3, 300.0) + _tone(1.3, 2500.0, 0.1)),
        Signal("chirp_2s", _chirp(2.0, 50.0, 7900.0)),
        Signal("square_0.7s", square),
        Signal("impulses_1s", impulses),
        Signal("odd_length_16001", _noise(rng, 16001 / SAMPLE_RATE_HZ, 0.2)),
    ]


def speech_signals(seed: int = 0, include_long: bool = True) -> list[Signal]:
    """espeak-ng speech: single sentences in several voices, speech in noise, 15 s and 60 s sequences."""
    rng = np.random.default_rng(seed + 1)
    signals = []
    for i, sentence in enumerate(SENTENCES[:6]):
        voice = VOICES[i % len(VOICES)]
        signals.append(Signal(f"speech_{i}_{voice}", speak(sentence, voice=voice, words_per_minute=130 + 15 * i)))
    first = signals[0].samples
    signals.append(Signal("speech_fragment_0.1s", first[_seconds(0.3): _seconds(0.4)].copy()))
    noisy = signals[1].samples + _noise(rng, len(signals[1].samples) / SAMPLE_RATE_HZ, 0.02)
    signals.append(Signal("speech_in_noise", noisy.astype(np.float32)))
    signals.append(Signal("speech_15s", speech_sequence(rng, 15.0)))
    if include_long:
        signals.append(Signal("speech_60s", speech_sequence(rng, 60.0)))
    return signals


def all_signals(seed: int = 0, include_long: bool = True) -> list[Signal]:
    return synthetic_signals(seed) + speech_signals(seed, include_long)
