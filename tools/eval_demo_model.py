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
A model folder that ships a cache-aware export (the demo model v2) is streamed with it too, and with
``--nemo`` its tokens are compared with NeMo's own cache-aware streaming; ``--lookahead-chunks``
exports more cache-aware encoders from the .nemo, one per chunk size the model was trained with.

Two more sections: the same held-out utterances joined ``--joined`` at a time into one stream (their
own noisy pause edges between them), decoded offline; and ``--open-english`` held-out sentences of
open English (Debian's fortunes, a source no training text comes from; training.open_text) spoken
by the corpus's voices, rates and noise, offline and buffered.
Deterministic: the same command gives the same file except for the timing column.
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


OPEN_ENGLISH_INDEX_BASE = 1_000_000  # eval-split seeds of the open-English set: far beyond the corpus's indices


def open_english_sentences(count: int, text_cache: Path) -> tuple[list[str], str]:
    """``count`` held-out open-English sentences (none of them in the training text) and the packages'
    versions; fetched before anything is measured, so a machine without apt fails at once."""
    from parakeet_trt.training.open_text import (FORTUNES_PACKAGE, fetch_debian_package, fortune_sentences,
                                                 package_version, training_sentences, WORDNET_PACKAGE)

    if count == 0:
        return [], ""
    fortunes = fetch_debian_package(FORTUNES_PACKAGE, text_cache)
    sentences = fortune_sentences(fortunes, count, exclude=frozenset(training_sentences(str(text_cache))))
    versions = f"{package_version(fortunes)}; training text {package_version(fetch_debian_package(WORDNET_PACKAGE, text_cache))}"
    return sentences, versions


def open_english(sentences: list[str], seed: int):
    """(audio, text) of each sentence, rendered by the corpus with an eval-split seed of its own (voice,
    rate, pitch, pauses, noise)."""
    from parakeet_trt.training.corpus import make_utterance, utterance_seed

    for i, sentence in enumerate(sentences):
        audio, text, _ = make_utterance(utterance_seed("eval", seed, OPEN_ENGLISH_INDEX_BASE + i), text=sentence)
        yield audio.astype(np.float32), text


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


def _shift_ms(folder: Path) -> int:
    meta = json.loads((folder / "model_meta.json").read_text())
    features = meta["features"]
    return int(round(meta["streaming"]["advance_frames_per_call"] * features["hop_length"]
                     / features["sample_rate_hz"] * 1e3))


def trained_left_context(nemo_model, chunk: int) -> int:
    """The left context (encoder frames) the model was trained with for ``chunk``-frame chunks."""
    contexts = [list(c) for c in getattr(nemo_model.encoder, "att_context_size_all", [])]
    for left, right in contexts:
        if right == chunk - 1 and left > 0:
            return left
    raise ValueError(f"--lookahead-chunks {chunk}: the model was not trained with {chunk}-frame chunks "
                     f"(its attention contexts: {contexts})")


def streaming_exports(args, workdir: Path, nemo_model) -> dict:
    """{name: (streaming encoder export folder, chunk ms)} of ``--nemo``: one per ``--profiles`` entry
    (the exporter's defaults for the profile) and one per ``--lookahead-chunks`` entry (cache-aware,
    chunk = shift = that many encoder frames, cache = the left context it was trained with)."""
    from parakeet_trt.export import export_model

    out = {}
    for profile in args.profiles:
        folder = workdir / profile
        print(f"[eval] exporting the {profile} streaming encoder of {args.nemo}", file=sys.stderr, flush=True)
        export_model(args.nemo, folder, component="encoder_streaming", streaming_profile=profile)
        out[profile] = (folder, _shift_ms(folder))
    for chunk in args.lookahead_chunks:
        left = trained_left_context(nemo_model, chunk)
        folder = workdir / f"chunk{chunk}"
        print(f"[eval] exporting the cache-aware encoder of {args.nemo} at {chunk}-frame chunks", file=sys.stderr,
              flush=True)
        export_model(args.nemo, folder, component="encoder_streaming", streaming_profile="cache_aware",
                     streaming_chunk_size=chunk, streaming_shift_size=chunk, streaming_left_chunks=left // chunk)
        shift_ms = _shift_ms(folder)
        out[f"cache_aware (look-ahead {shift_ms * (chunk - 1) // chunk} ms)"] = (folder, shift_ms)
    return out


def render_report(args, scores: list[Score], offline: Score, nemo: Score | None, n_utts: int, audio_s: float,
                  parity_lines: list[str]) -> str:
    nemo_path = args.nemo.resolve().relative_to(REPO) if args.nemo and REPO in args.nemo.resolve().parents else args.nemo
    cmd = (f"tools/eval_demo_model.py --model {args.model} --utterances {args.utterances} --seed {args.seed} "
           f"--chunks {' '.join(map(str, args.chunks))} --left-ms {args.left_ms} --right-ms {' '.join(map(str, args.right_ms))}"
           + (f" --nemo {nemo_path}" if nemo_path else "") + (f" --profiles {' '.join(args.profiles)}" if args.profiles else "")
           + (f" --lookahead-chunks {' '.join(map(str, args.lookahead_chunks))}" if args.lookahead_chunks else "")
           + f" --joined {args.joined} --open-english {args.open_english}")
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
    for line in parity_lines:
        lines += [line, ""]
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
    parser.add_argument("--profiles", nargs="*", default=[], choices=["chunk_isolated", "cache_aware"],
                        help="cache-aware streaming profiles to export from --nemo with the exporter's defaults and "
                             "score (default none; chunk_isolated is the one a full-context model streams with)")
    parser.add_argument("--lookahead-chunks", type=int, nargs="*", default=[],
                        help="with --nemo: also export and score a cache-aware encoder per chunk size (encoder frames; "
                             "the model must have been trained with that chunk, e.g. 2 14 for the demo model v2)")
    parser.add_argument("--joined", type=int, default=5,
                        help="also decode the held-out utterances joined this many at a time into one stream (default 5)")
    parser.add_argument("--open-english", type=int, default=60,
                        help="held-out open-English sentences (Debian fortunes-min) to score; 0: none (default 60)")
    parser.add_argument("--text-cache", type=Path, default=REPO / ".cache" / "text_sources",
                        help="where the Debian text packages are downloaded and unpacked (default .cache/text_sources)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "DEMO_MODEL_EVAL.md")
    args = parser.parse_args(argv)
    if args.utterances < 1:
        parser.error("--utterances must be at least 1")
    if (args.profiles or args.lookahead_chunks) and args.nemo is None:
        parser.error("--profiles and --lookahead-chunks need --nemo (the streaming encoder is exported from the .nemo)")
    if not 1 <= args.joined <= args.utterances or args.open_english < 0 or any(c < 1 for c in args.lookahead_chunks):
        parser.error("--joined must be in 1..--utterances, --lookahead-chunks at least 1, --open-english at least 0")

    import parakeet_trt

    with tempfile.TemporaryDirectory(prefix="ptrt_eval_") as workdir:
        return evaluate(args, Path(workdir))


def evaluate(args, workdir: Path) -> int:
    import parakeet_trt

    open_sentences, text_versions = open_english_sentences(args.open_english, args.text_cache)
    session = parakeet_trt.Session(args.model)
    nemo_model = nemo_streaming = None
    if args.nemo:
        from parakeet_trt.testing.test_models import load_test_model

        nemo_model = load_test_model(args.nemo)
    offline = Score("offline")
    nemo = Score("NeMo offline (reference)") if nemo_model is not None else None
    buffered = [Score("buffered", c, r) for c in args.chunks for r in args.right_ms]
    cache_aware = []
    if session.meta.get("streaming"):
        cache_aware.append((Score("cache_aware (packaged)", _shift_ms(resolve_folder(args.model))), session))
        if args.nemo:
            from parakeet_trt.testing.nemo_cache_aware import load_streaming_reference

            nemo_streaming = load_streaming_reference(args.nemo, session.meta["streaming"])
    cache_aware += [(Score(name, chunk_ms), parakeet_trt.Session(folder))
                    for name, (folder, chunk_ms) in streaming_exports(args, workdir, nemo_model).items()]
    total_audio = 0.0
    per_template: dict[str, Score] = {}
    utterances = []
    packaged_equal = 0
    for k, (audio, ref, template) in enumerate(held_out(args.utterances, args.seed), 1):
        dur = len(audio) / 16000
        total_audio += dur
        result, t = timed(lambda: session.transcribe(audio, 16000))
        utterances.append((audio, ref, result.text))
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
        if nemo_streaming is not None:
            from parakeet_trt.testing.nemo_cache_aware import nemo_cache_aware_decode

            packaged_equal += cache_aware[0][0].tokens[-1] == nemo_cache_aware_decode(nemo_streaming, audio)["token_ids"]
        if k % 20 == 0 or k == args.utterances:
            print(f"[eval] {k}/{args.utterances} utterances: offline WER {100 * offline.wer:.2f}%", file=sys.stderr,
                  flush=True)
    joined, alone = joined_offline(session, utterances, args.joined)
    open_scores = open_english_scores(args, session, open_sentences,
                                      cache_aware[:1] if session.meta.get("streaming") else [])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    streamed = buffered + [score for score, _ in cache_aware]
    parity = [] if nemo_streaming is None else [
        f"Runtime cache-aware tokens (packaged export) equal NeMo's own cache-aware streaming on {packaged_equal} "
        f"of {args.utterances} utterances."]
    report = render_report(args, streamed, offline, nemo, args.utterances, total_audio, parity)
    report += render_joined(joined, alone, args.joined) + render_open(open_scores, args, text_versions)
    args.out.write_text(report + render_templates(per_template))
    plot(args.out.with_name("demo_model_eval.png"), ([nemo] if nemo else []) + [offline] + streamed)
    print(f"[eval] wrote {args.out}", file=sys.stderr)
    return 0


def resolve_folder(model: str) -> Path:
    from parakeet_trt.models import resolve_model_dir

    return Path(resolve_model_dir(model))


def joined_offline(session, utterances, group: int) -> tuple[Score, Score]:
    """Offline decoding of the held-out utterances joined ``group`` at a time into one stream, and the
    same utterances decoded one at a time (whole groups only: a remainder is left out of both)."""
    joined, alone = Score(f"offline, {group} utterances per stream"), Score("offline, one at a time")
    for i in range(0, len(utterances) - group + 1, group):
        part = utterances[i:i + group]
        audio = np.concatenate([a for a, _, _ in part])
        result, t = timed(lambda: session.transcribe(audio, 16000))
        joined.add(" ".join(r for _, r, _ in part), result.text, result.token_ids, t, len(audio) / 16000)
        for a, ref, text in part:
            alone.add(ref, text, [], 0.0, len(a) / 16000)
    return joined, alone


def open_english_scores(args, session, sentences: list[str], cache_aware) -> list[Score]:
    if not sentences:
        return []
    print(f"[eval] {len(sentences)} open-English sentences", file=sys.stderr, flush=True)
    offline = Score("offline")
    buffered = Score("buffered", 560, 560)
    streamed = [(Score(s.name, s.chunk_ms), st) for s, st in cache_aware]
    for audio, ref in open_english(sentences, args.seed):
        dur = len(audio) / 16000
        result, t = timed(lambda: session.transcribe(audio, 16000))
        offline.add(ref, result.text, result.token_ids, t, dur)
        (ids, text), t = timed(lambda: stream_final(session, audio, chunk_ms=560, left_ms=args.left_ms, right_ms=560))
        buffered.add(ref, text, ids, t, dur)
        for s, st in streamed:
            (ids, text), t = timed(lambda: stream_final(st, audio, mode="cache_aware"))
            s.add(ref, text, ids, t, dur)
    return [offline, buffered] + [s for s, _ in streamed]


def render_joined(joined: Score, alone: Score, group: int) -> str:
    return "\n".join([
        f"## Joined streams: the held-out utterances {group} at a time", "",
        f"The same utterances concatenated {group} at a time (each keeps its own noisy edges, so the pauses "
        "between sentences are the corpus's), one offline decode per stream, against the same utterances "
        "decoded one at a time.", "",
        "| mode | decodes | words | WER | CER |", "|---|---|---|---|---|",
        f"| {alone.name} | {len(alone.tokens)} | {alone.words} | {100 * alone.wer:.2f}% | {100 * alone.cer:.2f}% |",
        f"| {joined.name} | {len(joined.tokens)} | {joined.words} | {100 * joined.wer:.2f}% | {100 * joined.cer:.2f}% |",
        "", ""])


def render_open(scores: list[Score], args, versions: str) -> str:
    from parakeet_trt.training.open_text import HELD_OUT_WORDS

    if not scores:
        return ""
    lines = ["## Open English (held out)", "",
             f"{len(scores[0].tokens)} sentences of Debian's fortunes-min (quotations and jokes), "
             f"{HELD_OUT_WORDS[0]}-{HELD_OUT_WORDS[1]} words, no digits, none of them in the demo model's training "
             "text (WordNet's glosses and examples, and the templates: training/open_text.py), chosen by hash; "
             "spoken by espeak-ng with the corpus's voices, rates, pauses and noise (eval-split seeds). "
             f"Packages: {versions}. Buffered: 560 ms chunks, {args.left_ms} ms left, 560 ms right.", "",
             "| mode | chunk ms | right ms | WER | CER | words |", "|---|---|---|---|---|---|"]
    for s in scores:
        lines.append(f"| {s.name} | {s.chunk_ms or '—'} | {s.right_ms or '—'} | {100 * s.wer:.2f}% | "
                     f"{100 * s.cer:.2f}% | {s.words} |")
    return "\n".join(lines) + "\n\n"


if __name__ == "__main__":
    sys.exit(main())
