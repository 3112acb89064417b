"""The CPU TDT loss (parakeet_trt.training) against NeMo's reference, a brute force, and closed forms.

Three independent sources of truth:
- NeMo's own pure-PyTorch ``TDTLossPytorch`` / ``RNNTLossPytorch`` (losses/rnnt_pytorch.py), run on
  CPU; gradients through autograd on both sides.
- A brute force written here from the TDT definition (Xu et al. 2023, "Efficient Sequence
  Transduction by Jointly Predicting Tokens and Durations"): enumerate every alignment, sum
  their probabilities. It shares no code with either implementation.
- Closed forms for lattices with a single alignment.
"""

from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from parakeet_trt.training.tdt_loss import TdtLoss, tdt_loss

REPO = Path(__file__).resolve().parents[1]

# Tolerances: float32 results must agree with the references to 1e-4 relative (losses) and
# 1e-4 absolute (gradients, which are differences of probabilities, so O(1) at most).
LOSS_RTOL = 1e-4
GRAD_ATOL = 1e-4


def make_batch(seed, batch, frames, targets_len, vocab, durations, dtype=torch.float32):
    """Random joint logits [B, T, U+1, V+1+D] and targets; sample 0 uses the full T and U, the others
    random shorter lengths. Without duration 0 every target needs a frame of its own, so lengths
    are kept feasible there (the infeasible case has its own test)."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(batch, frames, targets_len + 1, vocab + 1 + len(durations), generator=gen, dtype=dtype)
    targets = torch.randint(0, vocab, (batch, targets_len), generator=gen)
    logit_lengths = torch.randint(1, frames + 1, (batch,), generator=gen)
    target_lengths = torch.randint(0, targets_len + 1, (batch,), generator=gen)
    logit_lengths[0], target_lengths[0] = frames, targets_len
    if 0 not in durations:
        logit_lengths = torch.maximum(logit_lengths, target_lengths + 1)
        assert int(logit_lengths.max()) <= frames, "case too tight for durations without 0"
    return logits, targets, logit_lengths, target_lengths


def ours(logits, targets, logit_lengths, target_lengths, *, blank_id, durations, sigma=0.0, **kwargs):
    """(per-sample or reduced loss, d loss.sum() / d logits)."""
    logits = logits.detach().clone().requires_grad_(True)
    loss = tdt_loss(
        logits, targets, logit_lengths, target_lengths, blank_id=blank_id, durations=durations, sigma=sigma, **kwargs
    )
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    return loss.detach(), grad


def nemo_tdt(logits, targets, logit_lengths, target_lengths, *, blank_id, durations, sigma=0.0, reduction="none"):
    from nemo.collections.asr.losses.rnnt_pytorch import TDTLossPytorch

    loss_fn = TDTLossPytorch(blank=blank_id, durations=durations, reduction=reduction, sigma=sigma)
    logits = logits.detach().clone().requires_grad_(True)
    with pytest.MonkeyPatch.context() as patch:
        # TDTLossPytorch.compute_forward_prob hard-codes .cuda() on two scratch tensors
        # (rnnt_pytorch.py:185 and :230); make it a no-op so NeMo's own code runs on CPU unchanged.
        patch.setattr(torch.Tensor, "cuda", lambda self, *args, **kwargs: self)
        loss = loss_fn(logits, targets, logit_lengths, target_lengths)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    return loss.detach(), grad


def nemo_rnnt(logits, targets, logit_lengths, target_lengths, *, blank_id):
    from nemo.collections.asr.losses.rnnt_pytorch import RNNTLossPytorch

    logits = logits.detach().clone().requires_grad_(True)
    loss = RNNTLossPytorch(blank=blank_id, reduction="none")(logits, targets, logit_lengths, target_lengths)
    (grad,) = torch.autograd.grad(loss.sum(), logits)
    return loss.detach(), grad


def brute_force_nll(logits, targets, logit_lengths, target_lengths, *, blank_id, durations, sigma):
    """Per-sample TDT negative log-likelihood by enumerating every alignment (autograd-able).

    From the definition: at node (t, u) the model emits a token v (target u, or blank) with
    probability softmax(token logits)[v] * exp(-sigma) (logit under-normalisation) and, independently,
    a duration d with softmax(duration logits)[d]. A token moves to (t + d, u + 1), a blank to
    (t + d, u) and must have d > 0. An alignment is complete when a blank lands exactly on
    (T_b, U_b); a token landing on frame T_b, or anything jumping past it, is a dead end.
    """
    n_tokens = logits.shape[-1] - len(durations)
    token_logp = torch.log_softmax(logits[..., :n_tokens], dim=-1) - sigma
    duration_logp = torch.log_softmax(logits[..., n_tokens:], dim=-1)
    losses = []
    for b in range(logits.shape[0]):
        frames, n_targets = int(logit_lengths[b]), int(target_lengths[b])
        complete = []

        def walk(t, u, score):
            for j, d in enumerate(durations):
                if d > 0:
                    blank = score + token_logp[b, t, u, blank_id] + duration_logp[b, t, u, j]
                    if t + d == frames and u == n_targets:
                        complete.append(blank)
                    elif t + d < frames:
                        walk(t + d, u, blank)
                if u < n_targets and t + d < frames:
                    token = score + token_logp[b, t, u, int(targets[b, u])] + duration_logp[b, t, u, j]
                    walk(t + d, u + 1, token)

        walk(0, 0, torch.zeros((), dtype=logits.dtype))
        assert complete, "brute-force cases must be feasible"
        losses.append(-torch.logsumexp(torch.stack(complete), dim=0))
    return torch.stack(losses)


def assert_losses_close(actual, expected, rtol=LOSS_RTOL):
    error = ((actual - expected).abs() / expected.abs().clamp_min(1e-12)).max().item()
    assert error <= rtol, f"loss relative error {error:.3g} > {rtol}: {actual.tolist()} vs {expected.tolist()}"


def assert_grads_close(actual, expected, atol=GRAD_ATOL):
    error = (actual - expected).abs().max().item()
    assert error <= atol, f"gradient max abs error {error:.3g} > {atol}"


# (seed, B, T, U, V, durations, sigma)
NEMO_CASES = [
    (1, 1, 1, 0, 3, [0, 1, 2], 0.0),
    (2, 1, 3, 2, 3, [0, 1, 2], 0.05),
    (3, 2, 4, 3, 4, [0, 1, 2], 0.0),
    (4, 3, 6, 4, 5, [0, 1, 2, 3, 4], 0.05),
    (5, 3, 5, 4, 6, [0, 1, 2, 3, 4], 0.0),
    (6, 2, 6, 0, 3, [0, 1, 2, 3, 4], 0.05),
    (7, 3, 6, 2, 4, [0, 1, 2], 0.05),
    (8, 2, 6, 3, 3, [1, 2], 0.0),
]


@pytest.mark.parametrize("seed,batch,frames,targets_len,vocab,durations,sigma", NEMO_CASES)
def test_matches_nemo_tdt_loss_pytorch(seed, batch, frames, targets_len, vocab, durations, sigma):
    logits, targets, logit_lengths, target_lengths = make_batch(seed, batch, frames, targets_len, vocab, durations)
    kwargs = dict(blank_id=vocab, durations=durations, sigma=sigma)
    loss, grad = ours(logits, targets, logit_lengths, target_lengths, reduction="none", **kwargs)
    ref_loss, ref_grad = nemo_tdt(logits, targets, logit_lengths, target_lengths, **kwargs)
    assert_losses_close(loss, ref_loss)
    assert_grads_close(grad, ref_grad)


@pytest.mark.parametrize("reduction", ["mean_batch", "mean", "sum", "mean_volume", "none"])
def test_reductions_match_nemo(reduction):
    durations = [0, 1, 2, 3, 4]
    logits, targets, logit_lengths, target_lengths = make_batch(11, 3, 5, 3, 4, durations)
    target_lengths[1:] = torch.tensor([1, 2])  # "mean" divides by the lengths: keep them non-zero
    kwargs = dict(blank_id=4, durations=durations, sigma=0.02)
    loss, grad = ours(logits, targets, logit_lengths, target_lengths, reduction=reduction, **kwargs)
    ref_loss, ref_grad = nemo_tdt(logits, targets, logit_lengths, target_lengths, reduction=reduction, **kwargs)
    assert loss.shape == ref_loss.shape
    assert_losses_close(loss.reshape(-1), ref_loss.reshape(-1))
    assert_grads_close(grad, ref_grad)


# (seed, T, U, V, durations, sigma): tiny, so every alignment can be listed
BRUTE_FORCE_CASES = [
    (21, 3, 2, 3, [0, 1, 2], 0.0),
    (22, 4, 2, 3, [0, 1, 2, 3, 4], 0.05),
    (23, 4, 3, 4, [0, 1, 2], 0.05),
    (24, 1, 2, 3, [0, 1, 2], 0.0),
    (25, 3, 0, 2, [0, 1, 2], 0.05),
    (26, 4, 1, 3, [1, 2], 0.0),
    (27, 5, 2, 3, [0, 2, 3], 0.05),  # no duration 1: frames reachable only by 2s and 3s
]


@pytest.mark.parametrize(
    "dtype,loss_rtol,grad_atol", [(torch.float32, LOSS_RTOL, GRAD_ATOL), (torch.float64, 1e-10, 1e-10)]
)
@pytest.mark.parametrize("seed,frames,targets_len,vocab,durations,sigma", BRUTE_FORCE_CASES)
def test_matches_brute_force(seed, frames, targets_len, vocab, durations, sigma, dtype, loss_rtol, grad_atol):
    logits, targets, logit_lengths, target_lengths = make_batch(
        seed, 2, frames, targets_len, vocab, durations, torch.float64
    )
    if frames >= 3:
        logit_lengths[1] = frames - 1  # a second, shorter sample: lengths vary within the batch
    if 2 in durations and 1 not in durations:
        logit_lengths[1] = max(int(logit_lengths[1]), 2)  # a single frame is unreachable by 2s and 3s
    kwargs = dict(blank_id=vocab, durations=durations, sigma=sigma)
    leaf = logits.clone().requires_grad_(True)
    expected = brute_force_nll(leaf, targets, logit_lengths, target_lengths, **kwargs)
    (expected_grad,) = torch.autograd.grad(expected.sum(), leaf)
    loss, grad = ours(logits.to(dtype), targets, logit_lengths, target_lengths, reduction="none", **kwargs)
    assert loss.dtype == dtype
    assert_losses_close(loss.double(), expected.detach(), rtol=loss_rtol)
    assert_grads_close(grad.double(), expected_grad, atol=grad_atol)


def test_omega_one_is_nemo_rnnt_loss_on_token_logits():
    # NeMo's CUDA TDT kernel switches the whole batch to the conventional RNN-T loss when its draw
    # falls under omega: token logits only, no sigma, duration logits unused (gpu_rnnt.py:606-660).
    durations = [0, 1, 2, 3, 4]
    vocab = 4
    logits, targets, logit_lengths, target_lengths = make_batch(31, 3, 5, 3, vocab, durations)
    loss, grad = ours(
        logits, targets, logit_lengths, target_lengths, blank_id=vocab, durations=durations, sigma=0.05,
        omega=1.0, reduction="none",
    )
    n_tokens = vocab + 1
    ref_loss, ref_grad = nemo_rnnt(logits[..., :n_tokens], targets, logit_lengths, target_lengths, blank_id=vocab)
    assert_losses_close(loss, ref_loss)
    assert_grads_close(grad[..., :n_tokens], ref_grad)
    assert torch.count_nonzero(grad[..., n_tokens:]) == 0


def test_omega_draws_like_nemo():
    # Once per call, r = random.uniform(0, 1) from Python's global generator; r < omega picks RNN-T.
    durations, vocab, omega = [0, 1, 2], 3, 0.1
    batch = make_batch(32, 2, 4, 2, vocab, durations)
    kwargs = dict(blank_id=vocab, durations=durations, sigma=0.05, reduction="none")
    tdt_value = tdt_loss(*batch, omega=0.0, **kwargs)
    rnnt_value = tdt_loss(*batch, omega=1.0, **kwargs)
    assert not torch.allclose(tdt_value, rnnt_value)
    branches = []
    for seed in range(40):
        random.seed(seed)
        value = tdt_loss(*batch, omega=omega, **kwargs)
        after_call = random.random()
        nemo_draws = random.Random(seed)
        picks_rnnt = nemo_draws.uniform(0, 1) < omega
        assert after_call == nemo_draws.random(), "must consume exactly one draw per call, as NeMo does"
        assert torch.equal(value, rnnt_value if picks_rnnt else tdt_value)
        assert torch.equal(value, tdt_loss(*batch, omega=omega, rng=random.Random(seed), **kwargs))
        branches.append(picks_rnnt)
    assert any(branches) and not all(branches), "the seeds must exercise both branches"


def test_all_blank_target_has_closed_form():
    # U = 0 with the single duration 1: the only alignment is one blank per frame.
    sigma = 0.05
    logits, targets, logit_lengths, target_lengths = make_batch(41, 2, 5, 0, 3, [1])
    kwargs = dict(blank_id=3, durations=[1], sigma=sigma, reduction="none")
    loss, _ = ours(logits, targets, logit_lengths, target_lengths, **kwargs)
    blank_logp = torch.log_softmax(logits[..., :4], dim=-1)[:, :, 0, 3] - sigma
    expected = torch.stack([-blank_logp[b, : int(logit_lengths[b])].sum() for b in range(2)])
    assert_losses_close(loss, expected)


def test_single_frame_has_closed_form():
    # T = 1, U = 2: both tokens must use duration 0 and a duration-1 blank ends the alignment.
    durations, sigma, vocab = [0, 1, 2], 0.05, 3
    logits, targets, logit_lengths, target_lengths = make_batch(42, 1, 1, 2, vocab, durations)
    kwargs = dict(blank_id=vocab, durations=durations, sigma=sigma, reduction="none")
    loss, _ = ours(logits, targets, logit_lengths, target_lengths, **kwargs)
    token_logp = torch.log_softmax(logits[0, 0, :, : vocab + 1], dim=-1) - sigma
    duration_logp = torch.log_softmax(logits[0, 0, :, vocab + 1 :], dim=-1)
    y = targets[0].tolist()
    expected = -(
        token_logp[0, y[0]] + duration_logp[0, 0]
        + token_logp[1, y[1]] + duration_logp[1, 0]
        + token_logp[2, vocab] + duration_logp[2, 1]
    )
    assert_losses_close(loss, expected.reshape(1))


def test_more_targets_than_frames_needs_duration_zero():
    # Sample 0 has 3 targets in 3 frames: feasible only if tokens may take duration 0. Sample 1 is
    # always feasible and must not be disturbed by its neighbour.
    vocab = 3
    gen = torch.Generator().manual_seed(51)
    targets = torch.randint(0, vocab, (2, 3), generator=gen)
    logit_lengths, target_lengths = torch.tensor([3, 4]), torch.tensor([3, 1])
    for durations in ([0, 1, 2], [1, 2]):
        logits = torch.randn(2, 4, 4, vocab + 1 + len(durations), generator=gen)
        kwargs = dict(blank_id=vocab, durations=durations, sigma=0.0)
        loss, grad = ours(logits, targets, logit_lengths, target_lengths, reduction="none", **kwargs)
        ref_loss, ref_grad = nemo_tdt(logits, targets, logit_lengths, target_lengths, **kwargs)
        assert torch.isfinite(grad).all()
        assert_losses_close(loss[1:], ref_loss[1:])
        assert_grads_close(grad[1], ref_grad[1])
        if 0 in durations:
            assert torch.isfinite(loss).all()
            assert_losses_close(loss[:1], ref_loss[:1])
            assert_grads_close(grad[0], ref_grad[0])
        else:
            # No alignment exists: we say inf and leave the logits alone; NeMo's reference returns
            # its -1000 log-alpha sentinel as a finite loss of about 1000.
            assert loss[0] == math.inf
            assert torch.count_nonzero(grad[0]) == 0
            assert 900 < ref_loss[0] < 1100


def test_float64_is_computed_in_float64():
    durations = [0, 1, 2, 3, 4]
    logits, targets, logit_lengths, target_lengths = make_batch(61, 2, 5, 3, 4, durations, torch.float64)
    kwargs = dict(blank_id=4, durations=durations, sigma=0.05, reduction="none")
    loss64, grad64 = ours(logits, targets, logit_lengths, target_lengths, **kwargs)
    loss32, grad32 = ours(logits.float(), targets, logit_lengths, target_lengths, **kwargs)
    assert loss64.dtype == torch.float64 and grad64.dtype == torch.float64
    assert loss32.dtype == torch.float32
    assert_losses_close(loss32.double(), loss64)
    assert_grads_close(grad32.double(), grad64)
    # float64 carries digits float32 cannot: the two differ, but by float32 rounding only.
    assert 0 < (loss32.double() - loss64).abs().max() < 1e-4


def test_half_precision_is_computed_in_float32():
    durations = [0, 1, 2]
    logits, targets, logit_lengths, target_lengths = make_batch(62, 2, 4, 2, 3, durations)
    kwargs = dict(blank_id=3, durations=durations, reduction="none")
    half = logits.to(torch.bfloat16)
    loss, grad = ours(half, targets, logit_lengths, target_lengths, **kwargs)
    expected, _ = ours(half.float(), targets, logit_lengths, target_lengths, **kwargs)
    assert loss.dtype == torch.float32 and grad.dtype == torch.bfloat16
    assert torch.equal(loss, expected)


def test_padding_never_matters():
    # Extra frames and target slots beyond every length, filled with extreme values, change
    # nothing and receive exactly zero gradient.
    durations = [0, 1, 2, 3, 4]
    logits, targets, logit_lengths, target_lengths = make_batch(71, 3, 5, 3, 4, durations)
    padded = torch.full((3, 8, 6, logits.shape[-1]), 1e4)
    in_sample = torch.zeros(padded.shape[:3], dtype=torch.bool)
    for b in range(3):
        in_sample[b, : int(logit_lengths[b]), : int(target_lengths[b]) + 1] = True
    padded[:, :5, :4] = logits
    padded[~in_sample] = 1e4  # also the padding inside the max lengths, where shorter samples end
    padded_targets = torch.cat([targets, torch.full((3, 2), 999)], dim=1)  # out-of-vocab padding ids
    kwargs = dict(blank_id=4, durations=durations, sigma=0.05, reduction="none")
    loss, grad = ours(logits, targets, logit_lengths, target_lengths, **kwargs)
    padded_loss, padded_grad = ours(padded, padded_targets, logit_lengths, target_lengths, **kwargs)
    assert_losses_close(padded_loss, loss, rtol=1e-6)
    assert_grads_close(padded_grad[:, :5, :4], grad, atol=1e-6)
    assert torch.count_nonzero(padded_grad[~in_sample]) == 0


def test_module_wraps_the_function():
    durations = [0, 1, 2, 3, 4]
    batch = make_batch(81, 2, 4, 2, 3, durations)
    module = TdtLoss(blank_id=3, durations=durations, sigma=0.02, reduction="mean_volume")
    expected = tdt_loss(*batch, blank_id=3, durations=durations, sigma=0.02, reduction="mean_volume")
    assert torch.equal(module(*batch), expected)
    assert "durations=[0, 1, 2, 3, 4]" in repr(module)


def test_bad_arguments_are_rejected():
    durations = [0, 1, 2]
    logits, targets, logit_lengths, target_lengths = make_batch(91, 2, 4, 2, 3, durations)
    good = dict(blank_id=3, durations=durations)
    with pytest.raises(ValueError, match="blank_id"):
        tdt_loss(logits, targets, logit_lengths, target_lengths, blank_id=4, durations=durations)
    with pytest.raises(ValueError, match="no positive duration"):
        tdt_loss(logits[..., :-2], targets, logit_lengths, target_lengths, blank_id=3, durations=[0])
    with pytest.raises(ValueError, match="logit_lengths"):
        tdt_loss(logits, targets, torch.tensor([4, 0]), target_lengths, **good)
    with pytest.raises(ValueError, match="targets must be token ids"):
        tdt_loss(logits, torch.full_like(targets, 7), logit_lengths, torch.tensor([2, 1]), **good)
    with pytest.raises(ValueError, match="reduction"):
        tdt_loss(logits, targets, logit_lengths, target_lengths, reduction="avg", **good)


def test_package_import_does_not_load_torch():
    code = "import sys, parakeet_trt.training as t; assert 'torch' not in sys.modules; print(t.__all__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert "tdt_loss" in out.stdout
    code = "from parakeet_trt.training import tdt_loss, TdtLoss; print(callable(tdt_loss), type(tdt_loss).__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert out.stdout.split() == ["True", "function"]
