"""TDT (Token-and-Duration Transducer) loss that runs anywhere torch runs, CPU included.

NeMo's training loss ``TDTLossNumba`` only has a CUDA kernel, and its pure-PyTorch
``TDTLossPytorch`` is a scalar triple loop (and calls ``.cuda()``). This is the same loss,
vectorised (see ``transducer_lattice``), with the gradient from autograd.

Semantics matched (nemo_toolkit 3.0.0; paths under ``nemo/collections/asr/``):

- Input layout: raw joint logits ``[B, T, U+1, V+1+D]``, token and blank logits first, then one
  logit per duration (``TDTLossNumba.forward`` splits them with ``torch.split``).
- Normalisation: ``log_softmax`` over the ``V+1`` token+blank logits and, separately, over the
  ``D`` duration logits (``losses/rnnt_pytorch.py::TDTLossPytorch.forward``; the CUDA kernel
  computes the same token denominator internally).
- ``sigma`` (logit under-normalisation) is subtracted from the token log-prob of every arc, blank
  and non-blank, including the final blank; never from the duration log-prob
  (``parts/numba/rnnt_loss/utils/cuda_utils/gpu_rnnt_kernel.py::compute_tdt_alphas_kernel``).
- Blank arcs need duration >= 1 (a duration-0 blank is skipped); tokens may use any duration,
  including 0. The alignment must end with a blank that lands exactly on frame ``T_b``; tokens never
  end it (same file, the ``llForward`` loop, and ``TDTLossPytorch.compute_forward_prob``).
- ``omega``: not a mixture. Once per call NeMo draws ``r = random.uniform(0, 1)`` (Python's global
  ``random``) and, if ``r < omega``, the whole batch gets the conventional RNN-T loss on the token
  logits, without sigma and without the duration logits
  (``utils/cuda_utils/gpu_rnnt.py::GPUTDT.compute_cost_and_score``).
- Reductions as ``losses/rnnt.py::RNNTLoss.reduce``; the default ``mean_batch`` is what NeMo's
  models use (``models/rnnt_models.py``: ``cfg.get("rnnt_reduction", "mean_batch")``).

Deliberate differences: an impossible alignment (e.g. more targets than frames with no duration 0)
gives ``inf`` with zero gradient, where NeMo's code returns a finite sentinel (about 1000 in
``TDTLossPytorch``, 10000 in the CUDA kernel). float64 stays float64 (NeMo's ``RNNTLoss`` casts to
float32); float16/bfloat16 are computed in float32. FastEmit and gradient clamping are not
implemented.
"""

from __future__ import annotations

import random
from typing import Optional, Sequence

import torch

from .transducer_lattice import NEG_INF, transducer_log_likelihood

REDUCTIONS = ("mean_batch", "mean", "sum", "mean_volume", "none")


def tdt_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    logit_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
    *,
    blank_id: int,
    durations: Sequence[int],
    sigma: float = 0.0,
    omega: float = 0.0,
    reduction: Optional[str] = "mean_batch",
    rng: Optional[random.Random] = None,
) -> torch.Tensor:
    """TDT negative log-likelihood, reduced as ``reduction`` says.

    logits: ``[B, T, U+1, V+1+len(durations)]`` raw joint output (not log-softmaxed; doing so first
        changes nothing, both softmaxes are shift-invariant per slice).
    targets: ``[B, U]`` token ids (padding beyond ``target_lengths`` is ignored).
    logit_lengths, target_lengths: ``[B]``; ``1 <= logit_lengths[b] <= T``.
    blank_id: index of blank among the ``V+1`` token logits (NeMo: ``V``, the last one).
    durations: the TDT durations, in the order of the duration logits (Parakeet: ``[0, 1, 2, 3, 4]``).
    sigma: logit under-normalisation (NeMo configs: 0.02 or 0.05).
    omega: probability of using the RNN-T loss for this call instead (NeMo configs: 0.1).
    reduction: ``mean_batch`` | ``mean`` (each loss / its target length, then mean) | ``sum`` |
        ``mean_volume`` (sum / total target length) | ``none`` or None (per-sample ``[B]``).
    rng: source of the omega draw; None uses Python's global ``random`` exactly as NeMo does, so a
        seeded run picks the same branch NeMo would.
    """
    durations = [int(d) for d in durations]
    if reduction is None:
        reduction = "none"
    _check_inputs(logits, targets, logit_lengths, target_lengths, blank_id, durations, reduction)

    device = logits.device
    logit_lengths = logit_lengths.to(device=device, dtype=torch.long)
    target_lengths = target_lengths.to(device=device, dtype=torch.long)
    targets = targets.to(device=device, dtype=torch.long)
    n_frames = int(logit_lengths.max())
    n_targets = int(target_lengths.max())
    # Drop padding no sample uses (NeMo's RNNTLoss narrows the same way); the lattice masks the rest.
    logits = logits[:, :n_frames, : n_targets + 1]
    targets = targets[:, :n_targets]
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()

    # NeMo draws on every call, whatever omega is; doing the same keeps seeded runs in step with it.
    use_rnnt = (rng if rng is not None else random).uniform(0, 1) < omega

    n_tokens = logits.shape[-1] - len(durations)  # V + 1, blank included
    token_logits = logits[..., :n_tokens]
    # log p(v) = z_v - logsumexp(z): only the blank and target columns are needed, so the full
    # [B, T, U+1, V+1] log_softmax is never materialised.
    token_norm = torch.logsumexp(token_logits, dim=-1)  # [B, T, U+1]
    blank_logp = token_logits[..., blank_id] - token_norm
    gather_index = _valid_or_zero(targets, target_lengths)[:, None, :, None].expand(-1, n_frames, -1, 1)
    target_logp = token_logits[:, :, :n_targets].gather(-1, gather_index).squeeze(-1) - token_norm[:, :, :n_targets]
    # Node u = U emits nothing; its column only exists to keep the lattice shape.
    target_logp = torch.nn.functional.pad(target_logp, (0, 1), value=NEG_INF)

    if use_rnnt:
        # The RNN-T kernel NeMo switches to: blank advances one frame, a token none, no sigma.
        log_likelihood = transducer_log_likelihood(
            blank_logp[..., None], [1], target_logp[..., None], [0], logit_lengths, target_lengths
        )
    else:
        duration_logp = torch.log_softmax(logits[..., n_tokens:], dim=-1)  # [B, T, U+1, D]
        blank_slots = [j for j, d in enumerate(durations) if d > 0]  # a blank must move forward
        blank_arcs = (blank_logp - sigma)[..., None] + duration_logp[..., blank_slots]
        emit_arcs = (target_logp - sigma)[..., None] + duration_logp
        log_likelihood = transducer_log_likelihood(
            blank_arcs, [durations[j] for j in blank_slots], emit_arcs, durations, logit_lengths, target_lengths
        )

    return _reduce(-log_likelihood, target_lengths, reduction)


