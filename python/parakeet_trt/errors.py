"""Exceptions raised by parakeet_trt.

The C++ core raises these same classes (they are defined in ``parakeet_trt._core``), so one
``except parakeet_trt.ParakeetError`` catches everything the engine reports.
"""

from parakeet_trt._core import (  # noqa: F401  (re-exported)
    ContractViolation,
    EngineError,
    InvalidAudioError,
    ModelError,
    ParakeetError,
)


class AudioFileError(InvalidAudioError):
    """An audio file is missing, unreadable, truncated or not audio."""


__all__ = [
    "AudioFileError",
    "ContractViolation",
    "EngineError",
    "InvalidAudioError",
    "ModelError",
    "ParakeetError",
]
