"""Hardening (issue 18 items 2, 6, 7; issue 17 items 6 and 7): hostile files, hostile model
folders, quiet failures. Each test is the reproducer of a failure that was seen, now refused with
a clear error (or handled), plus the bounded fuzzers (tools/fuzz/)."""

from __future__ import annotations

import asyncio
import ctypes
import errno
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parakeet_trt import AudioFileError, ContractViolation, InvalidAudioError, ModelError, Session, _core
from parakeet_trt import audio as audio_module
from parakeet_trt.audio import prepare_audio, read_audio_file
from parakeet_trt.errors import DurableSinkError
from parakeet_trt.models import demo_sample

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "python" / "parakeet_trt" / "models" / "demo"
PTRT_OK, PTRT_ERROR_MODEL, PTRT_ERROR_CONTRACT_VIOLATION = 0, 3, 4


def run_cli(*args, stdin=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "parakeet_trt.cli", *args], capture_output=True, timeout=timeout,
                          stdin=stdin)


@pytest.fixture(scope="module")
def demo_session():
    return Session("demo")


@pytest.fixture(scope="module")
def demo_wav_bytes() -> bytes:
    return demo_sample().read_bytes()


def wav_bytes(samples: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, subtype=subtype, format="WAV")
    return buffer.getvalue()


def speech(seconds: float = 1.0) -> np.ndarray:
    data, rate = soundfile.read(str(demo_sample()), dtype="float32")
    return data[: int(rate * seconds)]


# ---- item 2: sample-rate bomb ------------------------------------------------------------------

def test_a_one_hertz_header_is_refused_before_resampling(tmp_path, monkeypatch):
    """400 KB declaring 1 Hz asked soxr for 3.2e9 samples (12.6 GB, then SIGSEGV)."""
    data = bytearray(wav_bytes(np.zeros(200_000, np.float32), 16000))
    data[24:28] = struct.pack("<I", 1)
    data[28:32] = struct.pack("<I", 2)
    bomb = tmp_path / "bomb.wav"
    bomb.write_bytes(bytes(data))
    import soxr

    monkeypatch.setattr(soxr, "resample", lambda *a, **k: pytest.fail("resampled before the checks"))
    started = time.monotonic()
    with pytest.raises(InvalidAudioError, match=r"1 Hz is out of range: it must be a whole number of Hz in "
                                                r"\[1000, 384000\]"):
        prepare_audio(bomb, None, 16000)
    assert time.monotonic() - started < 2


def test_duration_is_checked_before_resampling(monkeypatch):
    import soxr

    monkeypatch.setattr(soxr, "resample", lambda *a, **k: pytest.fail("resampled before the duration check"))
    with pytest.raises(InvalidAudioError, match="over the maximum of 1 s"):
        prepare_audio(np.zeros(2 * 8000, np.float32), 8000, 16000, max_duration_s=1.0)
    long = np.zeros(1000 * int(audio_module.MAX_AUDIO_S + 1), np.float32)  # 14401 s at 1000 Hz
    with pytest.raises(InvalidAudioError, match=f"over the maximum of {audio_module.MAX_AUDIO_S:.0f} s"):
        prepare_audio(long, 1000, 16000)


@pytest.mark.parametrize("rate, message", [(16000.7, "not a whole number"), (1, "out of range"),
                                           (999, "out of range"), (384001, "out of range"), (0, "positive"),
                                           (True, "whole number"), ("16000", "whole number")])
def test_bad_rates_are_refused(rate, message):
    with pytest.raises(InvalidAudioError, match=message):
        prepare_audio(np.zeros(1600, np.float32), rate, 16000)


def test_whole_rates_of_any_numeric_type_are_accepted():
    for rate in (16000, 16000.0, np.int64(16000), np.float32(16000)):
        samples, _ = prepare_audio(np.zeros(1600, np.float32), rate, 16000)
        assert len(samples) == 1600
    samples, _ = prepare_audio(np.zeros(384, np.float32), 384000, 16000)
    assert len(samples) == 16


