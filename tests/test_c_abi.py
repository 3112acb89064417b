"""The C ABI (libparakeet_trt) driven through ctypes, with ONNX Runtime supplied through the
external-engine vtable: it must give exactly what the Python API gives."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

import parakeet_trt
from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine
from parakeet_trt.models import demo_nemo_transcript

REPO = Path(__file__).resolve().parents[1]

PTRT_OK, PTRT_ERROR_INVALID_AUDIO, PTRT_ERROR_MODEL, PTRT_ERROR_CONTRACT_VIOLATION, PTRT_ERROR_ENGINE = 0, 2, 3, 4, 5
PTRT_ERROR_INVALID_ARGUMENT, PTRT_ERROR_STATE = 1, 6
MAX_RANK = 8


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("data", ctypes.c_void_p)]


RunFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Tensor), ctypes.c_size_t,
                         ctypes.POINTER(Tensor), ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t)
DestroyFn = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class EngineVtable(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("self", ctypes.c_void_p), ("run", RunFn), ("destroy", DestroyFn)]


class Token(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("duration", ctypes.c_int32), ("frame", ctypes.c_int64)]


class WordC(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("start_s", ctypes.c_double), ("end_s", ctypes.c_double)]


class TranscriptC(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("tokens", ctypes.POINTER(Token)), ("num_tokens", ctypes.c_size_t),
                ("words", ctypes.POINTER(WordC)), ("num_words", ctypes.c_size_t),
                ("num_encoder_frames", ctypes.c_int64), ("audio_duration_s", ctypes.c_double)]


NUMPY_DTYPES = {1: np.float32, 2: np.int64, 3: np.int32}


def find_library() -> Path:
    candidates = [os.environ.get("PARAKEET_TRT_LIBRARY", ""),
                  str(Path(parakeet_trt.__file__).parent / "lib" / "libparakeet_trt.so"),
                  str(REPO / "build" / "ctest" / "libparakeet_trt.so")]
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    pytest.fail(f"libparakeet_trt.so not found in {candidates}")


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(str(find_library()))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    lib.ptrt_version.restype = ctypes.c_char_p
    lib.ptrt_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_model_destroy.argtypes = [ctypes.c_void_p]
    lib.ptrt_session_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(EngineVtable), ctypes.c_void_p,
                                        ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_session_destroy.argtypes = [ctypes.c_void_p]
    lib.ptrt_session_transcribe.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64,
                                            ctypes.c_int32, ctypes.POINTER(TranscriptC)]
    lib.ptrt_model_compute_features.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64,
                                                ctypes.POINTER(ctypes.c_float), ctypes.c_int64]
    lib.ptrt_model_feature_frames.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64),
                                              ctypes.POINTER(ctypes.c_int64)]
    return lib


def make_vtable(engine: OnnxRuntimeEngine, calls: list, destroyed: list, fail_with: str | None = None):
    def run(_self, inputs, num_inputs, outputs, num_outputs, message, capacity):
        try:
            if fail_with:
                raise RuntimeError(fail_with)

            def views(tensors, count):
                out = {}
                for i in range(count):
                    t = tensors[i]
                    shape = tuple(t.shape[d] for d in range(t.rank))
                    dtype = np.dtype(NUMPY_DTYPES[t.dtype])
                    size = int(np.prod(shape)) * dtype.itemsize
                    buffer = (ctypes.c_char * size).from_address(t.data)
                    out[t.name.decode()] = np.frombuffer(buffer, dtype=dtype).reshape(shape)
                return out

            engine.run(views(inputs, num_inputs), views(outputs, num_outputs))
            calls.append(1)
            return PTRT_OK
        except Exception as exc:  # a callback must never let an exception reach C
            text = str(exc).encode()[: capacity - 1] + b"\0"
            ctypes.memmove(message, text, len(text))
            return PTRT_ERROR_ENGINE

    run_fn, destroy_fn = RunFn(run), DestroyFn(lambda _self: destroyed.append(1))
    vtable = EngineVtable(ctypes.sizeof(EngineVtable), None, run_fn, destroy_fn)
    return vtable, (run_fn, destroy_fn)


def load_model(lib, model_dir: Path) -> ctypes.c_void_p:
    model = ctypes.c_void_p()
    status = lib.ptrt_model_load(str(model_dir).encode(), None, ctypes.byref(model))
    assert status == PTRT_OK, lib.ptrt_last_error()
    return model


def test_c_abi_transcribes_like_python(lib, tiny_export_dir, tiny_session, speech_signal):
    model = load_model(lib, tiny_export_dir)
    engine = OnnxRuntimeEngine(tiny_export_dir / "encoder.onnx", None)
    calls, destroyed = [], []
    vtable, keep_alive = make_vtable(engine, calls, destroyed)
    session = ctypes.c_void_p()
    assert lib.ptrt_session_create(model, ctypes.byref(vtable), None, ctypes.byref(session)) == PTRT_OK, \
        lib.ptrt_last_error()

    samples = np.ascontiguousarray(speech_signal, dtype=np.float32)
    result = TranscriptC()
    status = lib.ptrt_session_transcribe(session, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                         len(samples), 16000, ctypes.byref(result))
    assert status == PTRT_OK, lib.ptrt_last_error()
    expected = tiny_session.transcribe(samples, 16000)
    assert calls == [1]
    assert result.text.decode() == expected.text
    assert [result.tokens[i].id for i in range(result.num_tokens)] == expected.token_ids
    assert [result.tokens[i].frame for i in range(result.num_tokens)] == expected.token_frames
    assert [result.tokens[i].duration for i in range(result.num_tokens)] == expected.token_durations
    assert [result.words[i].text.decode() for i in range(result.num_words)] == [w.word for w in expected.words]
    assert len(expected.token_ids) > 0

    # Wrong rate and NaN give INVALID_AUDIO with a message; the session stays usable.
    assert lib.ptrt_session_transcribe(session, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       len(samples), 8000, ctypes.byref(result)) == PTRT_ERROR_INVALID_AUDIO
    assert b"8000 Hz" in lib.ptrt_last_error()
    bad = samples.copy()
    bad[17] = np.nan
    assert lib.ptrt_session_transcribe(session, bad.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       len(bad), 16000, ctypes.byref(result)) == PTRT_ERROR_INVALID_AUDIO
    assert b"sample 17 is NaN" in lib.ptrt_last_error()
    assert lib.ptrt_session_transcribe(session, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                       len(samples), 16000, ctypes.byref(result)) == PTRT_OK
    assert result.text.decode() == expected.text

    lib.ptrt_session_destroy(session)
    assert destroyed == [1]
    lib.ptrt_model_destroy(model)
    del keep_alive


def test_c_abi_engine_failure_is_reported(lib, tiny_export_dir, speech_signal):
    model = load_model(lib, tiny_export_dir)
    engine = OnnxRuntimeEngine(tiny_export_dir / "encoder.onnx", None)
    vtable, keep_alive = make_vtable(engine, [], [], fail_with="GPU fell off the bus")
    session = ctypes.c_void_p()
    assert lib.ptrt_session_create(model, ctypes.byref(vtable), None, ctypes.byref(session)) == PTRT_OK
    samples = np.ascontiguousarray(speech_signal, dtype=np.float32)
    result = TranscriptC()
    status = lib.ptrt_session_transcribe(session, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                         len(samples), 16000, ctypes.byref(result))
    assert status == PTRT_ERROR_ENGINE
    assert b"GPU fell off the bus" in lib.ptrt_last_error()
    lib.ptrt_session_destroy(session)
    lib.ptrt_model_destroy(model)
    del keep_alive


def test_c_abi_features_match_python(lib, tiny_export_dir, speech_signal):
    from parakeet_trt import _core

    model = load_model(lib, tiny_export_dir)
    samples = np.ascontiguousarray(speech_signal, dtype=np.float32)
    frames, valid = ctypes.c_int64(), ctypes.c_int64()
    assert lib.ptrt_model_feature_frames(model, len(samples), ctypes.byref(frames), ctypes.byref(valid)) == PTRT_OK
    out = np.zeros((128, frames.value), np.float32)
    assert lib.ptrt_model_compute_features(model, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                           len(samples), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                           out.size) == PTRT_OK
    core_model = _core.Model.load(str(tiny_export_dir))
    expected, expected_valid = _core.FeatureExtractor(core_model).compute(samples)
    assert valid.value == expected_valid
    np.testing.assert_array_equal(out, expected)
    # Too small a buffer is refused, not overrun.
    assert lib.ptrt_model_compute_features(model, samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                           len(samples), out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                                           out.size - 1) == 1
    assert b"capacity" in lib.ptrt_last_error()
    lib.ptrt_model_destroy(model)


def test_c_abi_bad_model_folder(lib, tmp_path):
    model = ctypes.c_void_p()
    assert lib.ptrt_model_load(str(tmp_path).encode(), None, ctypes.byref(model)) == PTRT_ERROR_MODEL
    assert b"model_meta.json" in lib.ptrt_last_error()
    assert not model.value


class StreamUpdateC(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("committed", ctypes.POINTER(Token)),
                ("num_committed", ctypes.c_size_t), ("tail", ctypes.POINTER(Token)), ("num_tail", ctypes.c_size_t),
                ("audio_end_sample", ctypes.c_int64), ("decoded_frames", ctypes.c_int64), ("is_last", ctypes.c_int32)]


class StreamOptionsC(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("chunk_ms", ctypes.c_int64), ("left_ms", ctypes.c_int64),
                ("right_ms", ctypes.c_int64), ("history_ms", ctypes.c_int64), ("mode", ctypes.c_int32),
                ("profile", ctypes.c_char_p)]


StreamCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(StreamUpdateC))


def test_c_abi_stream_equals_python_streaming(lib, tiny_export_dir, tiny_session, speech_signal):
    import parakeet_trt

    lib.ptrt_stream_options_init.argtypes = [ctypes.POINTER(StreamOptionsC)]
    lib.ptrt_stream_create.argtypes = [ctypes.c_void_p, ctypes.POINTER(EngineVtable), ctypes.POINTER(StreamOptionsC),
                                       ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_stream_destroy.argtypes = [ctypes.c_void_p]
    lib.ptrt_stream_push.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float), ctypes.c_int64, ctypes.c_int32,
                                     StreamCallback, ctypes.c_void_p]
    lib.ptrt_stream_finish.argtypes = [ctypes.c_void_p, StreamCallback, ctypes.c_void_p]

    model = load_model(lib, tiny_export_dir)
    engine = OnnxRuntimeEngine(tiny_export_dir / "encoder.onnx", None)
    calls, destroyed = [], []
    vtable, keep_alive = make_vtable(engine, calls, destroyed)
    options = StreamOptionsC()
    lib.ptrt_stream_options_init(ctypes.byref(options))
    assert (options.chunk_ms, options.left_ms, options.right_ms) == (560, 10000, 560)
    options.chunk_ms, options.left_ms, options.right_ms = 160, 1600, 320
    stream = ctypes.c_void_p()
    assert lib.ptrt_stream_create(model, ctypes.byref(vtable), ctypes.byref(options), ctypes.byref(stream)) == PTRT_OK, \
        lib.ptrt_last_error()

    updates = []

    def on_update(_user, update):
        u = update.contents
        assert u.struct_size == ctypes.sizeof(StreamUpdateC)
        updates.append(([u.committed[i].id for i in range(u.num_committed)],
                        [u.tail[i].id for i in range(u.num_tail)], u.audio_end_sample, bool(u.is_last)))

    callback = StreamCallback(on_update)
    samples = np.ascontiguousarray(speech_signal, dtype=np.float32)
    ptr = samples.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    for i in range(0, len(samples), 3000):
        block = samples[i:i + 3000]
        assert lib.ptrt_stream_push(stream, block.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), len(block), 16000,
                                    callback, None) == PTRT_OK, lib.ptrt_last_error()
    committed_before = sum(len(u[0]) for u in updates)
    # Bad input mid-stream: refused whole with a message, nothing committed changes.
    assert lib.ptrt_stream_push(stream, ptr, 100, 8000, callback, None) == PTRT_ERROR_INVALID_AUDIO
    assert b"8000 Hz" in lib.ptrt_last_error()
    bad = samples[:100].copy()
    bad[5] = np.inf
    assert lib.ptrt_stream_push(stream, bad.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), 100, 16000, callback,
                                None) == PTRT_ERROR_INVALID_AUDIO
    assert sum(len(u[0]) for u in updates) == committed_before
    assert lib.ptrt_stream_finish(stream, callback, None) == PTRT_OK
    assert lib.ptrt_stream_finish(stream, callback, None) == PTRT_ERROR_STATE
    assert lib.ptrt_stream_push(stream, ptr, 100, 16000, callback, None) == PTRT_ERROR_STATE
    assert b"after finish" in lib.ptrt_last_error()

    py = parakeet_trt.StreamingSession(tiny_session, chunk_ms=160, left_ms=1600, right_ms=320)
    expected = []
    for i in range(0, len(samples), 3000):
        expected += py.push(samples[i:i + 3000])
    expected += py.finish()
    assert [u[0] for u in updates] == [expected_u.committed_token_ids[len(expected_u.committed_token_ids)
                                                                       - expected_u.new_committed:]
                                       for expected_u in expected]
    assert [u[1] for u in updates] == [u.tail_token_ids for u in expected]
    assert updates[-1][3] and sum(len(u[0]) for u in updates) > 5

    options.chunk_ms = 100
    other = ctypes.c_void_p()
    vtable2, keep2 = make_vtable(engine, [], destroyed)
    assert lib.ptrt_stream_create(model, ctypes.byref(vtable2), ctypes.byref(options), ctypes.byref(other)) \
        == PTRT_ERROR_INVALID_ARGUMENT
    assert b"chunk_ms" in lib.ptrt_last_error()
    stale = StreamOptionsC()  # not passed through ptrt_stream_options_init: struct_size 0
    vtable3, keep3 = make_vtable(engine, [], destroyed)
    assert lib.ptrt_stream_create(model, ctypes.byref(vtable3), ctypes.byref(stale), ctypes.byref(other)) \
        == PTRT_ERROR_INVALID_ARGUMENT
    assert b"call ptrt_stream_options_init first" in lib.ptrt_last_error() and not other.value
    lib.ptrt_stream_destroy(stream)
    assert destroyed == [1, 1, 1]
    lib.ptrt_model_destroy(model)
    del keep_alive, keep2, keep3


# --- engines made by the library, audio files (issue 13) -------------------------------------------

class EngineOptionsC(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p), ("providers", ctypes.c_char_p),
                ("intra_op_threads", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("onnxruntime_library", ctypes.c_char_p), ("trt_engine_dir", ctypes.c_char_p),
                ("allow_spinning", ctypes.c_int32)]


FloatPtr = ctypes.POINTER(ctypes.c_float)


@pytest.fixture(scope="module")
def native(lib):
    """The library with the engine and audio functions declared; PTRT_ONNXRUNTIME_LIBRARY set for it."""
    if not os.environ.get("PTRT_ONNXRUNTIME_LIBRARY"):
        import glob

        import onnxruntime

        found = sorted(glob.glob(str(Path(onnxruntime.__file__).parent / "capi" / "libonnxruntime.so*")))
        os.environ["PTRT_ONNXRUNTIME_LIBRARY"] = found[0]  # read by the library at engine creation
    lib.ptrt_engine_options_init.argtypes = [ctypes.POINTER(EngineOptionsC)]
    lib.ptrt_session_create_with_engine.argtypes = [ctypes.c_void_p, ctypes.POINTER(EngineOptionsC), ctypes.c_void_p,
                                                    ctypes.POINTER(ctypes.c_void_p)]
    lib.ptrt_audio_load_wav.argtypes = [ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(FloatPtr),
                                        ctypes.POINTER(ctypes.c_int64)]
    lib.ptrt_audio_resample.argtypes = [FloatPtr, ctypes.c_int64, ctypes.c_int32, ctypes.c_int32,
                                        ctypes.POINTER(FloatPtr), ctypes.POINTER(ctypes.c_int64)]
    lib.ptrt_audio_free.argtypes = [FloatPtr]
    return lib


def take_samples(lib, data, count) -> np.ndarray:
    samples = np.ctypeslib.as_array(data, (count.value,)).copy()
    lib.ptrt_audio_free(data)
    return samples


def load_wav(lib, path: Path, rate: int) -> np.ndarray:
    data, count = FloatPtr(), ctypes.c_int64()
    status = lib.ptrt_audio_load_wav(str(path).encode(), rate, ctypes.byref(data), ctypes.byref(count))
    assert status == PTRT_OK, lib.ptrt_last_error()
    return take_samples(lib, data, count)


def resample(lib, samples: np.ndarray, from_hz: int, to_hz: int) -> np.ndarray:
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    data, count = FloatPtr(), ctypes.c_int64()
    status = lib.ptrt_audio_resample(samples.ctypes.data_as(FloatPtr), len(samples), from_hz, to_hz,
                                     ctypes.byref(data), ctypes.byref(count))
    assert status == PTRT_OK, lib.ptrt_last_error()
    return take_samples(lib, data, count)


def transcribe(lib, session, samples: np.ndarray) -> TranscriptC:
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    result = TranscriptC()
    status = lib.ptrt_session_transcribe(session, samples.ctypes.data_as(FloatPtr), len(samples), 16000,
                                         ctypes.byref(result))
    assert status == PTRT_OK, lib.ptrt_last_error()
    return result


def test_c_abi_native_engine_transcribes_like_python(native, tiny_export_dir, tiny_session, speech_signal):
    model = load_model(native, tiny_export_dir)
    options = EngineOptionsC()
    native.ptrt_engine_options_init(ctypes.byref(options))
    assert (options.struct_size, options.name, options.providers) == (ctypes.sizeof(EngineOptionsC), b"onnxruntime",
                                                                      None)
    options.providers = b"CPUExecutionProvider"
    session = ctypes.c_void_p()
    assert native.ptrt_session_create_with_engine(model, ctypes.byref(options), None, ctypes.byref(session)) == PTRT_OK, \
        native.ptrt_last_error()
    result = transcribe(native, session, speech_signal)
    expected = tiny_session.transcribe(speech_signal, 16000)
    assert [result.tokens[i].id for i in range(result.num_tokens)] == list(expected.token_ids)
    assert result.text.decode() == expected.text
    native.ptrt_session_destroy(session)
    native.ptrt_model_destroy(model)


def test_c_abi_engine_threads_spin_or_block_with_the_same_tokens(native, tiny_export_dir, speech_signal):
    """allow_spinning: 1 by default (ONNX Runtime's own default), 0 for streaming callers, the same
    tokens either way; any other value is refused naming the field."""
    model = load_model(native, tiny_export_dir)
    tokens = {}
    for spinning in (1, 0):
        options = EngineOptionsC()
        native.ptrt_engine_options_init(ctypes.byref(options))
        assert options.allow_spinning == 1
        options.allow_spinning = spinning
        session = ctypes.c_void_p()
        assert native.ptrt_session_create_with_engine(model, ctypes.byref(options), None,
                                                      ctypes.byref(session)) == PTRT_OK, native.ptrt_last_error()
        result = transcribe(native, session, speech_signal)
        tokens[spinning] = [result.tokens[i].id for i in range(result.num_tokens)]
        native.ptrt_session_destroy(session)
    assert tokens[0] == tokens[1] and tokens[0]
    options = EngineOptionsC()
    native.ptrt_engine_options_init(ctypes.byref(options))
    options.allow_spinning = 2
    session = ctypes.c_void_p()
    assert native.ptrt_session_create_with_engine(model, ctypes.byref(options), None,
                                                  ctypes.byref(session)) == PTRT_ERROR_INVALID_ARGUMENT
    assert b"engine_options.allow_spinning must be 0 or 1, got 2" in native.ptrt_last_error()
    native.ptrt_model_destroy(model)


def test_c_abi_sessions_share_one_engine_per_options(native):
    """Equal engine options on one model: the second session reuses the engine (no second graph load);
    other options make another engine. Measured as creation time (the demo encoder loads in ~70 ms)."""
    import time

    model = load_model(native, REPO / "python" / "parakeet_trt" / "models" / "demo")

    def create(threads: int):
        options = EngineOptionsC()
        native.ptrt_engine_options_init(ctypes.byref(options))
        options.intra_op_threads = threads
        session = ctypes.c_void_p()
        start = time.perf_counter()
        assert native.ptrt_session_create_with_engine(model, ctypes.byref(options), None,
                                                      ctypes.byref(session)) == PTRT_OK, native.ptrt_last_error()
        return session, time.perf_counter() - start

    first, first_s = create(1)
    second, second_s = create(1)
    other, other_s = create(2)
    print(f"session create: first {first_s * 1e3:.1f} ms, same options {second_s * 1e3:.2f} ms, "
          f"other options {other_s * 1e3:.1f} ms")
    assert second_s * 5 < first_s and second_s * 5 < other_s
    samples = load_wav(native, REPO / "python" / "parakeet_trt" / "samples" / "demo.wav", 16000)
    texts = {transcribe(native, s, samples).text for s in (first, second, other)}
    assert texts == {demo_nemo_transcript().encode()}  # what NeMo reads in the sample
    for session in (first, second, other):
        native.ptrt_session_destroy(session)
    native.ptrt_model_destroy(model)


def test_c_abi_load_wav_equals_soundfile(native, tmp_path):
    import soundfile

    rng = np.random.default_rng(7)
    stereo = np.clip(rng.standard_normal((8000, 2)) * 0.2, -1, 1).astype(np.float32)
    for subtype in ("PCM_16", "PCM_24", "PCM_32", "FLOAT"):
        path = tmp_path / f"noise_{subtype}.wav"
        soundfile.write(path, stereo, 16000, subtype=subtype)
        data, rate = soundfile.read(path, dtype="float64", always_2d=True)
        expected = data.mean(axis=1).astype(np.float32)  # parakeet_trt.audio.to_mono, in double
        got = load_wav(native, path, 16000)
        assert rate == 16000 and np.array_equal(got, expected), subtype
    path = tmp_path / "truncated.wav"
    path.write_bytes((tmp_path / "noise_PCM_16.wav").read_bytes()[:1000])
    data, count = FloatPtr(), ctypes.c_int64()
    assert native.ptrt_audio_load_wav(str(path).encode(), 16000, ctypes.byref(data), ctypes.byref(count)) \
        == PTRT_ERROR_INVALID_AUDIO
    assert b"truncated: the data chunk declares 32000 bytes but the file holds 956" in native.ptrt_last_error()
    assert not data and count.value == 0


def test_c_abi_resampler_agrees_with_soxr(native):
    """The core's resampler and soxr VHQ (the Python path's) on held-out speech: same length, within
    1% relative RMS (they differ only near the band edge, where their transition bands differ)."""
    import soxr

    from parakeet_trt.testing.held_out import held_out_speech

    speech = np.concatenate([held_out_speech(i)[0] for i in (9, 10, 13)])
    for rate in (44100, 48000, 22050, 8000):
        source = soxr.resample(speech, 16000, rate, quality="VHQ")
        expected = soxr.resample(source, rate, 16000, quality="VHQ")
        got = resample(native, source, rate, 16000)
        assert abs(len(got) - len(expected)) <= 1
        n = min(len(got), len(expected))
        relative = np.sqrt(np.mean((got[:n] - expected[:n]) ** 2) / np.mean(expected[:n] ** 2))
        print(f"{rate} Hz -> 16 kHz: core vs soxr relative RMS difference {relative:.2e}")
        assert relative < 1e-2, (rate, relative)
    assert np.array_equal(resample(native, speech, 16000, 16000), speech)
