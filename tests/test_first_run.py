"""What a new user hits first (issue 17), one test per item: the command line (providers, names,
help, version, exit codes, Ctrl-C), live captions' defaults (finals at pauses, printed finals, JSON
numbers), missing-dependency hints, the README's Python snippet and cache-aware mode's working
command. The browser page's items are in tests/test_live_web.py; a fresh quick-start venv running
the README in tests/test_new_user.py."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from parakeet_trt.cli import CACHE_AWARE_TRY, EXIT_CODES_HELP, build_parser
from parakeet_trt.live.protocol import read_events
from parakeet_trt.models import RANDOM_WEIGHTS_MODEL, demo_sample, packaged_models, resolve_model_dir

import readme_examples

REPO = Path(__file__).resolve().parents[1]


def run(*args, timeout=300, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "parakeet_trt.cli", *args], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def finals_of(path) -> list[dict]:
    return [e for e in read_events(path) if e["type"] == "final"]


def exit_code_for_help_line(word: str) -> int:
    """The exit code whose line in the documented exit codes mentions `word`."""
    codes = re.findall(r"^\s+(\d+)\s+(.*(?:\n\s{5,}.*)*)", EXIT_CODES_HELP, re.M)
    matches = [int(code) for code, text in codes if word in text]
    assert len(matches) == 1, (word, codes)
    return matches[0]


# --- item 1: --providers ------------------------------------------------------------------------

def test_a_provider_list_does_not_take_the_file(tmp_path):
    audio = tmp_path / "x.wav"
    shutil.copy(demo_sample(), audio)
    result = run("transcribe", "--providers", "CPUExecutionProvider", str(audio))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{audio}: "), result.stdout  # the file given, not the packaged sample
    result = run("transcribe", "--providers", "CUDAExecutionProvider,CPUExecutionProvider", str(audio))
    assert "Unknown Provider Type" not in result.stderr
    args = build_parser().parse_args(["transcribe", "--providers", "A,B", "f.wav"])
    assert args.providers == ["A", "B"] and args.files == ["f.wav"]
    result = run("transcribe", "--providers", "A,,B", str(audio))
    assert result.returncode == 2 and "comma-separated" in result.stderr


def test_an_unknown_provider_is_an_error_listing_the_available_ones():
    result = run("transcribe", "--providers", "Foo")
    assert result.returncode == 2, result.stderr
    assert "Foo" in result.stderr and "CPUExecutionProvider" in result.stderr
    assert "Traceback" not in result.stderr


# --- item 4: extras and hints -------------------------------------------------------------------

BLOCK_IMPORT = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
from parakeet_trt.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_without(modules: set[str], *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK_IMPORT.format(blocked=modules), *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("blocked, args, command", [
    ({"aiohttp"}, ["live", "--demo", "--ui", "web", "--no-realtime"], "scripts/setup.sh --live"),
    ({"torch", "nemo"}, ["export", "--model", "python/parakeet_trt/models/demo/demo.nemo", "--out", "{tmp}"],
     "scripts/setup.sh --dev"),
])
def test_a_missing_dependency_names_the_command_that_installs_it(blocked, args, command, tmp_path):
    result = run_without(blocked, *[str(REPO / a) if a.endswith(".nemo") else a.format(tmp=tmp_path / "out")
                                    for a in args])
    assert result.returncode == 1, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert command in line and "pip install '.[" in line, line
    assert "Traceback" not in result.stderr


def test_no_hint_names_a_package_that_is_not_on_pypi():
    for path in (REPO / "python" / "parakeet_trt").rglob("*.py"):
        assert "parakeet_trt[" not in path.read_text(encoding="utf-8"), path


# --- item 5: names and help ---------------------------------------------------------------------

def test_the_random_weight_model_is_not_called_default():
    assert "default" not in packaged_models() and RANDOM_WEIGHTS_MODEL in packaged_models()
    assert RANDOM_WEIGHTS_MODEL == "random-weights-test"
    result = run("transcribe", "--model", "default")
    assert result.returncode == 3 and "model not found" in result.stderr
    help_text = run("transcribe", "--help").stdout
    assert "'default'" not in help_text and "default: demo" in help_text


def test_version():
    import parakeet_trt

    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"parakeet-trt {parakeet_trt.__version__}"


def test_live_help_has_a_description_exit_codes_and_every_default():
    result = run("live", "--help")
    assert result.returncode == 0
    assert "Live captions:" in result.stdout and "exit codes:" in result.stdout and "130" in result.stdout
    live = next(a for a in build_parser()._subparsers._group_actions[0].choices.items() if a[0] == "live")[1]
    for action in live._actions:
        if action.dest == "help":
            continue
        assert action.help and "default" in action.help, f"{action.option_strings}: {action.help!r}"


def test_the_top_level_help_does_not_call_a_streaming_command_offline():
    help_text = run("--help").stdout
    line = re.search(r"transcribe\s+(.*?)\n\s{4}\w", help_text, re.S).group(1)
    assert "stream" in line, line
    assert "offline" not in help_text.split("positional arguments")[0]


# --- item 6: defaults that behave ---------------------------------------------------------------

def test_finals_at_pauses_by_default(tmp_path):
    """A model that emits tokens in silence (the random-weight one) never ends a segment by its blank
    run: the default endpoint VAD ends one at each pause of the demo sample."""
    logs = {}
    for name, extra in (("default", []), ("no_vad_endpoint", ["--aggregator", "v1", "--endpoint-vad-ms", "0"])):
        logs[name] = tmp_path / f"{name}.jsonl"
        result = run("live", "--demo", "--model", RANDOM_WEIGHTS_MODEL, "--no-realtime", "--ui", "none",
                     "--events-out", str(logs[name]), *extra)
        assert result.returncode == 0, result.stderr
    assert len(finals_of(logs["no_vad_endpoint"])) == 1
    assert len(finals_of(logs["default"])) >= 3  # the sample's two longest pauses (900 ms segments) and its end
    demo_log = tmp_path / "demo.jsonl"
    assert run("live", "--demo", "--no-realtime", "--ui", "none", "--events-out", str(demo_log)).returncode == 0
    assert len(finals_of(demo_log)) >= 3


def test_ui_none_without_an_event_log_prints_the_finals(tmp_path):
    log = tmp_path / "events.jsonl"
    assert run("live", "--demo", "--no-realtime", "--ui", "none", "--events-out", str(log)).returncode == 0
    result = run("live", "--demo", "--no-realtime", "--ui", "none")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f["text"].strip() for f in finals_of(log)] and result.stdout.strip()


def test_ctrl_c_finalizes_what_was_heard_and_exits_130():
    process = subprocess.Popen([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--ui", "none"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)  # real time: the first final after ~2 s
    assert ready, "no final within 60 s"
    first = process.stdout.readline()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert first.strip() and "Traceback" not in err
    assert "done:" in err  # the pipeline finished what was heard before exiting


def test_a_tampered_model_exits_with_the_documented_code(tmp_path):
    model = tmp_path / "tampered"
    shutil.copytree(resolve_model_dir("demo"), model)
    data = bytearray((model / "encoder.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model / "encoder.onnx").write_bytes(data)
    expected = exit_code_for_help_line("tampered")
    for args in (["transcribe", "--model", str(model)],
                 ["live", "--demo", "--model", str(model), "--no-realtime", "--ui", "none"]):
        result = run(*args)
        assert result.returncode == expected, (args, result.returncode, result.stderr)
        assert "sha256" in result.stderr and "Traceback" not in result.stderr


def test_json_times_carry_no_float_noise(tmp_path):
    log = tmp_path / "events.jsonl"
    assert run("live", "--demo", "--no-realtime", "--ui", "none", "--events-out", str(log)).returncode == 0
    transcript = run("transcribe", "--json").stdout
    noise = re.compile(r"\d\.\d{7,}")
    for text in (log.read_text(), transcript):
        assert not noise.search(text), noise.search(text).group(0)
    words = json.loads(transcript)["words"]
    assert all(w["start_s"] == round(w["start_s"], 6) for w in words) and words


# --- item 8: the README's Python snippet runs as written ----------------------------------------

def test_audio_blocks_reads_a_file_into_16khz_float32_blocks():
    import parakeet_trt
    from parakeet_trt.audio import prepare_audio

    blocks = list(parakeet_trt.audio_blocks(demo_sample(), block_ms=100))
    whole, _ = prepare_audio(demo_sample(), None, 16000)
    assert all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    assert {len(b) for b in blocks[:-1]} == {1600} and 0 < len(blocks[-1]) <= 1600
    np.testing.assert_array_equal(np.concatenate(blocks), whole)
    with pytest.raises(ValueError, match="block_ms"):
        next(parakeet_trt.audio_blocks(demo_sample(), block_ms=0))
    with pytest.raises(parakeet_trt.InvalidAudioError):
        next(parakeet_trt.audio_blocks(REPO / "README.md"))


def test_the_readme_python_snippet_runs_as_written():
    result = subprocess.run([sys.executable, "-c", readme_examples.python_snippet()], capture_output=True, text=True,
                            timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    readme_examples.assert_output_matches(readme_examples.outputs()[2], result.stdout)


# --- item 9: cache-aware mode can be tried ------------------------------------------------------

def test_cache_aware_can_be_tried(tmp_path):
    """The README's and the help's command, run as written (in a folder where python/ is the
    checkout's), gives a cache-aware transcript of the demo sample that reads it."""
    pytest.importorskip("nemo", reason="the streaming export needs the 'export' extra (scripts/setup.sh --dev)")
    from parakeet_trt.testing.held_out import word_error_rate

    block = next(c for c in readme_examples.tested_bash() if any("--mode cache_aware" in line for line in c))
    assert " && ".join(block) == CACHE_AWARE_TRY  # the help says the same
    (tmp_path / "python").symlink_to(REPO / "python")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    outputs = []
    for line in block:
        if shutil.which("parakeet-trt", path=env["PATH"]) is None:
            line = line.replace("parakeet-trt", f"{sys.executable} -m parakeet_trt.cli", 1)
        result = subprocess.run(line, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, (line, result.stderr[-2000:])
        outputs.append(result.stdout)
    text = outputs[-1].split(": ", 1)[1].strip()
    reference = " ".join((REPO / "python/parakeet_trt/samples/demo.txt").read_text().split())
    assert word_error_rate([reference], [text]) <= 0.2, text


# --- item 10: the quick start's live captions in a terminal -------------------------------------

def test_live_demo_in_a_terminal_revises_partials_and_prints_finals():
    """Under a pseudo-terminal: the open segment is rewritten in place (partial dimmed) and each
    final becomes a line; the last final line is the end of the sample."""
    import pty

    main, secondary = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--no-realtime"],
                               stdout=secondary, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(secondary)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(30)
    os.close(main)
    assert process.returncode == 0
    text = output.decode()
    assert text.count("\r\x1b[K") > 5 and "\x1b[2m" in text  # rewritten in place, partial dimmed
    lines = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line.rstrip("\r").split("\r")[-1]).strip() for line in text.split("\n")]
    finals = [line for line in lines if line]
    assert len(finals) >= 3 and finals[-1].endswith("eighty two")
