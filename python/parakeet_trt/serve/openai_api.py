"""``POST /v1/audio/transcriptions`` and ``GET /v1/models`` in OpenAI's shapes, over ``Session.transcribe``.

The upload is written to a temporary file and read like any file ``parakeet-trt transcribe`` reads
(``prepare_audio``: any libsndfile format, rate and channel count), off the event loop.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

RESPONSE_FORMATS = ("json", "text", "verbose_json")
GRANULARITIES = ("word", "segment")


class RequestError(ValueError):
    """A bad request: HTTP ``status`` and OpenAI's error object."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.param, self.code = status, param, code

    def body(self) -> dict:
        return {"error": {"message": str(self), "type": "invalid_request_error", "param": self.param,
                          "code": self.code}}


def models_list(model_name: str) -> dict:
    return {"object": "list", "data": [{"id": model_name, "object": "model", "created": 0, "owned_by": "parakeet_trt"}]}


def check_request(model: str, model_name: str, response_format: str, granularities: list[str]) -> None:
    if model != model_name:
        raise RequestError(404, f"model {model!r} is not served here; this server serves {model_name!r}",
                           "model", "model_not_found")
    if response_format not in RESPONSE_FORMATS:
        raise RequestError(400, f"response_format must be one of {', '.join(RESPONSE_FORMATS)}, got "
                                f"{response_format!r}", "response_format")
    unknown = [g for g in granularities if g not in GRANULARITIES]
    if unknown:
        raise RequestError(400, f"timestamp_granularities[] must be among {', '.join(GRANULARITIES)}, got "
                                f"{unknown}", "timestamp_granularities")


def _transcribe_bytes(session, data: bytes, filename: str):
    suffix = Path(filename or "").suffix[:16]
    handle, path = tempfile.mkstemp(prefix="parakeet-upload-", suffix=suffix)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        transcript = session.transcribe(path)
    finally:
        os.unlink(path)
    transcript.file = filename
    return transcript


async def transcribe_upload(session, data: bytes, filename: str):
    """Session.transcribe of the uploaded bytes, in a worker thread. Unreadable audio: RequestError 400."""
    from parakeet_trt.errors import InvalidAudioError

    if not data:
        raise RequestError(400, "the uploaded file is empty", "file")
    try:
        return await asyncio.to_thread(_transcribe_bytes, session, data, filename)
    except InvalidAudioError as error:
        raise RequestError(400, str(error).replace(tempfile.gettempdir() + os.sep, ""), "file") from None


def response_body(transcript, response_format: str, granularities: list[str]):
    """OpenAI's response: json {'text'}, text (a str), or verbose_json (duration, words when asked)."""
    if response_format == "text":
        return transcript.text
    if response_format == "json":
        return {"text": transcript.text}
    body = {"task": "transcribe", "language": "english", "duration": transcript.audio_duration_s,
            "text": transcript.text,
            "segments": [{"id": 0, "seek": 0, "start": 0.0, "end": transcript.audio_duration_s,
                          "text": transcript.text, "tokens": list(transcript.token_ids), "temperature": 0.0,
                          "avg_logprob": 0.0, "compression_ratio": 0.0, "no_speech_prob": 0.0}]}
    if "word" in granularities:
        body["words"] = [{"word": w.word, "start": w.start_s, "end": w.end_s} for w in transcript.words]
    return body
