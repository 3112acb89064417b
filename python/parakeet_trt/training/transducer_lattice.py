"""Log-likelihood of a transducer lattice (the alpha recursion), vectorised over batch and anti-diagonals.

A transducer alignment is a walk on a lattice of nodes ``(t, u)``: frame ``t`` in ``[0, T_b)`` and
``u`` targets emitted so far, ``0 <= u <= U_b``. Two kinds of arc leave a node:

    blank arc, duration d:   (t, u) -> (t + d, u)        needs d >= 1
    emit arc,  duration d:   (t, u) -> (t + d, u + 1)    emits target u, d >= 0

Each arc carries a log weight given by the caller. An alignment starts at ``(0, 0)`` and ends with a
blank arc that lands exactly on ``(T_b, U_b)``; a token can never be the last arc, and an arc that
jumps past ``T_b`` leads nowhere. The result is ``log sum over alignments of exp(sum of arc
weights)``. TDT (durations for both kinds) and the conventional RNN-T (blank d = 1, emit d = 0) are
both this lattice with different arc sets, so one recursion serves both.

Why anti-diagonals: along ``n = t + u`` a blank arc moves forward by ``d >= 1`` diagonals and an emit
arc by ``d + 1 >= 1``, so every node on diagonal ``n`` depends only on earlier diagonals. One step
computes a whole diagonal for the whole batch with a handful of tensor ops, and autograd through
the loop gives the exact gradient (there is no hand-written backward to get wrong).

Everything is in log space with true ``-inf`` for unreachable nodes (no finite sentinel), and the
log-sum-exp used here has a zero, not NaN, gradient when all of its inputs are ``-inf``; so an
impossible sample has likelihood ``-inf`` and contributes zero gradient.
"""

from __future__ import annotations

from typing import Sequence

import torch

NEG_INF = float("-inf")


def log_sum_exp(x: torch.Tensor, dim: int) -> torch.Tensor:
    """``torch.logsumexp`` whose gradient is 0 (not NaN) where every input is ``-inf``.

    torch's own backward computes ``exp(x - result)`` = ``exp(-inf - -inf)`` = NaN there, and
    unreachable lattice nodes are common (padding, targets too long for the frames).
    """
    # The shift only keeps exp() in range; the result does not depend on it, so no gradient.
    peak = x.detach().amax(dim, keepdim=True)
    peak = torch.where(torch.isfinite(peak), peak, torch.zeros_like(peak))
    total = (x - peak).exp().sum(dim)
    reachable = total > 0
    # log(1) on the unreachable lanes keeps the backward of log() finite; where() then discards it.
    log_total = torch.log(torch.where(reachable, total, torch.ones_like(total)))
    return torch.where(reachable, log_total, NEG_INF) + peak.squeeze(dim)


