"""The ONNX Runtime validation ladder on the tiny model (and the full-size architecture): every
rung within the contract's tolerances, tokens identical, streaming without error accumulation."""

from __future__ import annotations

import pytest

from conftest import CACHE


@pytest.fixture(scope="module")
def tiny_parts(tiny_export_dir):
    import parakeet_trt
    from parakeet_trt import _core
    from parakeet_trt.testing.exports import cached_nemo_path
    from parakeet_trt.testing.signals import speech_signals, synthetic_signals
    from parakeet_trt.testing.test_models import load_test_model

    nemo = load_test_model(cached_nemo_path("tiny", None, CACHE))
    core = _core.Model.load(str(tiny_export_dir))
    session = parakeet_trt.Session(tiny_export_dir, providers=["CPUExecutionProvider"])
    signals = synthetic_signals(0)[:6] + speech_signals(0, include_long=False)[:3]
    return nemo, core, session, signals


def test_component_rungs_pass(tiny_parts, tiny_export_dir):
    from parakeet_trt.parity import ladder

    nemo, core, session, signals = tiny_parts
    rungs = [ladder.features_rung(nemo, core, signals), ladder.encoder_rung(nemo, tiny_export_dir, core, signals),
             ladder.decoder_joint_rung(nemo, tiny_export_dir), ladder.decoder_step_rung(nemo, core),
             ladder.tokens_rung(nemo, session, signals)]
    for r in rungs:
        assert r["passed"], r
    assert rungs[-1]["identical"] == len(signals)


def test_rung_fails_beyond_tolerance(tiny_parts, tiny_export_dir, monkeypatch):
    """A ladder check that cannot fail is a defect: a tolerance below the measured error fails it."""
    from parakeet_trt.parity import ladder

    nemo, core, _, signals = tiny_parts
    monkeypatch.setitem(ladder.TOLERANCES, "encoder", {"abs": 1e-12, "rel": 0.0})
    assert not ladder.encoder_rung(nemo, tiny_export_dir, core, signals[:3])["passed"]


def test_streaming_rungs_no_upward_trend(tiny_parts):
    from parakeet_trt.parity import ladder
    from parakeet_trt.parity.streaming import cached_streaming_export

    nemo = tiny_parts[0]
    for profile in ("chunk_isolated", "cache_aware"):
        modes = ladder.streaming_rungs(nemo, cached_streaming_export("tiny", profile, CACHE), 45, seed=4)
        for mode, s in modes.items():
            assert s["pass_rate"] == 1.0, (profile, mode)
            assert s["trend_ratio"] < 1.5, (profile, mode, s["trend_ratio"])


def test_streaming_tokens_vs_offline(tiny_parts):
    from parakeet_trt.parity import ladder
    from parakeet_trt.parity.streaming import cached_streaming_export

    _, _, session, signals = tiny_parts
    speech = signals[-3:]
    for profile in ("chunk_isolated", "cache_aware"):
        v = ladder.streaming_vs_offline(cached_streaming_export("tiny", profile, CACHE), session, speech)
        assert v["profile"] == profile and len(v["signals"]) == 3
        assert v["offline_tokens"] > 0 and v["token_edit_distance"] >= 0


def test_edit_distance():
    from parakeet_trt.parity.ladder import edit_distance

    assert edit_distance([1, 2, 3], [1, 2, 3]) == 0
    assert edit_distance([1, 2, 3], [1, 3]) == 1
    assert edit_distance([], [4, 5]) == 2
    assert edit_distance([1, 2], [2, 1]) == 2
