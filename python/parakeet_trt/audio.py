"""Audio input: read files, downmix, resample to the model's rate, refuse what is not audio.

Limits (docs/RELIABILITY.md "Audio limits"): sample rates are whole numbers of Hz in
[MIN_RATE_HZ, MAX_RATE_HZ]; audio is at most MAX_AUDIO_S seconds, checked before resampling (a
400 KB file declaring 1 Hz would otherwise ask for billions of output samples); a pipe or FIFO is
read to its end, at most MAX_STREAM_BYTES, and a FIFO with no writer for FIFO_WAIT_S seconds is an
error instead of a hang.
"""

from __future__ import annotations

import io
import os
import select
import stat
from pathlib import Path

import numpy as np

from parakeet_trt.errors import AudioFileError, InvalidAudioError

MIN_RATE_HZ = 1000
MAX_RATE_HZ = 384000
MAX_AUDIO_S = 4 * 3600.0            # 4 hours: 230 M samples (920 MB float32) at 16 kHz
MAX_STREAM_BYTES = 1 << 30          # a pipe is read into memory: 1 GiB
FIFO_WAIT_S = 10.0                  # how long a FIFO may have no writer / no data before it is an error
RATES_TEXT = f"a whole number of Hz in [{MIN_RATE_HZ}, {MAX_RATE_HZ}]"


def check_rate(rate_hz, what: str = "sample rate") -> int:
    """The rate as an int, or InvalidAudioError: not a whole number, or outside [MIN_RATE_HZ, MAX_RATE_HZ]."""
    if isinstance(rate_hz, (bool, np.bool_)) or not isinstance(rate_hz, (int, float, np.integer, np.floating)):
        raise InvalidAudioError(f"{what} must be {RATES_TEXT}, got {rate_hz!r}")
    if isinstance(rate_hz, (float, np.floating)) and not float(rate_hz).is_integer():
        raise InvalidAudioError(f"{what} must be {RATES_TEXT}, got {float(rate_hz)!r} (not a whole number; "
                                "it would be truncated)")
    rate = int(rate_hz)
    if rate <= 0:
        raise InvalidAudioError(f"{what} must be positive ({RATES_TEXT}), got {rate} Hz")
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise InvalidAudioError(f"{what} {rate} Hz is out of range: it must be {RATES_TEXT}")
    return rate


def check_duration(num_frames: int, rate_hz: int, where: str = "", max_duration_s: float = MAX_AUDIO_S) -> None:
    """Refuse audio longer than max_duration_s before anything is allocated for it."""
    if num_frames / rate_hz > max_duration_s:
        raise InvalidAudioError(f"audio{where} is {num_frames / rate_hz:.0f} s long ({num_frames} samples at "
                                f"{rate_hz} Hz), over the maximum of {max_duration_s:.0f} s; split it")


def _chunk_header(source, position: int) -> tuple[bytes, int]:
    source.seek(position)
    header = source.read(8)
    return (header[:4], int.from_bytes(header[4:8], "little")) if len(header) == 8 else (b"", -1)


def _is_chunk_id(chunk_id: bytes) -> bool:
    return len(chunk_id) == 4 and all(0x20 <= b <= 0x7E for b in chunk_id)


def check_riff_complete(source, file_size: int, name: str) -> None:
    """Refuse a WAV whose data chunk's size disagrees with the file (``source``: a seekable binary
    file): more bytes than it holds (truncated: half a copy) or fewer, with bytes after it that are
    not RIFF chunks (a header written before the recording ended: libsndfile would read the few
    declared milliseconds and drop the rest silently)."""
    source.seek(0)
    head = source.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    position = 12
    while position + 8 <= file_size:
        chunk_id, size = _chunk_header(source, position)
        if chunk_id == b"data":
            available = file_size - position - 8
            if size == 0xFFFFFFFF:
                return  # streaming writers' "unknown length": libsndfile reads to the end
            if size > available:
                raise AudioFileError(f"audio file {name} is truncated: its data chunk declares {size} bytes but "
                                     f"the file holds {available}")
            _check_trailing_chunks(source, position + 8 + size + (size & 1), file_size, size, available, name)
            return
        position += 8 + size + (size & 1)


def _check_trailing_chunks(source, position: int, file_size: int, size: int, available: int, name: str) -> None:
    while position < file_size:
        if file_size - position < 8:
            source.seek(position)
            if not source.read().strip(b"\0"):
                return  # a few bytes of zero padding
        chunk_id, chunk_size = _chunk_header(source, position)
        if not _is_chunk_id(chunk_id) or position + 8 + chunk_size > file_size:
            raise AudioFileError(
                f"audio file {name} declares {size} bytes of audio in its data chunk but holds {available} bytes "
                f"from there on, and what follows the declared audio is not a RIFF chunk: its header was written "
                f"before the recording ended. Rewrite the header (e.g. sox --ignore-length in.wav out.wav) or "
                f"trim the file")
        position += 8 + chunk_size + (chunk_size & 1)


