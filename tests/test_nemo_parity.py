"""The engine computes what NeMo computes: features within 1e-3 and identical decoded tokens
(ids, frames, durations) against NeMo's own preprocessor and greedy_batch TDT decoding."""

from __future__ import annotations

import pytest

from parakeet_trt.parity.offline import compare_decoding, compare_features

FEATURE_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def core_tiny(tiny_export_dir):
    from parakeet_trt import _core

    return _core.Model.load(str(tiny_export_dir))


def test_signal_corpus_covers_the_range(signals):
    durations = [s.duration_s for s in signals]
    assert len(signals) >= 20
    assert min(durations) <= 0.1 + 1e-9 and max(durations) >= 60.0
    names = " ".join(s.name for s in signals)
    for kind in ("silence", "noise", "tone", "speech"):
        assert kind in names


def test_features_match_nemo(tiny_nemo_model, core_tiny, signals):
    rows = compare_features(tiny_nemo_model, core_tiny, signals)
    for row in rows:
        print(f"{row.name:24s} {row.duration_s:6.2f}s frames={row.num_frames:5d} max|diff|={row.max_abs_diff:.2e}")
    worst = max(rows, key=lambda r: r.max_abs_diff)
    assert worst.max_abs_diff <= FEATURE_TOLERANCE, f"{worst.name}: {worst.max_abs_diff:.3e} > {FEATURE_TOLERANCE}"


def test_decoding_identical_to_nemo_greedy_batch(tiny_nemo_model, tiny_session, signals):
    rows = compare_decoding(tiny_nemo_model, tiny_session, signals, tiny_session.model.max_symbols)
    for row in rows:
        print(f"{row.name:24s} frames={row.num_encoder_frames:4d} tokens={row.num_tokens_nemo:4d} "
              f"durations={row.durations_seen} guard={row.guard_firings} identical={row.identical} "
              f"{row.first_difference}")
    different = [f"{r.name}: {r.first_difference}" for r in rows if not r.identical]
    assert not different, "\n".join(different)
    # The corpus must exercise every branch of the decoder, or identity proves little.
    assert sum(r.num_tokens_nemo for r in rows) > 100
    assert set().union(*(set(r.durations_seen) for r in rows)) == set(tiny_session.model.durations)
    assert sum(r.guard_firings for r in rows) > 0, "no frame hit the max-symbols guard"


@pytest.mark.fullsize
def test_fullsize_decoding_identical_to_nemo(fullsize_nemo_path, fullsize_export_dir, signals):
    import parakeet_trt
    from parakeet_trt.testing.test_models import load_test_model

    chosen = [s for s in signals if s.name in ("silence_2s", "noise_0.1s", "speech_1_en-gb", "speech_15s")]
    nemo_model = load_test_model(fullsize_nemo_path)
    session = parakeet_trt.Session(fullsize_export_dir)
    rows = compare_decoding(nemo_model, session, chosen, session.model.max_symbols)
    for row in rows:
        print(f"{row.name:24s} frames={row.num_encoder_frames:4d} tokens={row.num_tokens_nemo:4d} "
              f"durations={row.durations_seen} guard={row.guard_firings} identical={row.identical}")
    different = [f"{r.name}: {r.first_difference}" for r in rows if not r.identical]
    assert not different, "\n".join(different)
    assert sum(r.num_tokens_nemo for r in rows) > 20
