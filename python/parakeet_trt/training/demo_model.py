"""The demo model: a small FastConformer + TDT transducer trained on the synthetic corpus.

    from parakeet_trt.training.demo_model import DEMO_ARCH, build_demo_model
    model = build_demo_model(tokenizer_dir, seed=0)     # untrained EncDecRNNTBPEModel, train mode

The architecture is Parakeet-TDT's (facts §1.1: FastConformer with 8x depthwise-striding
subsampling, relative-position attention, LSTM prediction network, TDT joint with durations
0-4, BPE tokenizer), scaled down so that training fits in about an hour on two CPU cores and the
.nemo plus its exported folder stay well under 25 MB (about 2 M parameters: 8 MB of float32 in
each). Every dimension is distinct (D=136, H=120, J=160, V=512) like the tiny test model's, so a
transposed tensor cannot slip through the parity tests.
"""

from __future__ import annotations

from typing import Any, Dict, List

DEMO_ARCH: Dict[str, Any] = dict(
    n_mels=80, n_layers=6, d_model=136, n_heads=4, ff_expansion_factor=2,
    subsampling_conv_channels=64, conv_kernel_size=9,
    pred_hidden=120, pred_rnn_layers=1, joint_hidden=160, vocab_size=512,
    dropout=0.1,
    # Light SpecAugment: the eval speech comes from the same synthesiser, and the training budget
    # is a few epochs, so heavy masking would cost more accuracy than it buys robustness.
    spec_augment=dict(freq_masks=2, freq_width=15, time_masks=4, time_width=0.05),
)
DEMO_VOCAB_SIZE = DEMO_ARCH["vocab_size"]


def demo_model_config(tokenizer_dir: str) -> Dict[str, Any]:
    from parakeet_trt.testing.test_models import tdt_model_config

    return tdt_model_config(DEMO_ARCH, tokenizer_dir)


def train_demo_tokenizer(texts: List[str], out_dir, seed: int) -> Dict[str, Any]:
    """BPE tokenizer with ``DEMO_VOCAB_SIZE`` pieces on the training texts (never the eval ones)."""
    from parakeet_trt.testing.test_models import train_tokenizer_on

    return train_tokenizer_on(sorted(set(texts)), out_dir, DEMO_VOCAB_SIZE, seed)


def build_demo_model(tokenizer_dir: str, seed: int):
    """A freshly initialised demo ``EncDecRNNTBPEModel`` on CPU (seeded)."""
    import random

    import numpy as np
    import torch
    from omegaconf import OmegaConf

    from parakeet_trt.testing.test_models import _quiet_nemo

    _quiet_nemo()
    from nemo.collections.asr.models import EncDecRNNTBPEModel

    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    model = EncDecRNNTBPEModel(cfg=OmegaConf.create(demo_model_config(tokenizer_dir)))
    return model.to("cpu")


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())
