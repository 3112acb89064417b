"""SHA-256 of files: one helper for the exporter (writing hashes) and the engines (checking them)."""

from __future__ import annotations

import hashlib
import os


def sha256_file(path: os.PathLike | str, chunk_bytes: int = 1 << 22) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk_bytes), b""):
            digest.update(block)
    return digest.hexdigest()
