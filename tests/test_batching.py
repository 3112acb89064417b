"""Cross-stream encoder batching (C++ BatchingEngine) on the demo model: batched encoder calls give
each stream what it gets alone up to float rounding, and live streams sharing a batching engine commit
exactly the tokens they commit without it."""

import threading

import numpy as np
import pytest

from parakeet_trt import _core
from parakeet_trt.session import Session, onnxruntime_library
from parakeet_trt.testing.held_out import held_out_speech

STREAMS = 8


@pytest.fixture(scope="module")
def session():
    return Session("demo")


def window_features(session, seconds: float, count: int) -> list[tuple[np.ndarray, int]]:
    """([n_mels, T] log-mels, valid frames) of `count` different held-out clips of exactly `seconds`."""
    extractor = _core.FeatureExtractor(session.model)
    clips = []
    for i in range(count):
        audio = np.concatenate([held_out_speech(i)[0], held_out_speech(i + count)[0]])
        clips.append(extractor.compute(np.ascontiguousarray(audio[: int(seconds * 16000)], dtype=np.float32)))
    return clips


def encode(engine, clip: tuple[np.ndarray, int], d_model: int, out_frames: int) -> np.ndarray:
    features, valid = clip
    outputs = {"outputs": np.zeros((1, d_model, out_frames), np.float32), "encoded_lengths": np.zeros(1, np.int64)}
    _core.run_engine(engine, {"audio_signal": features[None].copy(), "length": np.array([valid], np.int64)}, outputs)
    return outputs["outputs"][0]


def test_batched_encoder_calls_match_batch_one_up_to_rounding(session):
    d_model = session.model.encoder_dim
    clips = window_features(session, 2.0, STREAMS)
    out_frames = session.model.encoded_length(clips[0][0].shape[1])
    alone = [encode(session.encoder_engine, c, d_model, out_frames) for c in clips]

    batching = _core.batching_engine(session.encoder_engine, _core.BatchingOptions(window_ms=50, max_batch=STREAMS))
    together: list = [None] * STREAMS
    barrier = threading.Barrier(STREAMS)

    def one(i):
        barrier.wait()
        together[i] = encode(batching, clips[i], d_model, out_frames)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(STREAMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = _core.batching_stats(batching)
    assert stats["calls"] == STREAMS
    assert stats["largest_batch"] >= 2, stats  # the calls did run stacked
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(alone, together))
    scale = max(float(np.max(np.abs(a))) for a in alone)
    print(f"batched vs batch-1 encoder outputs: max abs diff {diff:.3g} (outputs up to {scale:.3g}); {stats}")
    assert diff <= 1e-3 * max(1.0, scale)


def stream_tokens(session, engine, audios: list[np.ndarray], **options) -> list[list[int]]:
    """Committed token ids of one live stream per audio, all running at once on `engine`."""
    tokens: list = [None] * len(audios)

    def one(i):
        live = _core.LiveStream(session.model, engine, **options)
        audio, written = audios[i], 0
        while written < len(audio):
            written += live.write(audio[written:written + 1600], lossless=True)
        live.close()
        committed = []
        while True:
            event = live.next_event(timeout_ms=60000)
            assert event is not None, "the stream stalled"
            assert event["type"] == "step", event.get("error")
            committed += list(event["committed"]["token_ids"])
            if event["is_last"]:
                break
        tokens[i] = committed

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(audios))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return tokens


def test_live_streams_commit_the_same_tokens_with_batching_on_and_off(session):
    audios = [np.concatenate([held_out_speech(i)[0], held_out_speech(i + STREAMS)[0]]).astype(np.float32)
              for i in range(STREAMS)]
    plain = stream_tokens(session, session.encoder_engine, audios)
    batching = _core.batching_engine(session.encoder_engine, _core.BatchingOptions())
    batched = stream_tokens(session, batching, audios)
    stats = _core.batching_stats(batching)
    print(f"batching stats over {STREAMS} streams: {stats}")
    assert stats["batched_calls"] > 0, stats  # streams did share encoder calls
    assert all(plain), "every stream committed tokens"
    assert batched == plain


def test_cache_aware_streams_commit_the_same_tokens_with_batching_on_and_off():
    """Cache-aware windows all have one shape (cache tensors included, batch on dimension 0): every step
    can batch. The tiny random-weight export: its tokens are nonsense, but must not change."""
    from parakeet_trt.parity.streaming import cached_streaming_export

    from conftest import CACHE

    tiny = Session(cached_streaming_export("tiny", "cache_aware", CACHE), intra_op_threads=1)
    audios = [np.concatenate([held_out_speech(i)[0], held_out_speech(i + 4)[0]]).astype(np.float32)
              for i in range(4)]
    plain = stream_tokens(tiny, tiny.streaming_encoder_engine, audios, mode="cache_aware")
    batching = _core.batching_engine(tiny.streaming_encoder_engine, _core.BatchingOptions())
    batched = stream_tokens(tiny, batching, audios, mode="cache_aware")
    stats = _core.batching_stats(batching)
    print(f"cache-aware batching stats over 4 streams: {stats}")
    assert stats["batched_calls"] > 0, stats
    assert any(plain) and batched == plain


def test_serve_batching_options_are_defined_once_and_checked():
    from parakeet_trt.serve.config import ServeBatching

    defaults = _core.BatchingOptions()
    assert ServeBatching().batch_window_ms == defaults.window_ms
    assert ServeBatching().max_batch == defaults.max_batch
    assert ServeBatching().max_inflight_batches == defaults.max_inflight
    with pytest.raises(ValueError, match="max_batch must be in 1..1024"):
        ServeBatching(max_batch=0).options()
    with pytest.raises(ValueError, match="max_inflight must be in 1..64"):
        _core.BatchingOptions(max_inflight=0)
    # auto: on only where ONNX Runtime has its CUDA provider (this CPU machine: off).
    cuda = "CUDAExecutionProvider" in _core.onnxruntime_available_providers(onnxruntime_library())
    assert (ServeBatching(batching="auto").replica_options() is not None) == cuda
    with pytest.raises(ValueError, match="window_ms must be in 0..100"):
        _core.BatchingOptions(window_ms=-1)
