"""A small BiLSTM CTC model that pulls the demo encoder out of the CTC plateau, by distillation.

    teacher = train_ctc_teacher(train_set, tokens, blank, TeacherConfig(), checkpoint_dir)
    logp = teacher.log_probs(features, lengths)     # [B, ceil(T/8), V+1], no gradient

Why: trained from scratch on the synthetic corpus, the FastConformer encoder sits on the CTC
"blank plateau" for well over a thousand steps (measured: CTC loss still 4.7 per token after 900
steps at lr 3e-3), while this BiLSTM over stacked frames leaves it after about 900 steps at a
seventh of the cost per step (loss 1.5 at 2,500 steps). Its frame posteriors are a dense target:
with a KL term towards them the conformer's CTC head reached the same loss in 500 steps that it had
not reached in 900 without (docs/DECISION_LOG.md). The teacher is not part of the demo model.

Frames: 8 feature frames are stacked per output frame, the input padded to a multiple of 8, so the
teacher has ``ceil(T / 8)`` frames, the same count as the encoder's 8x depthwise-striding
subsampling (three stride-2 convolutions with kernel 3 and padding 1: ``ceil`` at each stage).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import torch

from .batches import batch_schedule, collate
from .feature_shards import FeatureSet

STACK = 8


@dataclass(frozen=True)
class TeacherConfig:
    steps: int = 2500
    batch_frames: int = 8000
    lr: float = 2.0e-3
    warmup_steps: int = 100
    weight_decay: float = 1.0e-3
    grad_clip: float = 5.0
    hidden: int = 192
    layers: int = 2
    input_proj: int = 256
    seed: int = 0
    checkpoint_every: int = 250


def normalized_per_utterance(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` [B, n_mels, T] normalized per mel bin over each utterance's valid frames (NeMo's per_feature
    rule), padding zeroed. The teacher then learns alike whether the model's features are normalized (an
    identity here) or not (the demo model v2's raw log-mel with zero padding: in an aborted run's log the
    teacher stalled at CTC 5.9 without this, docs/DECISION_LOG.md)."""
    mask = (torch.arange(x.shape[2])[None, :] < lengths[:, None]).to(x.dtype)[:, None, :]
    count = mask.sum(-1, keepdim=True).clamp(min=2.0)
    mean = (x * mask).sum(-1, keepdim=True) / count
    std = ((((x - mean) * mask) ** 2).sum(-1, keepdim=True) / (count - 1)).sqrt()
    return (x - mean) / (std + 1e-5) * mask


class StackedBiLstmCtc(torch.nn.Module):
    """Stack 8 frames, project, 2-layer BiLSTM, linear to tokens + blank (blank last)."""

    def __init__(self, n_mels: int, vocab_with_blank: int, cfg: TeacherConfig):
        super().__init__()
        self.inp = torch.nn.Linear(n_mels * STACK, cfg.input_proj)
        self.rnn = torch.nn.LSTM(cfg.input_proj, cfg.hidden, num_layers=cfg.layers, bidirectional=True,
                                 batch_first=True)
        self.out = torch.nn.Linear(2 * cfg.hidden, vocab_with_blank)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor):
        x = normalized_per_utterance(x, lengths)
        batch, n_mels, frames = x.shape
        out_frames = (frames + STACK - 1) // STACK
        x = torch.nn.functional.pad(x, (0, out_frames * STACK - frames))
        x = x.transpose(1, 2).reshape(batch, out_frames, STACK * n_mels)
        h, _ = self.rnn(torch.relu(self.inp(x)))
        return self.out(h), (lengths + STACK - 1) // STACK

    @torch.no_grad()
    def log_probs(self, x: torch.Tensor, lengths: torch.Tensor):
        was_training = self.training
        self.eval()
        logits, out_lengths = self(x, lengths)
        self.train(was_training)
        return logits.log_softmax(-1), out_lengths


def train_ctc_teacher(train_set: FeatureSet, tokens: Sequence[Sequence[int]], blank: int, cfg: TeacherConfig,
                      checkpoint_dir, *, progress: bool = True) -> StackedBiLstmCtc:
    """Train (or resume, or just load when finished) the teacher; ``checkpoint_dir/teacher.pt``."""
    path = Path(checkpoint_dir) / "teacher.pt"
    torch.manual_seed(cfg.seed)
    model = StackedBiLstmCtc(train_set.features[0].shape[0], blank + 1, cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step = 0
    if path.exists():
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["config"] != asdict(cfg):
            raise ValueError(f"{path} was trained with another teacher config; delete it or use the same settings")
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        torch.set_rng_state(state["torch_rng"])
        step = int(state["step"])
    if step >= cfg.steps:
        return model.eval()

    def save():
        tmp = path.with_suffix(".pt.partial")
        torch.save({"step": step, "model": model.state_dict(), "opt": opt.state_dict(),
                    "torch_rng": torch.get_rng_state(), "config": asdict(cfg)}, tmp)
        os.replace(tmp, path)

    schedule = batch_schedule(train_set.frames, cfg.batch_frames, cfg.seed + 1)
    for _ in range(step):
        next(schedule)
    log = open(Path(checkpoint_dir) / "teacher_log.jsonl", "a", encoding="utf-8")
    started, first, ema = time.monotonic(), step, None
    model.train()
    try:
        while step < cfg.steps:
            _, batch = next(schedule)
            x, xl, y, yl = collate(train_set.features, tokens, batch)
            for group in opt.param_groups:
                group["lr"] = cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps)
            logits, out_len = model(x, xl)
            loss = torch.nn.functional.ctc_loss(logits.log_softmax(-1).transpose(0, 1), y, out_len, yl, blank=blank,
                                                reduction="mean", zero_infinity=True)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            step += 1
            value = loss.item()
            ema = value if ema is None else 0.98 * ema + 0.02 * value
            log.write(json.dumps({"step": step, "ctc": value}) + "\n")
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save()
                log.flush()
                if progress:
                    eta = (time.monotonic() - started) / (step - first) * (cfg.steps - step)
                    print(f"[teacher] step {step}/{cfg.steps} ctc {ema:.3f} (smoothed), ETA {eta / 60:.1f} min",
                          file=sys.stderr, flush=True)
    finally:
        log.close()
    return model.eval()


def distillation_kl(teacher_logp: torch.Tensor, teacher_lengths: torch.Tensor, student_logp: torch.Tensor,
                    student_lengths: torch.Tensor) -> torch.Tensor:
    """Mean over valid frames of KL(teacher || student) between [B, T, V+1] log-probabilities."""
    if not torch.equal(teacher_lengths, student_lengths):
        raise ValueError(f"teacher and student frame counts differ: {teacher_lengths.tolist()} vs "
                         f"{student_lengths.tolist()}")
    frames = min(teacher_logp.shape[1], student_logp.shape[1])
    mask = (torch.arange(frames)[None] < student_lengths[:, None]).to(student_logp.dtype)
    t, s = teacher_logp[:, :frames], student_logp[:, :frames]
    kl = (t.exp() * (t - s)).sum(-1)
    return (kl * mask).sum() / mask.sum().clamp_min(1.0)
