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

Candidate choice: the same utterances joined five at a time with the corpus's pause edges
(testing/joined_streams.py) go through `parakeet-trt live`'s pipeline as `--llm-url` runs it (v2, the
default greedy redecode lane committing, a beam-4 lane on the same encoder calls; decoded as fast as it
goes); each final carries candidate windows (the beam lane's 1-best and n-best where they disagree
with the final). The finals go through the LLM lane; the word error rate of
the polished view (the LLM's choices) is compared with the greedy 1-best (each utterance alone,
offline) and the aggregator's committed text without the LLM. An oracle row shows the best any
choice among the windows could do.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import itertools
import math
import platform
import sys
import tempfile
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


def live_finals(streams) -> list[list[dict]]:
    """Per joined stream, the finals of the live pipeline at its defaults (file decoded as fast as it goes)."""
    import soundfile

    from parakeet_trt.live.engine_lane import StreamingOptions
    from parakeet_trt.llm.options import with_candidate_lanes
    from parakeet_trt.testing.collect_sink import play_file

    out = []
    with tempfile.TemporaryDirectory() as folder:
        for k, stream in enumerate(streams):
            path = Path(folder) / f"joined{k}.wav"
            soundfile.write(path, stream.audio, 16000)
            events, _ = play_file(path, with_candidate_lanes(StreamingOptions()))
            # One LLM lane for every stream here: segment numbers made unique across the streams.
            out.append([dict(e, segment=1000 * k + e["segment"]) for e in events if e["type"] == "final"])
            print(f"[polish-report] live pipeline {k + 1}/{len(streams)}", file=sys.stderr, flush=True)
    return out


def polish(url: str, model_name: str, finals: list[dict]) -> tuple[list[dict], dict]:
    """(polish events, lane summary) of every final through the LLM lane, one request per final."""
    from parakeet_trt.llm.lane import PolishLane
    from parakeet_trt.llm.options import LlmOptions

    events = []

    async def run():
        async def emit(event):
            events.append(event)

        lane = PolishLane(LlmOptions(url=url, model=model_name, timeout_s=120.0, merge_max_words=1,
                                     queue_segments=len(finals) + 1), emit)
        for f in finals:
            lane.submit_final(f)
        await lane.finish(timeout_s=60.0 * len(finals))
        return lane.summary()

    summary = asyncio.run(run())
    return events, summary


def readings(final: dict) -> list[str]:
    """Every text the final's candidate windows allow (heard or an alternative per window; at most 4096)."""
    from parakeet_trt.llm.prompt import spans

    windows = final.get("candidates") or []
    # An unbounded editable span: a final's own windows lie inside the span the lane edits.
    pieces = [[covered] if k is None else [covered] + [[w["word"] for w in alt["words"]]
                                                        for alt in windows[k]["alternatives"]]
              for k, covered in spans(final["words"], windows, -math.inf, math.inf)]
    return [" ".join(w for words in combination for w in words)
            for combination in itertools.islice(itertools.product(*pieces), 4096)]


def oracle_stream(finals: list[dict], reference: str, norm) -> str:
    """The stream's text with each final's reading chosen (one final at a time, the others fixed) to leave
    the fewest word errors against the reference: the most a choice among these candidates could gain."""
    from parakeet_trt.parity.ladder import word_errors

    texts = [norm(f["text"]) for f in finals]
    for j, final in enumerate(finals):
        texts[j] = min((norm(r) for r in readings(final)),
                       key=lambda r: word_errors(reference, " ".join(texts[:j] + [r] + texts[j + 1:]))[0])
    return " ".join(texts)


def candidate_choice(url: str, model_name: str, utterances: int) -> dict:
    """WER of the greedy 1-best, the aggregator without the LLM, the LLM's choices and the oracle."""
    from parakeet_trt import _core
    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import word_error_rate
    from parakeet_trt.testing.joined_streams import joined_streams

    streams = joined_streams(utterances=utterances)
    session = Session("demo")
    greedy = []
    for stream in streams:
        bounds = list(zip(stream.offsets_s, stream.offsets_s[1:] + [stream.duration_s]))
        greedy.append(" ".join(session.transcribe(stream.audio[int(a * 16000):int(b * 16000)], 16000).text
                               for a, b in bounds))
    finals = live_finals(streams)
    events, summary = polish(url, model_name, [f for stream_finals in finals for f in stream_finals])
    norm = lambda s: " ".join(_core.normalize_word(w) for w in s.split())  # noqa: E731
    polished = {e["segment"]: e["text"] for e in events}
    committed = ["".join(f["text"] for f in fs) for fs in finals]
    chosen = [" ".join(norm(polished.get(f["segment"], f["text"])) for f in fs) for fs in finals]
    oracle = [oracle_stream(fs, norm(s.reference), norm) for fs, s in zip(finals, streams)]
    refs = [norm(s.reference) for s in streams]  # the hypotheses are normalized the same way
    every = [f for fs in finals for f in fs]
    windows = [w for f in every for w in f.get("candidates") or []]
    choices = sum(1 for e in events for edit in e["edits"] if edit["kind"] == "choice")
    return {
        "streams": len(streams), "finals": len(every), "with_candidates": sum(bool(f.get("candidates")) for f in every),
        "windows": len(windows), "alternatives": sum(len(w["alternatives"]) for w in windows), "choices": choices,
        "summary": summary,
        "wer": {"greedy 1-best (offline, each utterance alone)": word_error_rate(refs, [norm(g) for g in greedy]),
                "aggregator without the LLM (its greedy lane commits)": word_error_rate(refs, [norm(c) for c in committed]),
                "LLM choice among the candidates (polished view)": word_error_rate(refs, chosen),
                "oracle choice among the same candidates": word_error_rate(refs, oracle)},
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--utterances", type=int, default=40)
    p.add_argument("--out", type=Path, default=REPO / "docs" / "POLISH_REPORT.md")
    args = p.parse_args(argv)

    from parakeet_trt.session import Session
    from parakeet_trt.testing.held_out import word_error_rate
    from parakeet_trt.llm.options import CANDIDATE_LANES
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
        events, summary = polish(url, POLISH_MODEL_NAME, finals)
        elapsed = time.monotonic() - started
        choice = candidate_choice(url, POLISH_MODEL_NAME, args.utterances)
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
        "## Candidate choice",
        "",
        f"The same {args.utterances} utterances joined five at a time with the corpus's pause edges "
        f"({choice['streams']} streams) through `parakeet-trt live`'s pipeline as `--llm-url` runs it (v2 over "
        f"`{CANDIDATE_LANES}`, the greedy lane committing; decoded as fast as it goes): {choice['finals']} finals, "
        f"{choice['with_candidates']} with candidates; {choice['windows']} windows with {choice['alternatives']} "
        f"alternatives (the beam lane's 1-best and n-best where they disagree with the final). The LLM lane (same server and model) accepted "
        f"{choice['summary']['accepted']} finals, rejected {choice['summary']['rejected']}, and made "
        f"{choice['choices']} choice edits.",
        "",
        "| text | WER (normalized) |",
        "|---|---|",
        *[f"| {name} | {100 * value:.2f}% |" for name, value in choice["wer"].items()],
        "",
        "The oracle picks, per final, the reading (heard words or an alternative per window) that leaves the fewest "
        "errors against the reference: the most any choice among these candidates could gain. The polish test model is a "
        f"{PolishLmConfig().layers}-layer, {PolishLmConfig().dim}-wide language model trained for minutes on the "
        "corpus's sentences; it sees the alternatives only through the grammar (it reads the heard line).",
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
