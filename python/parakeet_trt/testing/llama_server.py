"""llama.cpp's OpenAI-compatible server (llama-cpp-python[server], built once by scripts/setup.sh
--dev) serving the project's polish test model (training/polish_lm.py) on 127.0.0.1, for the LLM
lane's tests and report.

    with llama_server() as url:        # http://127.0.0.1:PORT/v1, model name POLISH_MODEL_NAME
        ...
"""

from __future__ import annotations

import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

from parakeet_trt.serve.cli import free_port  # a port neither Ray nor the OS hands out by itself
from parakeet_trt.testing.processes import background_process

POLISH_MODEL_NAME = "polish-lm"


def llama_server_available() -> bool:
    try:
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def llama_server(model: Path | None = None, *, start_s: float = 120.0, log: Path | None = None):
    from parakeet_trt.training.polish_lm import cached_polish_lm

    model = model or cached_polish_lm(progress=lambda line: print(line, file=sys.stderr, flush=True))
    port = free_port()
    log = log or Path(tempfile.mkdtemp(prefix="llama-server-")) / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", POLISH_MODEL_NAME,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "2"]
    with background_process(command, log, "Uvicorn running", start_s=start_s):
        yield f"http://127.0.0.1:{port}/v1"
