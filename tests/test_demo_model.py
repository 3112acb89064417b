"""The demo model's training (tools/train_demo_model.py): an interrupted run resumes exactly, and
`parakeet-trt live --demo` says how to get the model when it is not packaged."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from parakeet_trt.models import packaged_models


@pytest.fixture(scope="module")
def demo_model_and_data(tmp_path_factory):
    """A fresh (untrained) demo-architecture model with a tokenizer trained on corpus texts, and six
    training utterances' features from its own preprocessor."""
    import torch

    from parakeet_trt.training.corpus import make_utterance, plan_utterance, utterance_seed
    from parakeet_trt.training.demo_model import build_demo_model, train_demo_tokenizer
    from parakeet_trt.training.feature_shards import FeatureSet

    torch.set_num_threads(1)
    tok_dir = tmp_path_factory.mktemp("tokenizer")
    train_demo_tokenizer([plan_utterance(utterance_seed("train", 0, i)).text for i in range(4000)], tok_dir, 0)
    model = build_demo_model(str(tok_dir), seed=0)
    model.eval()
    feats, texts = [], []
    for i in range(6):
        audio, text, _ = make_utterance(utterance_seed("train", 0, i))
        with torch.no_grad():
            f, n = model.preprocessor(input_signal=torch.from_numpy(audio)[None], length=torch.tensor([len(audio)]))
        feats.append(f[0, :, : int(n[0])].numpy().astype(np.float16))
        texts.append(text)
    return model, FeatureSet(feats, texts, list(range(6)))


def test_trainer_resume_continues_exactly(demo_model_and_data, tmp_path):
    """An interrupted run (killed during step 3, restarted) ends with the weights of an
    uninterrupted 4-step run, teacher included; another config is refused."""
    import torch

    from parakeet_trt.training.trainer import Trainer, TrainConfig

    model, data = demo_model_and_data
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=4, batch_frames=1200, warmup_steps=2, teacher_steps=2, distill_steps=3,
                      eval_every=1000, checkpoint_every=2)

    def weights():
        return {k: v.clone() for k, v in model.state_dict().items()}

    Trainer(model, data, None, cfg, tmp_path / "straight", progress=False).run()
    straight = weights()

    class Interrupted(Exception):
        pass

    model.load_state_dict(state0)
    interrupted = Trainer(model, data, None, cfg, tmp_path / "resumed", progress=False)
    real_step = interrupted.train_step

    def step_then_stop(batch):
        if interrupted.step == 3:  # killed during step 3: the checkpoint of step 2 survives
            raise Interrupted
        return real_step(batch)

    interrupted.train_step = step_then_stop
    with pytest.raises(Interrupted):
        interrupted.run()
    model.load_state_dict(state0)  # a fresh process rebuilds the model; the checkpoint restores it
    with pytest.raises(ValueError, match="another training config"):
        Trainer(model, data, None, TrainConfig(**{**cfg.__dict__, "steps": 5}), tmp_path / "resumed",
                progress=False).run()
    Trainer(model, data, None, cfg, tmp_path / "resumed", progress=False).run()
    resumed = weights()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(straight[k], state0[k]) for k in straight)


@pytest.mark.skipif("demo" in packaged_models(), reason="the demo model is packaged in this checkout")
def test_live_demo_without_the_model_says_how_to_get_it():
    result = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--ui", "none",
                             "--no-realtime"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "tools/train_demo_model.py" in result.stderr, result.stderr[-2000:]
