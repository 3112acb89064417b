"""The LLM lane's options, defined once: ``parakeet-trt live`` and ``parakeet-trt serve`` both call
add_llm_arguments() and options_from_args()."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from parakeet_trt import _core

DEFAULT_API_KEY_ENV = "PARAKEET_TRT_LLM_API_KEY"


@dataclass(frozen=True)
class LlmOptions:
    url: str                           # base URL of an OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1
    model: str                         # the model name the server expects
    api_key_env: str = DEFAULT_API_KEY_ENV  # environment variable holding the API key (unset: no key sent)
    timeout_s: float = 10.0            # deadline of one segment's polish, retries included
    concurrency: int = 1               # requests in flight at once
    retries: int = 2                   # retries after a failed request (connection error, 429, 5xx)
    backoff_s: float = 0.25            # first retry waits this long, doubling after each
    queue_segments: int = 8            # segments waiting for the LLM; beyond it the oldest are skipped
    merge_max_words: int = 64          # pending segments are merged into one request up to this many words
    grammar: bool = True               # send a GBNF grammar that allows only valid answers (llama.cpp servers)

    def __post_init__(self):
        if not self.url.startswith(("http://", "https://")):
            raise ValueError(f"--llm-url must be an http:// or https:// URL, got {self.url!r}")
        if not self.model:
            raise ValueError("--llm-model is required with --llm-url")
        for name, value, low in (("--llm-timeout-s", self.timeout_s, 0.0), ("--llm-backoff-s", self.backoff_s, -1e-9)):
            if not value > low:
                raise ValueError(f"{name} must be positive, got {value}")
        for name, value, low in (("--llm-concurrency", self.concurrency, 1), ("--llm-retries", self.retries, 0),
                                 ("--llm-queue-segments", self.queue_segments, 1),
                                 ("--llm-merge-max-words", self.merge_max_words, 1)):
            if value < low:
                raise ValueError(f"{name} must be at least {low}, got {value}")

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) or None


# With an LLM lane, the captions' default lane set gains a beam lane whose n-best gives the finals'
# candidate windows; the greedy lane still shows and commits. Defined once in C++ (live_stream.hpp
# kCandidateLanes, with_candidate_lanes; C: ptrt_live_stream_options_init_candidates).
CANDIDATE_LANES = _core.option_defaults()["captions"]["candidate_lanes"]


def with_candidate_lanes(streaming):
    """``streaming`` (live.engine_lane.StreamingOptions) for a stream with an LLM lane: the captions' default
    lanes (however written) become CANDIDATE_LANES, the greedy lane showing and committing; other lanes stay."""
    from dataclasses import replace

    lanes, fast_lane, commit_lane = _core.with_candidate_lanes(streaming.aggregator, streaming.lanes,
                                                               streaming.fast_lane, streaming.commit_lane)
    return replace(streaming, lanes=lanes, fast_lane=fast_lane, commit_lane=commit_lane)


def add_llm_arguments(p: argparse.ArgumentParser) -> None:
    d = LlmOptions(url="http://x", model="x")
    g = p.add_argument_group("LLM polish lane (punctuation, casing, choices among candidates; never new words)")
    g.add_argument("--llm-url", default=None, metavar="URL",
                   help="base URL of an OpenAI-compatible chat-completions server (vLLM, llama.cpp, Ollama, a hosted "
                        "API), e.g. http://127.0.0.1:8080/v1; the lane polishes finals behind the captions, "
                        f"choosing among candidates where the default lanes gain a beam lane ({CANDIDATE_LANES}, "
                        "the greedy one committing) (default: no LLM lane)")
    g.add_argument("--llm-model", default=None, metavar="NAME", help="model name to request (required with --llm-url) (default: none)")
    g.add_argument("--llm-api-key-env", default=d.api_key_env, metavar="VAR",
                   help=f"environment variable holding the API key; unset: no key is sent (default {d.api_key_env})")
    g.add_argument("--llm-timeout-s", type=float, default=d.timeout_s, metavar="S",
                   help=f"deadline of one polish request, retries included (default {d.timeout_s})")
    g.add_argument("--llm-concurrency", type=int, default=d.concurrency, metavar="N",
                   help=f"requests in flight at once (default {d.concurrency})")
    g.add_argument("--llm-retries", type=int, default=d.retries, metavar="N",
                   help=f"retries of a failed request, with exponential backoff (default {d.retries})")
    g.add_argument("--llm-queue-segments", type=int, default=d.queue_segments, metavar="N",
                   help=f"finals waiting for the LLM; when it falls behind, waiting finals are merged into one "
                        f"request and beyond N the oldest are skipped (default {d.queue_segments})")
    g.add_argument("--llm-no-grammar", action="store_true",
                   help="do not send a GBNF grammar constraining the answer (for servers that reject the field; "
                        "the guardrails check every answer anyway) (default: send it)")


def options_from_args(args: argparse.Namespace) -> LlmOptions | None:
    if args.llm_url is None:
        if args.llm_model is not None:
            raise ValueError("--llm-model needs --llm-url")
        return None
    from parakeet_trt.extras import require

    require("aiohttp", "--llm-url (the LLM lane's HTTP client)")
    return LlmOptions(url=args.llm_url, model=args.llm_model or "", api_key_env=args.llm_api_key_env,
                      timeout_s=args.llm_timeout_s, concurrency=args.llm_concurrency, retries=args.llm_retries,
                      queue_segments=args.llm_queue_segments, grammar=not args.llm_no_grammar)
