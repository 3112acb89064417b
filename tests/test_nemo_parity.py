"""The engine computes what NeMo computes: features within 1e-3 and identical decoded tokens
(ids, frames, durations) against NeMo's own preprocessor and greedy_batch TDT decoding."""

from __future__ import annotations

import pytest

from parakeet_trt.parity.offline import compare_decoding, compare_features

FEATURE_TOLERANCE = 1e-3
# Two signal kinds are ill-conditioned in NeMo's own float32 arithmetic: quiet noise, whose mel rows
# sit at the log guard with a spread of ~1e-3 (normalization turns one float32 rounding step of the
# raw log-mel into ~2e-3), and a loud pure chirp, whose bins 100 dB below the peak hold only float32
# FFT rounding noise (NeMo is 2.1e-3 from an exact double computation there; we are 1.7e-4). They
# get 3e-3; everything else must meet 1e-3. docs/PARITY_OFFLINE.md reports every number.
ILL_CONDITIONED_TOLERANCE = 3e-3
ILL_CONDITIONED = ("noise_quiet", "chirp")


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
    for row in rows:
        tolerance = ILL_CONDITIONED_TOLERANCE if row.name.startswith(ILL_CONDITIONED) else FEATURE_TOLERANCE
        assert row.max_abs_diff <= tolerance, f"{row.name}: {row.max_abs_diff:.3e} > {tolerance}"
    well_conditioned = [r for r in rows if not r.name.startswith(ILL_CONDITIONED)]
    assert len(well_conditioned) >= 19
    # Digital silence: NeMo's normalization turns float32 rounding of its mean into a constant
    # offset; we follow torch's summation order, so the bits agree.
    assert all(r.max_abs_diff == 0.0 for r in rows if r.name.startswith("silence"))


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

    names = ("silence_2s", "noise_0.1s", "speech_1_en-gb", "speech_60s")
    chosen = [s for s in signals if s.name in names]
    assert len(chosen) == len(names)
    nemo_model = load_test_model(fullsize_nemo_path)
    session = parakeet_trt.Session(fullsize_export_dir)
    rows = compare_decoding(nemo_model, session, chosen, session.model.max_symbols)
    for row in rows:
        print(f"{row.name:24s} frames={row.num_encoder_frames:4d} tokens={row.num_tokens_nemo:4d} "
              f"durations={row.durations_seen} guard={row.guard_firings} identical={row.identical}")
    different = [f"{r.name}: {r.first_difference}" for r in rows if not r.identical]
    assert not different, "\n".join(different)
    assert sum(r.num_tokens_nemo for r in rows) > 20
    assert sum(r.guard_firings for r in rows) > 0, "no frame hit the max-symbols guard"
