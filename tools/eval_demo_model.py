#!/usr/bin/env python3
"""Held-out WER and CER of a model on the synthetic corpus, offline and per streaming mode, into
docs/DEMO_MODEL_EVAL.md (plus a plot beside it).

    tools/eval_demo_model.py [--model demo] [--utterances 200] [--chunks 160 560 1040]
                             [--left-ms 10000] [--right-ms 560 1040 2000] [--nemo python/parakeet_trt/models/demo/demo.nemo]
                             [--profiles chunk_isolated] [--out docs/DEMO_MODEL_EVAL.md]

The held-out utterances are the corpus's ``eval`` split (odd utterance seeds, texts whose hash puts
them in eval: no sentence of it was ever trained on), rendered again from their seeds with
espeak-ng, so the audio is exactly what the trainer's eval shards were computed from. Each
utterance is transcribed offline (``Session.transcribe``) and streamed in ``buffered`` mode at
each chunk size and right context (left context fixed) in blocks of 1600 samples; with ``--nemo`` the
.nemo's own offline decoding (NeMo forward + greedy TDT) is scored too, and the report counts the
utterances whose tokens equal the runtime's, and each of ``--profiles`` is exported from it as a
streaming encoder and streamed in ``cache_aware`` mode (the chunk column is its shift per call).
Deterministic: the same command gives the same file
except for the timing column.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BLOCK_SAMPLES = 1600


@dataclass
class Score:
    """Word and character errors summed over utterances, and the time spent."""

    name: str
    chunk_ms: int | None = None
    right_ms: int | None = None
    word_errors: int = 0
    words: int = 0
    char_errors: int = 0
    chars: int = 0
    seconds: float = 0.0
    audio_s: float = 0.0
    tokens: list = field(default_factory=list)

    def add(self, ref: str, hyp: str, ids, seconds: float, audio_s: float) -> None:
        from parakeet_trt.parity.ladder import edit_distance, word_errors

        errors, words = word_errors(ref, hyp)
        self.word_errors += errors
        self.words += words
        self.char_errors += edit_distance(list(ref), list(hyp))
        self.chars += len(ref)
        self.seconds += seconds
        self.audio_s += audio_s
        self.tokens.append(list(ids))

    @property
    def wer(self) -> float:
        return self.word_errors / max(1, self.words)

    @property
    def cer(self) -> float:
        return self.char_errors / max(1, self.chars)


def held_out(count: int, seed: int):
    """(audio, text, template name) of the first ``count`` eval-split utterances of corpus seed ``seed``."""
    from parakeet_trt.testing.held_out import held_out_speech
    from parakeet_trt.training.corpus import plan_utterance, utterance_seed

    for i in range(count):
        audio, text = held_out_speech(i, seed, edge_silence_s=None)
        yield audio, text, plan_utterance(utterance_seed("eval", seed, i)).template


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def stream_final(session, audio: np.ndarray, **options):
    import parakeet_trt

    stream = parakeet_trt.StreamingSession(session, **options)
    for i in range(0, len(audio), BLOCK_SAMPLES):
        stream.push(audio[i:i + BLOCK_SAMPLES])
    last = stream.finish()[-1]
    return last.committed_token_ids, last.text


def nemo_offline(model, audio: np.ndarray):
    import torch

    with torch.inference_mode():
        x = torch.from_numpy(audio)[None]
        feats, n = model.preprocessor(input_signal=x, length=torch.tensor([len(audio)]))
        enc, enc_len = model.encoder(audio_signal=feats, length=n)
        hyp = model.decoding.rnnt_decoder_predictions_tensor(encoder_output=enc, encoded_lengths=enc_len)[0]
    ids = hyp.y_sequence.tolist() if hasattr(hyp.y_sequence, "tolist") else list(hyp.y_sequence)
    return ids, hyp.text


def streaming_exports(args, workdir: Path) -> dict:
    """{profile: (streaming encoder export folder, chunk ms)} of ``--nemo`` for each ``--profiles``
    entry, exported into ``workdir`` with the exporter's defaults for the profile."""
    if not args.profiles:
        return {}
    from parakeet_trt.export import export_model

    out = {}
    for profile in args.profiles:
        folder = workdir / profile
        print(f"[eval] exporting the {profile} streaming encoder of {args.nemo}", file=sys.stderr, flush=True)
        export_model(args.nemo, folder, component="encoder_streaming", streaming_profile=profile)
        meta = json.loads((folder / "model_meta.json").read_text())
        features = meta["features"]
        shift_ms = meta["streaming"]["advance_frames_per_call"] * features["hop_length"] / features["sample_rate_hz"] * 1e3
        out[profile] = (folder, int(round(shift_ms)))
    return out


