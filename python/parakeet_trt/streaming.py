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

import contextlib
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
    dropped_samples: int = 0      # audio lost so far to ring overflow (BackgroundStream); later times shift by it
    final: Transcript | None = field(default=None, repr=False)  # set on the final update

    @property
    def text(self) -> str:
        """Committed text followed by the tail: what a caption shows now."""
        return self.committed_text + self.tail_text if self.tail_text else self.committed_text


DEFAULTS = _core.option_defaults()  # every option's default, defined once in C++ (live_stream.hpp)
_STREAM = DEFAULTS["stream"]


def mono_float32(samples, what: str) -> np.ndarray:
    """A block as 1-D float32 for the core. Integer PCM is scaled to [-1, 1) (int16 by 32768, int32 by
    2**31, uint8 around 128), as Session.transcribe scales files; anything else is refused clearly."""
    if samples is None:
        raise InvalidAudioError(f"{what}() got None instead of samples")
    block = np.asarray(samples)
    if block.ndim != 1:
        raise ValueError(f"{what}() takes mono samples (1-D), got shape {block.shape}")
    if block.dtype == np.int16:
        return block.astype(np.float32) / 32768.0
    if block.dtype == np.int32:
        return (block.astype(np.float64) / 2147483648.0).astype(np.float32)
    if block.dtype == np.uint8:
        return (block.astype(np.float32) - 128.0) / 128.0
    if block.dtype.kind not in "fiu":
        raise InvalidAudioError(f"{what}() takes float or integer PCM samples, got dtype {block.dtype}")
    if block.dtype.kind in "iu":
        raise InvalidAudioError(f"{what}() got {block.dtype} samples; pass float32 in [-1, 1] or int16/int32 PCM")
    return np.ascontiguousarray(block, dtype=np.float32)


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


def _engine_lock(session: Session):
    """External (Python) engines may not be thread-safe: their calls go one at a time through the
    Session's lock. Native engines are shared freely."""
    return session._lock if session.engine == "external" else contextlib.nullcontext()


