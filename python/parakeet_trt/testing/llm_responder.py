"""An OpenAI-compatible chat-completions responder on 127.0.0.1 for the LLM lane's tests: it answers
every request in one of several manners, hostile or polite, optionally after a delay (a slow LLM).

    async with LlmResponder("reorder", delay_s=0.0) as responder:   # responder.url: .../v1
        ...

Manners (the heard text is the last line of the last user message, as llm/prompt.py writes it):
  polite   the heard words, first one capitalized, a full stop at the end (a valid polish)
  random   random words from a fixed list
  extra    the heard words plus one more
  reorder  the heard words reversed
  drop     the heard words without the first
  choose   the heard words with every marked span replaced by its window's first alternative (a
           valid choice; the heard words where no window is offered)
  garbage  not JSON at all (HTTP 200 with a text body)
  error    HTTP 500
"""

from __future__ import annotations

import asyncio
import random
import re

MANNERS = ("polite", "random", "extra", "reorder", "drop", "choose", "garbage", "error")
RANDOM_WORDS = ("banana", "quantum", "seven", "purple", "elephant", "the", "cat", "dog", "ran", "because")


def answer(manner: str, heard: str, rng: random.Random) -> str:
    words = heard.split()
    if manner == "polite":
        return (" ".join(words)[:1].upper() + " ".join(words)[1:] + ".") if words else ""
    if manner == "random":
        return " ".join(rng.choice(RANDOM_WORDS) for _ in range(max(1, len(words))))
    if manner == "extra":
        return " ".join(words + [rng.choice(RANDOM_WORDS)])
    if manner == "reorder":
        return " ".join(reversed(words)) if len(set(words)) > 1 else " ".join(words + words)
    if manner == "drop":
        return " ".join(words[1:])
    raise ValueError(f"no text answer for manner {manner!r}")


def chosen(message: str) -> str:
    """The "choose" manner: the marked heard line with each "[k: ...]" replaced by alternative 0 of window k."""
    lines = message.split("\n")
    first = {}
    for line in lines:
        found = re.match(r"Alternatives (\d+) for [^:]*: (.*)$", line)
        if found:
            option = found.group(2).split(" | ")[0]
            first[found.group(1)] = "" if option == "(nothing)" else option
    marked = next((line.split(": ", 1)[1] for line in lines if line.startswith("Heard, with the spans")), None)
    if marked is None:
        return lines[-1]
    text = re.sub(r"\[(\d+):[^\]]*\]", lambda m: first[m.group(1)], marked)
    return " ".join(text.split())


class LlmResponder:
    def __init__(self, manner: str, *, delay_s: float = 0.0, seed: int = 0):
        if manner not in MANNERS:
            raise ValueError(f"manner must be one of {MANNERS}, got {manner!r}")
        self.manner, self.delay_s, self.rng = manner, delay_s, random.Random(seed)
        self.requests: list[dict] = []
        self.answers: list[str] = []
        self._runner = None
        self.url = ""

    async def _chat(self, request):
        from aiohttp import web

        body = await request.json()
        self.requests.append(body)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.manner == "error":
            return web.Response(status=500, text="the model fell over")
        if self.manner == "garbage":
            return web.Response(status=200, text="<html>not json</html>")
        message = body["messages"][-1]["content"]
        text = chosen(message) if self.manner == "choose" else answer(self.manner, message.split("\n")[-1], self.rng)
        self.answers.append(text)
        return web.json_response({"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion",
                                  "model": body.get("model", ""),
                                  "choices": [{"index": 0, "finish_reason": "stop",
                                               "message": {"role": "assistant", "content": text}}]})

    async def __aenter__(self):
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def __aexit__(self, *exc):
        await self._runner.cleanup()

