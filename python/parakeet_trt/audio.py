"""Audio input: read files, downmix, resample to the model's rate, refuse what is not audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from parakeet_trt.errors import AudioFileError, InvalidAudioError


def check_riff_complete(path: Path) -> None:
    """Refuse a WAV whose data chunk claims more bytes than the file holds.

    libsndfile silently reads what is there, so a half-copied recording would otherwise be
    transcribed as if it were whole.
    """
    with open(path, "rb") as f:
        header = f.read(12)
        if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            return
        file_size = path.stat().st_size
        position = 12
        while position + 8 <= file_size:
            f.seek(position)
            chunk = f.read(8)
            chunk_id, chunk_size = chunk[:4], int.from_bytes(chunk[4:8], "little")
            if chunk_id == b"data":
                available = file_size - position - 8
                if chunk_size != 0xFFFFFFFF and chunk_size > available:
                    raise AudioFileError(f"audio file {path} is truncated: its data chunk declares {chunk_size} "
                                         f"bytes but the file holds {available}")
                return
            position += 8 + chunk_size + (chunk_size & 1)


def read_audio_file(path: str | Path) -> tuple[np.ndarray, int]:
    """Read any file libsndfile understands; returns (float32 samples [frames, channels], rate)."""
    import soundfile

    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"audio file not found: {path}")
    if path.is_dir():
        raise AudioFileError(f"audio path is a directory, not a file: {path}")
    check_riff_complete(path)
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile's errors are RuntimeError/LibsndfileError/TypeError
        raise AudioFileError(f"cannot read audio file {path}: {exc}") from exc
    return data, int(rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Average the channels of [frames, channels] (or pass 1-D audio through)."""
    samples = np.asarray(samples)
    if samples.ndim == 1:
        return samples
    if samples.ndim != 2:
        raise InvalidAudioError(f"audio must be 1-D or [frames, channels], got shape {samples.shape}")
    if samples.shape[1] > 64:
        raise InvalidAudioError(f"audio array of shape {samples.shape} has {samples.shape[1]} channels; "
                                "arrays are [frames, channels] (transpose a [channels, frames] array)")
    if samples.shape[1] == 1:
        return samples[:, 0]
    return samples.mean(axis=1, dtype=np.float64).astype(np.float32)


def resample(samples: np.ndarray, from_rate_hz: int, to_rate_hz: int) -> np.ndarray:
    """High-quality resampling (libsoxr, VHQ); identity when the rates agree."""
    if from_rate_hz <= 0:
        raise InvalidAudioError(f"sample rate must be positive, got {from_rate_hz} Hz")
    if from_rate_hz == to_rate_hz:
        return samples
    import soxr

    return soxr.resample(samples, from_rate_hz, to_rate_hz, quality="VHQ").astype(np.float32, copy=False)


def prepare_audio(audio, sample_rate_hz: int | None, target_rate_hz: int) -> tuple[np.ndarray, str | None]:
    """Turn a path or an array into mono float32 at target_rate_hz; returns (samples, file name or None).

    Raises InvalidAudioError for empty audio, NaN/Inf samples, integer overflow-prone dtypes, or a
    missing sample rate for arrays.
    """
    source = None
    if isinstance(audio, (str, Path)):
        source = str(audio)
        data, rate = read_audio_file(audio)
    else:
        data = np.asarray(audio)
        if sample_rate_hz is None:
            raise InvalidAudioError("sample_rate_hz is required when passing an array")
        rate = int(sample_rate_hz)
        if data.dtype == np.uint8:
            # 8-bit PCM is offset binary (128 = silence), as in WAV files.
            data = (data.astype(np.float32) - 128.0) / 128.0
        elif data.dtype.kind == "i":
            # Signed integer PCM: scale to [-1, 1) like libsndfile does.
            data = data.astype(np.float32) / float(np.iinfo(data.dtype).max + 1)
        elif data.dtype.kind == "u":
            raise InvalidAudioError(f"unsigned PCM other than uint8 is not a PCM format, got dtype {data.dtype}")
        elif data.dtype.kind != "f":
            raise InvalidAudioError(f"audio array must be float or integer PCM, got dtype {data.dtype}")
    mono = np.ascontiguousarray(to_mono(data), dtype=np.float32)
    where = f" in {source}" if source else ""
    if mono.size == 0:
        raise InvalidAudioError(f"audio is empty (0 samples){where}")
    finite = np.isfinite(mono)
    if not finite.all():
        index = int(np.argmin(finite))
        kind = "NaN" if np.isnan(mono[index]) else "infinite"
        raise InvalidAudioError(f"audio sample {index} is {kind}{where}; samples must be finite")
    return np.ascontiguousarray(resample(mono, rate, target_rate_hz), dtype=np.float32), source
