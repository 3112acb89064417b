"""parakeet_trt: low-latency speech recognition for NVIDIA Parakeet-TDT models.

    import parakeet_trt
    session = parakeet_trt.Session("path/to/exported_model")   # or Session() for the packaged demo model
    print(session.transcribe("speech.wav").text)
    stream = parakeet_trt.StreamingSession(session)
    for block in parakeet_trt.audio_blocks("speech.wav", block_ms=100):
        for update in stream.push(block):
            print(update.committed_text, "|", update.tail_text)

The public names load lazily, so the export and testing subpackages import without the
compiled core.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Session": "parakeet_trt.session",
    "audio_blocks": "parakeet_trt.blocks",
    "StreamingSession": "parakeet_trt.streaming",
    "HypothesisUpdate": "parakeet_trt.streaming",
    "Transcript": "parakeet_trt.session",
    "Hypothesis": "parakeet_trt.session",
    "Word": "parakeet_trt.session",
    "AudioFileError": "parakeet_trt.errors",
    "ContractViolation": "parakeet_trt.errors",
    "EngineError": "parakeet_trt.errors",
    "InvalidAudioError": "parakeet_trt.errors",
    "ModelError": "parakeet_trt.errors",
    "ParakeetError": "parakeet_trt.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'parakeet_trt' has no attribute {name!r}")
