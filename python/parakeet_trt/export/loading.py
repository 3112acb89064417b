"""Validate and restore a .nemo archive (a tar of model_config.yaml, weights and artifacts)."""

from __future__ import annotations

import logging
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict

from parakeet_trt.hashing import sha256_file

from .errors import CorruptNemoFileError, NemoFileNotFoundError, UnsupportedModelError

# NeMo model classes (by class name) that are transducers with an RNNTDecoder + RNNTJoint.
TRANSDUCER_CLASSES = {
    "EncDecRNNTModel",
    "EncDecRNNTBPEModel",
    "EncDecHybridRNNTCTCModel",
    "EncDecHybridRNNTCTCBPEModel",
}


@dataclass
class NemoArchive:
    path: Path
    sha256: str
    size_bytes: int
    config: Dict[str, Any]
    target: str


def inspect_nemo(nemo_path: os.PathLike) -> NemoArchive:
    """Check that ``nemo_path`` is a complete NeMo tar with a transducer config; no torch needed."""
    path = Path(nemo_path)
    if not path.exists():
        raise NemoFileNotFoundError(f"{path}: .nemo file not found")
    if not path.is_file():
        raise NemoFileNotFoundError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise CorruptNemoFileError(f"{path}: .nemo file is empty")
    digest = sha256_file(path)
    try:
        with tarfile.open(path, "r:*") as tar:
            members = tar.getmembers()
            names = {m.name[2:] if m.name.startswith("./") else m.name: m for m in members}
            for m in members:
                if m.isfile() and m.offset_data + m.size > size:
                    raise CorruptNemoFileError(
                        f"{path}: truncated .nemo archive (member {m.name!r} needs "
                        f"{m.offset_data + m.size} bytes, file has {size})"
                    )
            cfg_name = next((n for n in names if n.endswith("model_config.yaml")), None)
            if cfg_name is None:
                raise CorruptNemoFileError(f"{path}: not a NeMo archive (no model_config.yaml inside)")
            if not any(n.endswith("model_weights.ckpt") for n in names):
                raise CorruptNemoFileError(f"{path}: NeMo archive without model_weights.ckpt")
            cfg_text = tar.extractfile(names[cfg_name]).read().decode("utf-8")
    except CorruptNemoFileError:
        raise
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as e:
        raise CorruptNemoFileError(f"{path}: cannot read .nemo archive ({type(e).__name__}: {e})") from e
    import yaml

    try:
        cfg = yaml.safe_load(cfg_text)
    except yaml.YAMLError as e:
        raise CorruptNemoFileError(f"{path}: model_config.yaml is not valid YAML ({e})") from e
    if not isinstance(cfg, dict):
        raise CorruptNemoFileError(f"{path}: model_config.yaml is not a mapping")
    target = str(cfg.get("target", ""))
    cls = target.rsplit(".", 1)[-1]
    if cls and cls not in TRANSDUCER_CLASSES:
        raise UnsupportedModelError(
            f"{path}: model class {target!r} is not a transducer (RNNT/TDT) model; "
            f"supported: {sorted(TRANSDUCER_CLASSES)}"
        )
    for key in ("encoder", "decoder", "joint", "preprocessor"):
        if key not in cfg:
            raise UnsupportedModelError(f"{path}: config has no {key!r} section; not an RNNT/TDT model")
    return NemoArchive(path=path, sha256=digest, size_bytes=size, config=cfg, target=target)


def restore_model(archive: NemoArchive, device: str = "cpu"):
    """Restore the model on ``device`` in eval mode and check it is a supported transducer."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from nemo.utils import logging as nemo_logging

        nemo_logging.setLevel(logging.ERROR)
    except Exception:  # pragma: no cover
        pass
    import torch
    from nemo.collections.asr.models import ASRModel
    from nemo.collections.asr.models.rnnt_models import EncDecRNNTModel
    from nemo.collections.asr.modules.rnnt import RNNTDecoder, RNNTJoint

    try:
        model = ASRModel.restore_from(str(archive.path), map_location=torch.device(device))
    except Exception as e:  # NeMo raises many kinds; name the file and the cause
        raise CorruptNemoFileError(f"{archive.path}: NeMo could not restore the model ({type(e).__name__}: {e})") from e
    if not isinstance(model, EncDecRNNTModel):
        raise UnsupportedModelError(f"{archive.path}: {type(model).__name__} is not an RNNT/TDT model")
    if not isinstance(model.decoder, RNNTDecoder) or not isinstance(model.joint, RNNTJoint):
        raise UnsupportedModelError(
            f"{archive.path}: decoder/joint are {type(model.decoder).__name__}/{type(model.joint).__name__}, "
            "expected RNNTDecoder/RNNTJoint"
        )
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model
