"""The asynchronous LLM lane (docs/PATCH_PROTOCOL.md, "polish"): an OpenAI-compatible chat model
polishes finalized segments (punctuation, casing, a choice among candidates) behind the captions.
The guardrails are the C++ core's (``_core.check_polish``); this package only talks to the server."""
