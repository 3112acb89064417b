"""Type stubs and documentation of the compiled core (pybind11 module ``parakeet_trt._core``).

The core is C++; these bindings only convert types, ownership and errors. Use the ``parakeet_trt``
package API (``Session``) unless you need a building block (parity tools, benchmarks, engines).

Errors: every failure raises ``ParakeetError`` or one of its subclasses (``ModelError``,
``InvalidAudioError``, ``EngineError``, ``ContractViolation``); a bad argument raises ``ValueError``.
Threading: a ``Model`` is immutable and may be shared; every other object keeps scratch buffers and
must be used by one thread at a time (``parakeet_trt.Session`` serializes its calls).
"""

from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__version__: str

class ParakeetError(RuntimeError): ...
class ModelError(ParakeetError): ...
class InvalidAudioError(ParakeetError): ...
class EngineError(ParakeetError): ...
class UnavailableError(ParakeetError): ...
class ContractViolation(ParakeetError):
    """An engine or artifact disagrees with the model's contract; the message names the field, the
    expected and the actual value."""

class Model:
    """An exported model folder (model_meta.json, vocab.txt, decoder_step.bin), checked at load."""

    @staticmethod
    def load(directory: str, verify_hashes: bool = True, full_verify: bool = False) -> Model: ...
    @property
    def hash_checks(self) -> dict[str, str]: ...
    @property
    def encoder_precision(self) -> str: ...
    directory: str
    name: str
    sample_rate_hz: int
    n_mels: int
    encoder_dim: int
    vocab_size: int
    """Tokens without blank; blank_id == vocab_size."""
    blank_id: int
    durations: list[int]
    max_symbols: int
    frame_stride_s: float
    """Seconds per encoder frame (0.08 for Parakeet)."""
    max_encoder_frames: int
    """Longest encoder input the exported graph's positional table supports."""
    encoder_file: str
    decoder_joint_file: str
    artifact_sha256: dict[str, str]
    def encoded_length(self, feature_frames: int) -> int: ...
    contract_file: str
    """``<model>.contract.json``; Model.load refuses a folder whose files disagree with it."""
    has_encoder: bool
    """Whether the export holds the offline encoder (``encoder.onnx``)."""
    streaming_profile: str | None
    """``chunk_isolated`` / ``cache_aware`` for an export with ``encoder_streaming.onnx``, else None."""
    def token_text(self, token_id: int) -> str: ...
    def piece(self, token_id: int) -> str: ...
    def detokenize(self, token_ids: list[int]) -> str:
        """Text of a token sequence (SentencePiece rules)."""
    def render(self, token_ids: list[int], token_frames: list[int], token_durations: list[int]) -> dict[str, Any]:
        """Transcript dict (text, token lists, words with start/end seconds) of decoded tokens."""

class FeatureExtractor:
    """NeMo's log-mel front end (pre-emphasis, STFT, Slaney mel, log, per-feature normalization)."""

    def __init__(self, model: Model) -> None: ...
    def num_frames(self, num_samples: int) -> int: ...
    def num_valid_frames(self, num_samples: int) -> int: ...
    def compute(self, samples: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], int]:
        """Features [n_mels, num_frames] and the number of valid frames; mono 16 kHz float32 input."""
    mel_filterbank: npt.NDArray[np.float32]

class PredictorState:
    """LSTM state (h, c: [layers * hidden]) and the projected predictor output ([joint_hidden])."""

    h: npt.NDArray[np.float32]
    c: npt.NDArray[np.float32]
    projected: npt.NDArray[np.float32]

