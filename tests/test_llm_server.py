"""The LLM lane against a real LLM server: llama.cpp's OpenAI-compatible server (llama-cpp-python
[server], built from source once by scripts/setup.sh --dev) serving the project's own polish test
model (a tiny Llama trained on the demo corpus's written sentences, GGUF; training/polish_lm.py,
built once into the cache). Held-out sentences: the polished view keeps the heard words exactly and
adds casing and punctuation; without the grammar, whatever the model writes is judged by the guard."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

from parakeet_trt import _core
from parakeet_trt.llm.lane import PolishLane
from parakeet_trt.llm.options import LlmOptions
from parakeet_trt.testing.llama_server import POLISH_MODEL_NAME, llama_server, llama_server_available

pytestmark = pytest.mark.skipif(not llama_server_available(),
                                reason="llama-cpp-python[server] is not installed (scripts/setup.sh --dev builds it)")


def held_out_finals(count: int) -> list[tuple[dict, str]]:
    import numpy as np

    from parakeet_trt.training.corpus import make_text, written_form

    rng = np.random.default_rng([0, 11])
    out = []
    for k in range(count):
        text, template = make_text(rng, "eval")
        words = [{"word": w, "start_s": 20.0 * k + 0.4 * i, "end_s": 20.0 * k + 0.4 * i + 0.3, "committed": True}
                 for i, w in enumerate(text.split())]
        final = {"type": "final", "seq": 100 + k, "segment": k, "text": " " + text, "start_s": words[0]["start_s"],
                 "end_s": words[-1]["end_s"], "words": words}
        out.append((final, written_form(text, template)))
    return out


def polish(url: str, finals: list[dict], grammar: bool) -> tuple[list[dict], dict]:
    async def main():
        events = []

        async def emit(event):
            events.append(event)

        lane = PolishLane(LlmOptions(url=url, model=POLISH_MODEL_NAME, timeout_s=60.0, grammar=grammar,
                                     merge_max_words=1), emit)
        for f in finals:
            lane.submit_final(f)
        await lane.finish(timeout_s=240.0)
        return events, lane.summary()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with llama_server(log=tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url


def test_llama_cpp_serves_the_polish_model(server_url):
    with urllib.request.urlopen(server_url + "/models", timeout=10) as response:
        models = json.load(response)
    assert [m["id"] for m in models["data"]] == [POLISH_MODEL_NAME]


def test_llama_cpp_tokenizes_as_the_model_was_trained():
    import llama_cpp

    from parakeet_trt.training.polish_lm import BOS, cached_polish_lm, encode

    llm = llama_cpp.Llama(model_path=str(cached_polish_lm()), vocab_only=True, verbose=False)
    for text in ["the cat sat\n The cat sat.", "Where is the café? I don't know.", "  two  spaces"]:
        assert llm.tokenize(text.encode(), add_bos=False, special=False) == encode(text), text
    assert llm.tokenize(b"<s>x", add_bos=False, special=True) == [BOS] + encode("x")
    assert llm.detokenize(encode("The cat, é.")).decode() == "The cat, é."


def test_the_real_model_polishes_held_out_sentences_without_new_words(server_url):
    pairs = held_out_finals(6)
    events, summary = polish(server_url, [f for f, _ in pairs], grammar=True)
    print(json.dumps(summary), *(f"{e['segment']}: {e['text']}" for e in events), sep="\n")
    # The grammar admits only valid answers: every final is polished, and the guard agrees.
    assert summary["accepted"] == len(pairs) == len(events), summary
    by_segment = {e["segment"]: e for e in events}
    for k, (final, written) in enumerate(pairs):
        words = [w["word"] for w in by_segment[k]["words"]]
        assert [_core.normalize_word(w) for w in words] == [w["word"] for w in final["words"]]
    # The model learned the written form: sentences start with a capital and end with punctuation.
    shaped = [e for e in events if e["text"][:1].isupper() and e["text"][-1] in ".?!"]
    assert len(shaped) >= len(events) - 1, [e["text"] for e in events]


def test_without_the_grammar_the_guard_judges_what_the_model_writes(server_url):
    pairs = held_out_finals(3)
    events, summary = polish(server_url, [f for f, _ in pairs], grammar=False)
    print(json.dumps(summary), *(e["text"] for e in events), sep="\n")
    # The server answered every request; each answer was judged (accepted or rejected by the guard).
    assert summary["failed"] == 0 and summary["timed_out"] == 0, summary
    assert summary["accepted"] + summary["rejected"] == len(pairs), summary
    heard = {k: [w["word"] for w in f["words"]] for k, (f, _) in enumerate(pairs)}
    for e in events:  # whatever got through is the heard words, cased and punctuated
        assert [_core.normalize_word(w["word"]) for w in e["words"]] == heard[e["segment"]]
