"""The deterministic random NeMo test models (parakeet_trt.testing.test_models)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

# Bars the shaped joint must meet on the standard test signals (NeMo greedy_batch decoding).
BLANK_FRACTION_RANGE = (0.30, 0.70)  # builder targets 0.5 on its calibration audio
MIN_DISTINCT_TOKENS = 20
MIN_TOP1_MARGIN = 1e-4  # logits; ORT/C++ vs PyTorch float differences are ~1e-5


def _state_dict(model):
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def _assert_mix(stats, max_symbols=10):
    lo, hi = BLANK_FRACTION_RANGE
    assert lo <= stats["blank_fraction"] <= hi, stats["blank_fraction"]
    assert all(n > 0 for n in stats["duration_hist"]), f"every duration must occur: {stats['duration_hist']}"
    assert stats["guard_firings"] >= 1, "no frame where the max_symbols guard fires"
    assert stats["distinct_tokens_total"] >= MIN_DISTINCT_TOKENS, stats["distinct_tokens_total"]
    assert stats["num_tokens"] > stats["guard_firings"] * max_symbols, "tokens only come from guard frames"
    assert stats["token_margin"]["min"] > MIN_TOP1_MARGIN, stats["token_margin"]
    assert stats["duration_margin"]["min"] > MIN_TOP1_MARGIN, stats["duration_margin"]


def test_import_is_lazy():
    code = ("import sys, parakeet_trt.testing, parakeet_trt.export; "
            "assert 'torch' not in sys.modules and 'nemo' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(REPO / "python")})


def test_fullsize_config_is_parakeet_v3():
    from parakeet_trt.testing.test_models import model_config

    c = model_config("parakeet-tdt-0.6b-v3", "tok")
    p, e, d, j = c["preprocessor"], c["encoder"], c["decoder"], c["joint"]
    assert (p["features"], p["n_fft"], p["window_size"], p["window_stride"], p["window"]) == (128, 512, 0.025, 0.01, "hann")
    assert (p["normalize"], p["dither"], p["pad_to"]) == ("per_feature", 1e-5, 0)
    assert (e["n_layers"], e["d_model"], e["n_heads"], e["ff_expansion_factor"]) == (24, 1024, 8, 4)
    assert (e["subsampling"], e["subsampling_factor"], e["subsampling_conv_channels"]) == ("dw_striding", 8, 256)
    assert (e["xscaling"], e["use_bias"], e["self_attention_model"], e["untie_biases"]) == (False, False, "rel_pos", True)
    assert (e["pos_emb_max_len"], e["conv_kernel_size"], e["conv_norm_type"], e["att_context_size"]) == (
        5000, 9, "batch_norm", [-1, -1])
    assert (d["prednet"]["pred_hidden"], d["prednet"]["pred_rnn_layers"], d["blank_as_pad"]) == (640, 2, True)
    assert (j["jointnet"]["joint_hidden"], j["jointnet"]["activation"], j["num_extra_outputs"]) == (640, "relu", 5)
    assert c["model_defaults"]["tdt_durations"] == [0, 1, 2, 3, 4]
    assert c["loss"]["loss_name"] == "tdt"
    assert c["decoding"] == {"strategy": "greedy_batch", "model_type": "tdt", "durations": [0, 1, 2, 3, 4],
                             "greedy": {"max_symbols": 10}}


def test_unknown_arch_raises():
    from parakeet_trt.testing.test_models import cached_test_model_path

    with pytest.raises(ValueError, match="unknown test-model arch"):
        cached_test_model_path("nope", 0)


def test_same_seed_same_bytes(tiny_nemo_path, tmp_path):
    """Rebuilding in this process gives the byte-identical .nemo the cache built (possibly elsewhere)."""
    from conftest import TINY_SEED
    from parakeet_trt.testing.test_models import save_test_model, stats_path_for

    out = tmp_path / "again.nemo"
    save_test_model("tiny", TINY_SEED, out)
    assert out.read_bytes() == Path(tiny_nemo_path).read_bytes()
    a = json.loads(stats_path_for(out).read_text())
    b = json.loads(stats_path_for(tiny_nemo_path).read_text())
    assert a == b


def test_same_seed_same_weights_and_tokenizer(tiny_nemo_model):
    from conftest import TINY_SEED
    from parakeet_trt.testing.test_models import build_test_model

    rebuilt = build_test_model("tiny", TINY_SEED, compute_stats=False)
    sa, sb = _state_dict(rebuilt), _state_dict(tiny_nemo_model)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert np.array_equal(sa[k], sb[k]), k
    tok_a = rebuilt.tokenizer.tokenizer.serialized_model_proto()
    tok_b = tiny_nemo_model.tokenizer.tokenizer.serialized_model_proto()
    assert tok_a == tok_b


def test_different_seed_different_weights(tiny_nemo_model):
    from conftest import TINY_SEED
    from parakeet_trt.testing.test_models import build_test_model

    other = build_test_model("tiny", TINY_SEED + 1, compute_stats=False)
    sa, sb = _state_dict(other), _state_dict(tiny_nemo_model)
    differing = [k for k in sa if sa[k].dtype.kind == "f" and sa[k].size > 1 and not np.array_equal(sa[k], sb[k])]
    assert "encoder.layers.0.self_attn.linear_q.weight" in differing
    assert "decoder.prediction.embed.weight" in differing
    assert "joint.joint_net.2.weight" in differing or "joint.joint_net.1.weight" in differing
    assert other.tokenizer.tokenizer.serialized_model_proto() != tiny_nemo_model.tokenizer.tokenizer.serialized_model_proto()


def test_stored_stats_meet_the_bars(tiny_nemo_path, tiny_nemo_model):
    from parakeet_trt.testing.test_models import stats_path_for

    info = json.loads(stats_path_for(tiny_nemo_path).read_text())
    assert info["arch"] == "tiny"
    _assert_mix(info["stats"])
    assert tiny_nemo_model.cfg.ptrt_test_model.stats.blank_fraction == info["stats"]["blank_fraction"]


def test_restored_model_reproduces_stats(tiny_nemo_path, tiny_nemo_model):
    """Decoding statistics recomputed from the restored .nemo equal the builder's."""
    from conftest import TINY_SEED
    from parakeet_trt.testing.test_models import decoding_stats, make_test_signals, stats_path_for

    stored = json.loads(stats_path_for(tiny_nemo_path).read_text())["stats"]
    stats = decoding_stats(tiny_nemo_model, make_test_signals(TINY_SEED))
    for k in ("joint_evals", "blank_evals", "num_tokens", "duration_hist", "guard_firings", "distinct_tokens_total"):
        assert stats[k] == stored[k], k
    _assert_mix(stats)