class NativeDecoderStep:
    """The 2-layer LSTM prediction network and the TDT joint, in C++ from decoder_step.bin."""

    def __init__(self, model: Model) -> None: ...
    def make_state(self) -> PredictorState: ...
    def project_encoder(self, encoder_out: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """joint.enc for all frames: [encoder_dim, T] → [T, joint_hidden]."""
    def predict(self, token: int, state: PredictorState) -> PredictorState:
        """One prediction-network step on `token` (blank = the SOS/zero embedding)."""
    def joint(self, projected_frame: npt.NDArray[np.float32], state: PredictorState) -> npt.NDArray[np.float32]:
        """Raw logits [vocab + 1 + len(durations)]: tokens, blank, then duration logits."""

class TdtGreedyDecoder:
    """NeMo's label-looping TDT greedy decoding (greedy_batch semantics) with the max-symbols guard."""

    def __init__(self, model: Model, step: NativeDecoderStep) -> None: ...
    def decode(self, projected: npt.NDArray[np.float32], num_frames: int) -> tuple[list[int], list[int], list[int]]:
        """Decode one utterance from projected frames; returns (token_ids, frames, durations)."""

class EncoderEngine(Protocol):
    """What OfflineRecognizer calls: fill `outputs` (numpy views of the core's buffers) in place."""

    def run(self, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]) -> None: ...

class StreamingEncoderRunner:
    """Runs ``encoder_streaming.onnx`` with caches it owns, asserting the contract on every call.

    Sized from the contract at construction. ``run`` takes one window [n_mels, window_frames]
    (``pre_encode_cache_frames`` frames of the previous audio, zeros at the start, then new frames;
    the window advances ``advance_frames`` per call) and its valid length in
    [min_length, window_frames]. Raises ContractViolation (wrong feature count or window, encoded
    length, cache length, non-finite outputs, an output shape the engine refuses); after one, every
    call raises until ``reset()``.
    """

    def __init__(self, model: Model, engine: EncoderEngine) -> None: ...
    def run(self, window: np.ndarray, length: int) -> dict:
        """{"outputs": float32 [d_model, output_frames], "encoded_length": int, "cache_len": int}."""
    def reset(self) -> None:
        """Start a new stream: caches and cache length back to zero."""
    calls: int
    cache_len: int
    profile: str
    window_frames: int
    advance_frames: int
    pre_encode_cache_frames: int
    min_length: int
    output_frames: int

class OfflineRecognizer:
    """Features → encoder engine → native TDT decoding → text, tokens, words."""

    def __init__(self, model: Model, encoder_engine: EncoderEngine) -> None: ...
    def transcribe(self, samples: npt.NDArray[np.float32], decoding: str = "greedy", beam_size: int = 4,
                   nbest: int = 1) -> dict[str, Any]:
        """Keys: text, token_ids, token_frames, token_durations, token_scores, words (word, start_s,
        end_s), num_encoder_frames, audio_duration_s, nbest (decoding "beam": up to nbest dicts of text,
        score, token_ids, token_frames, token_durations, token_logprobs, words with confidence; greedy:
        []). Input: mono float32 at the model's rate."""


class StreamingSessionBase:
    """What every streaming mode shares (cpp/include/parakeet_trt/streaming.hpp, StreamingSession).

    push() and finish() return one dict per completed step: ``committed`` and ``tail`` (each with
    token_ids, token_frames, token_durations), ``audio_end_sample``, ``decoded_frames``, ``is_last``.
    The GIL is released while the core runs (the Python engine takes it back for its calls)."""

    def push(self, samples: npt.NDArray[np.float32], hypothesis: StreamHypothesis | None = None) -> list[dict[str, Any]]: ...
    def finish(self, hypothesis: StreamHypothesis | None = None) -> list[dict[str, Any]]: ...
    def redecode(self, begin_sample: int, end_sample: int) -> dict[str, Any]: ...
    @property
    def finished(self) -> bool: ...
    @property
    def samples_received(self) -> int: ...
    @property
    def samples_consumed(self) -> int: ...
    @property
    def steps(self) -> int: ...
    @property
    def encoder_frame_samples(self) -> int: ...


class BufferedStreamingSession(StreamingSessionBase):
    """NeMo's buffered streaming for one stream (cpp/include/parakeet_trt/streaming.hpp)."""

    def __init__(self, model: Model, encoder_engine: EncoderEngine, chunk_ms: int, left_ms: int, right_ms: int,
                 history_ms: int = 30000) -> None: ...


