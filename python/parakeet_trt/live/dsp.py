"""DSP tiles: streaming resampling to the model rate, automatic gain control, an energy VAD, and
the stage that chains them over AudioBlocks (and runs the VADs, setting each block's trailing
silence). Every tile keeps its state across blocks, so block boundaries do not matter."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from parakeet_trt.audio import check_rate
from parakeet_trt.live.sources import AudioBlock


class StreamResampler:
    """libsoxr's streaming resampler (the same library as the offline path, HQ quality). Every
    source's rate passes here, so it is checked here too (audio.check_rate: whole Hz in
    [MIN_RATE_HZ, MAX_RATE_HZ]); a block's size bounds its output, so no length check is needed."""

    def __init__(self, from_rate_hz: int, to_rate_hz: int):
        import soxr

        self.from_rate_hz, self.to_rate_hz = check_rate(from_rate_hz, "source sample rate"), int(to_rate_hz)
        self._stream = None if self.from_rate_hz == self.to_rate_hz else \
            soxr.ResampleStream(self.from_rate_hz, self.to_rate_hz, 1, dtype="float32", quality="HQ")

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        if self._stream is None:
            return samples
        return np.ascontiguousarray(self._stream.resample_chunk(samples, last=last), dtype=np.float32)


class AutomaticGainControl:
    """Moves the speech level toward target_dbfs: the gain follows a slow RMS estimate (fast attack
    when loud, slow release), is capped at max_gain_db, and does not rise on frames below
    gate_dbfs (silence stays silence). Output is clipped to [-1, 1]."""

    def __init__(self, sample_rate_hz: int, *, target_dbfs: float = -20.0, max_gain_db: float = 20.0,
                 gate_dbfs: float = -50.0, attack_ms: float = 10.0, release_ms: float = 500.0, frame_ms: float = 10.0):
        self.frame = max(1, int(sample_rate_hz * frame_ms / 1000))
        self.target = 10 ** (target_dbfs / 20)
        self.max_gain = 10 ** (max_gain_db / 20)
        self.gate = 10 ** (gate_dbfs / 20)
        self.attack = math.exp(-frame_ms / attack_ms)
        self.release = math.exp(-frame_ms / release_ms)
        self.gain = 1.0

    def process(self, samples: np.ndarray) -> np.ndarray:
        out = np.empty_like(samples)
        for begin in range(0, len(samples), self.frame):
            frame = samples[begin:begin + self.frame]
            rms = float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) if len(frame) else 0.0
            if rms > self.gate:
                wanted = min(self.max_gain, self.target / rms)
                coeff = self.attack if wanted < self.gain else self.release
                self.gain = coeff * self.gain + (1 - coeff) * wanted
            out[begin:begin + self.frame] = frame * self.gain
        return np.clip(out, -1.0, 1.0, out=out)


class EnergyVad:
    """Speech when a frame's energy is above both threshold_dbfs and the tracked noise floor plus
    margin_db; hangover_ms keeps short gaps inside speech. Cheap; the fallback to Silero."""

    def __init__(self, sample_rate_hz: int, *, frame_ms: int = 20, threshold_dbfs: float = -45.0,
                 margin_db: float = 10.0, hangover_ms: int = 100):
        self.sample_rate_hz = sample_rate_hz
        self.frame = sample_rate_hz * frame_ms // 1000
        self.frame_ms = frame_ms
        self.threshold_dbfs, self.margin_db = threshold_dbfs, margin_db
        self.hangover_frames = max(0, hangover_ms // frame_ms)
        self.noise_floor_dbfs = -70.0
        self._pending = np.zeros(0, np.float32)
        self._hang = 0
        self.speech = False
        self.trailing_silence_ms = 0.0

    def _frame_is_speech(self, frame: np.ndarray) -> bool:
        energy = float(np.mean(frame.astype(np.float64) ** 2))
        dbfs = 10 * math.log10(energy + 1e-12)
        above = dbfs > self.threshold_dbfs and dbfs > self.noise_floor_dbfs + self.margin_db
        # The floor follows quiet frames quickly and loud ones very slowly.
        rate = 0.05 if dbfs < self.noise_floor_dbfs or not above else 0.001
        self.noise_floor_dbfs += rate * (dbfs - self.noise_floor_dbfs)
        return above

    def process(self, samples: np.ndarray) -> None:
        data = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        usable = len(data) - len(data) % self.frame
        for begin in range(0, usable, self.frame):
            if self._frame_is_speech(data[begin:begin + self.frame]):
                self._hang = self.hangover_frames
                self.speech = True
            elif self._hang > 0:
                self._hang -= 1
                self.speech = True
            else:
                self.speech = False
            self.trailing_silence_ms = 0.0 if self.speech else self.trailing_silence_ms + self.frame_ms
        self._pending = np.array(data[usable:], dtype=np.float32)


class DspStage:
    """Resample to the model rate, then AGC (optional), then the VAD (optional): AudioBlock in,
    AudioBlock at target_rate_hz out, with speech / vad_silence_ms set when a VAD runs."""

    def __init__(self, target_rate_hz: int, *, agc: bool = False, vad: str = "none"):
        if vad not in ("none", "energy", "silero"):
            raise ValueError(f"vad must be none, energy or silero, got {vad!r}")
        self.target_rate_hz = target_rate_hz
        self.agc_enabled = agc
        self.vad_kind = vad
        self._resampler: StreamResampler | None = None
        self._agc = AutomaticGainControl(target_rate_hz) if agc else None
        if vad == "silero":
            from parakeet_trt.live.silero_vad import SileroVad

            self._vad = SileroVad(target_rate_hz)
        elif vad == "energy":
            self._vad = EnergyVad(target_rate_hz)
        else:
            self._vad = None

    def process(self, block: AudioBlock, last: bool = False) -> AudioBlock:
        if self._resampler is None or self._resampler.from_rate_hz != block.sample_rate_hz:
            self._resampler = StreamResampler(block.sample_rate_hz, self.target_rate_hz)
        samples = self._resampler.process(block.samples, last=last)
        if self._agc is not None and len(samples):
            samples = self._agc.process(samples)
        out = replace(block, samples=samples, sample_rate_hz=self.target_rate_hz)
        if self._vad is not None and len(samples):
            self._vad.process(samples)
            out.speech, out.vad_silence_ms = self._vad.speech, self._vad.trailing_silence_ms
        return out
