"""The demo model v2's training data: open-English text from Debian packages (parsed from
fixtures here: the packages are fetched at development time) and the live-like examples."""

from __future__ import annotations

import numpy as np
import pytest

from parakeet_trt.training import live_mix, open_text
from parakeet_trt.training.corpus import SAMPLE_RATE_HZ, plan_utterance, text_split

GLOSS = ('(of weather) pleasant and sunny; having 2 legs; "a fine day for a walk"; '
         '"the dog barked all night"; "it cost $5"')
OPEN = ["the dog barked all night", "a fine day for a walk", "weapons grade plutonium",
        "suspense was building right from the beginning of the opera", "the climate is at least tolerable",
        "halt in the name of the law", "an assumed cheerfulness", "typically sensitive to touch and taste"]


def test_wordnet_glosses_give_definitions_and_examples_without_digits():
    assert open_text.gloss_sentences(GLOSS) == ["of weather pleasant and sunny", "a fine day for a walk",
                                                "the dog barked all night"]


def test_wordnet_folder_is_read_and_a_wrong_folder_is_refused(tmp_path):
    folder = tmp_path / "usr" / "share" / "wordnet"
    folder.mkdir(parents=True)
    header = '  1 This software and database is provided "as is" and without warranty | "not a sentence"\n'
    for name in open_text.WORDNET_FILES:
        (folder / name).write_text(header + f"00001740 03 n 01 entity 0 000 | {GLOSS}\n", encoding="latin-1")
    assert open_text.wordnet_sentences(tmp_path) == sorted(open_text.gloss_sentences(GLOSS))
    (folder / "data.adv").unlink()
    with pytest.raises(FileNotFoundError, match="data.adv"):
        open_text.wordnet_sentences(tmp_path)


def test_fortunes_are_cut_into_sentences_ranked_by_hash(tmp_path):
    folder = tmp_path / "usr" / "share" / "games" / "fortunes"
    folder.mkdir(parents=True)
    (folder / "fortunes").write_text("You will meet a tall dark stranger.  Be careful what you wish for!\n"
                                     "\t\t-- Somebody Famous\n%\nQ: Why do ducks have big flat feet?\n"
                                     "A: To stamp out forest fires.\n%\nCall 555 1234 now or never please.\n%\n")
    (folder / "literature").write_text("Too early seen unknown, and known too late!\n%\n")
    (folder / "riddles").write_text("%\n")
    expected = {"you will meet a tall dark stranger", "be careful what you wish for",
                "why do ducks have big flat feet", "to stamp out forest fires",
                "too early seen unknown and known too late"}  # the attribution and the digits' sentence dropped
    sentences = open_text.fortune_sentences(tmp_path, 5)
    assert set(sentences) == expected
    assert sentences == sorted(expected, key=lambda s: open_text.hashlib.sha256(s.encode()).hexdigest())
    assert open_text.fortune_sentences(tmp_path, 2) == sentences[:2]
    with pytest.raises(ValueError, match="only"):
        open_text.fortune_sentences(tmp_path, 6)


def test_fetching_without_apt_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setattr(open_text.shutil, "which", lambda tool: None)
    with pytest.raises(RuntimeError, match="wordnet-base.*fortunes-min"):
        open_text.fetch_debian_package("wordnet-base", tmp_path)


@pytest.fixture(scope="module")
def examples():
    return [live_mix.make_live_example(0, i, OPEN) for i in range(24)]


def test_live_examples_are_deterministic_and_say_their_parts(examples):
    audio, text, meta = live_mix.make_live_example(0, 3, OPEN)
    assert np.array_equal(audio, examples[3][0]) and text == examples[3][1]
    assert not np.array_equal(examples[4][0][:1000], live_mix.make_live_example(1, 4, OPEN)[0][:1000])
    for index, (audio, text, meta) in enumerate(examples):
        # The text is the parts' texts in order: each an open sentence or its corpus seed's template text.
        assert text == " ".join(meta["part_texts"]) and len(meta["part_texts"]) == meta["parts"]
        for k, part in enumerate(meta["part_texts"]):
            assert part in OPEN or part == plan_utterance(live_mix.part_seed(0, index, k)).text
        assert audio.dtype == np.float32 and np.isfinite(audio).all()
        assert 1 <= meta["parts"] <= live_mix.MAX_PARTS and len(meta["pause_fills"]) == meta["parts"] - 1
        spans = meta["speech_spans"]
        assert all(0 <= a < b <= len(audio) for a, b in spans) and spans == sorted(spans)
        zeros = meta["digital_zeros"]
        assert np.all(audio[:zeros[0]] == 0) and (zeros[1] == 0 or np.all(audio[-zeros[1]:] == 0))


def test_live_examples_cover_the_mix(examples):
    metas = [m for _, _, m in examples]
    peaks_db = [20 * np.log10(float(np.abs(a).max())) for a, _, _ in examples]
    assert min(peaks_db) >= live_mix.PEAK_DBFS[0] - 0.01 and max(peaks_db) <= live_mix.PEAK_DBFS[1] + 0.01
    assert min(peaks_db) < -20  # quiet input is part of the mix
    assert any(m["parts"] > 1 for m in metas) and any(m["parts"] == 1 for m in metas)
    assert any(m["cropped"] for m in metas) and any(sum(m["digital_zeros"]) for m in metas)
    assert any(part in OPEN for _, _, m in examples for part in m["part_texts"])
    assert any(part not in OPEN for _, _, m in examples for part in m["part_texts"])
    for audio, _, meta in examples:
        if meta["cropped"] and not meta["digital_zeros"][0]:
            assert meta["speech_spans"][0][0] <= live_mix.PREROLL_S[1] * SAMPLE_RATE_HZ + 1
        pauses_s = (meta["parts"] - 1) * live_mix.PAUSE_S[1]
        assert len(audio) <= (live_mix.MAX_EXAMPLE_S + pauses_s + 2 * live_mix.ZEROS_S[1]) * SAMPLE_RATE_HZ


def test_live_examples_use_training_texts_only():
    """Parts are train-split corpus seeds, and open sentences of the eval text split are never drawn."""
    assert all(live_mix.part_seed(0, i, k) % 2 == 0 for i in range(50) for k in range(4))
    assert plan_utterance(live_mix.part_seed(0, 0, 0)).split == "train"
    eval_only = [s for s in OPEN if text_split(s) == "eval"]
    assert eval_only  # "the climate is at least tolerable": the check below can fail
    rng = np.random.default_rng(0)
    drawn = {live_mix._open_sentence(rng, OPEN) for _ in range(200)}
    assert drawn == set(OPEN) - set(eval_only)
