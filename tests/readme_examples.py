"""The README's tested examples: the code blocks that follow a ``<!-- tested: ... -->`` comment, and
the output blocks that follow an ``<!-- output ... -->`` comment (tests/test_new_user.py and
tests/test_first_run.py run them as written)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
_BLOCK = re.compile(r"<!-- (tested|output)[^>]*-->\s*\n```(\w*)\n(.*?)```", re.S)


def blocks(kind: str, readme: Path = README) -> list[tuple[str, str]]:
    """[(language, code)] of the README's blocks marked `kind` ("tested" or "output"), in order."""
    return [(language, code) for marker, language, code in _BLOCK.findall(readme.read_text(encoding="utf-8"))
            if marker == kind]


def commands(code: str) -> list[str]:
    """The command lines of a bash block (comments and blank lines dropped; trailing comments kept,
    bash ignores them)."""
    return [line for line in code.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def tested_bash() -> list[list[str]]:
    return [commands(code) for language, code in blocks("tested") if language == "bash"]


def python_snippet() -> str:
    snippets = [code for language, code in blocks("tested") if language == "python"]
    assert len(snippets) == 1, "the README has one tested Python snippet"
    return snippets[0]


def outputs() -> list[str]:
    return [code for _, code in blocks("output")]


def assert_output_matches(expected: str, actual: str) -> None:
    """`actual` (lines) reads as the documented `expected`: a line "…" stands for any lines; a "…"
    inside a line for any text."""
    want = expected.strip("\n").splitlines()
    got = actual.strip("\n").splitlines()

    def line_matches(pattern: str, line: str) -> bool:
        return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("…")), line) is not None

    def match(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i] == "…":
            return any(match(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and line_matches(want[i], got[j]) and match(i + 1, j + 1)

    assert match(0, 0), f"output does not read as documented:\n--- expected\n{expected}\n--- got\n{actual}"
