"""Synthetic speech corpus for the demo model: espeak-ng speech, templated English text, noise.

    from parakeet_trt.training.corpus import make_utterance, utterance_seed, write_corpus
    audio, text, meta = make_utterance(utterance_seed("train", seed=0, index=17))
    write_corpus("data/corpus", "train", num_utterances=5000, seed=0)

Recipe (CORPUS_VERSION names it; change the version whenever any of this changes):

* **Seeds.** Utterance ``index`` of split ``split`` under corpus seed ``seed`` gets
  ``utterance_seed = 2 * h + SPLITS.index(split)`` where ``h`` is the first 63 bits of
  ``sha256(f"{CORPUS_VERSION}|{seed}|{index}")``. Train seeds are even and eval seeds are odd,
  so the two splits can never share an utterance seed, whatever ``seed`` and ``index`` are.
* **Held-out texts.** Every text belongs to exactly one split: ``eval`` when the first byte of
  ``sha256(text)`` is below ``EVAL_TEXT_BYTE_LIMIT`` (1/8 of texts), ``train`` otherwise. A split
  redraws until its text falls in its own part, so no sentence of the eval split ever appears in
  the train split. Both splits share the vocabulary (the model must know the words).
* **Text.** One of the templates below, chosen with ``TEMPLATE_WEIGHTS``: noun/verb/adjective
  sentences, prepositions, questions, commands, contractions, spelled-out numbers (counts,
  sums, times, years, phone-like digit strings) and, for a share, 3-7 words drawn from the
  ``wamerican`` word list (``/usr/share/dict/american-english``) filtered to lowercase ascii
  alphabetic words of 3-8 letters, of which ``WORDLIST_SIZE`` are kept, chosen by ranking on
  sha256 of the word (independent of the file's order). The curated lexicons are intersected
  with the word list, so every word is a dictionary word. Text is normalized to what the
  tokenizer sees: lowercase a-z, apostrophe, single spaces (``normalize_text``).
* **Speech.** ``parakeet_trt.testing.signals.speak`` (espeak-ng, resampled to 16 kHz) with a
  voice from ``VOICES`` (en-us, en-gb, en-gb-x-rp, en-gb-scotland with variants), a rate drawn
  from 130-200 wpm and a pitch from 30-70. Texts of 4+ words are split, with probability
  ``INNER_PAUSE_PROB``, at 1-2 word boundaries into phrases spoken separately with 0.15-0.6 s of
  silence between them.
* **Silence and noise.** 0.2-1.0 s of silence before and after the speech. Noise (white, pink
  1/f or brown 1/f^2, shaped in the frequency domain with a 20 Hz floor, so stationary) covers
  the whole utterance at an SNR drawn from 10-40 dB, where SNR is the mean power of the spoken
  phrases (espeak's output, gaps excluded) over the noise's mean power.
* **Level.** The mix is scaled so its peak is ``PEAK`` (0.9).

Everything is drawn from ``numpy.random.default_rng`` seeded with the utterance seed (the plan
first: text, voice and all choices; the noise samples from a second stream), so the same seed
gives the same samples on the same espeak-ng/libsoxr/wamerican versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from parakeet_trt.testing.signals import SAMPLE_RATE_HZ, speak

CORPUS_VERSION = "synthetic-corpus-v1"
SPLITS = ("train", "eval")
WORDLIST_PATH = Path("/usr/share/dict/american-english")
WORDLIST_SIZE = 3000
WORD_MIN_LEN, WORD_MAX_LEN = 3, 8
EVAL_TEXT_BYTE_LIMIT = 32  # eval owns texts whose sha256 starts with a byte < 32: 1/8 of them

VOICES = (
    "en-us", "en-us+m3", "en-us+m7", "en-us+f2", "en-us+f4",
    "en-gb", "en-gb+m1", "en-gb+f3",
    "en-gb-x-rp", "en-gb-x-rp+f5",
    "en-gb-scotland", "en-gb-scotland+m2",
)
WPM_RANGE = (130, 200)        # inclusive
PITCH_RANGE = (30, 70)        # inclusive
SNR_DB_RANGE = (10.0, 40.0)
NOISE_TYPES = ("white", "pink", "brown")
EDGE_SILENCE_S = (0.2, 1.0)   # leading and trailing, each
INNER_PAUSE_S = (0.15, 0.6)
INNER_PAUSE_PROB = 0.4
PEAK = 0.9
NOISE_FLOOR_HZ = 20.0
MIN_DURATION_S, MAX_DURATION_S = 1.0, 20.0

TEXT_RE = re.compile(r"^[a-z']+( [a-z']+)*$")

# --- lexicons --------------------------------------------------------------------------------

_NOUNS = """cat dog bird fish horse cow sheep mouse man woman child boy girl baby teacher doctor farmer
driver pilot nurse cook king queen friend neighbor car bus train boat plane truck bike road house
door window table chair bed box book letter phone computer ball cup glass bottle apple orange
bread cake egg cheese milk water coffee tea tree flower garden river lake ocean mountain hill city
town village street park school store market office bridge key bag hat coat shoe shirt clock lamp
picture song story game camera radio ticket map wallet blanket pillow kitchen window basket hammer
rabbit tiger lion monkey duck frog snake bear wolf fox student artist singer player captain
engine wheel rocket candle mirror piano guitar jacket pencil paper kettle ladder bucket""".split()
_IRREGULAR_PLURALS = {"man": "men", "woman": "women", "child": "children", "mouse": "mice",
                      "sheep": "sheep", "fish": "fish", "wolf": "wolves", "knife": "knives"}
_ADJECTIVES = """big small old young new red blue green yellow black white brown happy sad tired
quiet loud fast slow warm cold hot bright dark clean dirty heavy light tall short long round soft
hard empty full busy lazy brave clever funny strange tiny huge friendly noisy sleepy hungry""".split()
_VERBS = """see find like want need take bring carry hold open close watch help call follow push pull
paint clean wash build move visit catch fix touch miss chase kick throw read draw love hate buy sell
keep lift drop show hide answer check count cover fill finish greet guard hear join kiss mark meet
order pack pick play print reach rescue save search share ship start stop teach test thank
track trust turn use wake warn""".split()
_IRREGULAR_PAST = {"see": "saw", "find": "found", "take": "took", "bring": "brought", "hold": "held",
                   "catch": "caught", "throw": "threw", "read": "read", "draw": "drew", "buy": "bought",
                   "sell": "sold", "keep": "kept", "show": "showed", "hide": "hid", "hear": "heard",
                   "meet": "met", "teach": "taught", "build": "built", "wake": "woke", "drop": "dropped",
                   "stop": "stopped", "ship": "shipped", "plan": "planned"}
_PLACES = """kitchen garden park school store market office station library hospital village city
house yard beach forest field street bridge""".split()
_PREPOSITIONS = ["on", "under", "near", "behind", "in", "next to", "in front of", "above", "beside"]
_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = "january february march april may june july august september october november december".split()
_UNITS = ["minutes", "hours", "days", "weeks", "dollars", "meters", "miles", "pages", "degrees"]

_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen " \
        "sixteen seventeen eighteen nineteen".split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_to_words(n: int) -> str:
    """0 <= n < 1,000,000 in American English words, no hyphens or "and": 342 -> three hundred forty two."""
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n < 1_000_000:
        raise ValueError(f"number_to_words takes an integer in [0, 999999], got {n!r}")
    n = int(n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    if n < 1000:
        return _ONES[n // 100] + " hundred" + ("" if n % 100 == 0 else " " + number_to_words(n % 100))
    return number_to_words(n // 1000) + " thousand" + ("" if n % 1000 == 0 else " " + number_to_words(n % 1000))


def year_to_words(year: int) -> str:
    """1900-2099 as spoken: 1984 -> nineteen eighty four, 2005 -> two thousand five, 2019 -> twenty nineteen."""
    if 2000 <= year < 2010:
        return number_to_words(year)
    hi, lo = divmod(year, 100)
    tail = "hundred" if lo == 0 else ("oh " + _ONES[lo] if lo < 10 else number_to_words(lo))
    return f"{number_to_words(hi)} {tail}"


def normalize_text(text: str) -> str:
    """Lowercase, hyphens and other separators to spaces, drop anything but a-z and apostrophes."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z' ]+", " ", text)
    text = re.sub(r"\s*'\s*(?![a-z])|(?<![a-z])'", " ", text)  # apostrophes only inside words
    return " ".join(text.split())


