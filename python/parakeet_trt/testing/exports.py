"""Cached exports of the test models, shared by the tests, the parity tools and the benchmarks.

The seeds below are the ones every test, report and benchmark uses, so their numbers describe the
same models.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

TINY_SEED = 1234
FULLSIZE_SEED = 7

# A full-size export is 2.4 GB and CI machines have a few GB to spare: keep this many full-size
# exports (offline and streaming profiles together) in the cache, the most recently made ones.
FULLSIZE_EXPORT_SLOTS_ENV = "PARAKEET_TRT_FULLSIZE_EXPORT_SLOTS"


def default_seed(arch: str) -> int:
    return TINY_SEED if arch == "tiny" else FULLSIZE_SEED


def cache_root() -> Path:
    """``$PARAKEET_TRT_CACHE``, else the source checkout's ``.cache`` (kept out of git), else
    ``~/.cache/parakeet_trt`` for an installed package. Tests, tools and benchmarks run from the
    repository and pass ``<repo>/.cache`` explicitly."""
    env = os.environ.get("PARAKEET_TRT_CACHE")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        return checkout / ".cache"
    return Path.home() / ".cache" / "parakeet_trt"


def cached_export_dir(arch: str, seed: int | None = None, cache_dir: Path | None = None) -> Path:
    """The exported model folder of test model (arch, seed), building and exporting it on first use.

    Keyed by the .nemo's stem (it carries the builder version); re-exported when the model's hash or
    the exporter's version differ from what the cached export recorded.
    """
    from parakeet_trt.export import export_model
    from parakeet_trt.export.metadata import EXPORTER_VERSION
    from parakeet_trt.hashing import sha256_file
    from parakeet_trt.testing.test_models import cached_test_model_path

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    seed = default_seed(arch) if seed is None else seed
    nemo_path = cached_test_model_path(arch, seed, root / "test_models")
    out = root / "exports" / nemo_path.stem
    meta_path = out / "model_meta.json"
    if meta_path.is_file():
        source = json.loads(meta_path.read_text())["source"]
        if source.get("exporter_version") != EXPORTER_VERSION or source.get("nemo_sha256") != sha256_file(nemo_path):
            meta_path.unlink()
    if not meta_path.is_file():
        make_room_for_export(root, arch, out)
        export_model(nemo_path, out, component="all", device="cpu")
    return out


def make_room_for_export(root: Path, arch: str, out: Path) -> None:
    """Before exporting a full-size test model into ``out``, delete the cached exports of its
    architecture (any seed or builder version, offline or streaming) beyond
    ``$PARAKEET_TRT_FULLSIZE_EXPORT_SLOTS`` (default 1), oldest first. Tiny exports stay."""
    if arch == "tiny":
        return
    slots = int(os.environ.get(FULLSIZE_EXPORT_SLOTS_ENV, "1"))
    if slots < 1:
        raise ValueError(f"{FULLSIZE_EXPORT_SLOTS_ENV} must be at least 1, got {slots}")
    others = [d for folder in ("exports", "streaming_exports")
              for d in sorted((root / folder).glob(arch + "-seed*")) if d.is_dir() and d != Path(out)]
    others.sort(key=lambda d: d.stat().st_mtime)
    for stale in others[: max(0, len(others) - (slots - 1))]:
        shutil.rmtree(stale)


def cached_nemo_path(arch: str, seed: int | None = None, cache_dir: Path | None = None) -> Path:
    from parakeet_trt.testing.test_models import cached_test_model_path

    root = Path(cache_dir) if cache_dir is not None else cache_root()
    return cached_test_model_path(arch, default_seed(arch) if seed is None else seed, root / "test_models")