class CacheAwareStreamingSession(StreamingSessionBase):
    """NeMo's cache-aware streaming over the model's streaming encoder export, either profile
    (cpp/include/parakeet_trt/cache_aware_streaming.hpp). One step per encoder window; no tail;
    finish() returns the remaining windows' steps. redecode() raises (no audio history)."""

    def __init__(self, model: Model, streaming_encoder_engine: EncoderEngine, profile: str = "") -> None: ...
    @property
    def profile(self) -> str: ...
    @property
    def window_frames(self) -> int: ...
    @property
    def advance_frames(self) -> int: ...
    @property
    def encoder_calls(self) -> int: ...


class StreamHypothesis:
    """Committed tokens and texts of a stream (cpp/include/parakeet_trt/stream_hypothesis.hpp): committed
    text holds whole words only; the open word and the speculative tail are the tail text. Pass it to
    StreamingSessionBase.push/finish, whose step dicts then carry committed_text and tail_text."""

    def __init__(self, model: Model) -> None: ...
    @property
    def committed_text(self) -> str: ...
    @property
    def tail_text(self) -> str: ...
    @property
    def num_committed(self) -> int: ...
    def committed(self) -> dict[str, list[int]]: ...


class Engine:
    """A native engine made by make_engine (cpp/include/parakeet_trt/engine_factory.hpp). Threads: one
    engine may be shared by any number of sessions and streams, and run from several threads at once."""

    @property
    def description(self) -> str: ...


def make_engine(model: Model, graph: str, name: str = "onnxruntime", providers: list[str] = ...,
                intra_op_threads: int = 0, device_id: int = 0, onnxruntime_library: str = "",
                trt_engine_dir: str = "") -> Engine:
    """The engine running `graph` ('encoder', 'encoder_streaming', 'decoder_joint'): 'onnxruntime' (C API,
    libonnxruntime.so by dlopen) or 'tensorrt'. ValueError for an unknown name or provider (listing the
    available ones), UnavailableError where the library is missing (naming where it looked)."""


# Benchmarks (bench_bindings.cpp).
def timed_engine(engine: Engine | object) -> Engine:
    """An engine forwarding to `engine` (native, or a Python object with run()) that counts its calls and the
    time spent in them (thread-safe)."""

def engine_timing(engine: Engine) -> dict:
    """{'calls': int, 'seconds': float, 'thread_cpu_seconds': float} spent so far in a timed_engine() (wall clock;
    CPU time of the calling threads); ValueError for another engine."""

def decoder_weights_bytes(model: Model) -> int:
    """Bytes of the model's native decoder weights, held once per model and shared by its sessions and streams."""


def onnxruntime_available_providers(onnxruntime_library: str = "") -> list[str]: ...


def option_defaults() -> dict[str, dict[str, Any]]:
    """Every option's default, defined once in C++: {'stream': ..., 'transcript': ..., 'live': ..., 'engine': ...,
    'decoding': {strategy, beam_size, nbest, max_beam_size, max_nbest}}."""
def with_candidate_lanes(aggregator: str, lanes: str, fast_lane: int, commit_lane: int) -> tuple[str, int, int]:
    """(lanes, fast_lane, commit_lane) of a stream whose finals an LLM lane polishes: the captions' default
    lanes gain the beam candidate lane (live_stream.hpp); lanes a caller chose stay."""


