"""Verified stamps (issue 20 item 4): a model file's hash is checked in full once and remembered with
the file's identity (device, inode, size, mtime, ctime); later loads of the unchanged file skip the
hash, every change that a stamp can see hashes it again and refuses it, and `parakeet-trt verify`
hashes everything in full. What a stamp cannot see is shown too (a forged stamp), with verify
catching it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from parakeet_trt import ContractViolation, ModelError, _core

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "python" / "parakeet_trt" / "models" / "demo"
GRAPHS = {"encoder.onnx", "decoder_joint.onnx", "decoder_step.bin", "vocab.txt"}


@pytest.fixture
def folder(tmp_path, monkeypatch) -> Path:
    """A copy of the demo export (without its .nemo) and a fresh stamp folder for this test."""
    out = tmp_path / "model"
    shutil.copytree(DEMO, out, ignore=shutil.ignore_patterns("*.nemo"))
    monkeypatch.setenv("PARAKEET_TRT_STAMPS", str(tmp_path / "stamps"))
    return out


def checks(folder: Path, full: bool = False) -> dict:
    return dict(_core.Model.load(str(folder), True, full).hash_checks)


def overwrite_same_size_keep_mtime(path: Path) -> None:
    """Flip one byte in the middle of the file and put its modification time back."""
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(st.st_size // 2)
        byte = f.read(1)
        f.seek(st.st_size // 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_second_load_uses_stamps_and_full_verify_hashes_again(folder):
    assert checks(folder) == {f: "hashed" for f in GRAPHS}
    assert checks(folder) == {f: "stamped" for f in GRAPHS}
    assert checks(folder, full=True) == {f: "hashed" for f in GRAPHS}
    assert checks(folder) == {f: "stamped" for f in GRAPHS}


def test_stamps_off_hashes_every_load(folder, monkeypatch):
    monkeypatch.setenv("PARAKEET_TRT_STAMPS", "off")
    assert checks(folder) == {f: "hashed" for f in GRAPHS}
    assert checks(folder) == {f: "hashed" for f in GRAPHS}


def test_same_size_edit_with_restored_mtime_is_still_refused(folder):
    """The edit and the utime() that restores mtime both set ctime to now: the stamp no longer matches."""
    checks(folder)
    overwrite_same_size_keep_mtime(folder / "encoder.onnx")
    with pytest.raises(ContractViolation, match=r"encoder\.onnx sha256"):
        checks(folder)


def test_changed_size_is_hashed_and_refused(folder):
    checks(folder)
    with open(folder / "decoder_step.bin", "ab") as f:
        f.write(b"\0" * 64)
    with pytest.raises(ContractViolation, match=r"decoder_step\.bin sha256"):
        checks(folder)


def test_replaced_file_with_identical_bytes_is_hashed_again_and_passes(folder):
    """A new inode (a copy put in place) is a new identity: hashed in full, then stamped again."""
    checks(folder)
    shutil.copy(folder / "vocab.txt", folder / "vocab.new")
    os.replace(folder / "vocab.new", folder / "vocab.txt")
    assert checks(folder)["vocab.txt"] == "hashed"
    assert checks(folder)["vocab.txt"] == "stamped"


def test_hostile_folder_is_refused_before_any_stamp(folder, tmp_path):
    """A stamped graph replaced by a symbolic link to an identical copy outside the folder is refused by
    the path rules, which run before any hash or stamp."""
    checks(folder)
    outside = tmp_path / "outside.onnx"
    shutil.copy(folder / "encoder.onnx", outside)
    (folder / "encoder.onnx").unlink()
    (folder / "encoder.onnx").symlink_to(outside)
    with pytest.raises(ModelError, match="outside the model folder"):
        checks(folder)


def forge_stamp(folder: Path, stamps: Path, name: str) -> None:
    """What someone who can write the stamp folder can do: rewrite a stamp to the file's new identity."""
    path = (folder / name).resolve()
    st = path.stat()
    for stamp in stamps.iterdir():
        lines = stamp.read_text().splitlines()
        if lines[1] == f"path {path}":
            fields = dict(line.split(" ", 1) for line in lines[1:])
            fields.update(ino=str(st.st_ino), size=str(st.st_size), mtime_ns=str(st.st_mtime_ns),
                          ctime_ns=str(st.st_ctime_ns))
            stamp.write_text(lines[0] + "\n" + "".join(f"{k} {fields[k]}\n" for k in
                                                       ("path", "dev", "ino", "size", "mtime_ns", "ctime_ns", "sha256")))
            return
    raise AssertionError(f"no stamp for {path}")


def test_forged_stamp_passes_a_load_and_verify_refuses_it(folder, tmp_path):
    """The honest limit: a stamp is trusted as written. `parakeet-trt verify` ignores stamps (exit 5)."""
    checks(folder)
    overwrite_same_size_keep_mtime(folder / "encoder.onnx")
    forge_stamp(folder, tmp_path / "stamps", "encoder.onnx")
    assert checks(folder)["encoder.onnx"] == "stamped"
    env = {**os.environ, "PARAKEET_TRT_STAMPS": str(tmp_path / "stamps")}
    done = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "verify", str(folder)], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 5, done.stderr
    assert "encoder.onnx sha256" in done.stderr


def test_verify_command_hashes_every_file(folder, tmp_path):
    env = {**os.environ, "PARAKEET_TRT_STAMPS": str(tmp_path / "stamps")}
    for _ in range(2):  # the second run finds stamps and still hashes
        done = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "verify", str(folder)], capture_output=True,
                              text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        assert report["files"] == {f: "hashed" for f in GRAPHS} and report["encoder_precision"] == "fp32"
    assert checks(folder) == {f: "stamped" for f in GRAPHS}