def test_live_stdin_rate_1_is_refused():
    result = run_cli("live", "--input", "-", "--stdin-rate", "1", "--ui", "none", stdin=subprocess.DEVNULL)
    assert result.returncode == 4, result.stderr
    assert b"--stdin-rate) 1 Hz is out of range" in result.stderr and b"[1000, 384000]" in result.stderr


def test_the_live_resampler_refuses_a_source_rate_out_of_range():
    """Every live source (file, stdin, microphone) reaches the model rate through DspStage."""
    from parakeet_trt.live.dsp import DspStage
    from parakeet_trt.live.sources import AudioBlock

    stage = DspStage(16000, vad="none")
    assert len(stage.process(AudioBlock(np.zeros(441, np.float32), 44100, 0.0)).samples) >= 0
    with pytest.raises(InvalidAudioError, match="source sample rate 1 Hz is out of range"):
        stage.process(AudioBlock(np.zeros(10, np.float32), 1, 0.0))


# ---- item 7 (files) and issue 17 items 6-7 ------------------------------------------------------

def test_an_empty_file_says_empty(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.wav is empty \(0 bytes\)"):
        read_audio_file(empty)
    result = run_cli("transcribe", "--model", "demo", str(empty))
    assert result.returncode == 4 and b"is empty (0 bytes)" in result.stderr
    assert b"Format not recognised" not in result.stderr
    header_only = tmp_path / "header_only.wav"
    header_only.write_bytes(wav_bytes(np.zeros(0, np.float32), 16000))
    for path, says in ((empty, b"is empty (0 bytes)"), (header_only, b"is empty (a header and 0 samples)")):
        result = run_cli("live", "--model", "demo", "--input", str(path), "--ui", "none")
        assert result.returncode == 4 and says in result.stderr, result.stderr


def test_a_data_chunk_shorter_than_the_file_is_refused(tmp_path, demo_session):
    """A header declaring 96 bytes (3 ms) of a 1 s file transcribed 3 ms and exited 0."""
    good = wav_bytes(speech(), 16000)
    short = bytearray(good)
    short[40:44] = struct.pack("<I", 96)
    path = tmp_path / "short_header.wav"
    path.write_bytes(bytes(short))
    with pytest.raises(AudioFileError, match="declares 96 bytes of audio.*header was written before the recording "
                                             "ended"):
        demo_session.transcribe(path)
    # Chunks after the data (LIST metadata), an odd-size pad byte or "unknown length" are fine.
    listed = tmp_path / "listed.wav"
    listed.write_bytes(good + b"LIST" + struct.pack("<I", 4) + b"INFO")
    unknown = bytearray(good)
    unknown[40:44] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "unknown.wav").write_bytes(bytes(unknown))
    reference = demo_session.transcribe(speech(), 16000).text
    assert demo_session.transcribe(listed).text == reference
    assert demo_session.transcribe(tmp_path / "unknown.wav").text == reference


def test_a_fifo_with_no_writer_is_an_error_not_a_hang(tmp_path, monkeypatch):
    monkeypatch.setattr(audio_module, "FIFO_WAIT_S", 0.5)
    fifo = tmp_path / "in.wav"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(AudioFileError, match="gave no data for 0 s|gave no data for 1 s"):
        read_audio_file(fifo)
    assert time.monotonic() - started < 3


