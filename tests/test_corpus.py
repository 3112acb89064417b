"""The synthetic corpus (parakeet_trt.training.corpus): determinism, held-out split, text, audio, manifest."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from parakeet_trt.testing.signals import espeak_available
from parakeet_trt.training import corpus as C

REPO = Path(__file__).resolve().parents[1]
needs_espeak = pytest.mark.skipif(not espeak_available(), reason="espeak-ng not installed")
needs_wordlist = pytest.mark.skipif(not C.WORDLIST_PATH.is_file(), reason="wamerican not installed")
TOKENIZER_CHARS = set("abcdefghijklmnopqrstuvwxyz' ")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- seeds and texts (no synthesis) -----------------------------------------------------------

def test_utterance_seeds_are_disjoint_between_splits_and_stable():
    train = {C.utterance_seed("train", s, i) for s in range(3) for i in range(2000)}
    evals = {C.utterance_seed("eval", s, i) for s in range(3) for i in range(2000)}
    assert len(train) == 6000 and len(evals) == 6000
    assert train.isdisjoint(evals)
    assert all(s % 2 == 0 for s in train) and all(s % 2 == 1 for s in evals)
    assert C.utterance_seed("train", 0, 5) == C.utterance_seed("train", 0, 5)
    assert C.utterance_seed("train", 0, 5) != C.utterance_seed("train", 1, 5)
    assert C.split_of_seed(C.utterance_seed("eval", 7, 3)) == "eval"


@needs_wordlist
def test_texts_disjoint_between_splits_and_deterministic():
    train = [C.plan_utterance(C.utterance_seed("train", 0, i)).text for i in range(1500)]
    evals = [C.plan_utterance(C.utterance_seed("eval", 0, i)).text for i in range(400)]
    again = [C.plan_utterance(C.utterance_seed("train", 0, i)).text for i in range(1500)]
    assert train == again
    assert set(train).isdisjoint(evals)
    assert all(C.text_split(t) == "train" for t in train) and all(C.text_split(t) == "eval" for t in evals)
    # Varied language: many distinct sentences, every template used, reasonable word counts.
    assert len(set(train)) > 1400
    templates = {C.plan_utterance(C.utterance_seed("train", 0, i)).template for i in range(300)}
    assert templates == set(C.TEMPLATES)
    lengths = [len(t.split()) for t in train]
    assert 1 <= min(lengths) and max(lengths) <= 20 and 4 <= np.mean(lengths) <= 10


@needs_wordlist
def test_text_uses_only_tokenizer_characters_and_is_normalized():
    texts = [C.plan_utterance(C.utterance_seed(s, 3, i)).text for s in C.SPLITS for i in range(800)]
    for text in texts:
        assert set(text) <= TOKENIZER_CHARS, text
        assert C.TEXT_RE.match(text), text
        assert C.normalize_text(text) == text
    assert any("'" in t for t in texts)  # contractions reach the tokenizer
    words = {w for t in texts for w in t.split()}
    assert len(words) > 500


def test_normalize_text_and_numbers():
    assert C.normalize_text("  The Cat's  HAT, 42 well-known 'quoted' ") == "the cat's hat well known quoted"
    assert C.normalize_text("Don't!") == "don't"
    assert C.number_to_words(0) == "zero"
    assert C.number_to_words(342) == "three hundred forty two"
    assert C.number_to_words(90) == "ninety"
    assert C.number_to_words(100000) == "one hundred thousand"
    assert C.number_to_words(999999) == "nine hundred ninety nine thousand nine hundred ninety nine"
    assert C.year_to_words(1984) == "nineteen eighty four"
    assert C.year_to_words(2005) == "two thousand five"
    assert C.year_to_words(1905) == "nineteen oh five"
    with pytest.raises(ValueError, match="999999"):
        C.number_to_words(1_000_000)


@needs_wordlist
def test_plan_draws_within_documented_ranges():
    plans = [C.plan_utterance(C.utterance_seed("train", 1, i)) for i in range(400)]
    assert {p.voice for p in plans} == set(C.VOICES)
    assert {p.noise for p in plans} == set(C.NOISE_TYPES)
    wpm = [p.words_per_minute for p in plans]
    pitch = [p.pitch for p in plans]
    snr = [p.snr_db for p in plans]
    assert 130 <= min(wpm) < 140 and 190 < max(wpm) <= 200
    assert 30 <= min(pitch) < 35 and 65 < max(pitch) <= 70
    assert 10 <= min(snr) < 12 and 38 < max(snr) <= 40
    assert all(0.2 <= p.lead_silence_s <= 1.0 and 0.2 <= p.trail_silence_s <= 1.0 for p in plans)
    with_pauses = [p for p in plans if p.inner_pauses_s]
    assert 0.15 * len(plans) < len(with_pauses) < 0.5 * len(plans)
    for p in plans:
        assert " ".join(p.phrases) == p.text and len(p.inner_pauses_s) == len(p.phrases) - 1
        assert all(0.15 <= s <= 0.6 for s in p.inner_pauses_s)


# --- audio ------------------------------------------------------------------------------------

def _measured_snr_db(audio: np.ndarray, meta: dict) -> float:
    """Noise power from the lead and trail silences; speech power from the phrase spans minus noise."""
    lead = int(round(meta["lead_silence_s"] * C.SAMPLE_RATE_HZ))
    trail = int(round(meta["trail_silence_s"] * C.SAMPLE_RATE_HZ))
    x = audio.astype(np.float64)
    noise_power = np.mean(np.concatenate([x[:lead], x[len(x) - trail:]]) ** 2)
    span_power = np.mean(np.concatenate([x[a:b] for a, b in meta["speech_spans"]]) ** 2)
    return float(10 * np.log10((span_power - noise_power) / noise_power))


@needs_espeak
@needs_wordlist
@pytest.mark.parametrize("noise", C.NOISE_TYPES)
def test_snr_is_as_requested(noise):
    for snr in (10.0, 25.0, 40.0):
        audio, _, meta = C.make_utterance(C.utterance_seed("train", 0, 1), noise=noise, snr_db=snr,
                                          lead_silence_s=0.8, trail_silence_s=0.8)
        measured = _measured_snr_db(audio, meta)
        assert abs(measured - snr) < 0.5, (noise, snr, measured)


@needs_espeak
def test_noise_colors_have_the_right_spectral_slope():
    rng = np.random.default_rng(0)
    slopes = {}
    for color in C.NOISE_TYPES:
        x = C.colored_noise(rng, 1 << 16, color)
        assert abs(np.mean(x ** 2) - 1.0) < 1e-9
        power = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / C.SAMPLE_RATE_HZ)
        band = (f > 100) & (f < 6000)
        slopes[color] = np.polyfit(np.log10(f[band]), np.log10(power[band]), 1)[0]
    assert abs(slopes["white"]) < 0.1
    assert abs(slopes["pink"] + 1) < 0.1
    assert abs(slopes["brown"] + 2) < 0.1


@needs_espeak
@needs_wordlist
def test_audio_sanity():
    for i in range(6):
        seed = C.utterance_seed("eval", 0, i)
        audio, text, meta = C.make_utterance(seed)
        assert audio.dtype == np.float32 and audio.ndim == 1
        assert np.all(np.isfinite(audio))
        assert abs(float(np.max(np.abs(audio))) - C.PEAK) < 1e-6
        duration = len(audio) / C.SAMPLE_RATE_HZ
        assert C.MIN_DURATION_S <= duration <= C.MAX_DURATION_S and duration == meta["duration"]
        assert text == meta["text"] and meta["split"] == "eval"
        # Silence padding: the lead/trail are noise only, far quieter than the speech (SNR >= 10 dB).
        lead = int(round(meta["lead_silence_s"] * C.SAMPLE_RATE_HZ))
        trail = int(round(meta["trail_silence_s"] * C.SAMPLE_RATE_HZ))
        assert lead >= 0.2 * C.SAMPLE_RATE_HZ and trail >= 0.2 * C.SAMPLE_RATE_HZ
        assert meta["speech_spans"][0][0] == lead and meta["speech_spans"][-1][1] == len(audio) - trail
        edge_rms = np.sqrt(np.mean(np.concatenate([audio[:lead], audio[-trail:]]).astype(np.float64) ** 2))
        speech_rms = np.sqrt(np.mean(np.concatenate([audio[a:b] for a, b in meta["speech_spans"]]).astype(np.float64) ** 2))
        assert speech_rms > 2.5 * edge_rms
        assert abs(_measured_snr_db(audio, meta) - meta["snr_db"]) < 3.0


@needs_espeak
@needs_wordlist
def test_inner_pauses_are_silent_gaps():
    seed = next(s for s in (C.utterance_seed("train", 0, i) for i in range(200))
                if len(C.plan_utterance(s).inner_pauses_s) == 2)
    audio, _, meta = C.make_utterance(seed, snr_db=40.0)
    spans = meta["speech_spans"]
    assert len(spans) == 3
    for (a0, b0), (a1, b1), pause in zip(spans, spans[1:], meta["inner_pauses_s"]):
        assert a1 - b0 == int(round(pause * C.SAMPLE_RATE_HZ))
        gap = audio[b0:a1].astype(np.float64)
        speech = audio[a0:b0].astype(np.float64)
        assert np.sqrt(np.mean(gap ** 2)) < 0.1 * np.sqrt(np.mean(speech ** 2))


@needs_espeak
@needs_wordlist
def test_same_seed_same_samples_different_seed_different():
    seed = C.utterance_seed("train", 0, 2)
    a, ta, ma = C.make_utterance(seed)
    b, tb, mb = C.make_utterance(seed)
    c, tc, _ = C.make_utterance(C.utterance_seed("train", 0, 3))
    assert ta == tb and np.array_equal(a, b) and ma == mb
    assert tc != ta and not (len(a) == len(c) and np.array_equal(a, c))


# --- corpus on disk ---------------------------------------------------------------------------

@needs_espeak
@needs_wordlist
def test_write_corpus_manifest_reproducible_and_resumable(tmp_path, capsys):
    out1, out2 = tmp_path / "a", tmp_path / "b"
    m1 = C.write_corpus(out1, "train", 4, seed=5)
    assert "[corpus] train: 4/4 (0 skipped, 4 written" in capsys.readouterr().err
    m2 = C.write_corpus(out2, "train", 4, seed=5)
    wavs1, wavs2 = sorted((out1 / "train").glob("*.wav")), sorted((out2 / "train").glob("*.wav"))
    assert [w.name for w in wavs1] == [f"train_s5_{i:06d}.wav" for i in range(4)]
    assert [_sha(w) for w in wavs1] == [_sha(w) for w in wavs2]
    assert m1.read_bytes() == m2.read_bytes()

    import soundfile
    lines = [json.loads(line) for line in m1.read_text().splitlines()]
    assert len(lines) == 4
    for i, entry in enumerate(lines):
        assert list(entry) == ["audio_filepath", "duration", "text"]
        path = out1 / entry["audio_filepath"]
        data, rate = soundfile.read(str(path), dtype="float32")
        info = soundfile.info(str(path))
        assert rate == 16000 and info.subtype == "PCM_16" and info.channels == 1
        assert entry["duration"] == len(data) / 16000
        assert entry["text"] == C.plan_utterance(C.utterance_seed("train", 5, i)).text
        # The WAV is the in-memory utterance quantized to 16 bits.
        audio, _, _ = C.make_utterance(C.utterance_seed("train", 5, i))
        assert np.max(np.abs(audio - data)) <= 1.0 / 32768 + 1e-7
    meta = [json.loads(line) for line in (out1 / "train_metadata.jsonl").read_text().splitlines()]
    assert [m["index"] for m in meta] == [0, 1, 2, 3] and meta[2]["text"] == lines[2]["text"]

    # Resume: delete one WAV, corrupt another, leave a stale temp file; only those two are rewritten.
    (out1 / "train" / "train_s5_000001.wav").unlink()
    (out1 / "train" / "train_s5_000003.wav").write_bytes(b"RIFF junk")
    (out1 / "train" / ".train_s5_000002.wav.tmp").write_bytes(b"partial")
    mtime0 = (out1 / "train" / "train_s5_000000.wav").stat().st_mtime_ns
    C.write_corpus(out1, "train", 5, seed=5)
    assert "5/5 (2 skipped, 3 written" in capsys.readouterr().err  # 0 and 2 kept; 1, 3 and the new 4 written
    assert (out1 / "train" / "train_s5_000000.wav").stat().st_mtime_ns == mtime0
    assert not (out1 / "train" / ".train_s5_000002.wav.tmp").exists()
    C.write_corpus(out2, "train", 5, seed=5)
    err = capsys.readouterr().err
    assert "5/5 (4 skipped, 1 written" in err
    assert [_sha(w) for w in sorted((out1 / "train").glob("*.wav"))] == \
        [_sha(w) for w in sorted((out2 / "train").glob("*.wav"))]
    assert (out1 / "train_manifest.jsonl").read_bytes() == (out2 / "train_manifest.jsonl").read_bytes()
    assert len((out1 / "train_manifest.jsonl").read_text().splitlines()) == 5


@needs_espeak
@needs_wordlist
def test_resume_counts(tmp_path, capsys):
    C.write_corpus(tmp_path, "eval", 2, seed=0)
    capsys.readouterr()
    (tmp_path / "eval" / "eval_s0_000000.wav").unlink()
    C.write_corpus(tmp_path, "eval", 3, seed=0)
    assert "3/3 (1 skipped, 2 written" in capsys.readouterr().err


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        C.write_corpus(tmp_path, "test", 1, seed=0)
    with pytest.raises(ValueError, match="num_utterances must be a non-negative integer"):
        C.write_corpus(tmp_path, "train", -1, seed=0)
    with pytest.raises(ValueError, match="num_utterances must be a non-negative integer"):
        C.write_corpus(tmp_path, "train", 2.5, seed=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        C.write_corpus(tmp_path, "train", 1, seed=-3)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        C.utterance_seed("train", True, 0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="not a directory"):
        C.write_corpus(tmp_path / "file", "train", 1, seed=0)
    with pytest.raises(ValueError, match="noise must be one of"):
        C.plan_utterance(0, noise="purple")
    with pytest.raises(ValueError, match="unknown plan fields"):
        C.plan_utterance(0, colour="red")
    with pytest.raises(ValueError, match="empty after normalization"):
        C.plan_utterance(0, text="123 !!")


@needs_wordlist
def test_refuses_to_mix_seeds_in_one_folder(tmp_path):
    C.write_corpus(tmp_path, "train", 0, seed=1)
    with pytest.raises(ValueError, match="seed 1.*seed 2: use another out_dir"):
        C.write_corpus(tmp_path, "train", 0, seed=2)
    assert C.write_corpus(tmp_path, "eval", 0, seed=2).read_text() == ""  # other split, own record


@needs_espeak
@needs_wordlist
def test_cli(tmp_path):
    tool = REPO / "tools" / "make_corpus.py"
    help_text = subprocess.run([sys.executable, str(tool), "--help"], capture_output=True, text=True, check=True).stdout
    for flag in ("--out", "--split", "--num", "--seed"):
        assert flag in help_text
    run = subprocess.run([sys.executable, str(tool), "--out", str(tmp_path), "--split", "eval", "--num", "2",
                          "--seed", "9"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "2/2" in run.stderr
    lines = (tmp_path / "eval_manifest.jsonl").read_text().splitlines()
    assert [json.loads(l)["text"] for l in lines] == [C.plan_utterance(C.utterance_seed("eval", 9, i)).text for i in range(2)]
    bad = subprocess.run([sys.executable, str(tool), "--out", str(tmp_path), "--split", "dev", "--num", "1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    bad = subprocess.run([sys.executable, str(tool), "--out", str(tmp_path), "--split", "eval", "--num", "-4"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "non-negative" in bad.stderr
