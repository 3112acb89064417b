"""Optional dependencies: which extra of pyproject.toml provides a module, and the command that
installs it from a checkout of this repository. Every "missing dependency" message comes from here."""

from __future__ import annotations

import importlib

# module -> (extra, command from the repository root)
EXTRAS = {
    "aiohttp": ("live", "scripts/setup.sh --live"),
    "sounddevice": ("live", "scripts/setup.sh --live"),
    "torch": ("export", "scripts/setup.sh --dev"),
    "nemo": ("export", "scripts/setup.sh --dev"),
    "onnx": ("export", "scripts/setup.sh --dev"),
    "sentencepiece": ("export", "scripts/setup.sh --dev"),
    "lightning": ("export", "scripts/setup.sh --dev"),
    "playwright": ("test", "scripts/setup.sh --dev"),
    "ray": ("serve", "scripts/setup.sh --serve"),
    "fastapi": ("serve", "scripts/setup.sh --serve"),
    "multipart": ("serve", "scripts/setup.sh --serve"),
}


class MissingDependency(ImportError):
    """An optional package is not installed; the message names the command that installs it."""


def install_hint(module: str | None) -> str:
    """How to install what provides `module` (its top-level package), from this checkout."""
    top = (module or "").split(".")[0]
    if top not in EXTRAS:
        return "install the extra it needs from the repository root: scripts/setup.sh --dev (everything)"
    extra, command = EXTRAS[top]
    pip = f"pip install '.[{extra}]'"
    if extra == "export":
        pip = "pip install torch==2.13.0 && " + pip  # NeMo would otherwise pull the newest (CUDA) torch
    return f"install the '{extra}' extra from the repository root: {command} (or {pip} in your environment)"


def require(module: str, purpose: str) -> None:
    """Imports `module`, or raises MissingDependency saying that `purpose` needs it and how to get it."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDependency(f"{purpose} needs {module}, which is not installed; {install_hint(module)}") from None
