"""The test cache keeps few full-size exports (2.4 GB each) so the test command fits a CI disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from parakeet_trt.testing.exports import FULLSIZE_EXPORT_SLOTS_ENV, make_room_for_export

ARCH = "parakeet-tdt-0.6b-v3"
FULL = f"{ARCH}-seed7-b3"


def _folders(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for folder in ("exports", "streaming_exports")
                  for p in (root / folder).iterdir())


def _make(root: Path, rel: str, mtime: int) -> None:
    d = root / rel
    d.mkdir(parents=True)
    (d / "model_meta.json").write_text("{}")
    os.utime(d, (mtime, mtime))


@pytest.fixture
def cache(tmp_path):
    _make(tmp_path, f"exports/{FULL}", 100)
    _make(tmp_path, "exports/parakeet-tdt-0.6b-v3-seed7", 50)  # an older builder version
    _make(tmp_path, f"streaming_exports/{FULL}-cache_aware", 200)
    _make(tmp_path, "exports/tiny-seed1234-b3", 10)
    _make(tmp_path, "streaming_exports/tiny-seed1234-b3-cache_aware", 10)
    return tmp_path


def test_one_fullsize_export_at_a_time(cache, monkeypatch):
    monkeypatch.delenv(FULLSIZE_EXPORT_SLOTS_ENV, raising=False)
    out = cache / "streaming_exports" / f"{FULL}-chunk_isolated"
    make_room_for_export(cache, ARCH, out)
    assert _folders(cache) == ["exports/tiny-seed1234-b3", "streaming_exports/tiny-seed1234-b3-cache_aware"]


def test_more_slots_keep_the_newest(cache, monkeypatch):
    monkeypatch.setenv(FULLSIZE_EXPORT_SLOTS_ENV, "3")
    make_room_for_export(cache, ARCH, cache / "exports" / "unused")
    assert f"exports/{FULL}" in _folders(cache)
    assert f"streaming_exports/{FULL}-cache_aware" in _folders(cache)
    assert "exports/parakeet-tdt-0.6b-v3-seed7" not in _folders(cache)


def test_tiny_exports_are_never_evicted(cache):
    before = _folders(cache)
    make_room_for_export(cache, "tiny", cache / "exports" / "tiny-seed9-b3")
    assert _folders(cache) == before


def test_bad_slot_count_is_refused(cache, monkeypatch):
    monkeypatch.setenv(FULLSIZE_EXPORT_SLOTS_ENV, "0")
    with pytest.raises(ValueError, match="at least 1"):
        make_room_for_export(cache, ARCH, cache / "exports" / "x")
