"""The Python API: load a model, transcribe files or arrays."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from parakeet_trt import _core
from parakeet_trt.audio import prepare_audio
from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine
from parakeet_trt.errors import ModelError
from parakeet_trt.models import resolve_model_dir


@dataclass
class Word:
    word: str
    start_s: float
    end_s: float


@dataclass
class Transcript:
    """Result of one utterance. Frames are encoder frames of ``frame_stride_s`` seconds."""

    text: str
    token_ids: list[int]
    token_frames: list[int]
    token_durations: list[int]
    words: list[Word] = field(default_factory=list)
    file: str | None = None
    audio_duration_s: float = 0.0
    num_encoder_frames: int = 0

    def to_json_dict(self) -> dict:
        out = {"file": self.file, "text": self.text, "token_ids": self.token_ids,
               "token_frames": self.token_frames, "token_durations": self.token_durations,
               "words": [asdict(w) for w in self.words]}
        return out


ENGINES = ("onnxruntime", "tensorrt")


class Session:
    """Offline transcription through the C++ core.

    ``model`` is an exported model folder (``parakeet-trt export``) or a packaged model name
    ('default'). ``engine`` runs the encoder graphs: ``onnxruntime`` (``providers``, default CUDA then
    CPU) or ``tensorrt`` (engines built by ``parakeet-trt build-trt`` in ``trt_engine_dir``, default
    the model folder; TensorRTUnavailable, exit code 7 in the CLI, without TensorRT), supplied to the
    core as an external engine; features and TDT decoding run in C++. A Session may be shared
    between threads; its transcriptions run one at a time.
    """

    def __init__(self, model: str | Path | None = None, providers: list[str] | None = None,
                 verify_hashes: bool = True, intra_op_threads: int = 0, engine: str = "onnxruntime",
                 trt_engine_dir: str | Path | None = None):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.model_dir = resolve_model_dir(model)
        self.model = _core.Model.load(str(self.model_dir), verify_hashes)
        meta = json.loads((self.model_dir / "model_meta.json").read_text())
        self.meta = meta
        self.engine = engine
        self._engine_options = dict(providers=providers, intra_op_threads=intra_op_threads, verify_hashes=verify_hashes,
                                    trt_engine_dir=Path(trt_engine_dir) if trt_engine_dir else self.model_dir)
        self._streaming_encoder_engine = None
        # A folder with only a streaming encoder export (--component encoder_streaming) serves
        # cache-aware streams; offline transcription then says how to export the offline encoder.
        self.encoder_engine = self._graph_engine("encoder") if "encoder" in meta["graphs"] else None
        self._recognizer = (_core.OfflineRecognizer(self.model, self.encoder_engine)
                            if self.encoder_engine is not None else None)
        # The core reuses its buffers between calls: one transcription at a time per Session.
        self._lock = threading.Lock()

    def _graph_engine(self, name: str):
        if self.engine == "tensorrt":
            from parakeet_trt.engines.tensorrt_engine import TensorRtPythonEngine

            return TensorRtPythonEngine.load(self._engine_options["trt_engine_dir"], name,
                                       self.model_dir / self.meta["contract"]["file"])
        graph = self.meta["graphs"][name]
        graph_files = [graph["file"], *graph.get("external_data", [])]
        hashes = self.model.artifact_sha256
        missing = [f for f in graph_files if f not in hashes]
        verify = self._engine_options["verify_hashes"]
        if verify and missing:
            raise ModelError(f"model_meta.json lists no sha256 for {missing} under 'artifacts'")
        return OnnxRuntimeEngine(
            self.model_dir / graph["file"], {f: hashes[f] for f in graph_files} if verify else None, graph,
            providers=self._engine_options["providers"], intra_op_threads=self._engine_options["intra_op_threads"])

    @property
    def streaming_encoder_engine(self):
        """The engine of the folder's streaming encoder export (cache-aware streams), made on first use."""
        if self._streaming_encoder_engine is None:
            if "encoder_streaming" not in self.meta["graphs"]:
                raise ModelError(
                    f"{self.model_dir} holds no streaming encoder export; make one with: parakeet-trt export "
                    f"--model <model.nemo> --out <folder> --component encoder_streaming --streaming-profile cache_aware "
                    f"--streaming-chunk-size C --streaming-shift-size S --streaming-left-chunks K "
                    f"(or --streaming-profile chunk_isolated)")
            self._streaming_encoder_engine = self._graph_engine("encoder_streaming")
        return self._streaming_encoder_engine

    @property
    def streaming_profile(self) -> str | None:
        """Profile of the folder's streaming encoder export (``cache_aware`` / ``chunk_isolated``), or None."""
        return self.model.streaming_profile

    @property
    def sample_rate_hz(self) -> int:
        return self.model.sample_rate_hz

    def transcribe(self, audio: str | Path | np.ndarray, sample_rate_hz: int | None = None) -> Transcript:
        """Transcribe a file path or an array ([frames] or [frames, channels]; any rate, resampled)."""
        if self._recognizer is None:
            raise ModelError(f"{self.model_dir} holds no offline encoder (a streaming-only export); export one with: "
                             f"parakeet-trt export --model <model.nemo> --out <folder> --component all")
        samples, source = prepare_audio(audio, sample_rate_hz, self.sample_rate_hz)
        with self._lock:
            result = self._recognizer.transcribe(samples)
        return Transcript(
            text=result["text"],
            token_ids=list(result["token_ids"]),
            token_frames=[int(f) for f in result["token_frames"]],
            token_durations=list(result["token_durations"]),
            words=[Word(w["word"], w["start_s"], w["end_s"]) for w in result["words"]],
            file=source,
            audio_duration_s=result["audio_duration_s"],
            num_encoder_frames=int(result["num_encoder_frames"]),
        )
