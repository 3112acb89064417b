"""Training loop for the demo model on CPU: TDT loss plus an auxiliary CTC loss, checkpoints, resume.

    trainer = Trainer(model, train_set, eval_set, TrainConfig(), checkpoint_dir)
    trainer.run()            # resumes from checkpoint_dir/last.pt when it exists

* **Batches.** ``training.batches``: length-sorted, shuffled per epoch from ``(seed, epoch)``, so a
  resumed run sees exactly the batches an uninterrupted one would. A ``concat_share`` of the
  utterances is joined in pairs each epoch, so the model learns pauses between sentences and text
  after them (streaming windows and the demo sample hold several sentences).
* **Window statistics.** Buffered streaming normalizes each window over itself (NeMo's loop), and
  its first windows are short prefixes of the speech. So a ``renorm_share`` of the examples is
  normalized again with the per-bin mean and deviation of a random span of at least
  ``renorm_min_frames`` (a prefix, as the growing buffer has, with probability ``renorm_prefix``).
  Renormalizing normalized features is exact: the per-bin affine maps compose, so the result is what
  normalizing the raw log-mel with that span's statistics gives.
* **Clean start.** For the first ``clean_steps`` steps SpecAugment and dropout are off: the encoder
  finds alignments sooner without them, and regularising matters only once it fits.
* **Teacher.** With ``teacher_steps > 0`` a BiLSTM CTC teacher (``training.ctc_teacher``) is trained
  first, and for the first ``distill_steps`` steps the CTC head also learns the teacher's frame
  posteriors (KL, weight ``distill_weight`` fading linearly to 0): it takes the encoder off the CTC
  plateau in a few hundred steps.
* **Loss.** ``parakeet_trt.training.tdt_loss`` (NeMo's TDT loss, CPU) with the model's sigma and
  omega, reduction ``mean`` (per-utterance loss over its token count, averaged), plus
  ``ctc_weight`` times a CTC loss on a linear head over the encoder output. The CTC head only
  trains the encoder faster (transducers from scratch are slow to find alignments); it is not part
  of the saved model.
* **Optimizer.** AdamW, linear warm-up then cosine decay to ``final_lr``, gradient norm clipped.
* **Checkpoints.** Every ``checkpoint_every`` steps and at the end, ``last.pt`` (model, CTC head,
  optimizer, step, torch RNG) is written atomically. Progress lines go to stderr and every step's
  numbers to ``train_log.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import torch

from parakeet_trt.parity.ladder import edit_distance, word_errors

from .batches import batch_schedule, collate
from .ctc_teacher import TeacherConfig, distillation_kl, train_ctc_teacher
from .feature_shards import FeatureSet
from .tdt_loss import tdt_loss


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 4400
    batch_frames: int = 8000         # padded feature frames (10 ms) per batch: about 80 s of audio
    peak_lr: float = 2.0e-3
    final_lr: float = 2.0e-5
    warmup_steps: int = 200
    weight_decay: float = 1.0e-3
    grad_clip: float = 1.0
    ctc_weight: float = 0.3
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 50
    eval_every: int = 400
    eval_utterances: int = 100
    teacher_steps: int = 2500        # BiLSTM CTC teacher (0: none)
    distill_weight: float = 1.0      # KL(teacher || CTC head) weight at step 0 ...
    distill_steps: int = 3000        # ... fading linearly to 0 here
    concat_share: float = 0.0        # share of examples joined in pairs per epoch (training.batches); 0: the live
                                     # mix (training.live_mix) joins utterances itself, with real pauses
    clean_steps: int = 600           # no SpecAugment or dropout before this step
    renorm_share: float = 0.0        # examples normalized with a span's statistics (window statistics; for
                                     # per_feature models only: the demo model v2's features are unnormalized)
    renorm_min_frames: int = 112     # shortest span: NeMo's first buffered window at 560 + 560 ms
    renorm_prefix: float = 0.7       # probability the span starts at frame 0


# Settings that change how fast a run computes, not what it trains: a run may resume with others (two
# threads once the machine is quiet, one while it is busy).
SPEED_ONLY_SETTINGS = frozenset({"threads"})


def lr_at(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup_steps:
        return cfg.peak_lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.final_lr + 0.5 * (cfg.peak_lr - cfg.final_lr) * (1 + math.cos(math.pi * progress))


@contextlib.contextmanager
def _dropout_off(model: torch.nn.Module, off: bool):
    """Dropout probability 0 in every dropout module (LSTM dropout included) while ``off``."""
    saved = [(mod, name, getattr(mod, name)) for mod in model.modules() if off
             for name in (("p",) if isinstance(mod, torch.nn.Dropout) else
                          ("dropout",) if isinstance(mod, torch.nn.RNNBase) else ())]
    for mod, name, _ in saved:
        setattr(mod, name, 0.0)
    try:
        yield
    finally:
        for mod, name, value in saved:
            setattr(mod, name, value)


def renormalize_over_spans(x: torch.Tensor, lengths: torch.Tensor, cfg: TrainConfig,
                           rng: np.random.Generator) -> torch.Tensor:
    """A ``cfg.renorm_share`` of the examples normalized per mel bin with the statistics of a random span
    (NeMo's per-feature normalization: mean, unbiased deviation + 1e-5); the others unchanged."""
    out = x.clone()
    for k, n in enumerate(lengths.tolist()):
        if rng.random() >= cfg.renorm_share or n <= cfg.renorm_min_frames:
            continue
        span = int(rng.integers(cfg.renorm_min_frames, n + 1))
        start = 0 if rng.random() < cfg.renorm_prefix else int(rng.integers(0, n - span + 1))
        window = x[k, :, start:start + span]
        mean, std = window.mean(dim=1, keepdim=True), window.std(dim=1, keepdim=True) + 1e-5
        out[k, :, :n] = (x[k, :, :n] - mean) / std
    return out


class Trainer:
    def __init__(self, model, train_set: FeatureSet, eval_set: Optional[FeatureSet], cfg: TrainConfig,
                 checkpoint_dir, *, progress: bool = True):
        self.model, self.train_set, self.eval_set, self.cfg = model, train_set, eval_set, cfg
        self.dir = Path(checkpoint_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.blank = model.tokenizer.vocab_size
        self.durations = list(model.cfg.loss.tdt_kwargs.durations)
        self.sigma = float(model.cfg.loss.tdt_kwargs.sigma)
        self.omega = float(model.cfg.loss.tdt_kwargs.omega)
        torch.manual_seed(cfg.seed)
        random.seed(cfg.seed)  # NeMo draws a multi-look-ahead encoder's attention context per batch from it
        self.ctc_head = torch.nn.Linear(model.cfg.encoder.d_model, self.blank + 1)
        params = list(model.parameters()) + list(self.ctc_head.parameters())
        self.opt = torch.optim.AdamW(params, lr=cfg.peak_lr, weight_decay=cfg.weight_decay)
        self.step = 0
        self.loss_rng = random.Random(cfg.seed)
        normalize = str(model.cfg.preprocessor.get("normalize", "per_feature"))
        if cfg.renorm_share > 0 and normalize != "per_feature":
            raise ValueError(f"renorm_share {cfg.renorm_share} renormalizes per_feature features, but the model's "
                             f"preprocessor normalize is {normalize!r}; use renorm_share=0")
        self.tokens = [model.tokenizer.text_to_ids(t) for t in train_set.texts]
        self.frames = train_set.frames
        self.teacher = None

    # --- checkpoints -------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.dir / "last.pt"

    def save_checkpoint(self) -> None:
        state = {"step": self.step, "model": self.model.state_dict(), "ctc_head": self.ctc_head.state_dict(),
                 "opt": self.opt.state_dict(), "torch_rng": torch.get_rng_state(),
                 "loss_rng": self.loss_rng.getstate(), "py_rng": random.getstate(), "config": asdict(self.cfg)}
        tmp = self.checkpoint_path.with_suffix(".pt.partial")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint_path)

    def load_checkpoint(self) -> bool:
        if not self.checkpoint_path.exists():
            return False
        state = torch.load(self.checkpoint_path, map_location="cpu", weights_only=False)
        saved, current = state.get("config", {}), asdict(self.cfg)
        changed = sorted(k for k in set(saved) | set(current)
                         if saved.get(k) != current.get(k) and k not in SPEED_ONLY_SETTINGS)
        if changed:
            raise ValueError(f"checkpoint {self.checkpoint_path} was made with another training config "
                             f"(differs in {changed}); delete it or train with the same settings")
        self.model.load_state_dict(state["model"])
        self.ctc_head.load_state_dict(state["ctc_head"])
        self.opt.load_state_dict(state["opt"])
        torch.set_rng_state(state["torch_rng"])
        self.loss_rng.setstate(state["loss_rng"])
        if "py_rng" in state:  # NeMo draws each batch's attention context with the global random module
            random.setstate(state["py_rng"])
        self.step = int(state["step"])
        return True

    # --- batches -----------------------------------------------------------------------------

    def _batch_schedule(self):
        """(epoch, examples of the batch) for every step from 0, deterministic."""
        return batch_schedule(self.frames, self.cfg.batch_frames, self.cfg.seed, self.cfg.concat_share)

    def _collate(self, examples):
        return collate(self.train_set.features, self.tokens, examples)

    def distill_weight_at(self, step: int) -> float:
        if self.teacher is None or step >= self.cfg.distill_steps:
            return 0.0
        return self.cfg.distill_weight * (1.0 - step / self.cfg.distill_steps)

    # --- loop ---------------------------------------------------------------------------------

    def train_step(self, batch) -> Dict[str, float]:
        m = self.model
        m.train()
        x, xl, y, yl = self._collate(batch)
        kd_weight = self.distill_weight_at(self.step)
        teacher = self.teacher.log_probs(x, xl) if kd_weight > 0 else None  # on the clean features
        x = renormalize_over_spans(x, xl, self.cfg, np.random.default_rng([self.cfg.seed, self.step, 2]))
        clean = self.step < self.cfg.clean_steps
        if not clean:
            x = m.spec_augmentation(input_spec=x, length=xl)
        with _dropout_off(m, clean):
            enc, enc_len = m.encoder(audio_signal=x, length=xl)
            dec, _, _ = m.decoder(targets=y, target_length=yl)
            logits = m.joint.joint(enc.transpose(1, 2), dec.transpose(1, 2))
        loss_tdt = tdt_loss(logits, y, enc_len, yl, blank_id=self.blank, durations=self.durations,
                            sigma=self.sigma, omega=self.omega, reduction="mean", rng=self.loss_rng)
        ctc_logp = self.ctc_head(enc.transpose(1, 2)).log_softmax(-1).transpose(0, 1)
        loss_ctc = torch.nn.functional.ctc_loss(ctc_logp, y, enc_len, yl, blank=self.blank,
                                                reduction="mean", zero_infinity=True)
        loss = loss_tdt + self.cfg.ctc_weight * loss_ctc
        loss_kd = torch.zeros(())
        if teacher is not None:
            loss_kd = distillation_kl(teacher[0], teacher[1], ctc_logp.transpose(0, 1), enc_len)
            loss = loss + kd_weight * loss_kd
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, self.cfg)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            list(m.parameters()) + list(self.ctc_head.parameters()), self.cfg.grad_clip)
        self.opt.step()
        return {"loss": loss.item(), "tdt": loss_tdt.item(), "ctc": loss_ctc.item(), "kd": loss_kd.item(),
                "grad_norm": float(grad_norm), "lr": lr_at(self.step, self.cfg),
                "utterances": sum(len(ex) for ex in batch), "audio_s": float(xl.sum()) / 100.0}

    def evaluate(self, count: Optional[int] = None) -> Dict[str, float]:
        """Greedy TDT decoding (NeMo's) of the first ``count`` eval utterances: WER and CER."""
        if self.eval_set is None:
            return {}
        m = self.model
        m.eval()
        count = len(self.eval_set.texts) if count is None else min(count, len(self.eval_set.texts))
        words = word_err = chars = char_err = 0
        with torch.inference_mode():
            for i in range(count):
                f = torch.from_numpy(self.eval_set.features[i].astype(np.float32))[None]
                enc, enc_len = m.encoder(audio_signal=f, length=torch.tensor([f.shape[2]]))
                hyp = m.decoding.rnnt_decoder_predictions_tensor(encoder_output=enc, encoded_lengths=enc_len)[0]
                text = hyp.text if hasattr(hyp, "text") else str(hyp)
                ref = self.eval_set.texts[i]
                e, n = word_errors(ref, text)
                word_err, words = word_err + e, words + n
                char_err += edit_distance(list(ref), list(text))
                chars += len(ref)
        m.train()
        return {"wer": word_err / max(1, words), "cer": char_err / max(1, chars), "eval_utterances": count}

    def run(self) -> Dict[str, float]:
        torch.set_num_threads(self.cfg.threads)
        if self.cfg.teacher_steps > 0:
            teacher_cfg = TeacherConfig(steps=self.cfg.teacher_steps, seed=self.cfg.seed)
            self.teacher = train_ctc_teacher(self.train_set, self.tokens, self.blank, teacher_cfg, self.dir,
                                             progress=self.progress)
        resumed = self.load_checkpoint()
        if resumed:
            self._say(f"resumed from {self.checkpoint_path} at step {self.step}/{self.cfg.steps}")
        log = open(self.dir / "train_log.jsonl", "a", encoding="utf-8")
        schedule = self._batch_schedule()
        for _ in range(self.step):  # skip the batches a previous run already trained on
            next(schedule)
        started, first_step = time.monotonic(), self.step
        try:
            while self.step < self.cfg.steps:
                epoch, batch = next(schedule)
                t0 = time.monotonic()
                stats = self.train_step(batch)
                stats.update(step=self.step, epoch=epoch, seconds=time.monotonic() - t0)
                self.step += 1
                if not math.isfinite(stats["loss"]):
                    raise FloatingPointError(f"loss became {stats['loss']} at step {self.step}")
                if self.step % self.cfg.eval_every == 0 or self.step == self.cfg.steps:
                    stats.update(self.evaluate(self.cfg.eval_utterances))
                log.write(json.dumps(stats) + "\n")
                log.flush()
                if self.step % self.cfg.checkpoint_every == 0 or self.step == self.cfg.steps:
                    self.save_checkpoint()
                elapsed = time.monotonic() - started
                eta = elapsed / (self.step - first_step) * (self.cfg.steps - self.step)
                extra = f" wer {stats['wer']:.3f} cer {stats['cer']:.3f}" if "wer" in stats else ""
                self._say(f"step {self.step}/{self.cfg.steps} epoch {epoch} loss {stats['loss']:.3f} "
                          f"(tdt {stats['tdt']:.3f} ctc {stats['ctc']:.3f} kd {stats['kd']:.3f}) lr {stats['lr']:.2e} "
                          f"{stats['seconds']:.1f} s/step, ETA {eta / 60:.1f} min{extra}")
        finally:
            log.close()
        return self.evaluate()

    def _say(self, msg: str) -> None:
        if self.progress:
            print(f"[train] {msg}", file=sys.stderr, flush=True)