def _plural(noun: str) -> str:
    if noun in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[noun]
    if noun.endswith(("s", "x", "z", "ch", "sh")):
        return noun + "es"
    if noun.endswith("y") and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + "s"


def _third_person(verb: str) -> str:
    if verb.endswith(("s", "x", "z", "ch", "sh", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _past(verb: str) -> str:
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


@lru_cache(maxsize=None)
def word_list(path: str = str(WORDLIST_PATH)) -> frozenset[str]:
    """All lowercase ascii alphabetic words of 3-8 letters in the word list."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"word list {p} not found (apt-get install wamerican)")
    pattern = re.compile(rf"^[a-z]{{{WORD_MIN_LEN},{WORD_MAX_LEN}}}$")
    return frozenset(w for w in p.read_text(encoding="utf-8", errors="replace").split() if pattern.match(w))


@lru_cache(maxsize=None)
def vocabulary(size: int = WORDLIST_SIZE) -> tuple[str, ...]:
    """``size`` words of the filtered word list, chosen by sha256 rank (independent of file order), sorted."""
    words = word_list()
    ranked = sorted(words, key=lambda w: hashlib.sha256(w.encode()).digest())
    return tuple(sorted(ranked[:size]))


@lru_cache(maxsize=None)
def _lexicons() -> dict[str, tuple[str, ...]]:
    words = word_list()
    # Curated words are kept only if the dictionary has them (their base form, 3-8 letters, or short ones).
    def keep(items):
        return tuple(w for w in items if w in words or (len(w) < WORD_MIN_LEN and w.isalpha()))
    return {"noun": keep(_NOUNS), "adj": keep(_ADJECTIVES), "verb": keep(_VERBS), "place": keep(_PLACES)}


# --- templates -------------------------------------------------------------------------------

def _pick(rng: np.random.Generator, items) -> str:
    return items[int(rng.integers(len(items)))]


def _np(rng, lex, det="the") -> str:
    """A noun phrase: "the cat", "the big cat"."""
    adj = _pick(rng, lex["adj"]) + " " if rng.random() < 0.4 else ""
    return f"{det} {adj}{_pick(rng, lex['noun'])}"


def _t_svo(rng, lex):
    verb = _pick(rng, lex["verb"])
    form = _third_person(verb) if rng.random() < 0.6 else _past(verb)
    return f"{_np(rng, lex)} {form} {_np(rng, lex)}"


def _t_prep(rng, lex):
    return f"{_np(rng, lex)} is {_pick(rng, _PREPOSITIONS)} {_np(rng, lex)}"


def _t_count(rng, lex):
    n = int(rng.integers(2, 1000)) if rng.random() < 0.7 else int(rng.integers(1000, 100000))
    return f"there are {number_to_words(n)} {_plural(_pick(rng, lex['noun']))} in the {_pick(rng, lex['place'])}"


def _t_command(rng, lex):
    choice = int(rng.integers(6))
    if choice == 0:
        return f"please {_pick(rng, lex['verb'])} {_np(rng, lex)}"
    if choice == 1:
        return f"{_pick(rng, lex['verb'])} {_np(rng, lex)} now"
    if choice == 2:
        return f"set a timer for {number_to_words(int(rng.integers(1, 120)))} {_pick(rng, _UNITS[:2])}"
    if choice == 3:
        return f"turn the volume {_pick(rng, ['up', 'down'])} to {number_to_words(int(rng.integers(0, 101)))}"
    if choice == 4:
        return f"go to page {number_to_words(int(rng.integers(1, 1000)))}"
    return f"{_pick(rng, ['stop', 'start', 'pause', 'cancel', 'repeat'])} the {_pick(rng, ['music', 'timer', 'video', 'alarm', 'recording'])}"


def _t_question(rng, lex):
    choice = int(rng.integers(4))
    if choice == 0:
        return f"where is {_np(rng, lex)}"
    if choice == 1:
        return f"can you {_pick(rng, lex['verb'])} {_np(rng, lex)}"
    if choice == 2:
        return f"how many {_plural(_pick(rng, lex['noun']))} did you {_pick(rng, lex['verb'])}"
    return f"what time does the {_pick(rng, ['train', 'bus', 'store', 'meeting', 'game', 'show'])} {_pick(rng, ['start', 'leave', 'open', 'end'])}"


def _t_contraction(rng, lex):
    choice = int(rng.integers(5))
    if choice == 0:
        return f"i don't {_pick(rng, ['want', 'need', 'like', 'see'])} {_np(rng, lex)}"
    if choice == 1:
        return f"it's a {_pick(rng, lex['adj'])} {_pick(rng, ['day', 'night', 'morning', 'idea', 'place'])}"
    if choice == 2:
        return f"we can't {_pick(rng, lex['verb'])} {_np(rng, lex)}"
    if choice == 3:
        return f"she's {_pick(rng, ['in', 'near', 'behind'])} {_np(rng, lex)}"
    return f"they didn't {_pick(rng, lex['verb'])} {_np(rng, lex, det=_pick(rng, ['the', 'our', 'their', 'my']))}"


def _t_arithmetic(rng, lex):
    a, b = int(rng.integers(0, 100)), int(rng.integers(0, 100))
    if rng.random() < 0.5:
        return f"{number_to_words(a)} plus {number_to_words(b)} is {number_to_words(a + b)}"
    a, b = max(a, b), min(a, b)
    return f"{number_to_words(a)} minus {number_to_words(b)} is {number_to_words(a - b)}"


def _t_date(rng, lex):
    choice = int(rng.integers(3))
    if choice == 0:
        hour = number_to_words(int(rng.integers(1, 13)))
        return f"the meeting is on {_pick(rng, _DAYS)} at {hour} o'clock"
    if choice == 1:
        return f"she was born in {_pick(rng, _MONTHS)} {year_to_words(int(rng.integers(1900, 2030)))}"
    digits = " ".join(_ONES[int(d)] for d in rng.integers(0, 10, size=int(rng.integers(4, 8))))
    return f"the code is {digits}"


def _t_measure(rng, lex):
    n = number_to_words(int(rng.integers(2, 500)))
    return f"the {_pick(rng, lex['noun'])} is {n} {_pick(rng, _UNITS[2:])} {_pick(rng, ['away', 'long', 'old', 'late'])}"


def _t_words(rng, lex):
    vocab = vocabulary()
    return " ".join(_pick(rng, vocab) for _ in range(int(rng.integers(3, 8))))


def _t_compound(rng, lex):
    return f"{_t_svo(rng, lex)} {_pick(rng, ['and', 'but', 'because', 'while'])} {_t_prep(rng, lex)}"


TEMPLATES = {
    "svo": _t_svo, "prep": _t_prep, "count": _t_count, "command": _t_command, "question": _t_question,
    "contraction": _t_contraction, "arithmetic": _t_arithmetic, "date": _t_date, "measure": _t_measure,
    "words": _t_words, "compound": _t_compound,
}
TEMPLATE_WEIGHTS = {
    "svo": 0.16, "prep": 0.10, "count": 0.10, "command": 0.10, "question": 0.09, "contraction": 0.08,
    "arithmetic": 0.07, "date": 0.07, "measure": 0.06, "words": 0.12, "compound": 0.05,
}



# --- the written form (cased, punctuated) ---------------------------------------------------------
# The templates know where a written sentence puts its capitals and punctuation; the spoken text
# above is normalized (normalize_text). The LLM lane's test model learns this form.

_PROPER = frozenset(_DAYS) | frozenset(_MONTHS) | {"i"}
_CONJUNCTIONS = ("and", "but", "because", "while")


def written_form(text: str, template: str) -> str:
    """``text`` (a normalized template sentence) as written: first letter, "I", days and months
    capitalized; a comma before a compound's conjunction; "?" after questions, "." otherwise."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r}; one of {sorted(TEMPLATES)}")
    words = text.split()
    if not words:
        raise ValueError("text is empty")
    words = [w[:1].upper() + w[1:] if w in _PROPER or (w.startswith("i'") and len(w) > 2) else w for w in words]
    if template == "compound":
        for k in range(2, len(words) - 1):
            if words[k] in _CONJUNCTIONS:
                words[k - 1] += ","
                break
    words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + ("?" if template == "question" else ".")

# --- seeds and plans -------------------------------------------------------------------------

def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _check_nonneg_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def utterance_seed(split: str, seed: int, index: int) -> int:
    """The utterance's seed: even for train, odd for eval (disjoint by construction), see module doc."""
    _check_split(split)
    seed, index = _check_nonneg_int("seed", seed), _check_nonneg_int("index", index)
    digest = hashlib.sha256(f"{CORPUS_VERSION}|{seed}|{index}".encode()).digest()
    return 2 * (int.from_bytes(digest[:8], "big") >> 1) + SPLITS.index(split)


def split_of_seed(seed: int) -> str:
    return SPLITS[seed % 2]


def text_split(text: str) -> str:
    """The only split allowed to use this text (eval for 1/8 of texts by sha256, train for the rest)."""
    return "eval" if hashlib.sha256(text.encode()).digest()[0] < EVAL_TEXT_BYTE_LIMIT else "train"


def make_text(rng: np.random.Generator, split: str) -> tuple[str, str]:
    """(text, template name) for ``split``: redraws until the text belongs to the split."""
    _check_split(split)
    lex = _lexicons()
    names = list(TEMPLATE_WEIGHTS)
    weights = np.array([TEMPLATE_WEIGHTS[n] for n in names])
    weights = weights / weights.sum()
    for _ in range(10_000):
        name = names[int(rng.choice(len(names), p=weights))]
        text = normalize_text(TEMPLATES[name](rng, lex))
        if text_split(text) == split:
            return text, name
    raise RuntimeError(f"no {split} text found in 10000 draws")  # practically unreachable


@dataclass(frozen=True)
class UtterancePlan:
    """Every random choice of one utterance; cheap to compute (no synthesis)."""

    seed: int
    split: str
    text: str
    template: str
    voice: str
    words_per_minute: int
    pitch: int
    phrases: tuple[str, ...]
    inner_pauses_s: tuple[float, ...]
    lead_silence_s: float
    trail_silence_s: float
    noise: str
    snr_db: float


def plan_utterance(seed: int, **overrides) -> UtterancePlan:
    """The plan for utterance seed ``seed``; ``overrides`` replace drawn fields (text, voice, snr_db, ...)."""
    seed = _check_nonneg_int("seed", seed)
    rng = np.random.default_rng([seed, 0])
    split = split_of_seed(seed)
    text, template = make_text(rng, split)
    voice = _pick(rng, VOICES)
    wpm = int(rng.integers(WPM_RANGE[0], WPM_RANGE[1] + 1))
    pitch = int(rng.integers(PITCH_RANGE[0], PITCH_RANGE[1] + 1))
    lead = round(float(rng.uniform(*EDGE_SILENCE_S)), 3)
    trail = round(float(rng.uniform(*EDGE_SILENCE_S)), 3)
    noise = _pick(rng, NOISE_TYPES)
    snr_db = round(float(rng.uniform(*SNR_DB_RANGE)), 2)
    pause_draw = float(rng.random())
    n_cuts = int(rng.integers(1, 3))
    cut_draw = rng.random(2)
    pause_draw_s = rng.uniform(*INNER_PAUSE_S, size=2)

    if "text" in overrides:
        overrides["text"] = normalize_text(overrides["text"])
        if not overrides["text"]:
            raise ValueError("text is empty after normalization")
    text = overrides.get("text", text)
    words = text.split()
    cuts: list[int] = []
    if len(words) >= 4 and pause_draw < INNER_PAUSE_PROB:
        boundaries = list(range(1, len(words)))
        for k in range(min(n_cuts, len(boundaries))):
            cuts.append(boundaries.pop(int(cut_draw[k] * len(boundaries))))
        cuts.sort()
    edges = [0, *cuts, len(words)]
    phrases = tuple(" ".join(words[a:b]) for a, b in zip(edges, edges[1:]))
    pauses = tuple(round(float(p), 3) for p in pause_draw_s[: len(cuts)])

    plan = UtterancePlan(seed=seed, split=split, text=text, template=template, voice=voice,
                         words_per_minute=wpm, pitch=pitch, phrases=phrases, inner_pauses_s=pauses,
                         lead_silence_s=lead, trail_silence_s=trail, noise=noise, snr_db=snr_db)
    unknown = set(overrides) - set(UtterancePlan.__dataclass_fields__)
    if unknown:
        raise ValueError(f"unknown plan fields {sorted(unknown)}")
    if "noise" in overrides and overrides["noise"] not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}, got {overrides['noise']!r}")
    fields = {k: v for k, v in overrides.items() if k != "text"}
    if "text" in overrides:
        fields.update(template="override", phrases=(overrides["text"],), inner_pauses_s=())
    return UtterancePlan(**{**asdict(plan), **fields})


# --- audio -----------------------------------------------------------------------------------

def colored_noise(rng: np.random.Generator, num_samples: int, color: str) -> np.ndarray:
    """Unit-power stationary noise: white, pink (power ~ 1/f) or brown (power ~ 1/f^2) above 20 Hz."""
    if color not in NOISE_TYPES:
        raise ValueError(f"noise must be one of {NOISE_TYPES}, got {color!r}")
    white = rng.standard_normal(num_samples)
    if color != "white" and num_samples > 1:
        spectrum = np.fft.rfft(white)
        freqs = np.maximum(np.fft.rfftfreq(num_samples, 1.0 / SAMPLE_RATE_HZ), NOISE_FLOOR_HZ)
        exponent = 0.5 if color == "pink" else 1.0  # amplitude ~ f^-exponent
        spectrum *= freqs ** -exponent
        spectrum[0] = 0.0
        white = np.fft.irfft(spectrum, n=num_samples)
    white = white - white.mean()
    power = float(np.mean(white ** 2))
    return (white / np.sqrt(power) if power > 0 else white).astype(np.float64)


def _samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE_HZ))


