"""The caption server against hostile pages and clients (issue 18): a websocket from a foreign
origin or through a DNS-rebinding Host is refused while the page's own origin works; the optional
token; client JSON that would overflow or recurse gets an error reply while the others keep being
served, with no traceback; connections that never finish their headers are closed."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time

import pytest

from parakeet_trt.live.sinks.web import WebSink, allowed_host_names, parse_rendered

aiohttp = pytest.importorskip("aiohttp", reason="the web sink needs aiohttp (scripts/setup.sh --dev installs it)")

FINAL = {"type": "final", "seq": 2, "segment": 0, "text": "hello world", "start_s": 0.1, "end_s": 0.9,
         "audio_end_s": 1.2, "words": []}
PATCH = {"type": "patch", "seq": 1, "committed_len": 11, "replace_from": 0, "text": "hello world",
         "audio_end_s": 1.0, "words": []}


async def served(**options) -> WebSink:
    web = WebSink(port=0, **options)
    await web.start()
    await web.emit(dict(PATCH))
    await web.emit(dict(FINAL))
    return web


async def handshake(web: WebSink, *, headers=None, query: str = "") -> tuple[int, dict | None]:
    """(HTTP status, first message) of a websocket attempt with these headers."""
    url = f"http://127.0.0.1:{web.bound_port}/ws{query}"
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(url, headers=headers or {}) as ws:
                return 101, json.loads((await asyncio.wait_for(ws.receive(), 5)).data)
        except aiohttp.WSServerHandshakeError as error:
            return error.status, None


def test_foreign_origins_and_rebinding_hosts_are_refused_the_own_origin_works():
    async def scenario():
        web = await served()
        port = web.bound_port
        try:
            return {
                "own origin": await handshake(web, headers={"Origin": f"http://127.0.0.1:{port}"}),
                "own origin by name": await handshake(web, headers={"Origin": f"http://localhost:{port}",
                                                                    "Host": f"localhost:{port}"}),
                "no origin (not a browser)": await handshake(web),
                "foreign origin": await handshake(web, headers={"Origin": "http://evil.example"}),
                "foreign origin, same port": await handshake(web, headers={"Origin": f"http://evil.example:{port}"}),
                "rebinding host": await handshake(web, headers={"Host": f"evil.example:{port}",
                                                                "Origin": f"http://evil.example:{port}"}),
                "rebinding host, no origin": await handshake(web, headers={"Host": f"evil.example:{port}"}),
                "other port": await handshake(web, headers={"Host": "127.0.0.1:1"}),
                "page via rebinding host": await page_status(port, f"evil.example:{port}"),
                "page": await page_status(port, f"127.0.0.1:{port}"),
                "refused": web.counters["refused"],
                "clients": web.counters["clients"],
            }
        finally:
            await web.close()

    r = asyncio.run(asyncio.wait_for(scenario(), 60))
    for ok in ("own origin", "own origin by name", "no origin (not a browser)"):
        status, snapshot = r[ok]
        assert status == 101 and snapshot["type"] == "snapshot" and snapshot["text"] == "hello world", ok
        assert snapshot["finals"][0]["text"] == "hello world"
    assert r["foreign origin"][0] == 403 and r["foreign origin, same port"][0] == 403
    assert r["rebinding host"][0] == 421 and r["rebinding host, no origin"][0] == 421 and r["other port"][0] == 421
    assert r["page via rebinding host"] == 421 and r["page"] == 200
    assert r["refused"] == 6 and r["clients"] == 3


async def page_status(port: int, host: str) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/", headers={"Host": host}) as response:
            return response.status


def test_an_allowed_extra_origin_and_the_token():
    async def scenario():
        web = await served(allowed_origins=["https://captions.example.org/"], token="s3cret")
        try:
            return (web.url, await handshake(web, headers={"Origin": "https://captions.example.org"}),
                    await handshake(web, query="?token=wrong"),
                    await handshake(web, headers={"Origin": "https://captions.example.org"}, query="?token=s3cret"),
                    await handshake(web, query="?token=s3cret"))
        finally:
            await web.close()

    url, no_token, wrong, allowed, right = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert url.endswith("/?token=s3cret")  # the page passes it on to its websocket
    assert no_token[0] == 403 and wrong[0] == 403
    assert allowed[0] == 101 and right[0] == 101 and right[1]["type"] == "snapshot"


def test_allowed_host_names():
    assert allowed_host_names("127.0.0.1") == ({"127.0.0.1", "localhost", "[::1]"}, False)
    names, any_ip = allowed_host_names("0.0.0.0")
    assert any_ip and "localhost" in names and socket.gethostname().lower() in names
    assert allowed_host_names("192.0.2.7") == ({"192.0.2.7"}, False)


HOSTILE = [
    ('{"type": "rendered", "seq": 1e400, "render_ms": 1}', "seq"),
    ('{"type": "rendered", "seq": 1, "render_ms": 1e400}', "render_ms"),
    ('{"type": "rendered", "seq": 1, "render_ms": NaN}', "render_ms"),
    ('{"type": "rendered", "seq": 99999999999999999999999, "render_ms": 1}', "seq"),
    ('{"type": "rendered", "seq": true, "render_ms": 1}', "seq"),
    ("[" * 2000 + "]" * 2000, "nested"),
    ('{"type": "rendered", "seq": ' + "[" * 1000 + "]" * 1000 + ', "render_ms": 1}', "nested"),
    ('{"a": "' + "\\" * 3 + '"}', "not JSON"),
]


@pytest.mark.parametrize("message, problem", HOSTILE)
def test_parse_rendered_names_the_problem(message, problem):
    with pytest.raises(ValueError, match=problem):
        parse_rendered(message)


def test_hostile_json_gets_an_error_reply_and_the_others_keep_being_served(caplog):
    caplog.set_level(logging.DEBUG)

    async def scenario():
        web = await served()
        port = web.bound_port
        replies = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"http://127.0.0.1:{port}/ws") as hostile, \
                    session.ws_connect(f"http://127.0.0.1:{port}/ws") as good:
                for ws in (hostile, good):
                    assert json.loads((await ws.receive()).data)["type"] == "snapshot"
                for message, _ in HOSTILE:
                    await hostile.send_str(message)
                    replies.append(json.loads((await asyncio.wait_for(hostile.receive(), 5)).data))
                await web.emit({**PATCH, "seq": 3, "committed_len": 11, "replace_from": 11, "text": " again"})
                seen = [json.loads((await asyncio.wait_for(ws.receive(), 5)).data) for ws in (hostile, good)]
        await web.close()
        return replies, seen, web.counters

    replies, seen, counters = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert all(r["type"] == "status" and "error" in r for r in replies) and len(replies) == len(HOSTILE)
    assert [s["seq"] for s in seen] == [3, 3]  # both still served
    assert counters["garbage_messages"] == len(HOSTILE)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def test_connections_that_never_finish_their_headers_are_closed():
    """50 half-open connections (a partial request line) are closed after the header timeout, while a
    normal request is served meanwhile."""

    async def scenario():
        web = await served(header_timeout_s=0.5)
        port = web.bound_port
        loop = asyncio.get_running_loop()
        sockets = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            await loop.sock_sendall(s, f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
            sockets.append(s)
        page = await page_status(port, f"127.0.0.1:{port}")
        started = time.monotonic()
        closed = 0
        for s in sockets:
            try:
                data = await asyncio.wait_for(loop.sock_recv(s, 4096), 10)
                closed += data == b""
            except ConnectionResetError:
                closed += 1
            except asyncio.TimeoutError:
                pass  # still open
            finally:
                s.close()
        elapsed = time.monotonic() - started
        await web.close()
        return page, closed, elapsed

    page, closed, elapsed = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert page == 200 and closed == 50 and elapsed < 5, (page, closed, elapsed)


def test_the_cli_server_has_a_header_timeout():
    from parakeet_trt.cli import build_parser
    from parakeet_trt.live.cli import make_sinks

    args = build_parser().parse_args(["live", "--ui", "web", "--port", "0"])
    (web,) = make_sinks(args)
    assert 0 < web.header_timeout_s <= 30
