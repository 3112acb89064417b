"""Helpers of the serve tests: a `parakeet-trt serve` subprocess, reference texts from `parakeet-trt live`,
bounded HTTP and asyncio calls."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile

from parakeet_trt.testing.held_out import held_out_speech
from parakeet_trt.serve.cli import free_port  # noqa: F401  (the cluster test's GCS port too)
from parakeet_trt.testing.processes import background_process

SERVER_START_S = 150




def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parakeet_trt.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=True)


@contextmanager
def serve_process(tmp_path: Path, *args: str, env: dict | None = None):
    """``parakeet-trt serve`` as a subprocess: yields its base URL once it prints it; SIGTERM at the end."""
    port = free_port()
    out = tmp_path / f"serve-{port}.log"
    command = [sys.executable, "-m", "parakeet_trt.cli", "serve", "--port", str(port), *args]
    with background_process(command, out, "serving at", start_s=SERVER_START_S, env=env):
        url = f"http://127.0.0.1:{port}"
        assert f"serving at {url}" in out.read_text()
        yield url


def speech(index: int) -> np.ndarray:
    """Three held-out utterances in a row (several seconds, pauses between): stream ``index``'s audio."""
    return np.concatenate([held_out_speech(3 * index + k)[0] for k in range(3)])


# The serving tests compare a server's streams with `parakeet-trt live` on the same audio. They use
# aggregator v1 on both sides: its commits do not depend on timing, while the default v2 commits by
# the agreement of re-decode passes, whose timing differs between a real-time client and a file
# (tests/test_captions.py covers v2).
V1 = {"streaming": {"aggregator": "v1"}}


def stream_v1(*args, start: dict | None = None, **kwargs):
    """serve.client.stream_audio with aggregator v1 (merged into `start`)."""
    from parakeet_trt.serve.client import stream_audio

    start = dict(start or {})
    start["streaming"] = {**V1["streaming"], **start.get("streaming", {})}
    return stream_audio(*args, start=start, **kwargs)


def live_committed_text(audio: np.ndarray, rate: int, tmp_path: Path, name: str) -> str:
    """The finals of ``parakeet-trt live --aggregator v1 --no-realtime`` on ``audio`` (written as 16-bit PCM,
    as streamed)."""
    wav, events = tmp_path / f"{name}.wav", tmp_path / f"{name}.jsonl"
    soundfile.write(wav, audio, rate, subtype="PCM_16")
    cli("live", "--aggregator", "v1", "--no-realtime", "--input", str(wav), "--ui", "none", "--events-out",
        str(events))
    return "".join(e["text"] for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "final")


def at_rate(audio: np.ndarray, rate: int) -> np.ndarray:
    """16 kHz audio at ``rate``, quantized to 16 bits (what an s16le client sends)."""
    from parakeet_trt.audio import resample

    out = resample(audio, 16000, rate) if rate != 16000 else audio
    return np.round(np.clip(out, -1, 32767 / 32768) * 32768).astype(np.float32) / 32768


def ws_url(url: str, token: str | None = None) -> str:
    return url.replace("http://", "ws://") + "/v1/stream" + (f"?token={token}" if token else "")


def http_get(url: str, headers: dict | None = None) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def run(coro, timeout: float = 120):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def reference_cases(tmp: Path) -> dict:
    """Stream index -> (audio, 16-bit at its rate; the rate; its committed text through parakeet-trt live)."""
    cases = {}
    for index, rate in enumerate((16000, 16000, 16000, 48000)):
        audio = at_rate(speech(index), rate)
        cases[index] = (audio, rate, live_committed_text(audio, rate, tmp, f"speech{index}"))
    assert all(text.strip() for _, _, text in cases.values())
    return cases
