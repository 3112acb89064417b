"""Buffered streaming against NeMo's own buffered streaming, push-size invariance, bad input mid-stream."""

from __future__ import annotations

import numpy as np
import pytest

import parakeet_trt
from parakeet_trt.errors import ParakeetError
from parakeet_trt.testing.nemo_buffered import nemo_buffered_decode
from parakeet_trt.testing.signals import all_signals
from parakeet_trt.testing.stream_checks import (background_updates, bad_input_mid_stream,
                                                same_updates_for_push_sizes)

# (chunk, left, right) in ms: the 560 ms chunk with NeMo's 10 s left context, and a
# low-latency setting whose small buffers put many seams inside words.
SETTINGS = [(560, 10000, 560), (160, 1600, 320), (80, 800, 0)]


@pytest.fixture(scope="module")
def parity_signals():
    # Every other short signal plus all speech: silence, noise, tones, odd lengths, espeak speech.
    signals = all_signals(include_long=False)
    chosen = [s for i, s in enumerate(signals) if i % 2 == 0 or s.name.startswith("speech")]
    assert len(chosen) >= 10
    return chosen


def stream(session, audio, chunk_ms, left_ms, right_ms, block=3700, **kwargs):
    st = parakeet_trt.StreamingSession(session, chunk_ms=chunk_ms, left_ms=left_ms, right_ms=right_ms, **kwargs)
    updates = []
    for i in range(0, len(audio), block):
        updates += st.push(audio[i:i + block])
    updates += st.finish()
    return st, updates


@pytest.mark.parametrize("chunk_ms,left_ms,right_ms", SETTINGS)
def test_buffered_equals_nemo_buffered_streaming(tiny_nemo_model, tiny_session, parity_signals, chunk_ms, left_ms, right_ms):
    emitted = 0
    for sig in parity_signals:
        audio = sig.samples.astype(np.float32)
        ref = nemo_buffered_decode(tiny_nemo_model, audio, chunk_ms, left_ms, right_ms)
        _, updates = stream(tiny_session, audio, chunk_ms, left_ms, right_ms)
        assert updates[-1].committed_token_ids == ref["token_ids"], sig.name
        assert [u.new_committed for u in updates] == [s["num_committed"] for s in ref["steps"]], sig.name
        assert [round(u.audio_end_s * 16000) for u in updates] == [s["audio_end_sample"] for s in ref["steps"]]
        emitted += len(ref["token_ids"])
    assert emitted > 50  # the comparison covers real decoding, not empty outputs


def test_same_tokens_whatever_the_push_size(tiny_session, speech_signal):
    audio = speech_signal.astype(np.float32)
    updates = same_updates_for_push_sizes(lambda block: stream(tiny_session, audio, 160, 1600, 320, block=block)[1])
    assert len(updates[-1].committed_token_ids) > 5


def test_committed_tokens_only_grow_and_tail_is_speculative(tiny_session, speech_signal):
    _, updates = stream(tiny_session, speech_signal.astype(np.float32), 160, 1600, 320)
    for prev, cur in zip(updates, updates[1:]):
        assert cur.committed_token_ids[:len(prev.committed_token_ids)] == prev.committed_token_ids
        assert cur.committed_text.startswith(prev.committed_text)
    assert any(u.tail_token_ids for u in updates[:-1])
    assert updates[-1].tail_token_ids == [] and updates[-1].is_final


def test_bad_input_mid_stream_keeps_what_was_committed(tiny_session, speech_signal):
    audio = speech_signal.astype(np.float32)
    _, clean = stream(tiny_session, audio, 160, 1600, 320, block=4000)
    bad_input_mid_stream(lambda: parakeet_trt.StreamingSession(tiny_session, chunk_ms=160, left_ms=1600, right_ms=320),
                         audio, 32000, clean[-1].committed_token_ids)


def test_final_redecode_equals_offline_transcription(tiny_session, speech_signal):
    audio = speech_signal.astype(np.float32)
    _, updates = stream(tiny_session, audio, 160, 1600, 320, final_redecode=True)
    offline = tiny_session.transcribe(audio, 16000)
    final = updates[-1].final
    assert final.token_ids == offline.token_ids and final.text == offline.text
    _, plain = stream(tiny_session, audio, 160, 1600, 320)
    assert plain[-1].final.token_ids == plain[-1].committed_token_ids


def test_empty_stream_and_config_errors(tiny_session):
    st = parakeet_trt.StreamingSession(tiny_session, chunk_ms=560, left_ms=0, right_ms=0)
    updates = st.finish()
    assert len(updates) == 1 and updates[0].committed_token_ids == [] and updates[0].final.text == ""
    for bad, rule in ((dict(chunk_ms=100), "chunk_ms must be a positive multiple of the encoder frame"),
                      (dict(chunk_ms=0), "chunk_ms must be a positive multiple of the encoder frame"),
                      (dict(left_ms=-80), r"left_ms must be in \[0, 600000\] ms"),
                      (dict(right_ms=40), "right_ms must be a non-negative multiple of the encoder frame")):
        kwargs = {**dict(chunk_ms=560, left_ms=800, right_ms=160), **bad}
        with pytest.raises(ValueError, match=rule):
            parakeet_trt.StreamingSession(tiny_session, **kwargs)
    with pytest.raises(ValueError, match="mode"):
        parakeet_trt.StreamingSession(tiny_session, mode="telepathic")


def test_background_stream_on_its_own_thread_matches_the_session(tiny_session, speech_signal):
    from parakeet_trt.streaming import BackgroundStream

    audio = speech_signal.astype(np.float32)
    _, direct = stream(tiny_session, audio, 160, 1600, 320)
    bg = BackgroundStream(tiny_session, chunk_ms=160, left_ms=1600, right_ms=320, event_slots=4)
    updates = background_updates(bg, audio)
    assert [u.committed_token_ids for u in updates] == [u.committed_token_ids for u in direct]
    with pytest.raises(ParakeetError, match="after close"):
        bg.write(audio[:10])
