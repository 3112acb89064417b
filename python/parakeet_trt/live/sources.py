"""Audio sources: async iterators of AudioBlock (mono float32 at the source's own rate).

* ``FileSource``: a file played in real time (each block arrives when its last sample would have
  been captured) or as fast as the consumer takes it (``realtime=False``).
* ``StdinSource``: raw PCM on stdin (s16le or f32le, interleaved channels, a rate in
  [MIN_RATE_HZ, MAX_RATE_HZ]); a WAV stream (``cat x.wav |``) is recognised by its RIFF header,
  whose rate, channels and format are used instead of the options (other WAV formats are refused).
* ``MicSource``: the microphone through ``sounddevice`` (PortAudio); a missing library or device
  is an AudioSourceError that says what is missing.

``capture_time`` is ``time.monotonic()`` at the capture of a block's last sample: the clock every
latency in the pipeline is measured on.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from parakeet_trt.audio import check_rate, read_audio_file, to_mono
from parakeet_trt.errors import InvalidAudioError, ParakeetError


class AudioSourceError(InvalidAudioError):
    """An audio source cannot start or broke (no microphone, unreadable file, bad PCM format).
    The CLI exits with the audio error code (4)."""


@dataclass
class AudioBlock:
    samples: np.ndarray          # mono float32
    sample_rate_hz: int
    capture_time: float          # time.monotonic() when the last sample was captured
    lossless: bool = True        # False: the source cannot wait (a microphone); overload drops audio
    vad_silence_ms: float = -1.0  # trailing VAD silence at the block's end (set by the DSP stage; < 0: unknown)
    speech: bool | None = None    # VAD decision for the block (None: no VAD)
    meta: dict = field(default_factory=dict)


class FileSource:
    def __init__(self, path: str | Path, *, realtime: bool = True, block_ms: int = 20):
        if block_ms <= 0:
            raise ValueError(f"block_ms must be > 0, got {block_ms}")
        try:
            data, rate = read_audio_file(path)
        except ParakeetError as error:
            raise AudioSourceError(str(error)) from None
        self.path = Path(path)
        self.samples = np.ascontiguousarray(to_mono(data), dtype=np.float32)
        if len(self.samples) == 0:
            raise AudioSourceError(f"audio file {path} is empty (a header and 0 samples)")
        self.sample_rate_hz = rate
        self.realtime = realtime
        self.block = max(1, rate * block_ms // 1000)
        self.describe = f"file {self.path.name} ({len(self.samples) / rate:.2f} s at {rate} Hz, " \
                        f"{'real time' if realtime else 'as fast as possible'})"

    async def blocks(self):
        start = time.monotonic()
        for begin in range(0, len(self.samples), self.block):
            end = min(begin + self.block, len(self.samples))
            if self.realtime:
                due = start + end / self.sample_rate_hz
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                capture = due
            else:
                await asyncio.sleep(0)
                capture = time.monotonic()
            yield AudioBlock(self.samples[begin:end], self.sample_rate_hz, capture)


PCM_FORMATS = {"s16le": np.dtype("<i2"), "f32le": np.dtype("<f4")}


class StdinSource:
    def __init__(self, *, sample_rate_hz: int = 16000, pcm_format: str = "s16le", channels: int = 1,
                 block_ms: int = 20, stream=None):
        if pcm_format not in PCM_FORMATS:
            raise AudioSourceError(f"unknown PCM format {pcm_format!r}; use one of {sorted(PCM_FORMATS)}")
        self.block_ms = block_ms
        self._set_format(sample_rate_hz, pcm_format, channels, "--stdin-rate")
        self.stream = stream if stream is not None else sys.stdin.buffer
        self.describe = f"stdin ({pcm_format}, {sample_rate_hz} Hz, {channels} channel(s); a WAV header is used if present)"
        self._remaining: int | None = None  # bytes left in a WAV stream's data chunk (None: to the end)

    def _set_format(self, sample_rate_hz, pcm_format: str, channels: int, what: str) -> None:
        try:
            rate = check_rate(sample_rate_hz, f"stdin PCM rate ({what})")
        except InvalidAudioError as error:
            raise AudioSourceError(str(error)) from None
        if not 1 <= channels <= 64:
            raise AudioSourceError(f"stdin PCM needs 1 to 64 channels, got {channels}")
        self.sample_rate_hz, self.channels, self.dtype = rate, channels, PCM_FORMATS[pcm_format]
        self.frame_bytes = self.dtype.itemsize * channels
        self.block_bytes = max(1, rate * self.block_ms // 1000) * self.frame_bytes

    def _read_exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            raw = self.stream.read(count - len(data))
            if not raw:
                break
            data += raw
        return data

    def _read_wav_header(self, riff: bytes) -> None:
        """After "RIFF....WAVE": read chunks up to "data", take rate/channels/format from "fmt "."""
        fmt = None
        while True:
            header = self._read_exactly(8)
            if len(header) < 8:
                raise AudioSourceError("stdin WAV stream ended before its data chunk")
            chunk_id, size = header[:4], int.from_bytes(header[4:8], "little")
            if chunk_id == b"data":
                break
            if size > 1 << 20:
                raise AudioSourceError(f"stdin WAV chunk {chunk_id!r} declares {size} bytes before the audio; "
                                       "not a WAV stream this reads")
            body = self._read_exactly(size + (size & 1))
            if chunk_id == b"fmt ":
                fmt = body
        if fmt is None or len(fmt) < 16:
            raise AudioSourceError("stdin WAV stream has no valid fmt chunk before its data")
        tag, channels, rate = (int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"),
                               int.from_bytes(fmt[4:8], "little"))
        bits = int.from_bytes(fmt[14:16], "little")
        if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the subformat's first two bytes
            tag = int.from_bytes(fmt[24:26], "little")
        formats = {(1, 16): "s16le", (3, 32): "f32le"}
        if (tag, bits) not in formats:
            raise AudioSourceError(f"stdin WAV stream is format {tag} with {bits} bits per sample; live reads 16-bit "
                                   "PCM or 32-bit float WAV (convert it, e.g. sox in.wav -b 16 -e signed -t wav -)")
        self._set_format(rate, formats[(tag, bits)], channels, "the stdin WAV header")
        self._remaining = None if size in (0, 0xFFFFFFFF) else size  # 0 / all ones: written before the end
        print(f"[live] stdin is a WAV stream: {formats[(tag, bits)]}, {rate} Hz, {channels} channel(s) "
              f"(from its header; --stdin-rate/--stdin-format/--stdin-channels ignored)", file=sys.stderr, flush=True)

    def _read(self, count: int) -> bytes:
        if self._remaining is not None:
            count = min(count, self._remaining)
            if count == 0:
                return b""  # the declared audio is over: what follows (LIST chunks...) is not audio
        raw = self.stream.read(count)
        if self._remaining is not None:
            self._remaining -= len(raw)
        return raw

    def _start(self) -> bytes:
        """The first bytes: a WAV header is consumed and applied; raw PCM is returned to be played."""
        head = self._read_exactly(12)
        if len(head) == 12 and head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            self._read_wav_header(head)
            return b""
        if head[:4] in (b"RIFF", b"RIFX", b"RF64"):
            raise AudioSourceError("stdin starts with a RIFF header that is not a WAVE file; send raw PCM or a WAV")
        return head

    def _convert(self, raw: bytes) -> np.ndarray:
        frames = np.frombuffer(raw, dtype=self.dtype).reshape(-1, self.channels)
        if self.dtype.kind == "i":
            frames = frames.astype(np.float32) / 32768.0
        mono = to_mono(frames.astype(np.float32, copy=False))
        if not np.all(np.isfinite(mono)):
            raise AudioSourceError("stdin PCM has NaN/Inf samples (is the format f32le?)")
        return np.ascontiguousarray(mono, dtype=np.float32)

    async def blocks(self):
        loop = asyncio.get_running_loop()
        pending = await loop.run_in_executor(None, self._start)
        while True:
            raw = await loop.run_in_executor(None, self._read, self.block_bytes)
            if not raw:
                break
            pending += raw
            usable = len(pending) - len(pending) % self.frame_bytes
            if usable:
                yield AudioBlock(self._convert(pending[:usable]), self.sample_rate_hz, time.monotonic())
                pending = pending[usable:]
        if pending:
            print(f"[live] stdin ended inside a frame: {len(pending)} trailing bytes ignored", file=sys.stderr)


def _sounddevice():
    try:
        import sounddevice
    except ImportError:
        raise AudioSourceError("microphone input needs the sounddevice package: pip install sounddevice") from None
    except OSError as error:  # sounddevice raises OSError when the PortAudio library is missing
        raise AudioSourceError(f"microphone input needs PortAudio ({error}); install it "
                               "(Debian/Ubuntu: apt-get install libportaudio2) or use --input FILE or --input -") from None
    return sounddevice


class MicSource:
    def __init__(self, *, device=None, sample_rate_hz: int | None = None, block_ms: int = 20):
        sd = _sounddevice()
        try:
            info = sd.query_devices(device, kind="input")
        except Exception as error:  # PortAudioError / ValueError: no such device or no input at all
            raise AudioSourceError(f"no microphone available ({error}); use --input FILE or --input -") from None
        self.sd = sd
        self.device = device
        self.sample_rate_hz = int(sample_rate_hz or info["default_samplerate"])
        self.block = max(1, self.sample_rate_hz * block_ms // 1000)
        self.describe = f"microphone {info['name']!r} at {self.sample_rate_hz} Hz"

    async def blocks(self):
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        # PortAudio's thread: copy the block and hand it to the event loop; never blocks.
        def on_audio(indata, frames, time_info, status):
            block = AudioBlock(indata[:, 0].astype(np.float32, copy=True), self.sample_rate_hz, time.monotonic(),
                               lossless=False, meta={"overflow": bool(status)})
            loop.call_soon_threadsafe(queue.put_nowait, block)

        try:
            stream = self.sd.InputStream(device=self.device, channels=1, samplerate=self.sample_rate_hz,
                                         blocksize=self.block, dtype="float32", callback=on_audio)
            stream.start()
        except Exception as error:
            raise AudioSourceError(f"cannot open the microphone: {error}") from None
        try:
            while True:
                yield await queue.get()
        finally:
            stream.stop()
            stream.close()


def open_source(spec: str, *, realtime: bool = True, stdin_rate_hz: int = 16000, stdin_format: str = "s16le",
                stdin_channels: int = 1, mic_device=None):
    """``mic``, ``-`` (stdin PCM) or a file path."""
    if spec == "mic":
        return MicSource(device=mic_device)
    if spec == "-":
        return StdinSource(sample_rate_hz=stdin_rate_hz, pcm_format=stdin_format, channels=stdin_channels)
    return FileSource(spec, realtime=realtime)
