"""Background processes for tests and benchmarks: started, waited for, always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def background_process(command: list[str], out: Path, ready: str, *, start_s: float, env: dict | None = None):
    """``command`` with stdout and stderr in ``out``, until the context ends (then SIGTERM, waited for);
    entered once ``ready`` appears in ``out`` within ``start_s`` seconds."""
    with open(out, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + start_s
        while ready not in out.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{command[:6]} did not start (exit {process.poll()}):\n{out.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