def test_decode_with_nemo_result(tiny_nemo_model):
    from parakeet_trt.testing.test_models import (decode_encoded_with_nemo, decode_with_nemo,
                                                  make_test_signals)

    from conftest import TINY_SEED

    sig = make_test_signals(TINY_SEED)
    seen_guard = False
    for name, x in sig.items():
        r = decode_with_nemo(tiny_nemo_model, x)
        n = len(r["token_ids"])
        assert len(r["token_frames"]) == n == len(r["token_durations"])
        assert all(0 <= t < 250 for t in r["token_ids"])  # never blank
        assert all(d in (0, 1, 2, 3, 4) for d in r["token_durations"])
        assert r["token_frames"] == sorted(r["token_frames"])
        assert all(0 <= f < r["num_encoder_frames"] for f in r["token_frames"])
        counts = np.bincount(r["token_frames"], minlength=1) if n else np.zeros(1)
        assert counts.max(initial=0) <= 10, f"{name}: more than max_symbols tokens at one frame"
        seen_guard |= bool((counts == 10).any())
        # a token at frame t with duration d means the next token is at frame >= t + d
        for i in range(n - 1):
            assert r["token_frames"][i + 1] >= r["token_frames"][i] + r["token_durations"][i], (name, i)
        assert r["text"] == tiny_nemo_model.tokenizer.ids_to_text(r["token_ids"])
    assert seen_guard
    # the encoded-input entry point gives the same answer
    from parakeet_trt.export.reference import nemo_encoder, nemo_features

    x = sig["espeak_0"] if "espeak_0" in sig else sig["harmonic"]
    f, fl = nemo_features(tiny_nemo_model, x)
    e, el = nemo_encoder(tiny_nemo_model, f, fl)
    assert decode_encoded_with_nemo(tiny_nemo_model, e, el) == decode_with_nemo(tiny_nemo_model, x)


def test_cli_help():
    r = subprocess.run([sys.executable, str(REPO / "tools" / "make_test_model.py"), "--help"],
                       capture_output=True, text=True, check=True)
    assert "--arch" in r.stdout and "parakeet-tdt-0.6b-v3" in r.stdout
