"""Batches of cached feature utterances, shared by the demo model's trainer and its CTC teacher.

A training *example* is one utterance, or with ``concat_share > 0`` two utterances joined end to
end (their feature matrices along time, their token ids in order): the model then also hears a
pause between sentences and a second sentence after it, as it does in a buffered streaming window
or the demo sample. Joining normalized features is close to normalizing the joined audio: each
part has zero mean and unit variance per mel bin, so the join does too; only the split of those
statistics between the parts differs. Which utterances pair up is drawn per epoch from
``(seed, epoch)``.

Examples are sorted by length, cut into batches of at most ``batch_frames`` padded feature frames,
and the batch order is shuffled per epoch from ``(seed, epoch)``: the batch sequence is a pure
function of its arguments, so a resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

from typing import Iterator, List, Sequence, Tuple

import numpy as np
import torch

Example = Tuple[int, ...]  # indices of the utterances joined into one training example


def make_examples(count: int, concat_share: float, seed: int, epoch: int) -> List[Example]:
    """Every utterance once per epoch; a ``concat_share`` of them joined in pairs (drawn from seed, epoch)."""
    if not 0.0 <= concat_share <= 1.0:
        raise ValueError(f"concat_share must be in [0, 1], got {concat_share}")
    if concat_share == 0.0:
        return [(i,) for i in range(count)]
    order = np.random.default_rng([seed, epoch, 1]).permutation(count)
    pairs = int(count * concat_share) // 2
    joined = [(int(order[2 * k]), int(order[2 * k + 1])) for k in range(pairs)]
    return sorted(joined + [(int(i),) for i in order[2 * pairs:]])


def make_batches(frames: np.ndarray, batch_frames: int, seed: int, epoch: int) -> List[np.ndarray]:
    """Length-sorted batches of example indices (padded size <= batch_frames), shuffled per epoch."""
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


def batch_schedule(frames: np.ndarray, batch_frames: int, seed: int,
                   concat_share: float = 0.0) -> Iterator[Tuple[int, List[Example]]]:
    """(epoch, examples of the batch) for every step from 0, endlessly, deterministic."""
    epoch = 0
    while True:
        examples = make_examples(len(frames), concat_share, seed, epoch)
        lengths = np.array([sum(int(frames[i]) for i in ex) for ex in examples], dtype=np.int64)
        for batch in make_batches(lengths, batch_frames, seed, epoch):
            yield epoch, [examples[i] for i in batch]
        epoch += 1


def collate(features: Sequence[np.ndarray], tokens: Sequence[Sequence[int]], examples: Sequence[Example]):
    """Padded float32 features [B, n_mels, T], their lengths, padded token ids [B, U] and lengths."""
    feats = [np.concatenate([features[i] for i in ex], axis=1) for ex in examples]
    toks = [[t for i in ex for t in tokens[i]] for ex in examples]
    n_mels = feats[0].shape[0]
    lengths = torch.tensor([f.shape[1] for f in feats])
    x = torch.zeros(len(feats), n_mels, int(lengths.max()))
    for k, f in enumerate(feats):
        x[k, :, : f.shape[1]] = torch.from_numpy(f.astype(np.float32))
    y = torch.zeros(len(toks), max(map(len, toks)), dtype=torch.long)
    for k, t in enumerate(toks):
        y[k, : len(t)] = torch.tensor(t)
    return x, lengths, y, torch.tensor([len(t) for t in toks])