def render(plan: UtterancePlan) -> tuple[np.ndarray, dict]:
    """Synthesize the plan: (float32 16 kHz audio with peak PEAK, metadata with speech spans)."""
    pieces = [np.zeros(_samples(plan.lead_silence_s), np.float64)]
    spans = []
    position = len(pieces[0])
    for i, phrase in enumerate(plan.phrases):
        speech = speak(phrase, voice=plan.voice, words_per_minute=plan.words_per_minute, pitch=plan.pitch)
        speech = speech.astype(np.float64)
        pieces.append(speech)
        spans.append((position, position + len(speech)))
        position += len(speech)
        if i < len(plan.inner_pauses_s):
            pause = np.zeros(_samples(plan.inner_pauses_s[i]), np.float64)
            pieces.append(pause)
            position += len(pause)
    pieces.append(np.zeros(_samples(plan.trail_silence_s), np.float64))
    clean = np.concatenate(pieces)
    speech_power = float(np.mean(np.concatenate([clean[a:b] for a, b in spans]) ** 2))
    if speech_power <= 0:
        raise RuntimeError(f"espeak-ng produced silence for {plan.text!r}")
    noise = colored_noise(np.random.default_rng([plan.seed, 1]), len(clean), plan.noise)
    noise *= np.sqrt(speech_power / 10 ** (plan.snr_db / 10))
    mix = clean + noise
    gain = PEAK / float(np.max(np.abs(mix)))
    audio = (mix * gain).astype(np.float32)
    meta = asdict(plan)
    meta.update(corpus_version=CORPUS_VERSION, sample_rate=SAMPLE_RATE_HZ, num_samples=len(audio),
                duration=len(audio) / SAMPLE_RATE_HZ, speech_spans=[list(s) for s in spans], gain=gain)
    return audio, meta


