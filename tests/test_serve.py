"""``parakeet-trt serve`` on Ray Serve, end to end over 127.0.0.1 (issue 16).

A real server (a ``parakeet-trt serve`` subprocess on a local Ray instance, one replica, one CPU) is
driven by the official ``openai`` SDK and by websocket clients; every stream's committed text is
checked against ``parakeet-trt live --no-realtime`` on the same audio, and each limit is hit while
another stream runs beside it. The two-node cluster test (marked ``cluster``) starts two Ray nodes
on loopback, serves a replica on each, runs streams across both and kills a replica mid-stream.

Every wait is bounded (pytest-timeout is not installed here): servers start within SERVER_START_S,
each client within its own timeout, subprocesses within theirs.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import numpy as np
import pytest

from parakeet_trt.models import demo_sample
from parakeet_trt.serve.client import pcm_bytes
from serve_support import cli, http_get, live_committed_text, reference_cases, run, serve_process, stream_v1
from serve_support import ws_url as _ws_url

API_KEY = "test-key-0123"
GOOD_ORIGIN = "https://captions.example"
IDLE_S = 3
MAX_FRAME = 16384
MAX_STREAMS = 4
MAX_BODY = 1_000_000
MAX_STREAM_S = 20


def ws_url(url: str, token: str | None = API_KEY) -> str:
    return _ws_url(url, token)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serve")
    with serve_process(tmp, "--model", "demo", "--replicas", "1", "--max-streams-per-replica", str(MAX_STREAMS),
                       "--api-key", API_KEY, "--allowed-origins", GOOD_ORIGIN, "--idle-timeout-s", str(IDLE_S),
                       "--max-frame-bytes", str(MAX_FRAME), "--max-body-bytes", str(MAX_BODY),
                       "--max-stream-s", str(MAX_STREAM_S)) as url:
        yield url


@pytest.fixture(scope="module")
def references(tmp_path_factory):
    return reference_cases(tmp_path_factory.mktemp("live"))


# --- OpenAI-compatible transcription ------------------------------------------------------------


def test_openai_sdk_returns_the_same_text_as_transcribe(server):
    from openai import OpenAI

    expected = json.loads(cli("transcribe", "--json", str(demo_sample())).stdout)["text"]
    client = OpenAI(base_url=server + "/v1", api_key=API_KEY, max_retries=0, timeout=60)
    with open(demo_sample(), "rb") as f:
        result = client.audio.transcriptions.create(model="demo", file=f)
    assert result.text == expected and expected
    with open(demo_sample(), "rb") as f:
        assert client.audio.transcriptions.create(model="demo", file=f, response_format="text").strip() == expected
    with open(demo_sample(), "rb") as f:
        verbose = client.audio.transcriptions.create(model="demo", file=f, response_format="verbose_json",
                                                     timestamp_granularities=["word"])
    assert verbose.text == expected and verbose.duration > 1
    assert " ".join(w.word for w in verbose.words) == expected
    assert all(0 <= w.start <= w.end <= verbose.duration for w in verbose.words)
    assert [m.id for m in client.models.list().data] == ["demo"]


def test_transcription_refusals_are_clear(server):
    from openai import AuthenticationError, BadRequestError, NotFoundError, OpenAI

    with open(demo_sample(), "rb") as f:
        audio = f.read()
    bad = OpenAI(base_url=server + "/v1", api_key="wrong", max_retries=0, timeout=60)
    with pytest.raises(AuthenticationError, match="not valid"):
        bad.audio.transcriptions.create(model="demo", file=("demo.wav", audio))
    client = OpenAI(base_url=server + "/v1", api_key=API_KEY, max_retries=0, timeout=60)
    with pytest.raises(NotFoundError, match="'whisper-1' is not served here"):
        client.audio.transcriptions.create(model="whisper-1", file=("demo.wav", audio))
    with pytest.raises(BadRequestError, match="cannot read audio"):
        client.audio.transcriptions.create(model="demo", file=("notes.wav", b"this is not audio" * 10))
    from openai import APIStatusError

    with pytest.raises(APIStatusError, match=f"over the limit of {MAX_BODY} bytes") as error:
        client.audio.transcriptions.create(model="demo", file=("big.wav", audio * (MAX_BODY // len(audio) + 1)))
    assert error.value.status_code == 413


# --- live streams ---------------------------------------------------------------------------------


def test_concurrent_streams_equal_parakeet_trt_live(server, references):
    async def streams():
        return await asyncio.gather(*[
            stream_v1(ws_url(server), audio, sample_rate=rate, fmt="f32le" if rate != 16000 else "s16le",
                         timeout_s=90)
            for audio, rate, _ in references.values()])

    results = run(streams())
    for (audio, rate, expected), result in zip(references.values(), results):
        assert (result.close_code, result.statuses[-1]) == (1000, {"type": "status", "input": "ended"})
        assert result.committed_text == expected, f"{rate} Hz stream"
        assert [e["seq"] for e in result.events] == sorted({e["seq"] for e in result.events})
    assert {r.started["replica"] for r in results} and all(r.started["sample_rate"] for r in results)


def _hit(server, good, **kwargs):
    """One stream that breaks a rule, beside one good stream (which must not notice); the bad one's result."""
    audio, rate, expected = good

    async def both():
        return await asyncio.gather(stream_v1(**kwargs), stream_v1(ws_url(server), audio, timeout_s=90))

    bad, good = run(both())
    assert good.close_code == 1000 and good.committed_text == expected  # unaffected
    return bad


