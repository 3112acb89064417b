"""One Session shared by many streams and threads (issue 13 "Threads", issue 18 item 3 "Races").

Several StreamingSessions and BackgroundStreams and an offline caller run at once on one Session (one
model, one native encoder engine), on held-out speech, repeated; every result must equal the same
work run alone. Also: a BackgroundStream refuses a second concurrent producer instead of losing
audio, reports dropped samples in its updates, and refuses writes after an engine error with that
error (a producer waiting for room never waits forever)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import parakeet_trt
from parakeet_trt import _core
from parakeet_trt.errors import ParakeetError
from parakeet_trt.streaming import BackgroundStream, StreamingSession
from parakeet_trt.testing.held_out import held_out_speech


@pytest.fixture(scope="module")
def demo_session():
    return parakeet_trt.Session("demo", intra_op_threads=1)


@pytest.fixture(scope="module")
def utterances():
    # Three held-out sentences per utterance (about 5 s each): enough tokens to tell results apart.
    return [np.concatenate([held_out_speech(3 * i + k)[0] for k in range(3)]).astype(np.float32) for i in range(6)]


def sync_stream(session, audio, block, chunk_ms):
    stream = StreamingSession(session, chunk_ms=chunk_ms, right_ms=560)
    for i in range(0, len(audio), block):
        stream.push(audio[i:i + block])
    final = stream.finish()[-1]
    return final.committed_token_ids, final.committed_text


def background_stream(session, audio, block, chunk_ms):
    stream = BackgroundStream(session, chunk_ms=chunk_ms, right_ms=560, ring_ms=60000)
    updates = []
    consumer = threading.Thread(target=lambda: updates.extend(stream.updates()))
    consumer.start()
    for i in range(0, len(audio), block):
        assert stream.write(audio[i:i + block]) == len(audio[i:i + block])  # a 60 s ring never overflows here
    stream.close()
    consumer.join(timeout=120)
    final = updates[-1]
    assert final.is_final and final.dropped_samples == 0
    return final.committed_token_ids, final.committed_text


def test_streams_and_an_offline_caller_share_one_session(demo_session, utterances):
    jobs = []
    for i, audio in enumerate(utterances):
        kind = sync_stream if i % 2 == 0 else background_stream
        jobs.append((kind, audio, 160 + 97 * i, 320 if i % 3 == 0 else 560))
    alone = [kind(demo_session, audio, block, chunk) for kind, audio, block, chunk in jobs]
    offline_alone = [demo_session.transcribe(a, 16000).token_ids for a in utterances[:3]]
    assert all(len(ids) > 5 for ids, _ in alone)  # real speech gives real transcripts

    for _round in range(2):
        together: list = [None] * len(jobs)
        offline_together: list = []
        threads = [threading.Thread(target=lambda k=k, j=j: together.__setitem__(k, j[0](demo_session, *j[1:])))
                   for k, j in enumerate(jobs)]
        threads.append(threading.Thread(target=lambda: offline_together.extend(
            demo_session.transcribe(a, 16000).token_ids for a in utterances[:3])))
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert together == alone
        assert offline_together == offline_alone


def test_committed_text_ends_on_whole_words(demo_session, utterances):
    stream = StreamingSession(demo_session, chunk_ms=160, right_ms=160)
    audio = utterances[0]
    seen = []
    for i in range(0, len(audio), 800):
        for update in stream.push(audio[i:i + 800]):
            seen.append(update)
    seen += stream.finish()
    model = demo_session.model
    for update in seen[:-1]:
        ids = update.committed_token_ids
        # Committed text is the text of whole words only; the open word is in the tail text.
        assert update.text.startswith(update.committed_text)
        if ids and update.committed_text:
            assert model.detokenize(ids).startswith(update.committed_text)
            rest = model.detokenize(ids)[len(update.committed_text):]
            assert rest == "" or rest.startswith(" ") or not update.committed_text
    assert seen[-1].committed_text == model.detokenize(seen[-1].committed_token_ids)


def test_push_scales_integer_pcm_like_transcribe(demo_session, utterances):
    audio = utterances[1]
    pcm = np.clip(np.round(audio * 32768), -32768, 32767).astype(np.int16)
    as_float = sync_stream(demo_session, pcm.astype(np.float32) / 32768.0, 1600, 560)
    stream = StreamingSession(demo_session, chunk_ms=560, right_ms=560)
    for i in range(0, len(pcm), 1600):
        stream.push(pcm[i:i + 1600])
    final = stream.finish()[-1]
    assert (final.committed_token_ids, final.committed_text) == as_float
    with pytest.raises(parakeet_trt.errors.InvalidAudioError, match="None"):
        stream.push(None)


def test_a_second_concurrent_producer_is_refused_not_lost(demo_session, utterances):
    audio = np.concatenate(utterances)
    for _trial in range(3):
        stream = BackgroundStream(demo_session, ring_ms=600000)
        stored, refused, attempted = [0], [0], [0]
        lock = threading.Lock()

        def produce():
            for i in range(0, len(audio), 320):
                block = audio[i:i + 320]
                try:
                    n = stream.write(block)
                    with lock:
                        stored[0] += n
                        attempted[0] += len(block)
                except ParakeetError as error:
                    assert "one producer" in str(error)
                    with lock:
                        refused[0] += len(block)
                        attempted[0] += len(block)

        threads = [threading.Thread(target=produce) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stream.close()
        updates = list(stream.updates())
        # Every sample is accounted for: stored (and decoded), dropped (counted) or refused (raised).
        assert stored[0] + refused[0] + stream.dropped_samples == attempted[0] == 2 * len(audio)
        assert round(updates[-1].audio_end_s * 16000) == stored[0]


def test_writes_after_an_engine_error_raise_it(demo_session):
    class Failing:
        description = "failing test engine"

        def run(self, inputs, outputs):
            raise RuntimeError("device lost")

    live = _core.LiveStream(demo_session.model, Failing(), ring_ms=5000)
    block = np.zeros(48000, np.float32)  # 3 s: more than the first step needs, so the engine runs
    live.write(block)
    event = live.next_event(10000)
    assert event["type"] == "error" and event["error_code"] == "engine" and "device lost" in event["error"]
    with pytest.raises(parakeet_trt.errors.EngineError, match="device lost"):
        live.write(block[:100])


def test_dropped_samples_show_in_the_updates(demo_session):
    stream = BackgroundStream(demo_session, ring_ms=100)
    audio = np.zeros(16000, np.float32)
    stored = stream.write(audio)  # a 100 ms ring takes at most 1,600 samples of a 1 s block
    assert stored <= 1600
    stream.close()
    updates = list(stream.updates())
    assert updates[-1].dropped_samples == 16000 - stored == stream.dropped_samples