def test_fifos_pipes_and_process_substitution_are_read(tmp_path, demo_session, demo_wav_bytes):
    reference = demo_session.transcribe(demo_sample()).text
    fifo = tmp_path / "in.wav"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(demo_wav_bytes))
    writer.start()
    assert demo_session.transcribe(fifo).text == reference
    writer.join()
    # A pipe named through /dev/fd (what /dev/stdin and <(...) are): "array is too big" before.
    read_end, write_end = os.pipe()
    feeder = threading.Thread(target=lambda: (os.write(write_end, demo_wav_bytes), os.close(write_end)))
    feeder.start()
    try:
        assert demo_session.transcribe(f"/dev/fd/{read_end}").text == reference
    finally:
        feeder.join()
        os.close(read_end)
    result = subprocess.run(["bash", "-c", f"{sys.executable} -m parakeet_trt.cli transcribe --model demo /dev/stdin "
                                           f"< <(cat {demo_sample()})"],
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert reference.strip() in result.stdout.decode()


def test_a_device_is_refused(demo_session):
    with pytest.raises(AudioFileError, match="not a regular file or a pipe"):
        demo_session.transcribe("/dev/zero")


def test_a_file_with_a_non_utf8_name_is_read(tmp_path, demo_session, demo_wav_bytes):
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff.wav"
    with open(raw, "wb") as f:
        f.write(demo_wav_bytes)
    reference = demo_session.transcribe(demo_sample()).text
    assert demo_session.transcribe(os.fsdecode(raw)).text == reference
    assert demo_session.transcribe(raw).text == reference
    result = run_cli("transcribe", "--model", "demo", os.fsdecode(raw))
    assert result.returncode == 0, result.stderr


def test_samples_beyond_2_24_are_invalid_audio_not_an_engine_failure(tmp_path, demo_session):
    audio = speech()
    for value in (1e19, -3e38, 16777217.0 * 2):
        bad = audio.copy()
        bad[100] = value
        with pytest.raises(InvalidAudioError, match=r"sample 100 is .*within \+-16777216"):
            demo_session.transcribe(bad, 16000)
    from parakeet_trt.streaming import StreamingSession

    stream = StreamingSession(demo_session)
    with pytest.raises(InvalidAudioError, match=r"sample 7 is .*within \+-16777216"):
        stream.push(np.full(1600, 1e19, np.float32) * (np.arange(1600) >= 7), 16000)
    edge = audio.copy()
    edge[100] = 16777216.0
    demo_session.transcribe(edge, 16000)  # the bound itself is accepted
    path = tmp_path / "loud.wav"
    bad = audio.copy()
    bad[5] = 1e19
    soundfile.write(path, bad, 16000, subtype="FLOAT")
    result = run_cli("transcribe", "--model", "demo", str(path))
    assert result.returncode == 4, result.stderr
    assert b"sample 5 is" in result.stderr


# ---- issue 17 item 7: a WAV on stdin -----------------------------------------------------------

def _stdin_blocks(data: bytes, **options):
    from parakeet_trt.live.sources import StdinSource

    source = StdinSource(stream=io.BytesIO(data), **options)

    async def collect():
        return [block async for block in source.blocks()]

    return source, asyncio.run(collect())


def test_stdin_wav_header_is_read_and_used():
    stereo = np.stack([speech(0.5), 0.5 * speech(0.5)], axis=1).astype(np.float32)
    data = wav_bytes(stereo, 8000, "FLOAT") + b"LIST" + struct.pack("<I", 8) + b"INFOjunk"
    source, blocks = _stdin_blocks(data, sample_rate_hz=16000, pcm_format="s16le", channels=1)
    assert source.sample_rate_hz == 8000 and source.channels == 2
    assert {b.sample_rate_hz for b in blocks} == {8000}
    played = np.concatenate([b.samples for b in blocks])
    expected = soundfile.read(io.BytesIO(data), dtype="float32")[0].mean(axis=1)
    np.testing.assert_allclose(played, expected, atol=1e-6)  # the header and the LIST chunk are not audio


def test_stdin_wav_of_another_format_is_refused_by_name():
    from parakeet_trt.live.sources import AudioSourceError

    with pytest.raises(AudioSourceError, match="format 1 with 24 bits"):
        _stdin_blocks(wav_bytes(speech(0.1), 16000, "PCM_24"))
    bad_rate = bytearray(wav_bytes(speech(0.1), 16000))
    bad_rate[24:28] = struct.pack("<I", 1)
    with pytest.raises(AudioSourceError, match=r"the stdin WAV header\) 1 Hz is out of range"):
        _stdin_blocks(bytes(bad_rate))


def test_raw_pcm_on_stdin_still_plays():
    pcm = (speech(0.2) * 32767).astype("<i2").tobytes()
    source, blocks = _stdin_blocks(pcm, sample_rate_hz=16000)
    played = np.concatenate([b.samples for b in blocks])
    assert len(played) == len(pcm) // 2 and source.sample_rate_hz == 16000


def test_cat_wav_into_live_equals_the_file_input(tmp_path, demo_wav_bytes):
    """`cat x.wav | live --input -` decoded the RIFF header as audio and printed garbage, exit 0."""
    def finals(events: Path) -> list[str]:
        return [e["text"] for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "final"]

    piped, played = tmp_path / "piped.jsonl", tmp_path / "file.jsonl"
    with open(demo_sample(), "rb") as stdin:
        result = run_cli("live", "--model", "demo", "--input", "-", "--ui", "none", "--events-out", str(piped),
                         stdin=stdin)
    assert result.returncode == 0, result.stderr
    assert b"stdin is a WAV stream: s16le, 16000 Hz, 1 channel(s)" in result.stderr
    result = run_cli("live", "--model", "demo", "--input", str(demo_sample()), "--no-realtime", "--ui", "none",
                     "--events-out", str(played))
    assert result.returncode == 0, result.stderr
    assert finals(piped) == finals(played) and "".join(finals(played)).strip()


# ---- item 7: the event log is the durable record -----------------------------------------------

class FullDisk(io.StringIO):
    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_the_event_log_is_a_durable_sink_error():
    from parakeet_trt.live.sinks.jsonl import JsonlSink

    sink = JsonlSink("events.jsonl", file=FullDisk())

    async def run():
        await sink.start()
        await sink.emit({"type": "patch", "seq": 1})

    with pytest.raises(DurableSinkError, match="No space left on device.*durable record"):
        asyncio.run(run())
    asyncio.run(sink.close())  # a failure already reported is not raised twice


def test_live_with_a_full_disk_exits_with_an_error():
    """It printed "sink jsonl failed and was dropped" and exited 0."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    started = time.monotonic()
    result = run_cli("live", "--model", "demo", "--input", str(demo_sample()), "--ui", "none",
                     "--events-out", "/dev/full")  # real time: the failure must stop the input
    assert result.returncode == 1, result.stderr
    assert b"cannot write the event log /dev/full: No space left on device" in result.stderr
    assert b"was dropped" not in result.stderr and b"Traceback" not in result.stderr
    assert time.monotonic() - started < 10  # 12 s of audio in real time: stopped at the first event


# ---- item 6: hostile or corrupt model folders --------------------------------------------------

@pytest.fixture()
def model_copy(tmp_path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(DEMO, out, ignore=shutil.ignore_patterns("*.nemo"))
    return out


def edit_json(path: Path, edit) -> None:
    document = json.loads(path.read_text())
    edit(document)
    path.write_text(json.dumps(document, indent=2))


def _set(document: dict, dotted: str, value) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        document = document[key]
    document[keys[-1]] = value


@pytest.fixture(scope="module")
def c_lib():
    from test_c_abi import find_library

    lib = ctypes.CDLL(str(find_library()))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    lib.ptrt_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_model_destroy.argtypes = [ctypes.c_void_p]
    return lib


def assert_refused(folder: Path, c_lib, error, status: int, *fragments: str) -> None:
    """Refused by the Python binding and the C ABI alike, quickly, naming the fragments."""
    started = time.monotonic()
    with pytest.raises(error) as caught:
        _core.Model.load(str(folder), True)
    model = ctypes.c_void_p()
    assert c_lib.ptrt_model_load(str(folder).encode(), None, ctypes.byref(model)) == status
    message = c_lib.ptrt_last_error().decode()
    assert not model.value
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)
        assert fragment in message, message
    assert time.monotonic() - started < 5


META_PATHS = [("contract.file", "../../../../dev/zero", "leaves the model folder ('..')"),
              ("contract.file", "/dev/zero", "is an absolute path"),
              ("vocabulary.file", "../model/vocab.txt", "leaves the model folder"),
              ("decoder_step.file", "/etc/passwd", "is an absolute path"),
              ("graphs.encoder.file", "sub/../../encoder.onnx", "leaves the model folder"),
              ("graphs.encoder.external_data", ["../../etc/passwd"], "leaves the model folder")]


@pytest.mark.parametrize("field, value, says", META_PATHS)
def test_paths_in_model_meta_stay_inside_the_folder(model_copy, c_lib, field, value, says):
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, field, value))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, field, says)


def test_contract_paths_stay_inside_the_folder(model_copy, c_lib):
    contract = model_copy / "demo.contract.json"
    edit_json(contract, lambda c: _set(c, "engines.encoder.file", "../../encoder.onnx"))
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "contract.sha256", _core_sha256(contract)))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "engines.encoder.file", "leaves the model folder")


def _core_sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_symlink_out_of_the_folder_is_refused(model_copy, c_lib, tmp_path):
    outside = tmp_path / "elsewhere.bin"
    shutil.copy(model_copy / "decoder_step.bin", outside)
    (model_copy / "step_link.bin").symlink_to(outside)
    edit_json(model_copy / "model_meta.json", lambda m: (_set(m, "decoder_step.file", "step_link.bin"),
                                                          m["artifacts"].update({"step_link.bin":
                                                                                 m["artifacts"]["decoder_step.bin"]})))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "decoder_step.file = 'step_link.bin'",
                   "outside the model folder")
    # A link that stays inside the folder is fine.
    (model_copy / "step_link.bin").unlink()
    (model_copy / "step_link.bin").symlink_to("decoder_step.bin")
    _core.Model.load(str(model_copy), True)


def test_devices_fifos_and_oversized_files_are_refused(model_copy, c_lib):
    os.mkfifo(model_copy / "contract.fifo")
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "contract.file", "contract.fifo"))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "contract.file = 'contract.fifo'",
                   "not a regular file")
    (model_copy / "dev").symlink_to("/dev")  # inside the folder by name, /dev/zero in fact
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "contract.file", "dev/zero"))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "contract.file = 'dev/zero'",
                   "outside the model folder")
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "contract.file", "demo.contract.json"))
    with open(model_copy / "huge_vocab.txt", "wb") as f:
        f.truncate(65 << 20)  # sparse: 65 MiB over the 64 MiB cap, no disk used
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "vocabulary.file", "huge_vocab.txt"))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "vocabulary.file = 'huge_vocab.txt' is 68157440 "
                   "bytes, over the cap of 67108864 bytes")


NUMBERS = [("features.n_fft", 2**24, "n_fft: expected a power of two in [8, 65536], got 16777216"),
           ("features.sample_rate_hz", 1, "sample_rate_hz: expected in [1000, 384000], got 1"),
           ("features.n_mels", 100000, "n_mels: expected in [1, 1024]"),
           ("features.preemph", 1e30, "preemph: expected in [0, 1]"),
           ("encoder.d_model", 10**6, "encoder.d_model = 1000000 is out of range [1, 65536]"),
           ("encoder.max_encoder_frames", 2**40, "encoder.max_encoder_frames = 1099511627776 is out of range"),
           ("encoder.subsampling_factor", 128, "encoder.subsampling_factor = 128 is out of range [2, 64]"),
           ("decoding.max_symbols", 10**6, "decoding.max_symbols = 1000000 is out of range [1, 1000]"),
           ("decoding.durations", [0, 1, 2, 3, 10**6], "decoding.durations[4] = 1000000 is out of range"),
           ("decoder.pred_hidden", 10**6, "decoder.pred_hidden = 1000000 is out of range [1, 65536]"),
           ("decoder.pred_rnn_layers", 10**4, "decoder.pred_rnn_layers = 10000 is out of range [1, 64]")]


@pytest.mark.parametrize("field, value, says", NUMBERS)
def test_numbers_out_of_range_are_refused_naming_the_field(model_copy, c_lib, field, value, says):
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, field, value))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, says)


def test_a_frame_of_1e12_ms_is_refused_at_load(model_copy, c_lib):
    """A frame of ~1e12 ms made chunk_ms=160 round to 0 frames and ptrt_stream_push spin forever."""
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "encoder.frame_stride_s", 1e9))
    assert_refused(model_copy, c_lib, ContractViolation, PTRT_ERROR_CONTRACT_VIOLATION, "encoder.frame_stride_s",
                   "hop_length * subsampling_factor / sample_rate_hz")
    # The frame the features imply is bounded too: 65536 * 64 / 1000 Hz = 4194 s.
    edit_json(model_copy / "model_meta.json", lambda m: (_set(m, "encoder.frame_stride_s", 0.08),
                                                          _set(m, "features.sample_rate_hz", 1000),
                                                          _set(m, "features.highfreq_hz", 500.0),
                                                          _set(m, "features.hop_length", 65536),
                                                          _set(m, "encoder.subsampling_factor", 64)))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, "one encoder frame", "out of range [0.001, 10] s")


@pytest.mark.parametrize("field, value, says", [
    ("n_layers", 10**6, "streaming.n_layers = 1000000 is out of range"),
    ("last_channel_cache_size", 2**40, "streaming.last_channel_cache_size = 1099511627776 is out of range"),
    ("window_frames", 10**7, "streaming.window_frames = 10000000 is out of range"),
    ("last_channel_cache_size", 90000, "streaming cache_last_channel (n_layers x last_channel_cache_size x d_model "
                                       "floats) = 2211840000 is out of range [1, 268435456]")])
def test_streaming_contract_numbers_are_bounded(model_copy, c_lib, field, value, says):
    cache_aware = json.loads((REPO / "contracts" / "parakeet-tdt-0.6b-v3.cache_aware.contract.json").read_text())
    contract = model_copy / "demo.contract.json"

    def add_streaming(c):
        c["streaming"] = cache_aware["streaming"]
        c["streaming"][field] = value
        c["engines"]["encoder_streaming"] = cache_aware["engines"]["encoder_streaming"]

    edit_json(contract, add_streaming)
    edit_json(model_copy / "model_meta.json", lambda m: _set(m, "contract.sha256", _core_sha256(contract)))
    assert_refused(model_copy, c_lib, ModelError, PTRT_ERROR_MODEL, says)


# ---- fuzzers, bounded --------------------------------------------------------------------------

def _run_fuzz(tmp_path, *args) -> dict:
    out = tmp_path / "fuzz.json"
    result = subprocess.run([sys.executable, str(REPO / "tools" / "fuzz" / "run_fuzz.py"), "--out", str(out), *args],
                            capture_output=True, timeout=300)
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    return json.loads(out.read_text())


def test_fuzz_audio_through_the_python_api(tmp_path):
    figures = _run_fuzz(tmp_path, "--targets", "python-audio", "--seconds", "8")["targets"]["python-audio"]
    assert figures["cases"] >= 40 and not figures["crashes"] and not figures["hangs"]
    assert figures["statuses"].get("ok", 0) > 0 and len(figures["statuses"]) > 1  # both outcomes were reached


def test_fuzz_audio_and_model_json_through_the_c_abi(tmp_path):
    """The driver built against the library under test (CI also runs it under ASan+UBSan)."""
    from test_c_abi import find_library

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler")
    library = find_library()
    driver = tmp_path / "fuzz_driver"
    subprocess.run([compiler, "-std=c99", "-O1", "-Wall", "-Werror", f"-I{REPO / 'cpp' / 'include'}",
                    str(REPO / "tools" / "fuzz" / "fuzz_driver.c"), str(library), f"-Wl,-rpath,{library.parent}", "-lm",
                    "-o", str(driver)], check=True)
    figures = _run_fuzz(tmp_path, "--driver", str(driver), "--targets", "capi-audio,capi-model", "--seconds", "16")
    for name in ("capi-audio", "capi-model"):
        target = figures["targets"][name]
        assert target["cases"] >= 40 and not target["crashes"] and not target["hangs"], target
        assert "0" in target["statuses"] and len(target["statuses"]) > 1, target  # loads and refusals both reached
