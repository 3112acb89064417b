"""Batches of cached feature utterances, shared by the demo model's trainer and its CTC teacher.

Utterances are sorted by length, cut into batches of at most ``batch_frames`` padded feature
frames, and the batch order is shuffled per epoch from ``(seed, epoch)``: the batch sequence is a
pure function of its arguments, so a resumed run sees exactly the batches an uninterrupted one
would.
"""

from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch


def make_batches(frames: np.ndarray, batch_frames: int, seed: int, epoch: int) -> List[np.ndarray]:
    """Length-sorted batches of utterance indices (padded size <= batch_frames), shuffled per epoch."""
    order = np.argsort(frames, kind="stable")
    batches, current, longest = [], [], 0
    for idx in order:
        longest_if = max(longest, int(frames[idx]))
        if current and longest_if * (len(current) + 1) > batch_frames:
            batches.append(np.array(current))
            current, longest_if = [], int(frames[idx])
        current.append(int(idx))
        longest = longest_if
    if current:
        batches.append(np.array(current))
    rng = np.random.default_rng([seed, epoch])
    return [batches[i] for i in rng.permutation(len(batches))]


def batch_schedule(frames: np.ndarray, batch_frames: int, seed: int) -> Iterator[Tuple[int, np.ndarray]]:
    """(epoch, batch indices) for every step from 0, endlessly, deterministic."""
    epoch = 0
    while True:
        for batch in make_batches(frames, batch_frames, seed, epoch):
            yield epoch, batch
        epoch += 1


def collate(features: Sequence[np.ndarray], tokens: Sequence[Sequence[int]], idx: np.ndarray):
    """Padded float32 features [B, n_mels, T], their lengths, padded token ids [B, U] and lengths."""
    feats = [features[i] for i in idx]
    n_mels = feats[0].shape[0]
    lengths = torch.tensor([f.shape[1] for f in feats])
    x = torch.zeros(len(feats), n_mels, int(lengths.max()))
    for k, f in enumerate(feats):
        x[k, :, : f.shape[1]] = torch.from_numpy(f.astype(np.float32))
    toks = [tokens[i] for i in idx]
    y = torch.zeros(len(toks), max(map(len, toks)), dtype=torch.long)
    for k, t in enumerate(toks):
        y[k, : len(t)] = torch.tensor(t)
    return x, lengths, y, torch.tensor([len(t) for t in toks])
