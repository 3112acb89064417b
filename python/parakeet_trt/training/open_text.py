"""Open English text for the demo model, from Debian packages: WordNet to train on, fortunes to test on.

    folder = fetch_debian_package("wordnet-base", cache_dir)    # apt-get download + dpkg-deb -x
    train_sentences = wordnet_sentences(folder)                  # ~150k glosses and example sentences
    held_out = fortune_sentences(fetch_debian_package("fortunes-min", cache_dir), count=60)

* **Training text: WordNet 3.0** (Debian ``wordnet-base``). Every synset line of
  ``/usr/share/wordnet/data.{noun,verb,adj,adv}`` ends in a gloss after ``|``: a definition, then
  example sentences in double quotes, separated by ``;``. Both the definitions and the examples are
  kept: ordinary English over a vocabulary of some 100k words, far beyond the corpus's templates.
* **Held-out text: fortunes** (Debian ``fortunes-min``: ``fortunes``, ``literature``, ``riddles``).
  A source the training text never draws from: quotations and jokes, cut into sentences.
* **Filter.** A sentence is kept when it has no digits (their spoken form is ambiguous), only ASCII,
  and 3 to 16 words (fortunes: 4 to 14) after ``corpus.normalize_text``. Lists are sorted and
  deduplicated, so they depend only on the package versions, never on file order.

The packages are fetched at development time with ``apt-get download`` (no root, no install) and
unpacked with ``dpkg-deb -x`` into the cache; a machine without apt gets a clear error naming both.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import List

from .corpus import normalize_text

WORDNET_PACKAGE = "wordnet-base"
FORTUNES_PACKAGE = "fortunes-min"
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
FORTUNE_FILES = ("fortunes", "literature", "riddles")
TRAIN_WORDS = (3, 16)    # inclusive
HELD_OUT_WORDS = (4, 14)  # inclusive

_QUOTED = re.compile(r'"([^"]+)"')
_RIDDLE_MARK = re.compile(r"^[QA]:\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def fetch_debian_package(name: str, cache_dir) -> Path:
    """``cache_dir/name/root``: the files of Debian package ``name``, downloaded and unpacked once."""
    root = Path(cache_dir) / name / "root"
    if root.is_dir() and (root.parent / "unpacked").is_file():
        return root
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not available: the open-English text comes from the Debian packages "
                               f"{WORDNET_PACKAGE} and {FORTUNES_PACKAGE} (fetched with apt-get download)")
    download = root.parent / "download"
    download.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["apt-get", "download", name], cwd=download, capture_output=True, text=True)
    debs = sorted(download.glob(f"{name}_*.deb"))
    if done.returncode != 0 or not debs:
        raise RuntimeError(f"apt-get download {name} failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    if root.exists():
        shutil.rmtree(root)
    subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(root)], check=True, capture_output=True)
    (root.parent / "unpacked").write_text(debs[-1].name + "\n")
    return root


def _keep(raw: str, words: tuple[int, int]) -> str:
    """The normalized sentence, or "" when the filter drops it."""
    if any(ch.isdigit() for ch in raw) or not raw.isascii():
        return ""
    text = normalize_text(raw.replace("_", " "))
    return text if words[0] <= len(text.split()) <= words[1] else ""


def gloss_sentences(gloss: str) -> List[str]:
    """A WordNet gloss's definitions and quoted examples, normalized and filtered."""
    examples = [q.strip() for q in _QUOTED.findall(gloss)]
    definitions = [part.strip() for part in _QUOTED.sub(" ", gloss).split(";")]
    return [s for s in (_keep(x, TRAIN_WORDS) for x in definitions + examples) if s]


def wordnet_sentences(package_root) -> List[str]:
    folder = Path(package_root) / "usr" / "share" / "wordnet"
    found = set()
    for name in WORDNET_FILES:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: not an unpacked {WORDNET_PACKAGE} package")
        for line in path.read_text(encoding="latin-1").splitlines():
            if line.startswith("  ") or " | " not in line:  # the license header is indented
                continue
            found.update(gloss_sentences(line.split(" | ", 1)[1]))
    return sorted(found)


def fortune_entries(text: str) -> List[str]:
    """The entries of a fortune file (separated by ``%`` lines), attributions (``-- name``) and the
    riddles' ``Q:``/``A:`` markers dropped."""
    entries = []
    for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        lines = [_RIDDLE_MARK.sub("", ln.strip()) for ln in entry.splitlines()
                 if ln.strip() and not ln.strip().startswith("--")]
        if lines:
            entries.append(" ".join(lines))
    return entries


def package_version(package_root) -> str:
    """The .deb file an unpacked package folder came from (its name carries the version)."""
    marker = Path(package_root).parent / "unpacked"
    return marker.read_text().strip() if marker.is_file() else "unknown"


def fortune_sentences(package_root, count: int, exclude=frozenset()) -> List[str]:
    """``count`` held-out sentences from the fortune files, chosen by sha256 rank (file order free);
    sentences in ``exclude`` (the training text) are never chosen."""
    folder = Path(package_root) / "usr" / "share" / "games" / "fortunes"
    found = set()
    for name in FORTUNE_FILES:
        path = folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: not an unpacked {FORTUNES_PACKAGE} package")
        for entry in fortune_entries(path.read_text(encoding="latin-1")):
            for sentence in _SENTENCE_END.split(entry):
                kept = _keep(sentence, HELD_OUT_WORDS)
                if kept and kept not in exclude:
                    found.add(kept)
    ranked = sorted(found, key=lambda s: hashlib.sha256(s.encode()).hexdigest())
    if len(ranked) < count:
        raise ValueError(f"only {len(ranked)} fortune sentences pass the filter; asked for {count}")
    return ranked[:count]


@lru_cache(maxsize=2)
def training_sentences(cache_dir: str) -> tuple[str, ...]:
    """WordNet's sentences, fetched into ``cache_dir`` when missing (cached per process)."""
    return tuple(wordnet_sentences(fetch_debian_package(WORDNET_PACKAGE, cache_dir)))
