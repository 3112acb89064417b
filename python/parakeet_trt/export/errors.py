"""Exceptions raised by the exporter.  Each names the file and the problem."""

from __future__ import annotations


class ExportError(Exception):
    """Base class of every exporter error."""


class NemoFileNotFoundError(ExportError, FileNotFoundError):
    """The .nemo path does not exist or is not a regular file."""


class CorruptNemoFileError(ExportError):
    """The .nemo file is not a readable NeMo archive (truncated, not a tar, members missing)."""


class UnsupportedModelError(ExportError):
    """The model is not a transducer (RNNT/TDT) model this exporter supports."""


class OutputDirError(ExportError):
    """The output directory cannot be created or written."""
