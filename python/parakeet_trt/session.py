"""The Python API: load a model, transcribe files or arrays."""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from parakeet_trt import _core
from parakeet_trt.audio import prepare_audio
from parakeet_trt.errors import ModelError, ParakeetError
from parakeet_trt.models import resolve_model_dir


@dataclass
class Word:
    word: str
    start_s: float
    end_s: float


@dataclass
class ScoredWord:
    """A word of an n-best hypothesis with its confidence: the minimum over its tokens of the token's
    probability (NeMo's ``max_prob`` measure with ``min`` word aggregation)."""

    word: str
    start_s: float
    end_s: float
    confidence: float


@dataclass
class Hypothesis:
    """One entry of a beam search's n-best list. ``score`` is NeMo's hypothesis score: the path's summed
    log-probability (tokens, durations, blanks)."""

    text: str
    score: float
    token_ids: list[int]
    token_frames: list[int]
    token_durations: list[int]
    words: list[ScoredWord] = field(default_factory=list)

    @classmethod
    def from_core(cls, h: dict) -> "Hypothesis":
        return cls(text=h["text"], score=float(h["score"]), token_ids=list(h["token_ids"]),
                   token_frames=[int(f) for f in h["token_frames"]], token_durations=list(h["token_durations"]),
                   words=[ScoredWord(w["word"], w["start_s"], w["end_s"], w["confidence"]) for w in h["words"]])


DECODING = _core.option_defaults()["decoding"]  # every decoding option's default, defined once in C++ (decoding.hpp)
DECODING_STRATEGIES = ("greedy", "beam")


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
    nbest: list[Hypothesis] = field(default_factory=list)  # decoding="beam": best first; greedy: empty

    def to_json_dict(self) -> dict:
        out = {"file": self.file, "text": self.text, "token_ids": self.token_ids,
               "token_frames": self.token_frames, "token_durations": self.token_durations,
               "words": [asdict(w) for w in self.words]}
        if self.nbest:
            out["nbest"] = [asdict(h) for h in self.nbest]
        return out


ENGINES = ("onnxruntime", "tensorrt")


def onnxruntime_library() -> str:
    """The ``libonnxruntime.so`` to load: $PTRT_ONNXRUNTIME_LIBRARY when set (the core's own first choice,
    which an explicit path would otherwise override), else the one the installed onnxruntime wheel ships
    ("" when there is none: the core then tries the loader's path and names where it looked)."""
    import importlib.util
    import os

    if os.environ.get("PTRT_ONNXRUNTIME_LIBRARY"):
        return os.environ["PTRT_ONNXRUNTIME_LIBRARY"]

    spec = importlib.util.find_spec("onnxruntime")
    for location in (spec.submodule_search_locations or []) if spec else []:
        found = sorted((Path(location) / "capi").glob("libonnxruntime.so*"))
        if found:
            return str(found[0])
    return ""


def _transcript_of(result: dict, source) -> Transcript:
    """A Transcript from the core's transcript dict."""
    return Transcript(
        text=result["text"],
        token_ids=list(result["token_ids"]),
        token_frames=[int(f) for f in result["token_frames"]],
        token_durations=list(result["token_durations"]),
        words=[Word(w["word"], w["start_s"], w["end_s"]) for w in result["words"]],
        file=source,
        audio_duration_s=result["audio_duration_s"],
        num_encoder_frames=int(result["num_encoder_frames"]),
        nbest=[Hypothesis.from_core(h) for h in result.get("nbest", [])],
    )