class StreamingSession:
    """One audio stream through a :class:`Session`'s model and encoder engine (one caller at a time).

    Defaults come from the core (``DEFAULTS["stream"]``)."""

    def __init__(self, session: Session | str | None = None, *, mode: str = _STREAM["mode"],
                 chunk_ms: int = _STREAM["chunk_ms"], left_ms: int = _STREAM["left_ms"],
                 right_ms: int = _STREAM["right_ms"], final_redecode: bool = False,
                 history_ms: int = _STREAM["history_ms"], streaming_profile: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if mode == "cache_aware" and final_redecode:
            raise ValueError("final_redecode needs the buffered mode (a cache-aware stream keeps no audio history)")
        self.session = session if isinstance(session, Session) else Session(session)
        self.mode = mode
        self.final_redecode = final_redecode
        self.sample_rate_hz = self.session.sample_rate_hz
        self._core = _make_core_session(self.session, mode, chunk_ms, left_ms, right_ms, history_ms,
                                        streaming_profile)
        self._hypothesis = _core.StreamHypothesis(self.session.model)
        self._ids: list[int] = []
        self._frames: list[int] = []
        self._durations: list[int] = []
        self._lock = threading.Lock()

    # --- pushing audio ----------------------------------------------------------------------

    def push(self, samples: np.ndarray, sample_rate_hz: int | None = None) -> list[HypothesisUpdate]:
        """Append mono samples at the model's rate; returns the updates of the steps they completed.

        float32 in [-1, 1], or integer PCM (int16/int32, scaled as files are). A block with NaN/Inf
        samples, or declared at another ``sample_rate_hz``, is refused whole (InvalidAudioError) and
        changes nothing: resample before streaming (the live pipeline does)."""
        if sample_rate_hz is not None and int(sample_rate_hz) != self.sample_rate_hz:
            raise InvalidAudioError(f"push() got audio at {sample_rate_hz} Hz; this stream takes "
                                    f"{self.sample_rate_hz} Hz mono (resample first)")
        block = mono_float32(samples, "push")
        with self._lock, _engine_lock(self.session):
            steps = self._core.push(block, self._hypothesis)
            return [self._update(s) for s in steps]

    def finish(self) -> list[HypothesisUpdate]:
        """Flush the remaining audio and close the stream; the returned list ends with the final update."""
        with self._lock, _engine_lock(self.session):
            steps = self._core.finish(self._hypothesis)
            redecoded = None
            if self.final_redecode and self._core.samples_received > 0:
                try:
                    redecoded = self._core.redecode(0, self._core.samples_received)
                except ParakeetError:
                    redecoded = None  # longer than the retained history: the streamed text stands
            updates = [self._update(s) for s in steps]
            final = updates[-1]
            final.is_final = True
            final.final = self._final_transcript(redecoded)
            return updates

    def _update(self, step: dict) -> HypothesisUpdate:
        committed, tail = step["committed"], step["tail"]
        self._ids += committed["token_ids"]
        self._frames += committed["token_frames"]
        self._durations += committed["token_durations"]
        return HypothesisUpdate(
            committed_token_ids=list(self._ids), committed_token_frames=list(self._frames),
            tail_token_ids=tail["token_ids"], tail_token_frames=tail["token_frames"],
            committed_text=step["committed_text"], tail_text=step["tail_text"],
            new_committed=len(committed["token_ids"]), audio_end_s=step["audio_end_sample"] / self.sample_rate_hz,
            decoded_frames=int(step["decoded_frames"]), is_final=bool(step["is_last"]))

    # --- state ------------------------------------------------------------------------------

    @property
    def committed_token_ids(self) -> list[int]:
        return list(self._ids)

    @property
    def finished(self) -> bool:
        return self._core.finished

    def _final_transcript(self, redecoded: dict | None) -> Transcript:
        """The stream's transcript: the offline re-decode when there is one, else the committed tokens."""
        duration = self._core.samples_received / self.sample_rate_hz
        result = redecoded
        if result is None:
            result = self.session.model.render(self._ids, self._frames, self._durations)
            result["num_encoder_frames"] = int(self._core.samples_consumed // self._core.encoder_frame_samples)
        return Transcript(text=result["text"], token_ids=list(result["token_ids"]),
                          token_frames=[int(f) for f in result["token_frames"]],
                          token_durations=list(result["token_durations"]),
                          words=[Word(w["word"], w["start_s"], w["end_s"]) for w in result["words"]],
                          audio_duration_s=duration, num_encoder_frames=int(result["num_encoder_frames"]))


class BackgroundStream:
    """A stream decoded on its own C++ inference thread: a thin wrapper of the core's LiveStream.

        stream = BackgroundStream(session, chunk_ms=560, left_ms=10000, right_ms=560)
        stream.write(block)               # from ONE producer thread; never blocks, returns samples stored
        for update in stream.updates(timeout_s=0.1): ...   # from the consumer
        stream.close()                    # end of audio; updates() then ends with the final update

    Audio goes through a lock-free ring of ``ring_ms``: a block that does not fit is cut and the
    dropped samples are counted (``dropped_samples``, and each update's ``dropped_samples``); a second
    thread writing at the same time gets a ParakeetError instead of silently losing audio. Events are
    never dropped. An engine error ends the stream: ``updates()`` raises it after the updates before
    it (which stay committed), and ``write()`` raises it from then on.
    """

    def __init__(self, session: Session, *, mode: str = _STREAM["mode"], chunk_ms: int = _STREAM["chunk_ms"],
                 left_ms: int = _STREAM["left_ms"], right_ms: int = _STREAM["right_ms"],
                 ring_ms: int = DEFAULTS["live"]["ring_ms"], event_slots: int = DEFAULTS["live"]["event_slots"],
                 streaming_profile: str | None = None, history_ms: int = 0):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if session.engine == "external":
            raise ValueError("BackgroundStream needs a native engine (an external Python engine would be driven "
                             "from the inference thread without the Session's lock)")
        self.session = session
        self.sample_rate_hz = session.sample_rate_hz
        engine = session.streaming_encoder_engine if mode == "cache_aware" else session.encoder_engine
        self._live = _core.LiveStream(session.model, engine, mode=mode, chunk_ms=int(chunk_ms), left_ms=int(left_ms),
                                      right_ms=int(right_ms), history_ms=int(history_ms),
                                      profile=streaming_profile or "", ring_ms=int(ring_ms),
                                      event_slots=int(event_slots))
        self._ids: list[int] = []
        self._frames: list[int] = []
        self._committed_text = ""

    def write(self, samples: np.ndarray) -> int:
        return self._live.write(mono_float32(samples, "write"))

    def close(self) -> None:
        self._live.close()

    @property
    def dropped_samples(self) -> int:
        return self._live.dropped_samples

    def updates(self, timeout_s: float | None = None):
        """Yield updates as they come; stops on a timeout (None: wait) or after the final update."""
        timeout_ms = -1 if timeout_s is None else int(timeout_s * 1000)
        while True:
            event = self._live.next_event(timeout_ms)
            if event is None:
                return
            if event["type"] == "error":
                raise ParakeetError(f"streaming stopped: {event['error']}")
            committed, tail = event["committed"], event["tail"]
            self._ids += committed["token_ids"]
            self._frames += committed["token_frames"]
            self._committed_text += event["committed_text_added"]
            yield HypothesisUpdate(
                committed_token_ids=list(self._ids), committed_token_frames=list(self._frames),
                tail_token_ids=tail["token_ids"], tail_token_frames=tail["token_frames"],
                committed_text=self._committed_text, tail_text=event["tail_text"],
                new_committed=len(committed["token_ids"]), dropped_samples=int(event["dropped_samples"]),
                audio_end_s=event["audio_end_sample"] / self.sample_rate_hz,
                decoded_frames=int(event["decoded_frames"]), is_final=bool(event["is_last"]))
            if event["is_last"]:
                return
