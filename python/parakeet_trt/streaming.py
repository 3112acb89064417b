"""Streaming transcription: push audio as it arrives, get hypothesis updates, finish at the end.

    session = parakeet_trt.Session("demo")
    stream = parakeet_trt.StreamingSession(session, mode="buffered", chunk_ms=560, left_ms=10000, right_ms=560)
    for block in blocks:                       # any block size, 16 kHz mono float32
        for update in stream.push(block):
            print(update.committed_text, "|", update.tail_text)
    final = stream.finish()[-1]

Modes:

* ``buffered``: NeMo's buffered (chunked) inference with left, chunk and right context, run by the
  C++ core (``parakeet_trt/streaming.hpp`` explains the algorithm). Token for token equal to
  NeMo's own buffered streaming at the same settings.
* ``cache_aware``: the folder's streaming encoder export (``--component encoder_streaming``, profile
  ``cache_aware`` or ``chunk_isolated``) with caches the stream owns, features normalized per window
  as NeMo's online normalization does (``parakeet_trt/cache_aware_streaming.hpp``). Token for token
  equal to NeMo's own cache-aware streaming (conformer_stream_step) with the export's parameters.
  The chunking is the export's (chunk_ms/left_ms/right_ms do not apply); no speculative tail;
  ``streaming_profile`` optionally requires the export's profile.

An update carries every committed token so far (committed tokens never change), the speculative
tail decoded from the right context (replaced by the next update), and the stream time they
reflect. ``final_redecode=True`` replaces the final text by an offline decode of the whole
stream at ``finish()`` (when it fits the retained history, ``history_ms``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np

from parakeet_trt import _core
from parakeet_trt.errors import InvalidAudioError, ModelError, ParakeetError
from parakeet_trt.session import Session, Transcript, Word

MODES = ("buffered", "cache_aware")


@dataclass
class HypothesisUpdate:
    """The stream's hypothesis after one step."""

    committed_token_ids: list[int]
    committed_token_frames: list[int]
    tail_token_ids: list[int]
    tail_token_frames: list[int]
    committed_text: str
    tail_text: str
    new_committed: int            # tokens committed by this step (the last ones of committed_token_ids)
    audio_end_s: float            # stream time of the last sample this update reflects
    decoded_frames: int
    is_final: bool = False
    final: Transcript | None = field(default=None, repr=False)  # set on the final update

    @property
    def text(self) -> str:
        """Committed text followed by the tail: what a caption shows now."""
        return self.committed_text + self.tail_text if self.tail_text else self.committed_text


class _Hypothesis:
    """Committed tokens of one stream so far, and the update each step's tokens make of them."""

    def __init__(self, model, sample_rate_hz: int):
        self._model = model
        self._sample_rate_hz = sample_rate_hz
        self.ids: list[int] = []
        self.frames: list[int] = []
        self.durations: list[int] = []

    def text(self, ids: list[int]) -> str:
        return self._model.detokenize(ids) if ids else ""

    def apply(self, step: dict) -> HypothesisUpdate:
        """``step``: the core's dict (``committed``, ``tail``, ``audio_end_sample``, ``decoded_frames``,
        ``is_last``). Text is re-rendered from all committed ids (SentencePiece joins pieces across
        token boundaries); this is linear in the stream's length per update."""
        committed, tail = step["committed"], step["tail"]
        self.ids += committed["token_ids"]
        self.frames += [int(f) for f in committed["token_frames"]]
        self.durations += [int(d) for d in committed["token_durations"]]
        committed_text = self.text(self.ids)
        tail_text = self.text(self.ids + tail["token_ids"])[len(committed_text):] if tail["token_ids"] else ""
        return HypothesisUpdate(
            committed_token_ids=list(self.ids), committed_token_frames=list(self.frames),
            tail_token_ids=list(tail["token_ids"]), tail_token_frames=[int(f) for f in tail["token_frames"]],
            committed_text=committed_text, tail_text=tail_text, new_committed=len(committed["token_ids"]),
            audio_end_s=step["audio_end_sample"] / self._sample_rate_hz, decoded_frames=int(step["decoded_frames"]),
            is_final=bool(step["is_last"]))


def _make_core_session(session: Session, mode: str, chunk_ms: int, left_ms: int, right_ms: int, history_ms: int,
                       streaming_profile: str | None):
    if mode == "cache_aware":
        return _core.CacheAwareStreamingSession(session.model, session.streaming_encoder_engine,
                                                profile=streaming_profile or "")
    if session.encoder_engine is None:
        raise ModelError(f"{session.model_dir} holds no offline encoder for the buffered mode; use mode='cache_aware' "
                         f"with its streaming encoder, or export one with --component all")
    try:
        return _core.BufferedStreamingSession(session.model, session.encoder_engine, chunk_ms=int(chunk_ms),
                                              left_ms=int(left_ms), right_ms=int(right_ms), history_ms=int(history_ms))
    except ValueError as error:
        raise ValueError(f"streaming config: {error}") from None