def _read_stream(path: str) -> bytes:
    """A pipe, FIFO or process substitution, read to its end (at most MAX_STREAM_BYTES). It is
    opened without blocking, so a FIFO with no writer (or a writer that sends nothing) is an error
    after FIFO_WAIT_S instead of a hang."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as error:
        raise AudioFileError(f"cannot open audio pipe {path}: {error.strerror}") from None
    chunks, total = [], 0
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], FIFO_WAIT_S)
            if not ready:
                raise AudioFileError(f"audio pipe {path} gave no data for {FIFO_WAIT_S:.0f} s "
                                     "(a FIFO with no writer?)")
            try:
                chunk = os.read(fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_STREAM_BYTES:
                raise AudioFileError(f"audio pipe {path} holds more than {MAX_STREAM_BYTES} bytes; write it to a file")
    finally:
        os.close(fd)
    return b"".join(chunks)


def read_audio_file(path: str | Path, max_duration_s: float = MAX_AUDIO_S) -> tuple[np.ndarray, int]:
    """Read any file libsndfile understands, or a pipe/FIFO carrying one; returns (float32
    samples [frames, channels], rate). The rate and duration are checked before the samples are read."""
    import soundfile

    name = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise AudioFileError(f"audio file not found: {name}") from None
    except OSError as error:
        raise AudioFileError(f"cannot open audio file {name}: {error.strerror}") from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioFileError(f"audio path is a directory, not a file: {name}")
    if stat.S_ISFIFO(info.st_mode):
        data = _read_stream(name)
        source = io.BytesIO(data)
        size = len(data)
    elif stat.S_ISREG(info.st_mode):
        size = info.st_size
        try:
            source = open(path, "rb")  # Python opens names that are not UTF-8; libsndfile would refuse them
        except OSError as error:
            raise AudioFileError(f"cannot open audio file {name}: {error.strerror}") from None
    else:
        raise AudioFileError(f"audio path {name} is not a regular file or a pipe (a device or socket)")
    with source:
        if size == 0:
            raise AudioFileError(f"audio file {name} is empty (0 bytes)")
        check_riff_complete(source, size, name)
        source.seek(0)
        try:
            with soundfile.SoundFile(source) as sound:
                rate = check_rate(sound.samplerate, f"sample rate of {name}")
                frames = sound.frames
                if 0 < frames < (1 << 62):
                    check_duration(frames, rate, f" in {name}", max_duration_s)
                data = sound.read(dtype="float32", always_2d=True)
        except InvalidAudioError:
            raise
        except Exception as exc:  # libsndfile's errors are RuntimeError/LibsndfileError/TypeError
            raise AudioFileError(f"cannot read audio file {name}: {exc}") from exc
    check_duration(len(data), rate, f" in {name}", max_duration_s)
    return data, rate


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


def resample(samples: np.ndarray, from_rate_hz: int, to_rate_hz: int,
             max_duration_s: float = MAX_AUDIO_S) -> np.ndarray:
    """High-quality resampling (libsoxr, VHQ); identity when the rates agree. The rate and the
    duration are checked first, so the output is never larger than max_duration_s of audio."""
    from_rate_hz = check_rate(from_rate_hz)
    check_duration(len(samples), from_rate_hz, "", max_duration_s)
    if from_rate_hz == to_rate_hz:
        return samples
    import soxr

    return soxr.resample(samples, from_rate_hz, to_rate_hz, quality="VHQ").astype(np.float32, copy=False)


def prepare_audio(audio, sample_rate_hz: int | None, target_rate_hz: int,
                  max_duration_s: float = MAX_AUDIO_S) -> tuple[np.ndarray, str | None]:
    """Turn a path or an array into mono float32 at target_rate_hz; returns (samples, file name or None).

    Raises InvalidAudioError for empty audio, NaN/Inf samples, integer overflow-prone dtypes, a
    missing or out-of-range sample rate for arrays, or audio longer than max_duration_s.
    """
    source = None
    if isinstance(audio, (str, Path, bytes)):
        source = os.fsdecode(audio) if isinstance(audio, bytes) else str(audio)
        data, rate = read_audio_file(audio, max_duration_s)
    else:
        if audio is None:
            raise InvalidAudioError("audio is None; pass a file path or an array of samples")
        data = np.asarray(audio)
        if sample_rate_hz is None:
            raise InvalidAudioError("sample_rate_hz is required when passing an array")
        rate = check_rate(sample_rate_hz)
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
    return np.ascontiguousarray(resample(mono, rate, target_rate_hz, max_duration_s), dtype=np.float32), source
