"""Unbounded numbers (issue 18 item 5): stream options are checked as integers against documented maxima
before any arithmetic (chunk/right ≤ 60 s, left ≤ 600 s, history ≤ 600 s), so a huge value is a clear
error naming the field instead of an int64 overflow or a 12.5 GB allocation; feature counts of absurd
sample counts are refused through the C ABI instead of overflowing."""

from __future__ import annotations

import ctypes

import pytest

import parakeet_trt
from parakeet_trt import _core
from parakeet_trt.streaming import StreamingSession

from test_c_abi import find_library, load_model


@pytest.fixture(scope="module")
def session():
    return parakeet_trt.Session("demo")


@pytest.mark.parametrize("field,value", [("left_ms", 2**63 - 1), ("left_ms", 6 * 10**17), ("chunk_ms", 10**12),
                                         ("right_ms", 2**62), ("history_ms", 2**62), ("history_ms", 10**8),
                                         ("left_ms", 600080)])
def test_huge_stream_options_are_refused_naming_the_field(session, field, value):
    options = {"chunk_ms": 560, "left_ms": 10000, "right_ms": 560, "history_ms": 0, field: value}
    with pytest.raises(ValueError, match=field):
        StreamingSession(session, **options)
    with pytest.raises(ValueError, match=field):
        _core.LiveStream(session.model, session.encoder_engine, **options)


def test_the_maxima_themselves_are_accepted(session):
    # history at its maximum (the demo encoder's positional table bounds left context below 600 s).
    StreamingSession(session, chunk_ms=560, left_ms=10000, right_ms=560, history_ms=600000)


def test_feature_frames_of_an_absurd_count_is_an_error_through_the_c_abi():
    lib = ctypes.CDLL(str(find_library()))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    lib.ptrt_model_feature_frames.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64),
                                              ctypes.POINTER(ctypes.c_int64)]
    model = load_model(lib, parakeet_trt.Session("demo").model_dir)
    frames, valid = ctypes.c_int64(), ctypes.c_int64()
    status = lib.ptrt_model_feature_frames(model, 2**63 - 1, ctypes.byref(frames), ctypes.byref(valid))
    assert status == 1, lib.ptrt_last_error()  # PTRT_ERROR_INVALID_ARGUMENT
    assert b"2^40" in lib.ptrt_last_error()
    assert lib.ptrt_model_feature_frames(model, 16000, ctypes.byref(frames), ctypes.byref(valid)) == 0
    assert (frames.value, valid.value) == (101, 100)