class StreamingSession:
    """One audio stream through a :class:`Session`'s model and encoder engine (one at a time)."""

    def __init__(self, session: Session | str | None = None, *, mode: str = "buffered", chunk_ms: int = 560,
                 left_ms: int = 10000, right_ms: int = 560, final_redecode: bool = False, history_ms: int = 30000,
                 streaming_profile: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "cache_aware" and final_redecode:
            raise ValueError("final_redecode needs the buffered mode (a cache-aware stream keeps no audio history)")
        self.session = session if isinstance(session, Session) else Session(session)
        self.mode = mode
        self.final_redecode = final_redecode
        self.sample_rate_hz = self.session.sample_rate_hz
        self._hypothesis = _Hypothesis(self.session.model, self.sample_rate_hz)
        self._core = _make_core_session(self.session, mode, chunk_ms, left_ms, right_ms, history_ms,
                                        streaming_profile)
        self._lock = threading.Lock()

    # --- pushing audio ----------------------------------------------------------------------

    def push(self, samples: np.ndarray, sample_rate_hz: int | None = None) -> list[HypothesisUpdate]:
        """Append mono float32 samples at the model's rate; returns the updates of the steps they completed.

        A block with NaN/Inf samples, or declared at another ``sample_rate_hz``, is refused whole
        (InvalidAudioError) and changes nothing: resample before streaming (the live pipeline does)."""
        if sample_rate_hz is not None and int(sample_rate_hz) != self.sample_rate_hz:
            raise InvalidAudioError(f"push() got audio at {sample_rate_hz} Hz; this stream takes "
                                    f"{self.sample_rate_hz} Hz mono (resample first)")
        block = np.ascontiguousarray(samples, dtype=np.float32)
        if block.ndim != 1:
            raise ValueError(f"push() takes mono samples (1-D), got shape {block.shape}")
        with self._lock:
            with self.session._lock:
                steps = self._core.push(block)
            return [self._hypothesis.apply(s) for s in steps]

    def finish(self) -> list[HypothesisUpdate]:
        """Flush the remaining audio and close the stream; the returned list ends with the final update."""
        with self._lock:
            with self.session._lock:
                steps = self._core.finish()
                redecoded = None
                if self.final_redecode and self._core.samples_received > 0:
                    try:
                        redecoded = self._core.redecode(0, self._core.samples_received)
                    except ParakeetError:
                        redecoded = None  # longer than the retained history: the streamed text stands
            updates = [self._hypothesis.apply(s) for s in steps]
            final = updates[-1]
            final.is_final = True
            final.final = self._final_transcript(redecoded)
            return updates

    # --- state ------------------------------------------------------------------------------

    @property
    def committed_token_ids(self) -> list[int]:
        return list(self._hypothesis.ids)

    @property
    def finished(self) -> bool:
        return self._core.finished

    def _final_transcript(self, redecoded: dict | None) -> Transcript:
        """The stream's transcript: the offline re-decode when there is one, else the committed tokens."""
        duration = self._core.samples_received / self.sample_rate_hz
        result = redecoded
        if result is None:
            h = self._hypothesis
            result = self.session.model.render(h.ids, h.frames, h.durations)
            result["num_encoder_frames"] = int(self._core.samples_consumed // self._core.encoder_frame_samples)
        return Transcript(text=result["text"], token_ids=list(result["token_ids"]),
                          token_frames=[int(f) for f in result["token_frames"]],
                          token_durations=list(result["token_durations"]),
                          words=[Word(w["word"], w["start_s"], w["end_s"]) for w in result["words"]],
                          audio_duration_s=duration, num_encoder_frames=int(result["num_encoder_frames"]))


class BackgroundStream:
    """A stream (buffered or cache_aware) decoded on its own C++ inference thread (the GIL released while it waits).

        stream = BackgroundStream(session, chunk_ms=560, left_ms=10000, right_ms=560)
        stream.write(block)               # from the audio thread; never blocks, returns samples stored
        for update in stream.updates(timeout_s=0.1): ...   # from the consumer
        stream.close()                    # end of audio; updates() then ends with the final update

    Audio goes through a lock-free ring of ``ring_ms``: a block that does not fit is cut and the
    dropped samples are counted (``dropped_samples``); events are never dropped (when
    ``event_slots`` updates wait unread, the inference thread waits). An engine error ends the
    stream: ``updates()`` raises it after the updates before it, which stay committed.
    """

    def __init__(self, session: Session, *, mode: str = "buffered", chunk_ms: int = 560, left_ms: int = 10000,
                 right_ms: int = 560, ring_ms: int = 10000, event_slots: int = 64,
                 streaming_profile: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.session = session
        self.sample_rate_hz = session.sample_rate_hz
        self._hypothesis = _Hypothesis(session.model, self.sample_rate_hz)
        if mode == "cache_aware":
            self._worker = _core.StreamingWorker.cache_aware(session.model, session.streaming_encoder_engine,
                                                             profile=streaming_profile or "", ring_ms=int(ring_ms),
                                                             event_slots=int(event_slots))
        else:
            self._worker = _core.StreamingWorker(session.model, session.encoder_engine, chunk_ms=int(chunk_ms),
                                                 left_ms=int(left_ms), right_ms=int(right_ms), ring_ms=int(ring_ms),
                                                 event_slots=int(event_slots))

    def write(self, samples: np.ndarray) -> int:
        block = np.ascontiguousarray(samples, dtype=np.float32)
        if block.ndim != 1:
            raise ValueError(f"write() takes mono samples (1-D), got shape {block.shape}")
        return self._worker.write(block)

    def close(self) -> None:
        self._worker.close()

    @property
    def dropped_samples(self) -> int:
        return self._worker.dropped_samples

    def updates(self, timeout_s: float | None = None):
        """Yield updates as they come; stops on a timeout (None: wait) or after the final update."""
        timeout_ms = -1 if timeout_s is None else int(timeout_s * 1000)
        while True:
            event = self._worker.next_event(timeout_ms)
            if event is None:
                return
            if event["type"] == "error":
                raise ParakeetError(f"streaming stopped: {event['error']}")
            yield self._hypothesis.apply(event)
            if event["is_last"]:
                return
