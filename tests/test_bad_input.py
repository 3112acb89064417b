"""Bad input gets a clear error that names the problem, never a crash: audio, files, models, CLI."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

import parakeet_trt
from parakeet_trt import (AudioFileError, ContractViolation, InvalidAudioError, ModelError, ParakeetError)


@pytest.fixture()
def model_copy(tiny_export_dir, tmp_path) -> Path:
    out = tmp_path / "model"
    shutil.copytree(tiny_export_dir, out)
    return out


def _rewrite_meta(model_dir: Path, edit) -> None:
    meta = json.loads((model_dir / "model_meta.json").read_text())
    edit(meta)
    (model_dir / "model_meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


# ---- audio --------------------------------------------------------------------------------------

def test_empty_audio(tiny_session):
    with pytest.raises(InvalidAudioError, match="empty"):
        tiny_session.transcribe(np.zeros(0, np.float32), 16000)


@pytest.mark.parametrize("bad, word", [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_non_finite_samples_name_the_index(tiny_session, bad, word):
    audio = np.zeros(8000, np.float32)
    audio[1234] = bad
    with pytest.raises(InvalidAudioError, match=f"sample 1234 is {word}"):
        tiny_session.transcribe(audio, 16000)


def test_array_needs_a_rate_and_a_sane_dtype(tiny_session):
    with pytest.raises(InvalidAudioError, match="sample_rate_hz is required"):
        tiny_session.transcribe(np.zeros(100, np.float32))
    with pytest.raises(InvalidAudioError, match="dtype"):
        tiny_session.transcribe(np.zeros(100, np.complex64), 16000)
    with pytest.raises(InvalidAudioError, match="positive"):
        tiny_session.transcribe(np.zeros(100, np.float32), 0)


def test_channels_are_averaged(tiny_session, speech_signal):
    stereo = np.stack([speech_signal, 0.5 * speech_signal], axis=1).astype(np.float32)
    expected = tiny_session.transcribe((0.75 * speech_signal).astype(np.float32), 16000)
    assert tiny_session.transcribe(stereo, 16000).token_ids == expected.token_ids


def test_channels_first_arrays_are_refused(tiny_session, speech_signal):
    with pytest.raises(InvalidAudioError, match="frames, channels"):
        tiny_session.transcribe(np.stack([speech_signal, speech_signal]), 16000)


def test_integer_pcm_is_scaled(tiny_session, speech_signal):
    int16 = (np.clip(speech_signal, -1, 1) * 32767).astype(np.int16)
    expected = tiny_session.transcribe(int16.astype(np.float32) / 32768.0, 16000)
    assert tiny_session.transcribe(int16, 16000).token_ids == expected.token_ids
    uint8 = np.array([0, 128, 255], np.uint8)
    from parakeet_trt.audio import prepare_audio
    samples, _ = prepare_audio(uint8, 16000, 16000)
    np.testing.assert_allclose(samples, [-1.0, 0.0, 127 / 128])


def test_other_rates_are_resampled(tiny_session, speech_signal):
    import soxr

    reference = tiny_session.transcribe(speech_signal, 16000)
    at_44k = soxr.resample(speech_signal, 16000, 44100, quality="VHQ")
    again = tiny_session.transcribe(at_44k, 44100)
    assert again.audio_duration_s == pytest.approx(reference.audio_duration_s, abs=1e-3)
    # Resampling twice is not bit-exact, but the decoded text barely moves.
    common = sum(a == b for a, b in zip(again.token_ids, reference.token_ids))
    assert common >= 0.8 * len(reference.token_ids)


def test_shorter_than_one_hop_is_empty_not_an_error(tiny_session):
    result = tiny_session.transcribe(np.full(100, 0.1, np.float32), 16000)
    assert result.token_ids == [] and result.text == ""


def test_missing_unreadable_and_truncated_files(tiny_session, tmp_path, speech_signal):
    with pytest.raises(AudioFileError, match="not found"):
        tiny_session.transcribe(tmp_path / "nope.wav")
    with pytest.raises(AudioFileError, match="directory"):
        tiny_session.transcribe(tmp_path)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(range(200)))
    with pytest.raises(AudioFileError, match="garbage.wav"):
        tiny_session.transcribe(garbage)
    text = tmp_path / "notes.flac"
    text.write_text("this is not audio")
    with pytest.raises(AudioFileError, match="notes.flac"):
        tiny_session.transcribe(text)
    good = tmp_path / "good.wav"
    soundfile.write(good, speech_signal, 16000, subtype="PCM_16")
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2 + 1])
    with pytest.raises(AudioFileError, match="truncated"):
        tiny_session.transcribe(truncated)
    header_only = tmp_path / "header_only.wav"
    header_only.write_bytes(good.read_bytes()[:44])
    with pytest.raises(InvalidAudioError):
        tiny_session.transcribe(header_only)


def test_wav_fuzz_never_crashes(tiny_session, tmp_path, speech_signal):
    good = tmp_path / "good.wav"
    soundfile.write(good, speech_signal[:8000], 16000, subtype="PCM_16")
    original = bytearray(good.read_bytes())
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "error": 0}
    for i in range(150):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 8))):
            position = int(rng.integers(0, 64)) if rng.random() < 0.7 else int(rng.integers(0, len(data)))
            data[position] = int(rng.integers(0, 256))
        if rng.random() < 0.2:
            data = data[: int(rng.integers(0, len(data)))]
        path = tmp_path / f"fuzz{i}.wav"
        path.write_bytes(bytes(data))
        try:
            tiny_session.transcribe(path)
            outcomes["ok"] += 1
        except ParakeetError:
            outcomes["error"] += 1
    print(outcomes)
    assert outcomes["error"] > 0 and outcomes["ok"] > 0


# ---- models -------------------------------------------------------------------------------------

def test_missing_model_folder(tmp_path):
    with pytest.raises(ModelError, match="model not found"):
        parakeet_trt.Session(tmp_path / "nowhere")
    with pytest.raises(ModelError, match="no model_meta.json"):
        parakeet_trt.Session(tmp_path)
    with pytest.raises(ModelError, match="export it first"):
        parakeet_trt.Session(tmp_path / "model.nemo")


def test_missing_artifact(model_copy):
    (model_copy / "decoder_step.bin").unlink()
    with pytest.raises(ModelError, match="decoder_step.bin"):
        parakeet_trt.Session(model_copy)


def test_corrupted_weights_fail_the_hash_then_the_shape_check(model_copy):
    blob = model_copy / "decoder_step.bin"
    blob.write_bytes(blob.read_bytes()[:-4096])
    with pytest.raises(ContractViolation, match="decoder_step.bin sha256"):
        parakeet_trt.Session(model_copy)
    with pytest.raises(ModelError, match="truncated"):
        parakeet_trt.Session(model_copy, verify_hashes=False)


def test_corrupted_encoder_graph(model_copy):
    graph = model_copy / "encoder.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = b"\xff" * 64
    graph.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ContractViolation, match="encoder.onnx sha256"):
        parakeet_trt.Session(model_copy)
    with pytest.raises(ModelError, match="ONNX Runtime cannot load"):
        parakeet_trt.Session(model_copy, verify_hashes=False)


def test_vocabulary_that_does_not_match_the_graphs(model_copy):
    vocab = model_copy / "vocab.txt"
    lines = vocab.read_text(encoding="utf-8").splitlines()
    vocab.write_text("\n".join(lines[:-3]) + "\n", encoding="utf-8")
    with pytest.raises(ContractViolation, match="vocab.txt sha256"):
        parakeet_trt.Session(model_copy)
    with pytest.raises(ContractViolation, match=r"vocabulary.size \(vocab.txt lines\): expected"):
        parakeet_trt.Session(model_copy, verify_hashes=False)

    def shrink(meta):
        meta["vocabulary"]["size"] = len(lines) - 3
    _rewrite_meta(model_copy, shrink)
    with pytest.raises(ContractViolation, match="vocabulary.size: expected"):
        parakeet_trt.Session(model_copy, verify_hashes=False)


def test_duration_set_that_does_not_match_the_joint(model_copy):
    def more_durations(meta):
        meta["decoding"]["durations"] = [0, 1, 2, 3, 4, 5]
    _rewrite_meta(model_copy, more_durations)
    # the contract names the changed field before the joint-width check would
    with pytest.raises(ContractViolation, match=r"decoding.durations: expected \[0, 1, 2, 3, 4\]"):
        parakeet_trt.Session(model_copy, verify_hashes=False)


def test_unsupported_feature_setting(model_copy):
    def reflect(meta):
        meta["features"]["stft_pad_mode"] = "reflect"
    _rewrite_meta(model_copy, reflect)
    with pytest.raises(ModelError, match="stft_pad_mode"):
        parakeet_trt.Session(model_copy)


def test_model_meta_fuzz_never_crashes(model_copy):
    from parakeet_trt import _core

    original = (model_copy / "model_meta.json").read_bytes()
    rng = np.random.default_rng(1)
    errors = 0
    for _ in range(300):
        data = bytearray(original)
        for _ in range(int(rng.integers(1, 6))):
            data[int(rng.integers(0, len(data)))] = int(rng.choice(list(b'{}[]",:0123456789-eE.tfn \\')))
        if rng.random() < 0.2:
            data = data[: int(rng.integers(0, len(data)))]
        (model_copy / "model_meta.json").write_bytes(bytes(data))
        try:
            _core.Model.load(str(model_copy), False)
        except ParakeetError:
            errors += 1
    assert errors > 250


def test_audio_longer_than_the_positional_table_is_refused(model_copy):
    def tiny_table(meta):
        meta["encoder"]["max_encoder_frames"] = 10
    _rewrite_meta(model_copy, tiny_table)
    # an export with a 10-frame table: its contract says so too
    contract_path = model_copy / json.loads((model_copy / "model_meta.json").read_text())["contract"]["file"]
    contract = json.loads(contract_path.read_text())
    contract["encoder"]["max_encoder_frames"] = 10
    contract_path.write_text(json.dumps(contract))
    session = parakeet_trt.Session(model_copy, verify_hashes=False)
    with pytest.raises(InvalidAudioError, match="longer than this export's encoder supports"):
        session.transcribe(np.zeros(16000, np.float32), 16000)


# ---- CLI ----------------------------------------------------------------------------------------

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "parakeet_trt.cli", *map(str, args)], capture_output=True, text=True)


def test_cli_exit_codes_and_messages(tiny_export_dir, tmp_path, speech_signal):
    good = tmp_path / "good.wav"
    soundfile.write(good, speech_signal, 16000)
    result = _cli("transcribe", "--model", tiny_export_dir, "--json", tmp_path / "missing.wav", good)
    assert result.returncode == 4
    assert "missing.wav" in result.stderr and "not found" in result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 1 and lines[0]["file"] == str(good)  # the good file was still transcribed

    result = _cli("transcribe", "--model", tmp_path / "no_model", good)
    assert result.returncode == 3 and "model not found" in result.stderr
    assert "Traceback" not in result.stderr

    nan_wav = tmp_path / "nan.wav"
    bad = speech_signal.copy()
    bad[99] = np.nan
    soundfile.write(nan_wav, bad, 16000, subtype="FLOAT")
    result = _cli("transcribe", "--model", tiny_export_dir, nan_wav)
    assert result.returncode == 4 and "sample 99 is NaN" in result.stderr

    corrupted = tmp_path / "corrupted_model"
    shutil.copytree(tiny_export_dir, corrupted)
    (corrupted / "decoder_step.bin").write_bytes(b"\0" * 128)
    result = _cli("transcribe", "--model", corrupted, good)
    assert result.returncode == 5 and "decoder_step.bin sha256" in result.stderr
    assert "Traceback" not in result.stderr