@pytest.fixture
def good_stream(references):
    return references[0]


def _reason(result) -> str:
    return result.statuses[-1]["error"] if result.statuses and "error" in result.statuses[-1] else ""


@pytest.mark.parametrize("case, code, reason", [
    ("oversized frame", 1009, f"over the limit of {MAX_FRAME} bytes"),
    ("odd s16le bytes", 1007, "not a whole number of 2-byte samples"),
    ("NaN f32le", 1007, "NaN or infinite samples"),
    ("garbage JSON", 1007, "not JSON"),
    ("unknown message", 1003, "unsupported message type 'pause'"),
    ("bad start option", 1007, "unknown streaming option(s) ['chunk']"),
    ("bad option value", 1007, "bad stream options"),
])
def test_a_bad_frame_closes_only_its_stream(server, good_stream, case, code, reason):
    audio = good_stream[0]
    start, fmt, frames = None, "s16le", [pcm_bytes(audio[:3200], "s16le")]
    if case == "oversized frame":
        frames.append(pcm_bytes(audio[:MAX_FRAME], "s16le"))
    elif case == "odd s16le bytes":
        frames.append(b"\x00\x01\x02")
    elif case == "NaN f32le":
        fmt, frames = "f32le", [np.array([0.1, np.nan], "<f4").tobytes()]
    elif case == "garbage JSON":
        frames.append("{not json")
    elif case == "unknown message":
        frames.append(json.dumps({"type": "pause"}))
    elif case == "bad start option":
        start = {"streaming": {"chunk": 3}}
    else:
        start = {"streaming": {"chunk_ms": 100}}  # not a multiple of the 80 ms frame
    bad = _hit(server, good_stream, url=ws_url(server), samples=None, frames=frames, start=start, fmt=fmt, end=False,
               timeout_s=60)
    assert bad.close_code == code and reason in bad.close_reason + _reason(bad), (bad.close_code, bad.close_reason)


@pytest.mark.parametrize("case", ["no key", "bad key", "foreign origin"])
def test_who_may_connect(server, good_stream, case):
    audio = good_stream[0]
    url = ws_url(server, token=None if case == "no key" else "nope" if case == "bad key" else API_KEY)
    origin = "https://evil.example" if case == "foreign origin" else None
    bad = _hit(server, good_stream, url=url, samples=audio, origin=origin, timeout_s=60)
    expected = {"no key": "an API key is required", "bad key": "not valid",
                "foreign origin": "origin https://evil.example is not allowed"}[case]
    assert bad.close_code == 1008 and expected in bad.close_reason and not bad.events
    # The key also works as a bearer header, and the allowed origin may connect.
    ok = run(stream_v1(ws_url(server, token=None), audio, headers={"Authorization": f"Bearer {API_KEY}"},
                          origin=GOOD_ORIGIN, timeout_s=60))
    assert ok.close_code == 1000 and ok.committed_text == good_stream[2]


def test_a_full_replica_refuses_a_new_stream_and_the_others_continue(server, references):
    holders = [references[i] for i in range(MAX_STREAMS)]

    async def scenario():
        running = [asyncio.create_task(stream_v1(ws_url(server), audio, sample_rate=rate, realtime=True,
                                                    fmt="f32le" if rate != 16000 else "s16le", timeout_s=90))
                   for audio, rate, _ in holders]
        await asyncio.sleep(2.0)  # every holder is streaming (real time: several seconds each)
        refused = await stream_v1(ws_url(server), holders[0][0], timeout_s=30)
        return refused, await asyncio.gather(*running)

    refused, results = run(scenario())
    assert refused.close_code == 1013 and "replica full" in refused.close_reason and "try again" in refused.close_reason
    assert refused.statuses[-1]["retry_after_s"] > 0 and not refused.events
    for (_, _, expected), result in zip(holders, results):
        assert result.close_code == 1000 and result.committed_text == expected


