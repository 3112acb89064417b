"""A minimal asynchronous client of the OpenAI chat-completions API (POST {base}/chat/completions):
a concurrency limit, a deadline per call (retries included), retries with exponential backoff on
connection errors, 429 and 5xx, and counters. aiohttp (the 'live' extra; Ray Serve has it too)."""

from __future__ import annotations

import asyncio
import time

from parakeet_trt.llm.options import LlmOptions


class LlmError(RuntimeError):
    """A chat completion failed (the message names the server's answer or the network error)."""


class ChatClient:
    def __init__(self, options: LlmOptions):
        self.options = options
        self.url = options.url.rstrip("/") + "/chat/completions"
        self._slots = asyncio.Semaphore(options.concurrency)
        self._session = None
        self.counters = {"requests": 0, "retries": 0, "failures": 0, "timeouts": 0}

    async def _http(self):
        if self._session is None:
            import aiohttp

            headers = {"Content-Type": "application/json"}
            key = self.options.api_key()
            if key:
                headers["Authorization"] = f"Bearer {key}"
            self._session = aiohttp.ClientSession(headers=headers)
        return self._session

    async def complete(self, messages: list[dict], *, max_tokens: int, grammar: str | None = None) -> str:
        """The answer's text. Raises LlmError when every try failed, asyncio.TimeoutError past the deadline."""
        deadline = time.monotonic() + self.options.timeout_s
        try:
            async with self._slots:
                return await asyncio.wait_for(self._with_retries(messages, max_tokens, grammar, deadline),
                                              max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            self.counters["timeouts"] += 1
            raise

    async def _with_retries(self, messages, max_tokens, grammar, deadline) -> str:
        import aiohttp

        body = {"model": self.options.model, "messages": messages, "temperature": 0.0, "max_tokens": max_tokens,
                "stream": False}
        if grammar is not None:
            body["grammar"] = grammar
        wait = self.options.backoff_s
        for attempt in range(self.options.retries + 1):
            if attempt:
                self.counters["retries"] += 1
                await asyncio.sleep(min(wait, max(0.0, deadline - time.monotonic())))
                wait *= 2
            self.counters["requests"] += 1
            try:
                session = await self._http()
                async with session.post(self.url, json=body) as response:
                    if response.status == 429 or response.status >= 500:
                        error = LlmError(f"{self.url} answered {response.status}: {(await response.text())[:200]}")
                        continue
                    if response.status != 200:
                        self.counters["failures"] += 1
                        raise LlmError(f"{self.url} answered {response.status}: {(await response.text())[:200]}")
                    payload = await response.json(content_type=None)
            except aiohttp.ClientError as exc:
                error = LlmError(f"{self.url}: {exc}")
                continue
            try:
                return str(payload["choices"][0]["message"]["content"] or "")
            except (KeyError, IndexError, TypeError):
                self.counters["failures"] += 1
                raise LlmError(f"{self.url} answered without choices[0].message.content: {str(payload)[:200]}") from None
        self.counters["failures"] += 1
        raise error

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
