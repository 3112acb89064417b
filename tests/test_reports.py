"""Generated reports regenerate identically apart from their timings.

docs/VALIDATION_REPORT_ORT.md claims that only its timings line changes between runs; this runs the
generator twice, each in its own process, on the tiny model (--quick: fewer signals and chunks) and
compares the two reports with the timings masked. docs/CONTRACT_SOURCES.md has no timings and is
compared byte for byte with its generator's output in tests/test_contract.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VALIDATION_TOOL = REPO / "tools" / "validation_report_ort.py"
TIMINGS_LINE = re.compile(r"^Timings \(s\): .*$", re.MULTILINE)
# The seconds after each "<arch> " in "Timings (s): tiny 268, parakeet-tdt-0.6b-v3 1114"; the
# digits inside an architecture's name are not preceded by a space.
TIMING_VALUE = re.compile(r"(?<= )\d+(?=,|$)")


def mask_timings(report: str) -> str:
    """The report with the seconds on its one timings line replaced by <s>; every other character,
    every other number included, is kept."""
    lines = TIMINGS_LINE.findall(report)
    assert len(lines) == 1, f"expected one timings line, found {lines}"
    return TIMINGS_LINE.sub(lambda m: TIMING_VALUE.sub("<s>", m.group(0)), report)


def _generate(out: Path) -> str:
    out.parent.mkdir(parents=True)
    proc = subprocess.run([sys.executable, str(VALIDATION_TOOL), "--archs", "tiny", "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out.read_text(encoding="utf-8")


def test_mask_timings_masks_only_the_seconds():
    committed = (REPO / "docs" / "VALIDATION_REPORT_ORT.md").read_text(encoding="utf-8")
    masked = mask_timings(committed)
    assert "Timings (s): tiny <s>, parakeet-tdt-0.6b-v3 <s>" in masked
    assert masked.replace("<s>", "") != committed  # something was masked
    # A changed timing is invisible; any other changed number is not.
    retimed = TIMINGS_LINE.sub("Timings (s): tiny 1, parakeet-tdt-0.6b-v3 2", committed)
    assert mask_timings(retimed) == masked
    table_number = re.search(r"\| \d\.\d\de[-+]\d\d \|", committed)
    changed = committed[:table_number.start() + 2] + "9" + committed[table_number.start() + 3:]
    assert changed != committed and mask_timings(changed) != masked
    in_arch_name = committed.replace("parakeet-tdt-0.6b-v3 ", "parakeet-tdt-0.7b-v3 ", 1)
    assert mask_timings(in_arch_name) != masked


def test_validation_report_reproducible_apart_from_timings(tmp_path):
    first = _generate(tmp_path / "a" / "VALIDATION_REPORT_ORT.md")
    second = _generate(tmp_path / "b" / "VALIDATION_REPORT_ORT.md")
    # The report holds the rungs it claims to (not an empty shell that is trivially equal).
    for row in ("| features |", "| encoder |", "| decoder_joint |", "| decoder_step |", "| tokens |",
                "| chunk_isolated | closed-loop |", "| cache_aware | closed-loop |"):
        assert row in first, row
    assert "Quick mode" in first
    assert mask_timings(first) == mask_timings(second)
