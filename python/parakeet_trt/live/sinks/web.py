"""Browser captions: a local web server (aiohttp) serving the caption page and a websocket that
carries the protocol's events (docs/PATCH_PROTOCOL.md).

On connect a client gets a snapshot built from the events sent so far (the text, the committed
length and the finals, so a late joiner sees the segments as they were), then every event. When the
input ends the sink says so (``{"type": "status", "input": "ended"}``) and keeps serving until it is
closed. The page answers each event it rendered with {"type": "rendered", "seq": N, "render_ms": R}
(R: message arrival to painted). The render time on the pipeline clock is taken as
send + (round trip - R) / 2 + R, so the two clocks never meet.

Who may connect (issue 18): every request must name an allowed ``Host`` (the bound address; with a
loopback bind also localhost, 127.0.0.1 and [::1]; with a wildcard bind any IP literal and this
machine's names), so a DNS-rebinding page is refused. A websocket that carries an ``Origin`` (every
browser sends one) must come from the page's own origin or one of ``allowed_origins``. With a
``token``, every websocket must carry ``?token=...`` (the page passes on the one in its own URL).
A connection that sends no complete request within ``header_timeout_s`` is closed.

Bad clients do not hurt the others: a message that is not a well-formed ``rendered`` message (not
JSON, too deeply nested, numbers out of range) gets a ``status`` reply and is ignored; a message over
max_message_bytes closes that client's socket (1009, aiohttp's limit); a client that disconnects is
dropped; a client whose queue fills (it reads too slowly) is resynced with a snapshot instead of
blocking anyone. Nothing committed is lost: the state, not the socket, owns the transcript.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import math
import socket
import sys
import time
from importlib import resources
from urllib.parse import quote

from parakeet_trt.live.protocol import Display, to_json_line

PAGE_FILES = {"/": ("index.html", "text/html"), "/captions.js": ("captions.js", "application/javascript"),
              "/captions.css": ("captions.css", "text/css"), "/favicon.svg": ("favicon.svg", "image/svg+xml"),
              "/favicon.ico": ("favicon.svg", "image/svg+xml")}
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
MAX_NESTING = 4  # a rendered message is one flat object; deeper JSON is refused before it is parsed


class PortUnavailable(OSError):
    """The caption server cannot listen on the requested address (busy port, no permission)."""


def parse_rendered(data: str) -> tuple[int, float]:
    """(seq, render_ms) of a client's ``{"type": "rendered", "seq": N, "render_ms": R}``; ValueError
    naming the problem for anything else (no recursion, no float overflow, no traceback)."""
    depth = deepest = 0
    for char in data:  # bounded by max_message_bytes
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise ValueError(f"JSON nested {deepest} deep (at most {MAX_NESTING})")
    try:
        message = json.loads(data, parse_constant=lambda name: float("nan"))
    except (ValueError, RecursionError) as error:
        raise ValueError(f"not JSON ({error})") from None
    if not isinstance(message, dict) or message.get("type") != "rendered":
        raise ValueError("expected {\"type\": \"rendered\", \"seq\": N, \"render_ms\": R}")
    seq, render_ms = message.get("seq"), message.get("render_ms")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2 ** 53:
        raise ValueError(f"seq must be an integer from 0 to 2^53, got {seq!r}"[:200])
    if isinstance(render_ms, bool) or not isinstance(render_ms, (int, float)) or not math.isfinite(render_ms) \
            or not 0 <= render_ms < 3.6e6:
        raise ValueError(f"render_ms must be a number of ms from 0 to 3.6e6, got {render_ms!r}"[:200])
    return seq, float(render_ms)


def allowed_host_names(host: str) -> tuple[set[str], bool]:
    """The Host names (without port) a server bound to `host` answers to, and whether any IP literal
    is also fine (a wildcard bind: a rebinding attack always comes with a DNS name, never a literal)."""
    bracketed = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {bracketed.lower()}
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if host.lower() == "localhost" or (address is not None and address.is_loopback):
        names.update(LOOPBACK_NAMES)
    wildcard = address is not None and address.is_unspecified
    if wildcard:
        names.update(LOOPBACK_NAMES)
        names.update(n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n)
    return names, wildcard


class _Client:
    def __init__(self, ws, number: int, queue_size: int):
        self.ws, self.number = ws, number
        self.queue: asyncio.Queue = asyncio.Queue(queue_size)
        self.sent_at: dict[int, float] = {}
        self.needs_resync = False
        self.sender: asyncio.Task | None = None


class WebSink:
    name = "web"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 8765, metrics=None, max_message_bytes: int = 4096,
                 client_queue: int = 512, log=None, allowed_origins: list[str] | tuple = (), token: str | None = None,
                 header_timeout_s: float = 10.0):
        self.host, self.port, self.metrics = host, port, metrics
        self.max_message_bytes, self.client_queue = max_message_bytes, client_queue
        self.extra_origins = {o.rstrip("/").lower() for o in allowed_origins}
        self.token, self.header_timeout_s = token, header_timeout_s
        self.clients: set[_Client] = set()
        self.log = log or (lambda message: print(f"[web] {message}", file=sys.stderr))
        self.counters = {"clients": 0, "garbage_messages": 0, "oversized_closes": 0, "resyncs": 0, "renders": 0,
                         "refused": 0}
        self.display = Display()          # what the clients have been sent: the snapshot's source
        self.polish_lane = False          # the pipeline sets it when the LLM lane runs (the page makes room once)
        self.input_has_ended = False
        self._events: dict[int, dict] = {}  # recent events by seq, for render metrics
        self._runner = None
        self.url = None
        self.bound_port = None

    async def start(self, lane=None) -> None:
        from aiohttp import web  # optional dependency: only the web UI needs it (the lane is not needed)

        app = web.Application(middlewares=[self._host_check()])
        for path, (name, content_type) in PAGE_FILES.items():
            app.router.add_get(path, self._static(name, content_type))
        app.router.add_get("/ws", self._websocket)
        # keepalive_timeout also runs from the moment a connection opens: one that never completes
        # its request headers (half-open, slowloris) is closed after header_timeout_s.
        self._runner = web.AppRunner(app, access_log=None, keepalive_timeout=self.header_timeout_s)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            reason = (error.strerror or str(error)).lower()
            raise PortUnavailable(f"cannot serve captions on {self.host}:{self.port}: {reason}; "
                                  "choose another port with --port N, or --port 0 for any free one") from None
        self.bound_port = site._server.sockets[0].getsockname()[1]
        self._hosts, self._any_ip_host = allowed_host_names(self.host)
        token = f"?token={quote(self.token, safe='')}" if self.token else ""
        self.url = f"http://{_url_host(self.host)}:{self.bound_port}/{token}"

    # --- who may connect ------------------------------------------------------------------------

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header:
            return False
        host, _, port = host_header.lower().rpartition(":")
        if not host or "]" in port:  # no port given (a bracketed IPv6 literal without one)
            host, port = host_header.lower(), "80"
        if port != str(self.bound_port):
            return False
        return host in self._hosts or (self._any_ip_host and _as_ip(host) is not None)

    def origin_allowed(self, origin: str | None, host_header: str) -> bool:
        if origin is None:
            return True  # not a browser: browsers always send Origin with a websocket
        origin = origin.rstrip("/").lower()
        return origin == f"http://{host_header.lower()}" or origin in self.extra_origins

    def token_ok(self, request) -> bool:
        if self.token is None:
            return True
        return hmac.compare_digest(request.query.get("token", "").encode(), self.token.encode())

    def _refuse(self, request, status: int, why: str):
        from aiohttp import web

        self.counters["refused"] += 1
        self.log(f"refused {request.path} (Host {request.headers.get('Host')!r}, "
                 f"Origin {request.headers.get('Origin')!r}): {why}")
        return web.Response(status=status, text=why + "\n")

    def _host_check(self):
        from aiohttp import web

        @web.middleware
        async def middleware(request, handler):
            if not self.host_allowed(request.headers.get("Host")):
                return self._refuse(request, 421, "this server does not answer to that Host name")
            return await handler(request)

        return middleware

    def _static(self, name: str, content_type: str):
        from aiohttp import web

        body = (resources.files("parakeet_trt.live") / "web" / name).read_bytes()

        async def handler(request):
            return web.Response(body=body, content_type=content_type)

        return handler

    # --- events out -----------------------------------------------------------------------------

    def snapshot(self) -> dict:
        """The state the clients were sent: text, committed length, the finals (without their words)
        and whether the input has ended."""
        d = self.display
        finals = [{k: f[k] for k in ("seq", "segment", "text", "start_s", "end_s") if k in f} for f in d.finals]
        polished = [{k: p[k] for k in ("seq", "segment", "text", "edits")} for p in d.polished.values()]
        return {"type": "snapshot", "seq": d.last_seq, "committed_len": d.committed_len, "text": d.text,
                "next_segment": len(finals), "finals": finals, "polished": polished,
                "polish_lane": self.polish_lane, "input_ended": self.input_has_ended}

    async def emit(self, event: dict) -> None:
        if event.get("type") != "status":
            self.display.apply(event)
        if "seq" in event and event["type"] != "polish":  # polish events have their own seq (the LLM lane's)
            self._events[event["seq"]] = event
            if len(self._events) > 4096:
                self._events.pop(next(iter(self._events)))
        self._broadcast(event)

    async def input_ended(self) -> None:
        """The input is over: the page says so; the server keeps serving until close()."""
        self.input_has_ended = True
        self._broadcast({"type": "status", "input": "ended"})

    def _broadcast(self, event: dict) -> None:
        for client in list(self.clients):
            if client.needs_resync:
                continue
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:  # a slow reader: skip ahead to a snapshot later
                client.needs_resync = True
                self.counters["resyncs"] += 1

    async def _sender(self, client: _Client) -> None:
        try:
            await self._send_loop(client)
        except (ConnectionError, RuntimeError) as error:  # the socket closed under us: the reader ends it
            self.log(f"client {client.number}: sending stopped ({error})")

    async def _send_loop(self, client: _Client) -> None:
        while True:
            if client.needs_resync:
                while not client.queue.empty():
                    client.queue.get_nowait()
                client.needs_resync = False
                await client.queue.put(self.snapshot())
            event = await client.queue.get()
            if event is None:
                return
            if "seq" in event and event["type"] not in ("snapshot", "polish"):
                client.sent_at[event["seq"]] = time.monotonic()
            await client.ws.send_str(to_json_line(event))

    # --- a client ---------------------------------------------------------------------------------

    async def _websocket(self, request):
        from aiohttp import WSMsgType, web

        if not self.origin_allowed(request.headers.get("Origin"), request.headers.get("Host", "")):
            return self._refuse(request, 403, "websocket from a foreign origin")
        if not self.token_ok(request):
            return self._refuse(request, 403, "websocket without the server's token (?token=...)")
        ws = web.WebSocketResponse(max_msg_size=self.max_message_bytes, heartbeat=None)
        await ws.prepare(request)
        self.counters["clients"] += 1
        client = _Client(ws, self.counters["clients"], self.client_queue)
        client.queue.put_nowait(self.snapshot())
        self.clients.add(client)
        sender = client.sender = asyncio.create_task(self._sender(client))
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    await self._on_text(client, message.data)
                elif message.type == WSMsgType.BINARY:
                    self.counters["garbage_messages"] += 1
                    await ws.send_str(to_json_line({"type": "status", "error": "binary messages are not understood"}))
                elif message.type == WSMsgType.ERROR:
                    self.counters["oversized_closes"] += 1
                    self.log(f"client {client.number}: {ws.exception()}; closed")
        except (ConnectionError, asyncio.TimeoutError) as error:  # the client vanished mid-send
            self.log(f"client {client.number}: {error or type(error).__name__}")
        finally:
            self.clients.discard(client)
            sender.cancel()
            self.log(f"client {client.number} left (close code {ws.close_code})")
        return ws

    async def _on_text(self, client: _Client, data: str) -> None:
        try:
            seq, render_ms = parse_rendered(data)
        except ValueError as error:
            self.counters["garbage_messages"] += 1
            await client.ws.send_str(to_json_line({"type": "status", "error": f"ignored a bad message: {error}"}))
            return
        sent = client.sent_at.pop(seq, None)
        event = self._events.get(seq)
        if sent is None or event is None:
            return
        self.counters["renders"] += 1
        now = time.monotonic()
        render_s = render_ms / 1000.0
        rendered = sent + max(0.0, (now - sent - render_s) / 2) + render_s
        if self.metrics is not None:
            self.metrics.rendered(self.name, event, rendered)

    async def close(self) -> None:
        # Each client gets everything queued before the server goes (bounded: a stuck client is cut).
        senders = []
        for client in list(self.clients):
            try:
                client.queue.put_nowait(None)
            except asyncio.QueueFull:
                client.sender.cancel()
            if client.sender is not None:
                senders.append(client.sender)
        if senders:
            await asyncio.wait(senders, timeout=5)
        for client in list(self.clients):
            await client.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()


def _url_host(host: str) -> str:
    """How a URL names the bound address (a wildcard bind is reached through loopback)."""
    ip = _as_ip(host)
    if ip is not None and ip.is_unspecified:
        return "127.0.0.1" if ip.version == 4 else "[::1]"
    return f"[{ip}]" if ip is not None and ip.version == 6 else host


def _as_ip(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
