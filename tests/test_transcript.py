"""Transcript state (C++ core through _core and the C ABI): property tests over random hypothesis
sequences (committed text only grows; replaying the patches reproduces the state's text exactly;
at the end the finals add up to the committed text), the C ABI giving the same events as _core,
and bad input."""

from __future__ import annotations

import ctypes
import random

import pytest

from parakeet_trt import _core
from parakeet_trt.live.protocol import Display, ProtocolError
from parakeet_trt.models import resolve_model_dir


@pytest.fixture(scope="module")
def model():
    return _core.Model.load(str(resolve_model_dir(None)))


def random_options(rng: random.Random) -> dict:
    return dict(stable_updates=rng.randrange(4), max_lag_ms=rng.choice([0, 400, 1200]),
                max_window_tokens=rng.choice([0, 3, 8]), endpoint_blank_ms=rng.choice([0, 400, 800]),
                endpoint_vad_ms=rng.choice([0, 300]), endpoint_require_both=rng.random() < 0.3,
                commit_whole_words=rng.random() < 0.8)


def random_run(model, rng: random.Random, step_mode: bool):
    """Drives one state with a random hypothesis sequence; yields (state, events) per call."""
    state = _core.TranscriptState(model, **random_options(rng))
    truth, stable_count, frame, edge = [], 0, 0, 0.0
    for _ in range(rng.randrange(3, 40)):
        for _ in range(rng.randrange(4)):
            frame += rng.randrange(6)
            truth.append((rng.randrange(model.vocab_size), frame, rng.randrange(3)))
        edge = max(edge, (frame + 2) * model.frame_stride_s) + rng.choice([0.0, 0.16, 0.5])
        vad = rng.choice([-1.0, 0.0, 500.0])
        if step_mode:
            target = max(stable_count, len(truth) - rng.randrange(4))
            new_stable, stable_count = truth[stable_count:target], target
            tail = [(rng.randrange(model.vocab_size) if rng.random() < 0.3 else t, f, d)
                    for t, f, d in truth[stable_count:]]
            as_dict = lambda ts: {"token_ids": [t[0] for t in ts], "token_frames": [t[1] for t in ts],
                                  "token_durations": [t[2] for t in ts]}
            yield state, state.apply_step(as_dict(new_stable), as_dict(tail), edge, vad)
        else:
            hyp = list(truth)
            cut = rng.randrange(len(hyp) + 1)
            hyp[cut:] = [(rng.randrange(model.vocab_size), f, d) if rng.random() < 0.5 else (t, f, d)
                         for t, f, d in hyp[cut:]]
            if hyp and rng.random() < 0.2:
                hyp.pop()
            yield state, state.apply_hypothesis([t[0] for t in hyp], [t[1] for t in hyp], [t[2] for t in hyp], edge, vad)
        if rng.random() < 0.1:
            yield state, state.endpoint(edge)
    yield state, state.finish(edge + 0.1)


@pytest.mark.parametrize("step_mode", [False, True], ids=["hypotheses", "steps"])
def test_random_sequences_replay_exactly_and_commit_only_grows(model, step_mode):
    rng = random.Random(20261121 + step_mode)
    for trial in range(300):
        display, committed_before, finals = Display(), "", []
        state = None
        for state, events in random_run(model, rng, step_mode):
            for event in events:
                display.apply(event)  # raises on any protocol rule broken
                if event["type"] == "final":
                    finals.append(event["text"])
            assert display.text == state.display_text, f"trial {trial}: replay differs"
            assert display.committed_len == state.committed_len
            assert state.committed_text.startswith(committed_before), f"trial {trial}: committed text changed"
            committed_before = state.committed_text
        assert state.finished and display.text == state.committed_text == display.committed_text
        assert "".join(finals) == state.committed_text, f"trial {trial}: finals do not add up"
        assert [f["segment"] for f in display.finals] == list(range(len(display.finals)))


