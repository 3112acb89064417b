"""Checks every streaming mode must pass mid-stream (shared by the buffered and cache-aware tests).

    same_updates_for_push_sizes(stream_blocks)                 # 1, 37, 16000 samples per push
    background_updates(bg, audio)        # write from this thread, consume on another
    bad_input_mid_stream(make_stream, audio, split, clean_ids)  # the whole scenario, using:
    refuse_bad_blocks(stream, block)     # NaN, Inf, wrong rate, 2-D: refused, nothing changes
    refuse_after_finish(stream, block)   # push/finish after finish: state errors, tokens kept
"""

from __future__ import annotations

import numpy as np


def refuse_bad_blocks(stream, block: np.ndarray) -> None:
    """Each bad block is refused whole with a clear error and changes nothing; a zero-length push is a no-op."""
    import pytest

    from parakeet_trt.errors import InvalidAudioError

    committed = stream.committed_token_ids
    bad = block.copy()
    bad[123] = np.nan
    with pytest.raises(InvalidAudioError, match="sample 123 is NaN"):
        stream.push(bad)
    inf = block.copy()
    inf[7] = np.inf
    with pytest.raises(InvalidAudioError, match="infinite"):
        stream.push(inf)
    assert stream.push(np.zeros(0, np.float32)) == []
    with pytest.raises(InvalidAudioError, match="44100 Hz"):
        stream.push(block, sample_rate_hz=44100)
    with pytest.raises(ValueError, match="mono"):
        stream.push(np.zeros((10, 2), np.float32))
    assert stream.committed_token_ids == committed


def refuse_after_finish(stream, block: np.ndarray) -> None:
    """A finished stream refuses more audio and a second finish; its committed tokens stay."""
    import pytest

    from parakeet_trt.errors import ParakeetError

    committed = stream.committed_token_ids
    with pytest.raises(ParakeetError, match="after finish"):
        stream.push(block[:100])
    with pytest.raises(ParakeetError, match="already closed"):
        stream.finish()
    assert stream.committed_token_ids == committed


def bad_input_mid_stream(make_stream, audio: np.ndarray, split: int, clean_ids: list[int], block: int = 4000) -> None:
    """Stream ``audio[:split]``, push every bad block (refused, nothing changes), stream the rest in
    ``block``-sized pushes: the tokens equal ``clean_ids`` (the same audio without the bad blocks);
    then the finished stream refuses more."""
    st = make_stream()
    updates = st.push(audio[:split])
    committed = st.committed_token_ids
    assert updates and committed, "the audio before the bad blocks should commit tokens"
    refuse_bad_blocks(st, audio[split:split + block])
    assert st.committed_token_ids == committed
    for i in range(split, len(audio), block):
        updates += st.push(audio[i:i + block])
    updates += st.finish()
    assert updates[-1].committed_token_ids == clean_ids
    refuse_after_finish(st, audio)


def same_updates_for_push_sizes(stream_blocks, sizes=(1, 37, 16000)) -> list:
    """``stream_blocks(block)`` streams the same audio in pushes of ``block`` samples and returns the
    updates; every push size must give the same updates (committed tokens, tail, stream time,
    decoded frames). Returns the updates of the first size."""
    results, first = {}, None
    for block in sizes:
        updates = stream_blocks(block)
        first = updates if first is None else first
        results[block] = [(u.committed_token_ids, u.tail_token_ids, u.audio_end_s, u.decoded_frames) for u in updates]
    assert all(r == results[sizes[0]] for r in results.values())
    return first


def background_updates(bg, audio: np.ndarray, block: int = 1600) -> list:
    """Write ``audio`` into BackgroundStream ``bg`` from this thread while another thread consumes its
    updates (the GIL is released on both sides), close it, and return the updates. Every block must
    fit the ring (nothing dropped)."""
    import threading

    updates: list = []
    consumer = threading.Thread(target=lambda: updates.extend(bg.updates()))
    consumer.start()
    for i in range(0, len(audio), block):
        assert bg.write(audio[i:i + block]) == len(audio[i:i + block])
    bg.close()
    consumer.join(timeout=120)
    assert not consumer.is_alive()
    assert updates and updates[-1].is_final and bg.dropped_samples == 0
    return updates
