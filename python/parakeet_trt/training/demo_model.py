"""The demo model: a small FastConformer + TDT transducer trained on the synthetic corpus.

    from parakeet_trt.training.demo_model import DEMO_ARCH, build_demo_model
    model = build_demo_model(tokenizer_dir, seed=0)     # untrained EncDecRNNTBPEModel, train mode

The architecture is Parakeet-TDT's (facts §1.1: FastConformer with 8x depthwise-striding
subsampling, relative-position attention, LSTM prediction network, TDT joint with durations
0-4, BPE tokenizer), scaled down so that training fits in about two hours on two CPU cores and the
.nemo plus its offline and streaming exports stay under 40 MB (about 2.5 M parameters: 10 MB of
float32 in each). Every dimension is distinct (D=136, H=120, J=160, V=1024) like the tiny test
model's, so a transposed tensor cannot slip through the parity tests.

Version 2 is one model for offline and live use (NeMo's multi-look-ahead training, facts §4.4):

* ``att_context_style: chunked_limited`` with ``DEMO_ATT_CONTEXTS``, one drawn per training batch
  with ``DEMO_ATT_CONTEXT_PROBS``: full context (the default, what the offline export and buffered
  streaming run) and chunks of 14, 7 and 2 encoder frames with 70 frames (5.6 s) of left context,
  i.e. cache-aware look-ahead of 1040, 480 and 80 ms (chunk - 1 frame, 80 ms each);
* causal depthwise convolutions (``conv_context_size: causal``), so a cache-aware chunk needs no
  frames beyond itself. Subsampling stays non-causal (NeMo's pre-encode cache covers its left side;
  a causal one changes the encoded-length rule every runtime path relies on);
* unnormalized log-mel features (preprocessor ``normalize: None``, as NeMo's cache-aware streaming
  configs): NeMo's cache-aware streaming normalizes each 65-frame window over itself, which is far from
  the per-utterance statistics a ``per_feature`` model trains with (a one-off interim eval of a
  per_feature run made cache-aware streaming far worse than offline: docs/DECISION_LOG.md). Level
  changes in the live mix teach it loudness instead;
* a 1024-piece BPE vocabulary over template and open-English (WordNet) text.

``DEMO_STREAMING`` is the packaged cache-aware export: 7-frame chunks (560 ms, look-ahead 480 ms)
with the 70-frame cache the model was trained with.
"""

from __future__ import annotations

from typing import Any, Dict, List

DEMO_ARCH: Dict[str, Any] = dict(
    n_mels=80, n_layers=6, d_model=136, n_heads=4, ff_expansion_factor=2,
    subsampling_conv_channels=64, conv_kernel_size=9,
    pred_hidden=120, pred_rnn_layers=1, joint_hidden=160, vocab_size=1024,
    dropout=0.1,
    # Light SpecAugment: the eval speech comes from the same synthesiser, and the training budget
    # is a few epochs, so heavy masking would cost more accuracy than it buys robustness.
    spec_augment=dict(freq_masks=2, freq_width=15, time_masks=4, time_width=0.05),
)
DEMO_VOCAB_SIZE = DEMO_ARCH["vocab_size"]
# [left, right] encoder frames; the first is the default (offline export, buffered streaming).
DEMO_ATT_CONTEXTS: List[List[int]] = [[-1, -1], [70, 13], [70, 6], [70, 1]]
DEMO_ATT_CONTEXT_PROBS: List[float] = [0.375, 0.25, 0.25, 0.125]  # exact binary fractions: NeMo wants sum == 1
# The packaged cache-aware export (encoder frames): chunk = shift = 7 (right context 6), cache 10 chunks.
DEMO_STREAMING: Dict[str, int] = dict(chunk_size=7, shift_size=7, left_chunks=10)


def demo_model_config(tokenizer_dir: str) -> Dict[str, Any]:
    from parakeet_trt.testing.test_models import tdt_model_config

    return with_streaming_training(tdt_model_config(DEMO_ARCH, tokenizer_dir))


def with_streaming_training(cfg: Dict[str, Any]) -> Dict[str, Any]:
    """``cfg`` (a model config) with the demo model's encoder attention and convolution contexts and its
    unnormalized features."""
    cfg["preprocessor"]["normalize"] = "None"
    cfg["encoder"].update(att_context_size=[list(c) for c in DEMO_ATT_CONTEXTS],
                          att_context_probs=list(DEMO_ATT_CONTEXT_PROBS),
                          att_context_style="chunked_limited", conv_context_size="causal")
    return cfg


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