class TdtLoss(torch.nn.Module):
    """``tdt_loss`` as a module: ``TdtLoss(blank_id=V, durations=[0,1,2,3,4], sigma=0.02, omega=0.1)``.

    ``forward(logits, targets, logit_lengths, target_lengths)`` takes the arguments in the order of
    NeMo's ``RNNTLoss.forward(log_probs, targets, input_lengths, target_lengths)``.
    """

    def __init__(
        self,
        *,
        blank_id: int,
        durations: Sequence[int],
        sigma: float = 0.0,
        omega: float = 0.0,
        reduction: Optional[str] = "mean_batch",
        rng: Optional[random.Random] = None,
    ):
        super().__init__()
        self.blank_id = int(blank_id)
        self.durations = [int(d) for d in durations]
        self.sigma = float(sigma)
        self.omega = float(omega)
        self.reduction = reduction
        self.rng = rng

    def forward(self, logits, targets, logit_lengths, target_lengths) -> torch.Tensor:
        return tdt_loss(
            logits,
            targets,
            logit_lengths,
            target_lengths,
            blank_id=self.blank_id,
            durations=self.durations,
            sigma=self.sigma,
            omega=self.omega,
            reduction=self.reduction,
            rng=self.rng,
        )

    def extra_repr(self) -> str:
        return (
            f"blank_id={self.blank_id}, durations={self.durations}, sigma={self.sigma}, "
            f"omega={self.omega}, reduction={self.reduction!r}"
        )


def _reduce(losses: torch.Tensor, target_lengths: torch.Tensor, reduction: str) -> torch.Tensor:
    # Same formulas as NeMo's RNNTLoss.reduce (a zero target length under "mean" divides by zero
    # there too).
    if reduction == "mean_batch":
        return losses.mean()
    if reduction == "mean":
        return (losses / target_lengths.to(losses.dtype)).mean()
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean_volume":
        return losses.sum() / target_lengths.sum().to(losses.dtype)
    return losses


def _target_mask(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """[B, U] true where a target slot is within its sample's length."""
    return torch.arange(targets.shape[1], device=targets.device)[None, :] < target_lengths[:, None]


def _valid_or_zero(targets: torch.Tensor, target_lengths: torch.Tensor) -> torch.Tensor:
    """Targets with the padding replaced by 0, so the gather stays in range whatever pads them."""
    return torch.where(_target_mask(targets, target_lengths), targets, torch.zeros_like(targets))


def _check_inputs(logits, targets, logit_lengths, target_lengths, blank_id, durations, reduction) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS} or None, got {reduction!r}")
    if logits.dim() != 4 or not logits.is_floating_point():
        raise ValueError(
            f"logits must be a floating [B, T, U+1, V+1+D] tensor, got {logits.dtype} {tuple(logits.shape)}"
        )
    if not durations or min(durations) < 0 or len(set(durations)) != len(durations):
        raise ValueError(f"durations must be distinct non-negative ints, got {durations}")
    if max(durations) < 1:
        raise ValueError(f"durations {durations} has no positive duration: a blank could never advance")
    batch, n_frames, n_nodes_u, n_outputs = logits.shape
    n_tokens = n_outputs - len(durations)
    if n_tokens < 1:
        raise ValueError(f"logits have {n_outputs} outputs, not enough for {len(durations)} durations plus tokens")
    if not 0 <= blank_id < n_tokens:
        raise ValueError(f"blank_id {blank_id} is not among the {n_tokens} token logits")
    if targets.dim() != 2 or targets.shape[0] != batch:
        raise ValueError(f"targets must be [B={batch}, U], got {tuple(targets.shape)}")
    for name, lengths in (("logit_lengths", logit_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != (batch,):
            raise ValueError(f"{name} must be [B={batch}], got {tuple(lengths.shape)}")
    if int(logit_lengths.min()) < 1 or int(logit_lengths.max()) > n_frames:
        raise ValueError(f"logit_lengths must lie in [1, {n_frames}], got {logit_lengths.tolist()}")
    max_targets = min(targets.shape[1], n_nodes_u - 1)
    if int(target_lengths.min()) < 0 or int(target_lengths.max()) > max_targets:
        raise ValueError(f"target_lengths must lie in [0, {max_targets}], got {target_lengths.tolist()}")
    used = targets[_target_mask(targets, target_lengths.to(targets.device))]
    if used.numel() and (int(used.min()) < 0 or int(used.max()) >= n_tokens):
        raise ValueError(f"targets must be token ids in [0, {n_tokens}) within target_lengths")
