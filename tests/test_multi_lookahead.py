"""A multi-look-ahead encoder (the demo model v2's: chunked-limited attention contexts, causal
convolutions, unnormalized features) exports and runs offline and cache-aware with tokens equal to
NeMo's own decoding."""

from __future__ import annotations

import numpy as np
import pytest

import parakeet_trt


@pytest.fixture(scope="module")
def multi_lookahead_export(tmp_path_factory):
    """A small random-weight model with the demo model's encoder contexts, its .nemo and its export
    (offline and the packaged cache-aware profile)."""
    import torch
    from omegaconf import OmegaConf

    from parakeet_trt.export.api import export_model
    from parakeet_trt.testing import test_models as tm
    from parakeet_trt.training.demo_model import DEMO_ARCH, DEMO_STREAMING, with_streaming_training

    tm._quiet_nemo()
    from nemo.collections.asr.models import EncDecRNNTBPEModel

    work = tmp_path_factory.mktemp("multi_lookahead")
    tm.train_tokenizer(work / "tok", 128, 0, 500)
    arch = {**DEMO_ARCH, "n_layers": 2, "d_model": 64, "n_heads": 2, "vocab_size": 128}
    torch.manual_seed(0)
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(with_streaming_training(tm.tdt_model_config(arch, str(work / "tok")))))
    model.eval()
    nemo_path = work / "m.nemo"
    tm._write_nemo_deterministic(model, nemo_path)
    export_model(nemo_path, work / "out", component="all,encoder_streaming", streaming_profile="cache_aware",
                 streaming_chunk_size=DEMO_STREAMING["chunk_size"], streaming_shift_size=DEMO_STREAMING["shift_size"],
                 streaming_left_chunks=DEMO_STREAMING["left_chunks"], log=None)
    return nemo_path, work / "out"


@pytest.fixture(scope="module")
def speech():
    from parakeet_trt.testing.signals import SENTENCES, speak

    return [np.concatenate([speak(s), speak(t)]).astype(np.float32) for s, t in zip(SENTENCES[:2], SENTENCES[2:4])]


def test_the_export_records_the_contexts(multi_lookahead_export):
    session = parakeet_trt.Session(multi_lookahead_export[1], intra_op_threads=1)
    assert session.meta["encoder"]["att_context_size"] == [-1, -1]  # the default: full context offline
    assert session.meta["features"]["normalize"] == "None"  # no per-window statistics in a cache-aware step
    streaming = session.meta["streaming"]
    assert streaming["profile"] == "cache_aware" and streaming["last_channel_cache_size"] == 70
    assert streaming["new_frames_per_call"] == 7 * 8  # 7 encoder frames (560 ms) per call


def test_offline_and_cache_aware_tokens_equal_nemo(multi_lookahead_export, speech):
    import torch

    from parakeet_trt.testing.nemo_cache_aware import load_streaming_reference, nemo_cache_aware_decode
    from parakeet_trt.testing.test_models import decode_with_nemo, load_nemo_model

    torch.set_num_threads(1)
    nemo_path, folder = multi_lookahead_export
    session = parakeet_trt.Session(folder, intra_op_threads=1)
    offline_model = load_nemo_model(nemo_path)
    offline_model.eval()
    reference = load_streaming_reference(nemo_path, session.meta["streaming"])
    tokens = 0
    for audio in speech:
        assert session.transcribe(audio, 16000).token_ids == decode_with_nemo(offline_model, audio)["token_ids"]
        stream = parakeet_trt.StreamingSession(session, mode="cache_aware")
        for i in range(0, len(audio), 3700):
            stream.push(audio[i:i + 3700])
        ours = stream.finish()[-1].committed_token_ids
        assert ours == nemo_cache_aware_decode(reference, audio)["token_ids"]
        tokens += len(ours)
    assert tokens > 20  # real decoding, not empty outputs