def test_snapshot_resyncs_a_client_that_missed_patches(model):
    rng = random.Random(5)
    late = None
    for state, events in random_run(model, rng, step_mode=True):
        if late is None and state.last_seq > 3:
            late = Display()
            late.apply(state.snapshot())
            continue
        if late is not None:
            for event in events:
                late.apply(event)
            assert late.text == state.display_text
    assert late is not None


def test_display_refuses_a_patch_that_rewrites_committed_text():
    display = Display()
    display.apply({"type": "patch", "seq": 1, "committed_len": 3, "replace_from": 0, "text": "the cat"})
    with pytest.raises(ProtocolError, match="below the committed length"):
        display.apply({"type": "patch", "seq": 2, "committed_len": 3, "replace_from": 2, "text": "x"})
    with pytest.raises(ProtocolError, match="does not increase"):
        display.apply({"type": "patch", "seq": 1, "committed_len": 3, "replace_from": 3, "text": ""})


def test_bad_options_and_tokens_are_refused_with_the_field_named(model):
    with pytest.raises(ValueError, match="max_lag_ms"):
        _core.TranscriptState(model, max_lag_ms=-5)
    state = _core.TranscriptState(model)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        state.apply_hypothesis([model.vocab_size + 7], [0], [1], 0.1)
    with pytest.raises(ValueError, match="differ in length"):
        state.apply_hypothesis([1, 2], [0], [1, 1], 0.1)
    state.apply_hypothesis([1], [0], [1], 0.5)
    with pytest.raises(ValueError, match="goes back"):
        state.apply_hypothesis([1], [0], [1], 0.2)
    state.finish(0.6)
    with pytest.raises(_core.ParakeetError, match="after finish"):
        state.apply_hypothesis([1], [0], [1], 0.7)


# --- the C ABI gives the same events -------------------------------------------------------------

class Token(ctypes.Structure):
    _fields_ = [("id", ctypes.c_int32), ("duration", ctypes.c_int32), ("frame", ctypes.c_int64)]


class Word(ctypes.Structure):
    _fields_ = [("text", ctypes.c_char_p), ("start_s", ctypes.c_double), ("end_s", ctypes.c_double)]


class Options(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("stable_updates", ctypes.c_int32),
                ("max_window_tokens", ctypes.c_int32), ("max_lag_ms", ctypes.c_int64),
                ("endpoint_blank_ms", ctypes.c_int64), ("endpoint_vad_ms", ctypes.c_int64),
                ("endpoint_require_both", ctypes.c_int32), ("commit_whole_words", ctypes.c_int32)]


class Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int32), ("reserved", ctypes.c_int32), ("seq", ctypes.c_int64),
                ("committed_len", ctypes.c_int64), ("replace_from", ctypes.c_int64), ("text", ctypes.c_char_p),
                ("text_size", ctypes.c_size_t), ("audio_end_s", ctypes.c_double), ("segment", ctypes.c_int64),
                ("start_s", ctypes.c_double), ("end_s", ctypes.c_double), ("words", ctypes.POINTER(Word)),
                ("num_words", ctypes.c_size_t)]


def c_library():
    from test_c_abi import find_library  # the C ABI tests' library lookup (env, package, build/ctest)

    lib = ctypes.CDLL(str(find_library()))
    lib.ptrt_last_error.restype = ctypes.c_char_p
    return lib


def c_events(pointer, count) -> list[dict]:
    names = {1: "patch", 2: "final", 3: "snapshot"}
    out = []
    for i in range(count):
        e = pointer[i]
        d = {"type": names[e.type], "seq": e.seq, "text": e.text.decode("utf-8")}
        if e.type == 1:
            d.update(committed_len=e.committed_len, replace_from=e.replace_from)
        elif e.type == 2:
            d.update(segment=e.segment, start_s=round(e.start_s, 9), end_s=round(e.end_s, 9))
        d["words"] = [pointer[i].words[k].text.decode("utf-8") for k in range(e.num_words)]
        out.append(d)
    return out


