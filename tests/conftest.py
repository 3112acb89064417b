"""Shared fixtures: test models built from configs (cached under .cache/), their exports, signals."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from parakeet_trt.testing.exports import FULLSIZE_SEED, TINY_SEED, cached_export_dir

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("PARAKEET_TRT_CACHE", REPO / ".cache"))


def committed_contract_bytes(export_dir) -> bytes:
    """The contract bytes tools/contract_sources.py commits for an export folder."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("contract_sources", REPO / "tools" / "contract_sources.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.committed_contract_bytes(export_dir)


def pytest_report_header(config):
    free = shutil.disk_usage(CACHE.parent if not CACHE.exists() else CACHE).free / 2**30
    return (f"free disk at the test cache {CACHE}: {free:.1f} GiB (full-size tests need about 8 GiB: "
            f"the 2.4 GB .nemo, NeMo's 2.5 GB extraction while loading it, one 2.4 GB export at a time)")


def pytest_collection_modifyitems(config, items):
    # Full-size tests run in the README's test command; PARAKEET_TRT_SKIP_FULLSIZE=1 skips them locally.
    if os.environ.get("PARAKEET_TRT_SKIP_FULLSIZE") == "1":
        skip = pytest.mark.skip(reason="PARAKEET_TRT_SKIP_FULLSIZE=1")
        for item in items:
            if "fullsize" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _torch_threads_restored():
    """A test that sets torch's thread count (NeMo references run on one thread) must not change
    what the tests after it compute."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    torch = sys.modules.get("torch")
    if torch is not None and before is not None and torch.get_num_threads() != before:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_nemo_path() -> Path:
    from parakeet_trt.testing.test_models import cached_test_model_path

    return cached_test_model_path("tiny", TINY_SEED, CACHE / "test_models")


@pytest.fixture(scope="session")
def tiny_nemo_model(tiny_nemo_path):
    from parakeet_trt.testing.test_models import load_nemo_model

    return load_nemo_model(tiny_nemo_path)


@pytest.fixture(scope="session")
def tiny_export_dir(tiny_nemo_path) -> Path:
    return cached_export_dir("tiny", TINY_SEED, CACHE)


@pytest.fixture(scope="session")
def tiny_session(tiny_export_dir):
    import parakeet_trt

    return parakeet_trt.Session(tiny_export_dir)


@pytest.fixture(scope="session")
def signals():
    from parakeet_trt.testing.signals import all_signals

    return all_signals(seed=0, include_long=True)


@pytest.fixture(scope="session")
def speech_signal() -> np.ndarray:
    from parakeet_trt.testing.signals import SENTENCES, speak

    return speak(SENTENCES[0])


@pytest.fixture(scope="session")
def fullsize_nemo_path() -> Path:
    from parakeet_trt.testing.test_models import cached_test_model_path

    return cached_test_model_path("parakeet-tdt-0.6b-v3", FULLSIZE_SEED, CACHE / "test_models")


@pytest.fixture(scope="session")
def fullsize_export_dir(fullsize_nemo_path) -> Path:
    return cached_export_dir("parakeet-tdt-0.6b-v3", FULLSIZE_SEED, CACHE)