def render_report(args, scores: list[Score], offline: Score, nemo: Score | None, n_utts: int, audio_s: float) -> str:
    nemo_path = args.nemo.resolve().relative_to(REPO) if args.nemo and REPO in args.nemo.resolve().parents else args.nemo
    cmd = (f"tools/eval_demo_model.py --model {args.model} --utterances {args.utterances} --seed {args.seed} "
           f"--chunks {' '.join(map(str, args.chunks))} --left-ms {args.left_ms} --right-ms {' '.join(map(str, args.right_ms))}"
           + (f" --nemo {nemo_path}" if nemo_path else "") + (f" --profiles {' '.join(args.profiles)}" if args.profiles else ""))
    lines = [
        "# Demo model: held-out WER and CER",
        "",
        f"Generated by `{cmd}`: {n_utts} held-out utterances of the synthetic corpus ({audio_s:.0f} s of "
        "espeak-ng speech with noise and pauses; eval split, never trained on), model "
        f"`{args.model}`, encoder on ONNX Runtime CPU. Streaming modes push blocks of {BLOCK_SAMPLES} samples; "
        f"buffered mode uses {args.left_ms} ms of left context and the right context of its row. "
        "RTF: compute seconds per audio second on this machine (the only column that changes between runs).",
        "",
        "| mode | chunk ms | right ms | WER | CER | words | WER − offline (points) | RTF |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in ([nemo] if nemo else []) + [offline] + scores:
        delta = "" if s is offline or s is nemo else f"{100 * (s.wer - offline.wer):+.2f}"
        lines.append(f"| {s.name} | {s.chunk_ms or '—'} | {s.right_ms or '—'} | {100 * s.wer:.2f}% | {100 * s.cer:.2f}% | {s.words} | "
                     f"{delta} | {s.seconds / max(1e-9, s.audio_s):.3f} |")
    lines.append("")
    if nemo:
        same = sum(a == b for a, b in zip(nemo.tokens, offline.tokens))
        lines.append(f"Runtime offline tokens equal NeMo's offline tokens on {same} of {n_utts} utterances.")
        lines.append("")
    lines.append("![WER per mode](demo_model_eval.png)")
    lines.append("")
    return "\n".join(lines)


def render_templates(per_template: dict[str, Score]) -> str:
    """Offline WER per sentence template of the corpus (training.corpus.TEMPLATES)."""
    lines = ["## Offline WER per corpus template", "",
             "`words` draws 3-7 words from a 3,000-word subset of wamerican; the other templates are sentences "
             "over the corpus's lexicons.", "",
             "| template | utterances | words | WER | CER |", "|---|---|---|---|---|"]
    for name, s in sorted(per_template.items()):
        lines.append(f"| {name} | {len(s.tokens)} | {s.words} | {100 * s.wer:.2f}% | {100 * s.cer:.2f}% |")
    return "\n".join(lines) + "\n"


def plot(path: Path, scores: list[Score]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [s.name + (f"\n{s.chunk_ms} ms" if s.chunk_ms else "") + (f" +{s.right_ms}" if s.right_ms else "")
              for s in scores]
    fig, ax = plt.subplots(figsize=(1.6 * len(scores) + 2, 3.6))
    x = np.arange(len(scores))
    ax.bar(x - 0.2, [100 * s.wer for s in scores], 0.4, label="WER")
    ax.bar(x + 0.2, [100 * s.cer for s in scores], 0.4, label="CER")
    ax.set_xticks(x, labels)
    ax.set_ylabel("% on held-out utterances")
    ax.axhline(15, color="grey", linestyle="--", linewidth=1, label="15% WER goal")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90, metadata={"Software": None})
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="demo", help="exported model folder or packaged model name (default demo)")
    parser.add_argument("--utterances", type=int, default=200, help="held-out utterances (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="corpus seed the model was trained with (default 0)")
    parser.add_argument("--chunks", type=int, nargs="+", default=[160, 560, 1040], help="buffered chunk sizes, ms")
    parser.add_argument("--left-ms", type=int, default=10000)
    parser.add_argument("--right-ms", type=int, nargs="+", default=[560, 1040, 2000],
                        help="buffered right contexts, ms: one row per chunk and right context (default 560 1040 2000: NeMo's own default is 2 s)")
    parser.add_argument("--nemo", type=Path, default=None, help="the model's .nemo: also score NeMo's own decoding")
    parser.add_argument("--profiles", nargs="*", default=["chunk_isolated"], choices=["chunk_isolated", "cache_aware"],
                        help="cache-aware streaming profiles to export from --nemo and score (default chunk_isolated)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "DEMO_MODEL_EVAL.md")
    args = parser.parse_args(argv)
    if args.utterances < 1:
        parser.error("--utterances must be at least 1")
    if args.profiles and args.nemo is None:
        parser.error("--profiles needs --nemo (the streaming encoder is exported from the .nemo)")

    import parakeet_trt

    with tempfile.TemporaryDirectory(prefix="ptrt_eval_") as workdir:
        return evaluate(args, Path(workdir))


def evaluate(args, workdir: Path) -> int:
    import parakeet_trt

    session = parakeet_trt.Session(args.model)
    nemo_model = None
    if args.nemo:
        from parakeet_trt.testing.test_models import load_test_model

        nemo_model = load_test_model(args.nemo)
    offline = Score("offline")
    nemo = Score("NeMo offline (reference)") if nemo_model is not None else None
    buffered = [Score("buffered", c, r) for c in args.chunks for r in args.right_ms]
    cache_aware = [(Score(f"cache_aware ({profile})", chunk_ms), parakeet_trt.Session(folder))
                   for profile, (folder, chunk_ms) in streaming_exports(args, workdir).items()]
    total_audio = 0.0
    per_template: dict[str, Score] = {}
    for k, (audio, ref, template) in enumerate(held_out(args.utterances, args.seed), 1):
        dur = len(audio) / 16000
        total_audio += dur
        result, t = timed(lambda: session.transcribe(audio, 16000))
        per_template.setdefault(template, Score(template)).add(ref, result.text, result.token_ids, t, dur)
        offline.add(ref, result.text, result.token_ids, t, dur)
        if nemo is not None:
            (ids, text), t = timed(lambda: nemo_offline(nemo_model, audio))
            nemo.add(ref, text, ids, t, dur)
        for s in buffered:
            (ids, text), t = timed(lambda: stream_final(session, audio, chunk_ms=s.chunk_ms, left_ms=args.left_ms,
                                                        right_ms=s.right_ms))
            s.add(ref, text, ids, t, dur)
        for s, streaming_session in cache_aware:
            (ids, text), t = timed(lambda: stream_final(streaming_session, audio, mode="cache_aware"))
            s.add(ref, text, ids, t, dur)
        if k % 20 == 0 or k == args.utterances:
            print(f"[eval] {k}/{args.utterances} utterances: offline WER {100 * offline.wer:.2f}%", file=sys.stderr,
                  flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    streamed = buffered + [score for score, _ in cache_aware]
    args.out.write_text(render_report(args, streamed, offline, nemo, args.utterances, total_audio)
                        + render_templates(per_template))
    plot(args.out.with_name("demo_model_eval.png"), ([nemo] if nemo else []) + [offline] + streamed)
    print(f"[eval] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
