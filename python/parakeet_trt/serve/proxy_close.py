"""A clear close code when a replica is lost mid-stream, sent by Ray Serve's HTTP proxy.

A websocket goes client -> Ray's HTTP proxy -> the replica that accepted it. When that replica's
actor dies (killed, its node lost), the proxy's call to it fails after the handshake and Ray sends
the client nothing: the TCP connection just ends (the client sees 1006). This ASGI middleware wraps
the proxy's app (Ray's ``RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH`` hook, set by ``parakeet-trt
serve`` before it starts Ray): a websocket that was accepted, that neither side closed and whose
client is still there when the proxy's handler ends gets close code 1011 with REPLICA_LOST_REASON.
The client keeps every committed word it received and may open a new stream at once.
"""

from __future__ import annotations

CALLBACK_ENV = "RAY_SERVE_HTTP_PROXY_CALLBACK_IMPORT_PATH"
CALLBACK_PATH = "parakeet_trt.serve.proxy_close.proxy_middlewares"
CLOSE_REPLICA_LOST = 1011
REPLICA_LOST_REASON = "replica lost: the server serving this stream stopped; committed words are final; reconnect"


class ReplicaLossClose:
    """Pure ASGI middleware: closes an orphaned websocket with 1011 and REPLICA_LOST_REASON."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        state = {"accepted": False, "closed": False}

        async def watched_receive():
            message = await receive()
            if message["type"] == "websocket.disconnect":
                state["closed"] = True
            return message

        async def watched_send(message):
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        try:
            await self.app(scope, watched_receive, watched_send)
        finally:
            if state["accepted"] and not state["closed"]:
                try:
                    await send({"type": "websocket.close", "code": CLOSE_REPLICA_LOST, "reason": REPLICA_LOST_REASON})
                except Exception:  # the connection is already gone: nothing to tell
                    pass


def proxy_middlewares() -> list:
    """Ray's proxy callback: the middlewares its HTTP app is wrapped in."""
    from starlette.middleware import Middleware

    return [Middleware(ReplicaLossClose)]