def core_events(events: list[dict]) -> list[dict]:
    out = []
    for e in events:
        d = {"type": e["type"], "seq": e["seq"], "text": e["text"]}
        if e["type"] == "patch":
            d.update(committed_len=e["committed_len"], replace_from=e["replace_from"])
        elif e["type"] == "final":
            d.update(segment=e["segment"], start_s=round(e["start_s"], 9), end_s=round(e["end_s"], 9))
        d["words"] = [w["word"] for w in e["words"]]
        out.append(d)
    return out


def test_c_abi_events_equal_the_python_binding(model):
    lib = c_library()
    c_model = ctypes.c_void_p()
    assert lib.ptrt_model_load(str(resolve_model_dir(None)).encode(), None, ctypes.byref(c_model)) == 0
    try:
        options = Options()
        lib.ptrt_transcript_options_init(ctypes.byref(options))
        assert (options.stable_updates, options.max_lag_ms, options.commit_whole_words) == (2, 1200, 1)
        options.max_lag_ms = 400
        state = ctypes.c_void_p()
        assert lib.ptrt_transcript_state_create(c_model, ctypes.byref(options), ctypes.byref(state)) == 0
        py_state = _core.TranscriptState(model, max_lag_ms=400)
        rng = random.Random(3)
        truth, stable_count, frame = [], 0, 0
        events_ptr, count = ctypes.POINTER(Event)(), ctypes.c_size_t()
        compared = 0
        for step in range(60):
            for _ in range(rng.randrange(3)):
                frame += rng.randrange(1, 5)
                truth.append((rng.randrange(model.vocab_size), frame, rng.randrange(3)))
            edge = (frame + 3) * model.frame_stride_s
            new_stable, tail = truth[stable_count:max(stable_count, len(truth) - 2)], truth[max(stable_count, len(truth) - 2):]
            stable_count += len(new_stable)
            tokens = lambda ts: (Token * max(len(ts), 1))(*[Token(t, d, f) for t, f, d in ts])
            status = lib.ptrt_transcript_state_apply_step(
                state, tokens(new_stable), ctypes.c_size_t(len(new_stable)), tokens(tail), ctypes.c_size_t(len(tail)),
                ctypes.c_double(edge), ctypes.c_double(-1.0), ctypes.byref(events_ptr), ctypes.byref(count))
            assert status == 0, lib.ptrt_last_error()
            as_dict = lambda ts: {"token_ids": [t[0] for t in ts], "token_frames": [t[1] for t in ts],
                                  "token_durations": [t[2] for t in ts]}
            expected = core_events(py_state.apply_step(as_dict(new_stable), as_dict(tail), edge))
            assert c_events(events_ptr, count.value) == expected, f"step {step}"
            compared += len(expected)
        # Bad input: a token outside the vocabulary is refused and named; the state is unchanged.
        bad = (Token * 1)(Token(model.vocab_size + 1, 1, 0))
        assert lib.ptrt_transcript_state_apply_hypothesis(state, bad, ctypes.c_size_t(1), ctypes.c_double(edge + 0.5),
                                                          ctypes.c_double(-1.0), ctypes.byref(events_ptr),
                                                          ctypes.byref(count)) == 1
        assert b"outside the vocabulary" in lib.ptrt_last_error()
        assert lib.ptrt_transcript_state_finish(state, ctypes.c_double(edge + 1), ctypes.byref(events_ptr),
                                                ctypes.byref(count)) == 0
        assert c_events(events_ptr, count.value) == core_events(py_state.finish(edge + 1))
        assert compared > 20
        assert lib.ptrt_transcript_state_apply_step(state, None, ctypes.c_size_t(0), None, ctypes.c_size_t(0),
                                                    ctypes.c_double(edge + 2), ctypes.c_double(-1.0),
                                                    ctypes.byref(events_ptr), ctypes.byref(count)) == 6
        assert b"after finish" in lib.ptrt_last_error()
        snap = ctypes.POINTER(Event)()
        assert lib.ptrt_transcript_state_snapshot(state, ctypes.byref(snap)) == 0
        assert snap[0].type == 3 and snap[0].text.decode() == py_state.committed_text
        lib.ptrt_transcript_state_destroy(state)
        lib.ptrt_transcript_state_destroy(None)
    finally:
        lib.ptrt_model_destroy(c_model)
