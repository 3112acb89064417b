"""Small artifact helpers: vocabulary file, hashes, output-directory checks, JSON writing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, List

from parakeet_trt.hashing import sha256_file  # noqa: F401  (re-exported for the exporter)

from .errors import OutputDirError, UnsupportedModelError


def prepare_out_dir(out_dir: os.PathLike) -> Path:
    """Create ``out_dir`` if needed and prove it is writable (before any heavy work)."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputDirError(f"{out}: output path exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".ptrt_write_probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OutputDirError(f"{out}: output directory is not writable ({e.strerror or e})") from e
    return out


def special_piece_ids(model) -> Dict[str, List[int]]:
    """Ids SentencePiece renders specially when decoding: unknown (" ⁇ ") and control ("")."""
    tok = getattr(model, "tokenizer", None)
    sp = getattr(tok, "tokenizer", None) if tok is not None else None
    if sp is None or not hasattr(sp, "is_unknown"):
        return {"unknown_ids": [], "control_ids": []}
    size = int(model.decoder.vocab_size)
    return {"unknown_ids": [i for i in range(size) if sp.is_unknown(i)],
            "control_ids": [i for i in range(size) if sp.is_control(i)]}


def vocabulary_pieces(model) -> tuple[List[str], str]:
    """Token strings in id order (blank excluded) and the tokenizer kind."""
    V = int(model.decoder.vocab_size)
    tok = getattr(model, "tokenizer", None)
    sp = getattr(tok, "tokenizer", None) if tok is not None else None
    if sp is not None and hasattr(sp, "id_to_piece"):
        pieces = [sp.id_to_piece(i) for i in range(V)]
        kind = "sentencepiece"
        if hasattr(sp, "get_piece_size") and sp.get_piece_size() != V:
            raise UnsupportedModelError(f"tokenizer has {sp.get_piece_size()} pieces but the decoder vocab is {V}")
    else:
        labels = list(model.joint.vocabulary or [])
        if len(labels) != V:
            raise UnsupportedModelError(f"model has {len(labels)} labels but the decoder vocab is {V}")
        pieces = [str(x) for x in labels]
        kind = "labels"
    for i, p in enumerate(pieces):
        if "\n" in p or "\r" in p:
            raise UnsupportedModelError(f"vocabulary piece {i} contains a line break: {p!r}")
    return pieces, kind


def write_vocab(model, path: Path) -> Dict[str, Any]:
    pieces, kind = vocabulary_pieces(model)
    data = "".join(p + "\n" for p in pieces).encode("utf-8")
    path.write_bytes(data)
    return {"file": path.name, "size": len(pieces), "sha256": hashlib.sha256(data).hexdigest(), "tokenizer": kind,
            "word_boundary_marker": "\u2581" if kind == "sentencepiece" else None, **special_piece_ids(model)}


def write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    path.write_text(text, encoding="utf-8", newline="\n")
