"""Who may connect: a bearer API key (or ``?token=`` for browsers), for websockets an Origin allow-list, and for
every route a Host allow-list (against DNS rebinding and requests meant for another site)."""

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


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def default_allowed_hosts(bind_host: str) -> tuple[str, ...]:
    """The Host names a server bound to ``bind_host`` answers by default: the loopback names, and when it
    binds beyond loopback also the bound address and this machine's host names. Clients reaching it by
    another name (a load balancer's DNS name) need --allowed-hosts."""
    import socket

    if bind_host in LOOPBACK_HOSTS:
        return LOOPBACK_HOSTS
    names = [*LOOPBACK_HOSTS, socket.gethostname(), socket.getfqdn()]
    if bind_host not in ("0.0.0.0", "::", ""):
        names.append(bind_host)
    return tuple(dict.fromkeys(n.lower() for n in names if n))


def host_error(host: str | None, allowed_hosts: tuple[str, ...]) -> str | None:
    """None when a request whose Host header is ``host`` may proceed ('*' allows every host). The port is
    ignored; a request without a Host header (HTTP/1.0) is refused unless '*' is allowed."""
    if "*" in allowed_hosts:
        return None
    name = (host or "").strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else name
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name and name in allowed_hosts:
        return None
    return (f"host {host!r} is not allowed (a request for another site, or DNS rebinding); allowed hosts: "
            f"{', '.join(allowed_hosts)} (start the server with --allowed-hosts)")
