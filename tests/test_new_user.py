"""A new user's first ten minutes, for real: a copy of this checkout (the files git would commit)
set up by the quick start alone (`scripts/quickstart.sh`: a fresh .venv, runtime only, the package
built from source), then the README's commands and Python snippet run as written in that venv and
give the documented output, and the browser command the quick start prints serves the captions.

Slow (it builds and installs the package, about a minute on two cores): one fresh checkout per test
session. scripts/test.sh runs it with the rest of the suite."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import readme_examples

REPO = Path(__file__).resolve().parents[1]


def checkout_files() -> list[str]:
    """What a clone would hold, plus files not committed yet (git's view; no .venv, build, .cache)."""
    result = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, capture_output=True)
    if result.returncode != 0:
        pytest.skip("not a git checkout: cannot tell the repository's files from build outputs")
    return [name for name in result.stdout.decode().split("\0") if name and (REPO / name).is_file()]


def user_env(root: Path) -> dict:
    """A user's shell: nothing from this test session's environment points into the dev setup."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PARAKEET_TRT_LIBRARY", "PYTHONHOME")}
    paths = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(REPO))]
    env["PATH"] = os.pathsep.join([str(root / ".venv" / "bin"), *paths])
    return env


@pytest.fixture(scope="session")
def fresh(tmp_path_factory):
    """(root of a fresh copy, the quick start's CompletedProcess)."""
    root = tmp_path_factory.mktemp("fresh") / "parakeet_trt"
    for name in checkout_files():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    quick_start = readme_examples.tested_bash()[0]
    assert quick_start == ["scripts/quickstart.sh"], quick_start
    result = subprocess.run(quick_start[0], shell=True, cwd=root, capture_output=True, text=True, timeout=1800,
                            env=user_env(root))
    return root, result


def test_the_quick_start_captions_the_demo_sample_and_names_the_browser_command(fresh):
    root, result = fresh
    assert result.returncode == 0, result.stderr[-3000:]
    assert (root / ".venv" / "bin" / "parakeet-trt").exists()
    readme_examples.assert_output_matches(readme_examples.outputs()[0], result.stdout)
    last = result.stderr.strip().splitlines()[-1]
    assert last == "[quickstart] the same captions in a browser: scripts/quickstart.sh --ui web", last
    # runtime only: no NeMo, torch or aiohttp in the quick start's venv
    probe = subprocess.run([str(root / ".venv/bin/python"), "-c",
                            "import importlib.util as u; print([m for m in ('torch', 'nemo', 'aiohttp') "
                            "if u.find_spec(m)])"], capture_output=True, text=True, env=user_env(root))
    assert probe.stdout.strip() == "[]", probe.stdout


def test_the_readme_commands_run_as_written(fresh):
    root, result = fresh
    assert result.returncode == 0
    block = next(b for b in readme_examples.tested_bash() if b[0].startswith("parakeet-trt --version"))
    outputs = []
    for line in block:
        run = subprocess.run(line, shell=True, cwd=root, capture_output=True, text=True, timeout=600,
                             env=user_env(root))
        assert run.returncode == 0, (line, run.stderr[-2000:])
        outputs.append(run.stdout)
    assert outputs[0].strip() == "parakeet-trt 0.1.0"
    readme_examples.assert_output_matches(readme_examples.outputs()[1], outputs[1])
    assert json.loads(outputs[2])["text"] == outputs[1].split(": ", 1)[1].strip()
    assert outputs[3].strip()


def test_the_readme_python_snippet_runs_in_the_fresh_venv(fresh, tmp_path):
    root, result = fresh
    assert result.returncode == 0
    run = subprocess.run([str(root / ".venv/bin/python"), "-c", readme_examples.python_snippet()], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600, env=user_env(root))
    assert run.returncode == 0, run.stderr[-2000:]
    readme_examples.assert_output_matches(readme_examples.outputs()[2], run.stdout)
    located = subprocess.run([str(root / ".venv/bin/python"), "-c", "import parakeet_trt; print(parakeet_trt.__file__)"],
                             cwd=tmp_path, capture_output=True, text=True, env=user_env(root))
    assert located.stdout.startswith(str(root / ".venv")), located.stdout  # the installed package, not this tree


def test_the_browser_command_serves_the_same_captions(fresh):
    """`scripts/quickstart.sh --ui web` (what the quick start prints) installs the live extra and
    serves the captions until Ctrl-C."""
    aiohttp = pytest.importorskip("aiohttp", reason="the test talks to the page with aiohttp")
    root, result = fresh
    assert result.returncode == 0
    # In real time, as the quick start plays it: a file decoded faster commits whole-segment decodes
    # only, which may differ in a word from what the real-time passes committed.
    process = subprocess.Popen(["scripts/quickstart.sh", "--ui", "web", "--port", "0"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=user_env(root),
                               start_new_session=True)
    try:
        url = wait_for(process.stderr, r"captions at (http://\S+)", 900)
        wait_for(process.stderr, r"(still serving)", 120)

        async def visit():
            async with aiohttp.ClientSession() as session:
                async with session.get(url) as page:
                    html = await page.text()
                async with session.ws_connect(url + "ws") as ws:
                    return html, json.loads((await ws.receive()).data)

        html, snapshot = asyncio.run(asyncio.wait_for(visit(), 60))
        assert "Live captions" in html
        finals = [f["text"].strip() for f in snapshot["finals"]]
        readme_examples.assert_output_matches(readme_examples.outputs()[0], "\n".join(finals))
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole group
        process.communicate(timeout=60)
        assert process.returncode == 130
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(stream, pattern: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 1)
        if not ready:
            continue
        line = stream.readline()
        if not line:
            break
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match.group(1)
    raise AssertionError(f"no line matching {pattern!r}; saw:\n{''.join(seen[-20:])}")