def transducer_log_likelihood(
    blank_arcs: torch.Tensor,
    blank_durations: Sequence[int],
    emit_arcs: torch.Tensor,
    emit_durations: Sequence[int],
    frame_lengths: torch.Tensor,
    target_lengths: torch.Tensor,
) -> torch.Tensor:
    """Per-sample log-likelihood ``[B]`` of the lattice described in the module docstring.

    blank_arcs: ``[B, T, U+1, len(blank_durations)]``, weight of the blank arc of duration
        ``blank_durations[j]`` leaving node ``(t, u)``.
    emit_arcs: ``[B, T, U+1, len(emit_durations)]``, weight of emitting target ``u`` with duration
        ``emit_durations[j]`` from node ``(t, u)``; the last ``u`` column is never read.
    frame_lengths, target_lengths: ``[B]`` int64, ``1 <= T_b <= T`` and ``0 <= U_b <= U``.

    Arcs leaving nodes outside a sample's own lattice (``t >= T_b``, or ``u`` past ``U_b``) are
    masked here, so whatever the padding holds never reaches the result and gets zero gradient.
    """
    batch, n_frames, n_nodes_u, _ = blank_arcs.shape
    blank_durations = [int(d) for d in blank_durations]
    emit_durations = [int(d) for d in emit_durations]
    if not blank_durations or min(blank_durations) < 1:
        raise ValueError(f"blank durations must be non-empty and >= 1, got {blank_durations}")
    if emit_durations and min(emit_durations) < 0:
        raise ValueError(f"emit durations must be >= 0, got {emit_durations}")
    device = blank_arcs.device

    frames = torch.arange(n_frames, device=device)
    us = torch.arange(n_nodes_u, device=device)
    in_frames = frames[None, :, None] < frame_lengths[:, None, None]  # [B, T, 1]
    blank_from = in_frames & (us[None, None, :] <= target_lengths[:, None, None])
    emit_from = in_frames & (us[None, None, :] < target_lengths[:, None, None])
    blank_arcs = blank_arcs.masked_fill(~blank_from[..., None], NEG_INF)
    emit_arcs = emit_arcs.masked_fill(~emit_from[..., None], NEG_INF)

    # Skew the arcs from (t, u) to (diagonal m = t + u, u) once, laid out [m, arc, B, u] so each
    # step reads an arc's weights along a whole diagonal as one contiguous [B, U+1] slab.
    n_diagonals = n_frames + n_nodes_u - 1  # diagonals that hold a node with t < T
    t_on_diagonal = torch.arange(n_diagonals, device=device)[:, None] - us[None, :]  # [M, U+1]
    on_lattice = (t_on_diagonal >= 0) & (t_on_diagonal < n_frames)
    arcs = torch.cat([blank_arcs, emit_arcs], dim=-1)
    skewed = arcs[:, t_on_diagonal.clamp(0, n_frames - 1), us[None, :].expand_as(t_on_diagonal)]
    skewed = skewed.masked_fill(~on_lattice[None, :, :, None], NEG_INF).permute(1, 3, 0, 2)
    n_blank = len(blank_durations)
    # Emit weights are indexed by the node they land on (u + 1), so they line up with alpha
    # shifted by one target; nothing lands on u = 0.
    skewed_emit = _shift_up_one_target(skewed[:, n_blank:])
    arcs_by_diagonal = torch.cat([skewed[:, :n_blank], skewed_emit], dim=1).contiguous()

    # Which (source diagonal, arc) feeds each slot of each step, found once up front. The weights of
    # every step are gathered in one indexing op and unbound into per-step views: indexing inside
    # the loop would make the backward scatter into a zero tensor the size of all arcs at every
    # step (quadratic in T + U), while unbind's backward is a single stack.
    n_arcs = n_blank + len(emit_durations)
    slot_durations = blank_durations + [d + 1 for d in emit_durations]  # diagonals each slot jumps
    step_diagonal = torch.arange(n_diagonals, device=device)[:, None] - torch.tensor(slot_durations, device=device)
    slot_exists = step_diagonal >= 0  # [M, arcs]: false while the jump reaches before diagonal 0
    step_weights = arcs_by_diagonal[step_diagonal.clamp(min=0), torch.arange(n_arcs, device=device)]
    step_weights = step_weights.masked_fill(~slot_exists[:, :, None, None], NEG_INF).unbind(0)

    alpha_start = torch.full((batch, n_nodes_u), NEG_INF, dtype=arcs.dtype, device=device)
    alpha_start[:, 0] = 0.0
    nowhere = torch.full_like(alpha_start, NEG_INF)  # stands in for diagonals before 0
    alphas = [alpha_start]  # alphas[m]: alpha along diagonal m, [B, U+1] indexed by u
    alphas_up = [_shift_up_one_target(alpha_start)]  # the same, moved to u + 1
    for n in range(1, n_diagonals):
        sources = [alphas[n - d] if n - d >= 0 else nowhere for d in blank_durations]
        sources += [alphas_up[n - d - 1] if n - d - 1 >= 0 else nowhere for d in emit_durations]
        alpha_n = log_sum_exp(torch.stack(sources) + step_weights[n], dim=0)
        alphas.append(alpha_n)
        alphas_up.append(_shift_up_one_target(alpha_n))

    # Terminal rule: the last arc is a blank of some duration d >= 1 from (T_b - d, U_b) that lands
    # exactly on frame T_b. (Nothing may land past T_b, and a token may not be last.)
    alpha_by_diagonal = torch.stack(alphas)  # [M, B, U+1]
    samples = torch.arange(batch, device=device)
    endings = []
    for j, d in enumerate(blank_durations):
        start_frame = frame_lengths - d
        possible = start_frame >= 0
        start_frame = start_frame.clamp(0, n_frames - 1)
        alpha_before = alpha_by_diagonal[start_frame + target_lengths, samples, target_lengths]
        last_blank = blank_arcs[samples, start_frame, target_lengths, j]
        endings.append(torch.where(possible, alpha_before + last_blank, NEG_INF))
    return log_sum_exp(torch.stack(endings), dim=0)


def _shift_up_one_target(x: torch.Tensor) -> torch.Tensor:
    """``y[..., u] = x[..., u - 1]`` and ``y[..., 0] = -inf``, along the last axis."""
    return torch.nn.functional.pad(x[..., :-1], (1, 0), value=NEG_INF)