class Session:
    """Offline transcription, and the model and engines every stream on it shares.

    ``model`` is an exported model folder (``parakeet-trt export``) or a packaged model name
    ('demo'). ``engine`` runs the encoder graphs in C++: ``onnxruntime`` (ONNX Runtime's C API,
    ``providers`` in ONNX Runtime's names, default CUDA then CPU; an unknown or unavailable provider is
    a ValueError listing those available) or ``tensorrt`` (engines built by ``parakeet-trt build-trt`` in
    ``trt_engine_dir``, default the model folder; ``TensorRTUnavailable``, exit code 7 in the CLI,
    without TensorRT). ``engine`` may also be a dict mapping graph names ("encoder",
    "encoder_streaming") to external engines: Python objects with ``run(inputs, outputs)``.
    Features, decoding and the engines run in C++: no Python runs per chunk or per token.
    ``batching`` (a ``_core.BatchingOptions``): the encoder engines are shared through a C++
    BatchingEngine, so streams on several threads whose encoder calls coincide run them as one
    batched call (the server's replicas); None (default): every call runs on its own.
    ``allow_spinning`` (onnxruntime, a bool): True (default, ONNX Runtime's own): its threads spin-wait for
    work, the fastest for offline transcription; False: they block, which makes offline work about 1.28x
    slower but saves most of the CPU when short streaming calls come with gaps between them (a real-time
    stream used 0.35x the CPU; docs/BENCH_THREAD_SPINNING.md). The live pipeline and the server pass False.

    Threads: a Session, its model and its engines may be shared by any number of threads, streams
    and live streams; its own transcribe() calls run one at a time.
    """

    def __init__(self, model: str | Path | None = None, providers: list[str] | None = None,
                 verify_hashes: bool = True, intra_op_threads: int = 0, engine: str | dict = "onnxruntime",
                 trt_engine_dir: str | Path | None = None, onnxruntime_library_path: str | Path | None = None,
                 batching=None, allow_spinning: bool = True):
        if not isinstance(allow_spinning, bool):
            raise TypeError(f"allow_spinning must be True or False, got {allow_spinning!r}")
        if isinstance(engine, str) and engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES} or a dict of external engines, got {engine!r}")
        self.model_dir = resolve_model_dir(model)
        self.model = _core.Model.load(str(self.model_dir), verify_hashes)
        meta = json.loads((self.model_dir / "model_meta.json").read_text())
        self.meta = meta
        self.engine = engine if isinstance(engine, str) else "external"
        self._external = dict(engine) if isinstance(engine, dict) else {}
        self._engine_kwargs = dict(
            name=self.engine, providers=list(providers or []), intra_op_threads=int(intra_op_threads),
            allow_spinning=allow_spinning,
            onnxruntime_library=str(onnxruntime_library_path or onnxruntime_library()),
            trt_engine_dir=str(trt_engine_dir or self.model_dir))
        self._engines: dict = {}
        self._batching = batching
        # A folder with only a streaming encoder export (--component encoder_streaming) serves
        # cache-aware streams; offline transcription then says how to export the offline encoder.
        self.encoder_engine = self.graph_engine("encoder") if "encoder" in meta["graphs"] else None
        self._recognizer = (_core.OfflineRecognizer(self.model, self.encoder_engine)
                            if self.encoder_engine is not None else None)
        # The core reuses its buffers between calls: one transcription at a time per Session.
        self._lock = threading.Lock()

    def graph_engine(self, graph: str):
        """The engine of one graph, made once and shared by every stream of this Session."""
        if graph not in self._engines:
            if graph in self._external:
                self._engines[graph] = self._external[graph]
            elif self.engine == "external":
                raise ValueError(f"no external engine given for graph {graph!r}")
            else:
                try:
                    self._engines[graph] = _core.make_engine(self.model, graph, **self._engine_kwargs)
                    if self._batching is not None and graph.startswith("encoder"):
                        self._engines[graph] = _core.batching_engine(self._engines[graph], self._batching)
                except _core.UnavailableError as error:
                    if self.engine == "tensorrt":
                        from parakeet_trt.tensorrt import TensorRTUnavailable

                        raise TensorRTUnavailable(str(error)) from None
                    raise
        return self._engines[graph]

    @property
    def streaming_encoder_engine(self):
        """The engine of the folder's streaming encoder export (cache-aware streams), made on first use."""
        if "encoder_streaming" not in self.meta["graphs"]:
            from parakeet_trt.cli import CACHE_AWARE_TRY

            raise ModelError(
                f"{self.model_dir} holds no streaming encoder export; make one with: parakeet-trt export "
                f"--model <model.nemo> --out <folder> --component encoder_streaming --streaming-profile cache_aware "
                f"--streaming-chunk-size 64 --streaming-shift-size 32 --streaming-left-chunks 4 --device cpu "
                f"(or --streaming-profile chunk_isolated). To try it on the packaged demo model: {CACHE_AWARE_TRY}")
        return self.graph_engine("encoder_streaming")

    @property
    def streaming_profile(self) -> str | None:
        """Profile of the folder's streaming encoder export (``cache_aware`` / ``chunk_isolated``), or None."""
        return self.model.streaming_profile

    @property
    def sample_rate_hz(self) -> int:
        return self.model.sample_rate_hz

    def transcribe(self, audio: str | Path | np.ndarray, sample_rate_hz: int | None = None,
                   decoding: str = DECODING["strategy"], beam_size: int = DECODING["beam_size"],
                   nbest: int = DECODING["nbest"]) -> Transcript:
        """Transcribe a file path or an array ([frames] or [frames, channels]; any rate, resampled).

        ``decoding``: ``"greedy"`` (TDT greedy, NeMo's default) or ``"beam"`` (NeMo's TDT beam search,
        ``strategy: beam``, on the same encoder output) with ``beam_size`` hypotheses per frame
        (1..64) and the ``nbest`` best (1..64) in ``Transcript.nbest`` with their scores and word
        confidences; the transcript's text is the best one's. A bad option is a ValueError naming it.
        """
        self._require_offline_encoder()
        samples, source = prepare_audio(audio, sample_rate_hz, self.sample_rate_hz)
        with self._lock:
            result = self._recognizer.transcribe(samples, decoding, int(beam_size), int(nbest))
        return _transcript_of(result, source)

    def _require_offline_encoder(self) -> None:
        if self._recognizer is None:
            raise ModelError(f"{self.model_dir} holds no offline encoder (a streaming-only export); export one with: "
                             f"parakeet-trt export --model <model.nemo> --out <folder> --component all")

    def transcribe_batch(self, audios: list, batch_size: int = 8, workers: int = 1) -> list:
        """Transcribe many files or arrays (at the model's rate) in length-sorted, padded encoder batches of
        ``batch_size`` (C++ BatchTranscriber; the features of the next batch are computed while the encoder
        runs). ``workers`` threads take batches and call the encoder concurrently: on CPU, make the Session
        with ``intra_op_threads=1`` and give one worker per core (faster than one worker on all the threads
        for short files, docs/BENCH_BATCH_TRANSCRIBE.md). One entry per audio, in order: its Transcript, or
        the error it got (not raised: a ParakeetError, or a ValueError for a bad argument of that audio);
        files that cannot be read get theirs too. Token-identical to transcribe() one by one with an fp32
        export; an int8 export quantizes each activation with the whole batch's range, so a word may differ."""
        self._require_offline_encoder()
        prepared: list = []
        for audio in audios:
            try:
                rate = None if isinstance(audio, (str, Path, bytes)) else self.sample_rate_hz
                prepared.append(prepare_audio(audio, rate, self.sample_rate_hz))
            except ParakeetError as error:
                prepared.append(error)
        readable = [p for p in prepared if not isinstance(p, Exception)]
        transcriber = _core.BatchTranscriber(self.model, self.encoder_engine, batch_size, workers)
        results = iter(transcriber.transcribe([samples for samples, _ in readable]))
        out = []
        for p in prepared:
            if isinstance(p, Exception):
                out.append(p)
                continue
            result = next(results)
            out.append(result if isinstance(result, Exception) else _transcript_of(result, p[1]))
        return out
