#!/usr/bin/env python3
"""The LLM lane's measured effect on held-out corpus speech, into docs/POLISH_REPORT.md.

    tools/polish_report.py [--utterances 40] [--out docs/POLISH_REPORT.md]

Held-out utterances of the demo corpus (eval split) are transcribed by the packaged demo model
(offline, greedy); each transcript becomes one final and goes through the LLM lane against
llama.cpp's OpenAI-compatible server serving the project's polish test model
(training/polish_lm.py, built once into the cache). The polished view is scored against the cased,
punctuated reference (corpus.written_form) on the words the ASR got right (aligned with difflib):
punctuation F1 (the mark after each word) and casing accuracy (each word's letters, case-sensitive).
The raw ASR text is the baseline. The guardrails keep the polished words equal to the heard words,
so the word error rate is the same by construction (shown).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

PUNCT = ".,?!;:"


def split_mark(token: str) -> tuple[str, str]:
    core = token.rstrip(PUNCT)
    return core, token[len(core):]


def score(pairs: list[tuple[list[str], list[str]]]) -> dict:
    """pairs: (reference written words, hypothesis words) per utterance."""
    from parakeet_trt import _core

    tp = fp = fn = 0
    cased = total = 0
    for ref, hyp in pairs:
        ref_norm = [_core.normalize_word(w) for w in ref]
        hyp_norm = [_core.normalize_word(w) for w in hyp]
        for block in difflib.SequenceMatcher(a=ref_norm, b=hyp_norm, autojunk=False).get_matching_blocks():
            for k in range(block.size):
                r_core, r_mark = split_mark(ref[block.a + k])
                h_core, h_mark = split_mark(hyp[block.b + k])
                total += 1
                cased += r_core == h_core
                if h_mark and h_mark == r_mark:
                    tp += 1
                else:
                    fp += bool(h_mark)
                    fn += bool(r_mark)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"punct_precision": precision, "punct_recall": recall, "punct_f1": f1,
            "casing_accuracy": cased / total if total else 0.0, "aligned_words": total}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--utterances", type=int, default=40)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "POLISH_REPORT.md")
    args = p.parse_args(argv)

    from parakeet_trt.llm.lane import PolishLane
    from parakeet_trt.llm.options import LlmOptions
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import word_error_rate
    from parakeet_trt.testing.llama_server import POLISH_MODEL_NAME, llama_server
    from parakeet_trt.training.corpus import make_utterance, plan_utterance, utterance_seed, written_form
    from parakeet_trt.training.polish_lm import PolishLmConfig, cached_polish_lm

    session = Session("demo")
    finals, references, heard_texts = [], [], []
    for i in range(args.utterances):
        seed = utterance_seed("eval", 0, i)
        audio, text, _ = make_utterance(seed)
        references.append(written_form(text, plan_utterance(seed).template))
        words = session.transcribe(audio, 16000).words
        heard_texts.append(" ".join(w.word for w in words))
        if words:
            finals.append({"type": "final", "seq": i + 1, "segment": i, "text": " " + heard_texts[-1],
                           "start_s": 100.0 * i + words[0].start_s, "end_s": 100.0 * i + words[-1].end_s,
                           "words": [{"word": w.word, "start_s": 100.0 * i + w.start_s, "end_s": 100.0 * i + w.end_s}
                                     for w in words]})
        print(f"[polish-report] transcribed {i + 1}/{args.utterances}", file=sys.stderr, flush=True)

    model = cached_polish_lm(progress=lambda line: print(line, file=sys.stderr, flush=True))
    events = []
    started = time.monotonic()
    with llama_server(model) as url:
        async def run():
            async def emit(event):
                events.append(event)

            lane = PolishLane(LlmOptions(url=url, model=POLISH_MODEL_NAME, timeout_s=120.0, merge_max_words=1,
                                         queue_segments=len(finals) + 1), emit)
            for f in finals:
                lane.submit_final(f)
            await lane.finish(timeout_s=60.0 * len(finals))
            return lane.summary()

        summary = asyncio.run(run())
    elapsed = time.monotonic() - started
    polished = {e["segment"]: e["text"] for e in events}
    polished_texts = [polished.get(i, heard_texts[i]) for i in range(args.utterances)]
    raw = score([(r.split(), h.split()) for r, h in zip(references, heard_texts)])
    pol = score([(r.split(), h.split()) for r, h in zip(references, polished_texts)])
    from parakeet_trt import _core

    norm = lambda s: " ".join(_core.normalize_word(w) for w in s.split())  # noqa: E731
    refs_norm = [norm(r) for r in references]
    wer_raw = word_error_rate(refs_norm, [norm(h) for h in heard_texts])
    wer_pol = word_error_rate(refs_norm, [norm(h) for h in polished_texts])

    lines = [
        "# LLM polish lane: measured effect (generated)",
        "",
        f"Generated by `tools/polish_report.py --utterances {args.utterances}` on {platform.machine()} "
        f"({platform.processor() or 'CPU'}); do not edit by hand.",
        "",
        f"- Speech: {args.utterances} held-out utterances of the demo corpus (eval split, corpus seed 0), "
        "transcribed offline by the packaged demo model (greedy).",
        f"- LLM: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) serving the polish test model "
        f"`{model.name}` ({PolishLmConfig()}), with the lane's GBNF grammar; the C++ guardrails checked every answer.",
        f"- Lane: {summary['requests']} requests, {summary['accepted']} finals accepted, {summary['rejected']} rejected, "
        f"{summary['failed']} failed, {summary['timed_out']} timed out; edits {summary['edits']}; "
        f"LLM round trip p50 {summary.get('round_trip_ms', {}).get('p50', 0):.0f} ms; {elapsed:.0f} s in all.",
        "",
        "Scored on the words the ASR got right (aligned to the reference), against the cased, punctuated reference "
        "(`corpus.written_form`):",
        "",
        "| view | punctuation precision | recall | F1 | casing accuracy | aligned words | WER (normalized) |",
        "|---|---|---|---|---|---|---|",
        f"| raw ASR (greedy 1-best) | {raw['punct_precision']:.3f} | {raw['punct_recall']:.3f} | {raw['punct_f1']:.3f} "
        f"| {raw['casing_accuracy']:.3f} | {raw['aligned_words']} | {wer_raw:.3f} |",
        f"| polished (LLM lane) | {pol['punct_precision']:.3f} | {pol['punct_recall']:.3f} | {pol['punct_f1']:.3f} "
        f"| {pol['casing_accuracy']:.3f} | {pol['aligned_words']} | {wer_pol:.3f} |",
        "",
        "Candidate choice (WER of the LLM's choice among n-best/lane candidates against the greedy 1-best and the "
        "aggregator without the LLM) is not measured here: the candidates come from the aggregator's n-best "
        "(issue 14), which feeds `PolishLane.submit_final(final, candidates)`.",
        "",
        "Examples (reference / raw / polished):",
        "",
    ]
    for i in range(min(8, args.utterances)):
        lines += [f"- `{references[i]}`", f"  `{heard_texts[i]}`", f"  `{polished_texts[i]}`"]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"[polish-report] wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
