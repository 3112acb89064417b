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


class DurableSinkError(ParakeetError):
    """The durable record of a run (the live event log) cannot be written (a full disk, a closed
    pipe): the run stops with an error instead of dropping the record and exiting 0."""


__all__ = [
    "AudioFileError",
    "DurableSinkError",
    "ContractViolation",
    "EngineError",
    "InvalidAudioError",
    "ModelError",
    "ParakeetError",
]