def test_an_idle_stream_is_flushed_and_closed(server, good_stream):
    audio, _, _ = good_stream
    began = time.monotonic()
    idle = _hit(server, good_stream, url=ws_url(server), samples=audio, end=False, timeout_s=60)
    assert idle.close_code == 1008 and f"idle timeout: nothing received for {IDLE_S} s" in idle.close_reason
    assert time.monotonic() - began >= IDLE_S
    assert idle.committed_text == good_stream[2]  # everything heard before the silence was committed and sent


def test_a_stream_over_the_duration_limit_is_flushed_and_closed(server, good_stream, references, tmp_path):
    audio = np.concatenate([references[i][0] for i in range(3)])  # 16 kHz, over MAX_STREAM_S seconds
    assert len(audio) > MAX_STREAM_S * 16000
    long = _hit(server, good_stream, url=ws_url(server), samples=audio, timeout_s=60)
    assert long.close_code == 1008 and f"stream duration limit of {MAX_STREAM_S} s" in long.close_reason
    # Everything up to the limit was heard and committed, as parakeet-trt live hears that much.
    assert long.committed_text == live_committed_text(audio[:MAX_STREAM_S * 16000], 16000, tmp_path, "limit")


def test_a_hostile_host_or_origin_gets_refused(server):
    """DNS rebinding / a request meant for another site: every route refuses a Host outside the allow-list
    (here the loopback default), before the API key is even looked at. A hostile Origin on HTTP is
    served only with the key and without CORS headers, so a browser page cannot read the answer."""
    import urllib.request

    port = int(server.rsplit(":", 1)[1])
    for path in ("/healthz", "/metrics", "/v1/models"):
        status, body = http_get(server + path, {"Host": "evil.example", "Authorization": f"Bearer {API_KEY}"})
        assert status == 400 and "host 'evil.example' is not allowed" in body, (path, status, body)
    assert http_get(server + "/healthz", {"Host": f"localhost:{port}"})[0] == 200

    async def hostile_websocket():
        from websockets.asyncio.client import connect
        from websockets.exceptions import ConnectionClosed

        async with connect(f"ws://evil.example:{port}/v1/stream?token={API_KEY}", host="127.0.0.1", port=port,
                           open_timeout=30) as ws:
            try:
                while True:  # the error status message, then the close
                    await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as closed:
                return closed.rcvd.code, closed.rcvd.reason

    code, reason = run(hostile_websocket())
    assert code == 1008 and "host 'evil.example:" in reason and "not allowed" in reason
    request = urllib.request.Request(server + "/v1/models", headers={"Origin": "https://evil.example",
                                                                      "Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200 and response.headers.get("access-control-allow-origin") is None
    assert http_get(server + "/v1/models", {"Origin": "https://evil.example"})[0] == 401


def test_health_and_metrics_count_what_happened(server):
    status, body = http_get(server + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok" and health["max_streams"] == MAX_STREAMS
    status, text = http_get(server + "/metrics")
    assert status == 200
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    assert values["parakeet_serve_replicas"] == 1 and values["parakeet_serve_streams_active"] == 0
    assert values["parakeet_serve_streams_total"] >= 10 and values["parakeet_serve_steps_total"] > 0
    for reason in ("full", "auth", "origin", "host", "frame_size", "bad_frame", "idle", "duration", "body_size"):
        assert values[f'parakeet_serve_rejections_total{{reason="{reason}"}}'] >= 1, reason
    assert values["parakeet_serve_update_latency_seconds_count"] > 0
    assert values['parakeet_serve_update_latency_seconds_bucket{le="+Inf"}'] == \
        values["parakeet_serve_update_latency_seconds_count"]
    status, _ = http_get(server + "/v1/models")
    assert status == 401


def test_serve_help_and_bad_options():
    help_text = cli("serve", "--help").stdout
    for flag in ("--model", "--host", "--port", "--replicas", "--max-streams-per-replica", "--api-key",
                 "--allowed-origins", "--allowed-hosts", "--batch-window-ms", "--max-batch", "--ray-address", "--autoscale-max-replicas", "--max-frame-bytes",
                 "--max-body-bytes", "--max-stream-s", "--idle-timeout-s", "PARAKEET_TRT_API_KEY", "1013"):
        assert flag in help_text
    failed = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "serve", "--idle-timeout-s", "0"],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "idle-timeout-s must be positive" in failed.stderr
    failed = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "serve", "--replicas", "2",
                             "--autoscale-max-replicas", "1"], capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2 and "must be at least --replicas (2)" in failed.stderr


def test_serve_without_ray_names_the_command_that_installs_it():
    from test_first_run import run_without

    result = run_without({"ray"}, "serve")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "scripts/setup.sh --serve" in result.stderr and "pip install '.[serve]'" in result.stderr
    assert run_without({"ray", "fastapi"}, "--help").returncode == 0  # the rest of the CLI does not need Ray
