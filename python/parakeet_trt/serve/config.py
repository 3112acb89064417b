"""The server's options and limits, defined once: the CLI's flags, their defaults and help come from here."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

API_KEY_ENV = "PARAKEET_TRT_API_KEY"


@dataclass(frozen=True)
class ServeLimits:
    """What one client may use. Each field is a CLI flag (--max-frame-bytes, ...)."""

    max_streams_per_replica: int = 16
    max_frame_bytes: int = 128 * 1024
    max_body_bytes: int = 25 * 1024 * 1024
    max_stream_s: float = 3600.0
    idle_timeout_s: float = 30.0
    retry_after_s: float = 1.0

    HELP = {
        "max_streams_per_replica": "live streams one replica serves at once; a new stream on a full replica is "
                                   "closed with code 1013 and a retry hint",
        "max_frame_bytes": "largest websocket message (audio frame or JSON); a larger one closes the stream with "
                           "code 1009",
        "max_body_bytes": "largest upload to /v1/audio/transcriptions (HTTP 413 beyond it)",
        "max_stream_s": "longest stream, in seconds of wall time or of audio, whichever comes first; the stream "
                        "is then flushed (its finals sent) and closed with code 1008",
        "idle_timeout_s": "a stream that sends nothing for this long is flushed and closed with code 1008",
        "retry_after_s": "the retry hint (seconds) sent with a 1013 'replica full' close",
    }

    def __post_init__(self):
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name.replace('_', '-')} must be positive, got {getattr(self, f.name)}")


@dataclass(frozen=True)
class ServeConfig:
    """Everything a replica needs: the model, who may connect, the limits."""

    model: str = "demo"
    api_key: str | None = None
    allowed_origins: tuple[str, ...] = ()
    limits: ServeLimits = field(default_factory=ServeLimits)
    llm: "LlmOptions | None" = None  # the LLM polish lane of /v1/stream (parakeet_trt.llm.options); None: off

    @property
    def model_name(self) -> str:
        """The name clients pass as ``model`` (OpenAI API): the packaged name, or the folder's name."""
        from pathlib import Path

        return Path(self.model).name or self.model
