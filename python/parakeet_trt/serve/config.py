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


def _batching_default(name: str):
    from parakeet_trt import _core

    return getattr(_core.BatchingOptions(), name)  # defined once, in C++ (batching_engine.hpp)


BATCHING_MODES = ("auto", "on", "off")


@dataclass(frozen=True)
class ServeBatching:
    """Cross-stream encoder batching of a replica (C++ BatchingEngine). Each field is a CLI flag.

    ``auto`` batches when the encoder runs on a GPU (ONNX Runtime's CUDA provider available): there one
    batched call costs little more than one call. On a CPU it does not: with ONNX Runtime's CPU provider a
    stacked call of B buffered windows costs about B single calls and runs one batch where unbatched
    streams run several calls at once (docs/BENCH_BATCHING_ENGINE.md: 0.79-0.81x the encoder calls per
    second at 8-32 streams on the 2-core machine), so ``auto`` leaves CPU replicas unbatched; ``on`` forces it.
    """

    batching: str = "auto"
    batch_window_ms: float = field(default_factory=lambda: _batching_default("window_ms"))
    max_batch: int = field(default_factory=lambda: _batching_default("max_batch"))
    max_inflight_batches: int = field(default_factory=lambda: _batching_default("max_inflight"))

    HELP = {
        "batching": "cross-stream encoder batching: auto (on when the encoder runs on a GPU, off on a CPU, "
                    "where a stacked call costs as much as the calls it replaces), on, off",
        "batch_window_ms": "batching: how long a stream's encoder call may wait for other streams' calls of the "
                           "same shape to run with it as one batched call; a lone stream never waits (0..100)",
        "max_batch": "batching: most streams' encoder calls stacked into one batched call (1..1024)",
        "max_inflight_batches": "batching: batched calls that may run at once on a replica's encoder (1..64)",
    }

    def __post_init__(self):
        if self.batching not in BATCHING_MODES:
            raise ValueError(f"batching must be one of {', '.join(BATCHING_MODES)}, got {self.batching!r}")

    def options(self):
        """The C++ options (ValueError naming the field when out of range)."""
        from parakeet_trt import _core

        return _core.BatchingOptions(window_ms=self.batch_window_ms, max_batch=self.max_batch,
                                     max_inflight=self.max_inflight_batches)

    def replica_options(self):
        """The options a replica batches with, or None when it does not batch (off, or auto on a CPU)."""
        if self.batching == "off":
            return None
        if self.batching == "auto":
            from parakeet_trt import _core
            from parakeet_trt.session import onnxruntime_library

            providers = _core.onnxruntime_available_providers(onnxruntime_library())
            if "CUDAExecutionProvider" not in providers:
                return None
        return self.options()


@dataclass(frozen=True)
class ServeConfig:
    """Everything a replica needs: the model, who may connect, the limits."""

    model: str = "demo"
    api_key: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # Host header allow-list of every route ('*': any); the CLI's default depends on --host (auth.py).
    allowed_hosts: tuple[str, ...] = ("*",)
    limits: ServeLimits = field(default_factory=ServeLimits)
    llm: "LlmOptions | None" = None  # the LLM polish lane of /v1/stream (parakeet_trt.llm.options); None: off
    batching: ServeBatching = field(default_factory=ServeBatching)

    @property
    def model_name(self) -> str:
        """The name clients pass as ``model`` (OpenAI API): the packaged name, or the folder's name."""
        from pathlib import Path

        return Path(self.model).name or self.model
