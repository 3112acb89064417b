"""What the LLM is asked: the chat messages for one polish request (the heard words and the candidate
windows) and, for servers that take one (llama.cpp), a GBNF grammar whose every sentence is a valid
answer: the heard words or a window's alternative, each word lower-case, capitalized or as heard,
followed by optional punctuation. The user message marks the spans that have alternatives in the
heard text; its last line is the heard text alone (the project's polish test model reads only that
line, training/polish_lm.py)."""

from __future__ import annotations

from parakeet_trt import _core

SYSTEM_PROMPT = (
    "You restore punctuation and capitalization in speech-recognition transcripts. Never add, remove, reorder "
    "or change words. Where alternatives are listed for a time span, you may use one of them instead of the "
    "heard words there. Answer with the polished text only, on one line.")

PUNCTUATION = (",", ".", "?", "!")


def spans(heard: list[dict], windows: list[dict], editable_start_s: float,
          editable_end_s: float) -> list[tuple[int | None, list[str]]]:
    """The heard words grouped as check_polish reads them (the core's polish_slots): (window index, the heard
    words it covers) or (None, [a word no offered window covers])."""
    return [(k, [w["word"] for w in heard[begin:end]])
            for k, begin, end in _core.polish_slots(heard, windows, editable_start_s, editable_end_s)]


def messages_for(heard: list[dict], windows: list[dict], editable_start_s: float, editable_end_s: float) -> list[dict]:
    """The user message: the alternatives of each window the guard reads, the heard text with each such
    window's span marked "[k: words]" (a window may cover no word: words may come there), and last the heard
    text alone."""
    lines = ["Polish this transcript."]
    grouped = spans(heard, windows, editable_start_s, editable_end_s)
    marked_windows = [k for k, _ in grouped if k is not None]
    if marked_windows:
        for k in marked_windows:
            window = windows[k]
            options = " | ".join(" ".join(w["word"] for w in alt["words"]) or "(nothing)"
                                 for alt in window["alternatives"])
            lines.append(f"Alternatives {k} for {window['start_s']:.2f}-{window['end_s']:.2f} s: {options}")
        marked = [" ".join(words) if k is None else f"[{k}: {' '.join(words)}]" for k, words in grouped]
        lines.append("Heard, with the spans that have alternatives marked: " + " ".join(marked))
    lines.append(" ".join(w["word"] for w in heard))
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]


def _literal(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _word_rule(word: str) -> str:
    forms = dict.fromkeys([word, word.lower(), word[:1].upper() + word[1:].lower()])
    return '" " (' + " | ".join(_literal(f) for f in forms) + ") punct?"


def grammar_for(heard: list[dict], windows: list[dict], editable_start_s: float, editable_end_s: float) -> str:
    """GBNF: every answer it allows is one the guard accepts (the spans check_polish reads)."""
    items = []
    for k, covered in spans(heard, windows, editable_start_s, editable_end_s):
        if k is None:
            items.append(_word_rule(covered[0]))
            continue
        readings = [covered] + [[w["word"] for w in alt["words"]] for alt in windows[k]["alternatives"]]
        branches = [" ".join(_word_rule(w) for w in words) or '""' for words in readings]
        items.append("(" + " | ".join(f"({b})" for b in branches) + ")")
    punct = " | ".join(_literal(p) for p in PUNCTUATION)
    return f"root ::= {' '.join(items) or chr(34) * 2}\npunct ::= {punct}\n"


def max_tokens_for(heard: list[dict], windows: list[dict]) -> int:
    """A bound generous for a byte-level model: two tokens per character of the longest reading, plus slack."""
    chars = sum(len(w["word"]) + 2 for w in heard)
    chars += sum(max((sum(len(w["word"]) + 2 for w in alt["words"]) for alt in win["alternatives"]), default=0)
                 for win in windows)
    return 2 * chars + 32