class LiveStream:
    """One live stream (cpp/include/parakeet_trt/live_stream.hpp): audio ring (one producer thread; a
    second concurrent writer gets ParakeetError), inference thread, streaming session, transcript state,
    re-decode of finals. Keyword options as option_defaults() lists them (mode, chunk_ms, left_ms,
    right_ms, history_ms, profile, the transcript's, ring_ms, event_slots, final_redecode, ...).

    Threads: write/close from one producer thread, next_event/snapshot from one consumer thread.
    write() never blocks (overflow is dropped and counted) and raises the stream's error once it has
    stopped on one; next_event() returns a dict (``type`` 'step' or 'error', ``seq``, ``committed``,
    ``tail``, ``committed_text_added``, ``tail_text``, ``events`` (transcript events; finals carry
    ``redecoded_text``), ``audio_end_sample``, ``decoded_frames``, ``dropped_samples``, ``is_last``,
    ``error``, ``error_code``, ``lane_notices``) or None on timeout / at the end.

    Lanes (aggregator='v2'/'v3', lanes='redecode,...', commit_lag_ms, agreement_passes, fast_lane,
    commit_lane, final_timeout_ms, stall_ms; needs segment_on_endpoint): caption_lanes.hpp and
    caption_aggregator.hpp. Lanes run on encoder_engine (buffered, redecode), streaming_engine
    (cache_aware) or lane_engines[lane name]."""

    def __init__(self, model: Model, encoder_engine: Engine | EncoderEngine,
                 streaming_engine: Engine | EncoderEngine | None = None,
                 lane_engines: dict[str, Engine | EncoderEngine] | None = None, **options: Any) -> None: ...
    def lane_stats(self) -> list[dict[str, Any]]:
        """Per lane (v2/v3): name, kind, encoder_calls, shares_encoder (its calls are an earlier lane's),
        hypotheses, skipped_segments, compute_s, failed, error."""
    @property
    def uses_lanes(self) -> bool: ...
    def write(self, samples: npt.NDArray[np.float32], vad_silence_ms: float = -1.0, lossless: bool = False) -> int:
        """Stores what fits; the rest is dropped and counted, or with lossless=True left to the caller."""
    def close(self) -> None: ...
    def next_event(self, timeout_ms: int = -1) -> dict[str, Any] | None: ...
    def snapshot(self) -> dict[str, Any]: ...
    @property
    def done(self) -> bool: ...
    @property
    def dropped_samples(self) -> int: ...
    @property
    def samples_written(self) -> int: ...
    @property
    def alignment_conflicts(self) -> int: ...


class TranscriptState:
    """Live-caption transcript (cpp/include/parakeet_trt/transcript.hpp): a committed prefix that never
    changes and a revision window, turned into protocol events (docs/PATCH_PROTOCOL.md): dicts with
    ``type`` ('patch', 'final', 'snapshot'), ``seq`` and the type's fields. Options as in the protocol
    document (0 turns a rule off); a bad one is a ValueError naming it."""

    def __init__(self, model: Model, stable_updates: int = 2, max_lag_ms: int = 1200, max_window_tokens: int = 32,
                 endpoint_blank_ms: int = 800, endpoint_vad_ms: int = 0, endpoint_require_both: bool = False,
                 commit_whole_words: bool = True) -> None: ...
    def apply_step(self, stable: dict[str, Any], tail: dict[str, Any], audio_end_s: float,
                   vad_silence_ms: float = -1.0) -> list[dict[str, Any]]:
        """stable / tail: {'token_ids', 'token_frames', 'token_durations'} (a streaming step's committed and tail)."""
    def apply_hypothesis(self, token_ids: list[int], token_frames: list[int], token_durations: list[int],
                         audio_end_s: float, vad_silence_ms: float = -1.0) -> list[dict[str, Any]]: ...
    def endpoint(self, audio_end_s: float) -> list[dict[str, Any]]: ...
    def finish(self, audio_end_s: float) -> list[dict[str, Any]]: ...
    def snapshot(self) -> dict[str, Any]: ...
    @property
    def committed_text(self) -> str: ...
    @property
    def partial_text(self) -> str: ...
    @property
    def display_text(self) -> str: ...
    @property
    def committed_len(self) -> int: ...
    @property
    def num_committed_tokens(self) -> int: ...
    @property
    def num_window_tokens(self) -> int: ...
    @property
    def words(self) -> list[dict[str, Any]]: ...
    @property
    def last_seq(self) -> int: ...
    @property
    def segments(self) -> int: ...
    @property
    def alignment_conflicts(self) -> int: ...
    @property
    def live_edge_s(self) -> float: ...
    @property
    def finished(self) -> bool: ...

