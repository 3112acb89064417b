"""Browser captions: a local web server (aiohttp) serving the caption page and a websocket that
carries the protocol's events (docs/PATCH_PROTOCOL.md).

On connect a client gets a snapshot, then every event. The page answers each event it rendered
with {"type": "rendered", "seq": N, "render_ms": R} (R: message arrival to painted). The render time
on the pipeline clock is taken as send + (round trip - R) / 2 + R, so the two clocks never meet.

Bad clients do not hurt the others: a message that is not JSON or not a known type gets a
``status`` reply and is ignored; a message over max_message_bytes closes that client's socket (1009,
aiohttp's limit); a client that disconnects is dropped; a client whose queue fills (it reads too
slowly) is resynced with a snapshot instead of blocking anyone. Nothing committed is lost: the
state, not the socket, owns the transcript.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from importlib import resources

from parakeet_trt.live.protocol import to_json_line

PAGE_FILES = {"/": ("index.html", "text/html"), "/captions.js": ("captions.js", "application/javascript"),
              "/captions.css": ("captions.css", "text/css")}


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
                 client_queue: int = 512, log=None):
        self.host, self.port, self.metrics = host, port, metrics
        self.max_message_bytes, self.client_queue = max_message_bytes, client_queue
        self.clients: set[_Client] = set()
        self.lane = None
        self.log = log or (lambda message: print(f"[web] {message}", file=sys.stderr))
        self.counters = {"clients": 0, "garbage_messages": 0, "oversized_closes": 0, "resyncs": 0, "renders": 0}
        self._events: dict[int, dict] = {}  # recent events by seq, for render metrics
        self._runner = None
        self.url = None

    async def start(self, lane=None) -> None:
        from aiohttp import web  # optional dependency: only the web UI needs it

        self.lane = lane
        app = web.Application()
        for path, (name, content_type) in PAGE_FILES.items():
            app.router.add_get(path, self._static(name, content_type))
        app.router.add_get("/ws", self._websocket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as error:
            await self._runner.cleanup()
            raise OSError(f"cannot serve captions on {self.host}:{self.port}: {error.strerror}") from None
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://{self.host}:{port}/"

    def _static(self, name: str, content_type: str):
        from aiohttp import web

        body = (resources.files("parakeet_trt.live") / "web" / name).read_bytes()

        async def handler(request):
            return web.Response(body=body, content_type=content_type)

        return handler

    # --- events out -----------------------------------------------------------------------------

    async def emit(self, event: dict) -> None:
        if "seq" in event:
            self._events[event["seq"]] = event
            if len(self._events) > 4096:
                self._events.pop(next(iter(self._events)))
        for client in list(self.clients):
            if client.needs_resync:
                continue
            try:
                client.queue.put_nowait(event)
            except asyncio.QueueFull:  # a slow reader: skip ahead to a snapshot later
                client.needs_resync = True
                self.counters["resyncs"] += 1

    async def _sender(self, client: _Client) -> None:
        while True:
            if client.needs_resync:
                while not client.queue.empty():
                    client.queue.get_nowait()
                client.needs_resync = False
                await client.queue.put(self.lane.snapshot() if self.lane else {"type": "status", "info": "no lane"})
            event = await client.queue.get()
            if event is None:
                return
            if "seq" in event and event["type"] != "snapshot":
                client.sent_at[event["seq"]] = time.monotonic()
            await client.ws.send_str(to_json_line(event))

    # --- a client ---------------------------------------------------------------------------------

    async def _websocket(self, request):
        from aiohttp import WSMsgType, web

        ws = web.WebSocketResponse(max_msg_size=self.max_message_bytes, heartbeat=None)
        await ws.prepare(request)
        self.counters["clients"] += 1
        client = _Client(ws, self.counters["clients"], self.client_queue)
        if self.lane is not None:
            client.queue.put_nowait(self.lane.snapshot())
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
        finally:
            self.clients.discard(client)
            sender.cancel()
            self.log(f"client {client.number} left (close code {ws.close_code})")
        return ws

    async def _on_text(self, client: _Client, data: str) -> None:
        try:
            message = json.loads(data)
            if not isinstance(message, dict) or message.get("type") != "rendered":
                raise ValueError("expected {\"type\": \"rendered\", \"seq\": N, \"render_ms\": R}")
            seq, render_ms = int(message["seq"]), float(message["render_ms"])
            if not 0 <= render_ms < 3.6e6:
                raise ValueError(f"render_ms {render_ms} is out of range")
        except (ValueError, KeyError, TypeError) as error:
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
            await client.queue.put(None)
            if client.sender is not None:
                senders.append(client.sender)
        if senders:
            await asyncio.wait(senders, timeout=5)
        for client in list(self.clients):
            await client.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
