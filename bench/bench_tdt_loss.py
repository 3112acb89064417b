#!/usr/bin/env python3
"""CPU TDT loss benchmark: parakeet_trt.training.tdt_loss vs NeMo's TDTLossPytorch (baseline), one run.

    bench/bench_tdt_loss.py [--batch 8] [--frames 100] [--targets 30] [--vocab 257] [--durations 0 1 2 3 4]
                            [--small 1 25 8] [--repeats 5] [--nemo-timeout 120] [--threads N]

Both get the same raw joint logits [B, T, U+1, V+1+D] (full lengths, sigma 0.05, reduction
mean_batch) and run forward + backward on this machine's CPU. NeMo's reference is a scalar Python
loop whose backward grows quadratically with the lattice, so it runs in a child process that is
killed after --nemo-timeout seconds (its NeMo import not counted); the --small shape (B T U) is
one where it finishes, so a speed-up is also measured on equal work. NeMo runs once per shape;
ours runs once to warm up, then --repeats times, and the table shows medians. Where both finish,
the results are compared, so the timing is of the same computation. NeMo's TDTLossNumba is not a
row: it refuses CPU tensors.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import torch


def make_inputs(batch: int, frames: int, n_targets: int, vocab: int, n_durations: int):
    """The same logits, targets and lengths in the parent and in NeMo's child process."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(batch, frames, n_targets + 1, vocab + 1 + n_durations, generator=gen)
    targets = torch.randint(0, vocab, (batch, n_targets), generator=gen)
    return logits, targets, torch.full((batch,), frames), torch.full((batch,), n_targets)


def time_forward_backward(loss_fn, logits, repeats: int):
    """Median forward and backward seconds, and the last (loss, gradient)."""
    forward_s, backward_s = [], []
    for _ in range(repeats):
        leaf = logits.detach().clone().requires_grad_(True)
        start = time.perf_counter()
        loss = loss_fn(leaf)
        middle = time.perf_counter()
        loss.backward()
        end = time.perf_counter()
        forward_s.append(middle - start)
        backward_s.append(end - middle)
    return statistics.median(forward_s), statistics.median(backward_s), loss.detach(), leaf.grad


def nemo_child(args) -> None:
    """Runs in the child: NeMo's reference once, results to --nemo-out."""
    from nemo.collections.asr.losses.rnnt_pytorch import TDTLossPytorch

    logits, targets, logit_lengths, target_lengths = make_inputs(*args.nemo_only, args.vocab, len(args.durations))
    loss_fn = TDTLossPytorch(blank=args.vocab, durations=args.durations, reduction="mean_batch", sigma=args.sigma)

    def nemo(leaf):
        # TDTLossPytorch hard-codes .cuda() on two scratch tensors; a no-op here lets it run on CPU.
        with mock.patch.object(torch.Tensor, "cuda", lambda self, *a, **k: self):
            return loss_fn(leaf, targets, logit_lengths, target_lengths)

    print("ready", flush=True)  # the parent's clock starts here, after the slow NeMo import
    forward_s, backward_s, loss, grad = time_forward_backward(nemo, logits, 1)
    torch.save({"forward_s": forward_s, "backward_s": backward_s, "loss": loss, "grad": grad}, args.nemo_out)
    # Skip the interpreter shutdown: with NeMo loaded it takes seconds, which the parent would count.
    sys.stdout.flush()
    os._exit(0)