# --- TDT beam search (cpp/python/beam_bindings.cpp) ---

class TdtBeamDecoder:
    """NeMo 3.0.0's TDT beam search (``strategy="beam"``: BeamTDTInfer, search_type "default") on
    projected encoder frames, with its own NativeDecoderStep on the model's shared weights.

    ``decode`` returns NeMo's n-best list, best first (by score / (tokens + 1) with ``score_norm``;
    it may hold more than ``beam_size`` hypotheses, as NeMo's). Each hypothesis is a dict:
    ``token_ids``, ``token_frames`` (emission frame; NeMo's beam timestamp is frame + duration),
    ``token_durations``, ``score`` (NeMo's Hypothesis.score, unnormalized), ``sort_key``,
    ``last_frame``, ``token_logprobs`` (log_softmax over tokens + blank at the token),
    ``duration_logprobs``, ``text`` and ``words``: [{word, confidence, first_token, num_tokens}]
    with confidence = min over the word's tokens of exp(token_logprob).
    """

    def __init__(self, model: Model, beam_size: int = 4, score_norm: bool = True,
                 softmax_temperature: float = 1.0, max_expansions_per_frame: int = 100) -> None: ...
    @property
    def beam_size(self) -> int: ...
    @property
    def peak_expansions_per_frame(self) -> int:
        """Of the last decode: the most expansions (joint evaluations) one frame needed."""
    @property
    def expansion_bound_reached(self) -> bool:
        """Of the last decode: max_expansions_per_frame cut a frame (NeMo has no bound)."""
    def decode(self, projected: npt.NDArray[np.float32], num_frames: int) -> list[dict[str, Any]]: ...


def check_polish(heard: list[dict[str, Any]], candidates: list[dict[str, Any]], editable_start_s: float,
                 editable_end_s: float, polished: str) -> dict[str, Any]:
    """The LLM lane's guardrails: {accepted, rejection, reason, text, words, edits} for the model's answer."""
    ...


def normalize_word(word: str) -> str: ...


# Cross-stream batching (batching_bindings.cpp, batching_engine.hpp).
class BatchingOptions:
    """window_ms (0..100): how long a batch's first call waits for other active callers' calls; max_batch
    (1..1024; 1: no batching); max_inflight (1..64): batches running at once. ValueError naming the field
    when out of range."""

    window_ms: float
    max_batch: int
    max_inflight: int
    def __init__(self, window_ms: float = 5.0, max_batch: int = 32, max_inflight: int = 1) -> None: ...

def batching_engine(engine: Engine | object, options: BatchingOptions = ...) -> Engine:
    """An engine shared by many streams that stacks their equal-shape calls (dimension 0) into one call of
    `engine`; unequal shapes run alone."""

def batching_stats(engine: Engine) -> dict:
    """{'calls', 'batches', 'batched_calls', 'largest_batch', 'window_waits'} of a batching_engine()."""

def run_engine(engine: Engine | object, inputs: dict[str, npt.NDArray[Any]],
               outputs: dict[str, npt.NDArray[Any]]) -> None:
    """Run an engine once: inputs by name, pre-shaped outputs filled in place (GIL released)."""


# Batched offline transcription (batch_transcriber_bindings.cpp, batch_transcriber.hpp).
class BatchTranscriber:
    """Many utterances in length-sorted, padded encoder batches of batch_size (1..256), decoder per utterance;
    workers (1..64) threads take batches and call the encoder engine concurrently."""

    batch_size: int
    workers: int
    max_workers: int  # class attribute: workers' upper bound (BatchTranscribeOptions::kMaxWorkers)
    encoder_calls: int
    def __init__(self, model: Model, encoder_engine: EncoderEngine, batch_size: int = 8, workers: int = 1) -> None: ...
    def transcribe(self, utterances: list[npt.NDArray[np.float32]]) -> list[dict[str, Any] | Exception]:
        """One entry per utterance, in order: its transcript dict (as OfflineRecognizer.transcribe) or the
        exception it got (InvalidAudioError, EngineError, ...; not raised)."""
