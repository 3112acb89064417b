"""Who may connect: a bearer API key (or ``?token=`` for browsers) and, for websockets, an Origin allow-list."""

from __future__ import annotations

import hmac


def key_error(api_key: str | None, authorization: str | None, token: str | None) -> str | None:
    """None when the request may proceed, else why not. No key configured: everyone may."""
    if not api_key:
        return None
    offered = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer":
            offered = value.strip()
    if offered is None:
        offered = token
    if offered is None:
        return "an API key is required: send 'Authorization: Bearer KEY' (or ?token=KEY on a websocket)"
    if not hmac.compare_digest(offered.encode(), api_key.encode()):
        return "the API key is not valid"
    return None


def origin_error(origin: str | None, allowed_origins: tuple[str, ...]) -> str | None:
    """None when a websocket from ``origin`` may connect. Clients that send no Origin (not browsers) may;
    a browser page may only from an allowed origin ('*' allows every origin)."""
    if origin is None or "*" in allowed_origins:
        return None
    if origin.rstrip("/") in {o.rstrip("/") for o in allowed_origins}:
        return None
    allowed = ", ".join(allowed_origins) or "none (start the server with --allowed-origins)"
    return f"origin {origin} is not allowed; allowed origins: {allowed}"