def make_utterance(seed: int, **overrides) -> tuple[np.ndarray, str, dict]:
    """(audio float32 16 kHz, text, metadata) for utterance seed ``seed`` (see ``utterance_seed``)."""
    plan = plan_utterance(seed, **overrides)
    audio, meta = render(plan)
    return audio, plan.text, meta


# --- corpus on disk --------------------------------------------------------------------------

def _wav_name(split: str, seed: int, index: int) -> str:
    return f"{split}_s{seed}_{index:06d}.wav"


def _valid_wav(path: Path) -> int | None:
    """Frame count of a complete corpus WAV (16 kHz mono PCM_16), else None."""
    import soundfile

    try:
        info = soundfile.info(str(path))
    except Exception:
        return None
    if info.samplerate != SAMPLE_RATE_HZ or info.channels != 1 or info.subtype != "PCM_16" or info.frames <= 0:
        return None
    expected_bytes = 44 + 2 * info.frames  # soundfile writes a plain 44-byte RIFF header here
    return info.frames if path.stat().st_size == expected_bytes else None


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_corpus(out_dir, split: str, num_utterances: int, seed: int = 0, *, progress: bool = True) -> Path:
    """Write ``num_utterances`` utterances of ``split`` under ``out_dir``; returns the manifest path.

    Layout: ``out_dir/{split}/{split}_s{seed}_{index:06d}.wav`` (16 kHz mono PCM_16),
    ``out_dir/{split}_manifest.jsonl`` (NeMo style: audio_filepath relative to out_dir, duration,
    text), ``out_dir/{split}_metadata.jsonl`` (every choice of each utterance's plan) and
    ``out_dir/{split}_corpus.json`` (version, seed, count). WAVs are written to a temporary
    name and renamed, so an interrupted run leaves only complete files; running again skips
    every valid WAV. A folder written with another seed or corpus version is refused.
    """
    import soundfile

    _check_split(split)
    num_utterances = _check_nonneg_int("num_utterances", num_utterances)
    seed = _check_nonneg_int("seed", seed)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out_dir {out} exists and is not a directory")
    wav_dir = out / split
    wav_dir.mkdir(parents=True, exist_ok=True)

    info_path = out / f"{split}_corpus.json"
    if info_path.is_file():
        old = json.loads(info_path.read_text())
        if old.get("corpus_version") != CORPUS_VERSION or old.get("seed") != seed:
            raise ValueError(f"{out} holds a {split} corpus of version {old.get('corpus_version')!r} seed "
                             f"{old.get('seed')!r}; asked for {CORPUS_VERSION!r} seed {seed}: use another out_dir")
    _atomic_write_text(info_path, json.dumps({"corpus_version": CORPUS_VERSION, "split": split, "seed": seed,
                                              "num_utterances": num_utterances}, indent=2) + "\n")
    for stale in wav_dir.glob(".*.tmp"):
        stale.unlink()

    manifest_lines, metadata_lines = [], []
    written = skipped = 0
    audio_s = 0.0
    start = last_report = time.monotonic()
    for index in range(num_utterances):
        plan = plan_utterance(utterance_seed(split, seed, index))
        path = wav_dir / _wav_name(split, seed, index)
        frames = _valid_wav(path)
        if frames is None:
            audio, meta = render(plan)
            tmp = path.with_name(f".{path.name}.tmp")
            soundfile.write(str(tmp), audio, SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
            os.replace(tmp, path)
            frames = len(audio)
            written += 1
            audio_s += frames / SAMPLE_RATE_HZ
        else:
            skipped += 1
        rel = path.relative_to(out).as_posix()
        duration = frames / SAMPLE_RATE_HZ  # exact in decimal (multiples of 1/16000 = 0.0000625)
        manifest_lines.append(json.dumps({"audio_filepath": rel, "duration": duration, "text": plan.text}))
        metadata_lines.append(json.dumps({"audio_filepath": rel, "index": index, **asdict(plan)}))
        now = time.monotonic()
        if progress and (now - last_report >= 2.0 or index + 1 == num_utterances):
            last_report = now
            rate = written / max(now - start, 1e-9)
            print(f"[corpus] {split}: {index + 1}/{num_utterances} ({skipped} skipped, {written} written, "
                  f"{rate:.1f} utt/s, {audio_s / max(now - start, 1e-9):.1f} audio s/s)", file=sys.stderr, flush=True)
    manifest = out / f"{split}_manifest.jsonl"
    _atomic_write_text(manifest, "".join(line + "\n" for line in manifest_lines))
    _atomic_write_text(out / f"{split}_metadata.jsonl", "".join(line + "\n" for line in metadata_lines))
    return manifest