def run_nemo(args, shape) -> tuple | None:
    """NeMo's (forward_s, backward_s, loss, grad) for shape, or None if it ran past --nemo-timeout."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "nemo.pt"
        command = [sys.executable, __file__, "--nemo-only", *map(str, shape), "--nemo-out", str(out),
                   "--vocab", str(args.vocab), "--sigma", str(args.sigma), "--durations", *map(str, args.durations)]
        if args.threads:
            command += ["--threads", str(args.threads)]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for line in child.stdout:
                if line.strip() == "ready":
                    break
            child.wait(timeout=args.nemo_timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            return None
        if child.returncode != 0:
            raise RuntimeError(f"NeMo child failed with exit code {child.returncode}: {' '.join(command)}")
        result = torch.load(out)
        return result["forward_s"], result["backward_s"], result["loss"], result["grad"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--targets", type=int, default=30)
    parser.add_argument("--small", type=int, nargs=3, default=[1, 25, 8], metavar=("B", "T", "U"),
                        help="a second shape, small enough for NeMo's reference to finish")
    parser.add_argument("--vocab", type=int, default=257, help="non-blank tokens; blank id = vocab")
    parser.add_argument("--durations", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--sigma", type=float, default=0.05)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nemo-timeout", type=int, default=120, help="seconds before NeMo's run is abandoned")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--nemo-only", type=int, nargs=3, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--nemo-out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.nemo_only:
        nemo_child(args)
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))  # run from a checkout
    from parakeet_trt.training.tdt_loss import tdt_loss

    rows, notes = [], []
    for shape in ((args.batch, args.frames, args.targets), tuple(args.small)):
        logits, targets, logit_lengths, target_lengths = make_inputs(*shape, args.vocab, len(args.durations))

        def ours(leaf):
            return tdt_loss(
                leaf, targets, logit_lengths, target_lengths, blank_id=args.vocab, durations=args.durations,
                sigma=args.sigma, reduction="mean_batch",
            )

        time_forward_backward(ours, logits, 1)  # warm-up
        label = "B={} T={} U={}".format(*shape)
        mine = time_forward_backward(ours, logits, args.repeats)
        baseline = run_nemo(args, shape)
        rows.append((label, "parakeet_trt tdt_loss", args.repeats, mine, baseline))
        rows.append((label, "NeMo TDTLossPytorch (baseline)", 1, baseline, baseline))
        if baseline is not None:
            (_, _, our_loss, our_grad), (_, _, nemo_loss, nemo_grad) = mine, baseline
            notes.append(f"{label}: loss {our_loss.item():.6f} vs NeMo {nemo_loss.item():.6f} (relative "
                         f"{abs(our_loss.item() - nemo_loss.item()) / abs(nemo_loss.item()):.1e}), "
                         f"gradient max abs difference {(our_grad - nemo_grad).abs().max().item():.1e}")

    print(f"TDT loss forward + backward, CPU ({platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads); V={args.vocab} (+blank), durations {args.durations}, "
          f"sigma {args.sigma}, float32, medians")
    print()
    print(f"| {'shape':<20} | {'implementation':<31} | {'runs':>4} | {'forward ms':>10} | {'backward ms':>11} "
          f"| {'total ms':>9} | {'speed-up':>8} |")
    print(f"|{'-' * 22}|{'-' * 33}|{'-' * 6}|{'-' * 12}|{'-' * 13}|{'-' * 11}|{'-' * 10}|")
    for label, name, runs, timing, baseline in rows:
        if timing is None:
            print(f"| {label:<20} | {name:<31} | {runs:>4} | {'':>10} | {'':>11} "
                  f"| {'> ' + str(args.nemo_timeout * 1000):>9} | {'':>8} |")
            continue
        total = timing[0] + timing[1]
        if baseline is not None:
            speedup = f"{(baseline[0] + baseline[1]) / total:.0f}x"
        else:  # NeMo did not finish: the speed-up is at least the timeout over our time
            speedup = f">{args.nemo_timeout / total:.0f}x"
        print(f"| {label:<20} | {name:<31} | {runs:>4} | {timing[0] * 1e3:>10.1f} | {timing[1] * 1e3:>11.1f} "
              f"| {total * 1e3:>9.1f} | {speedup:>8} |")
    print()
    if any(timing is None for _, _, _, timing, _ in rows):
        print(f"> {args.nemo_timeout * 1000} ms: NeMo's run was killed after --nemo-timeout {args.nemo_timeout} s.")
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
