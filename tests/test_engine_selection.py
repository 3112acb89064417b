"""Choosing the encoder engine (issue 7): ``Session(engine="tensorrt")`` / ``transcribe --engine
tensorrt`` run engines built by ``parakeet-trt build-trt``; without TensorRT they fail with
TensorRTUnavailable and exit code 7. The adapter that puts a TensorRT session behind the core's
engine call is checked with ONNX Runtime's session, which has the same ``run(names, feeds)`` call."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

import parakeet_trt
from parakeet_trt import _core
from parakeet_trt.engines.tensorrt_engine import TensorRtPythonEngine
from parakeet_trt.errors import ModelError
from parakeet_trt.tensorrt import EXIT_UNAVAILABLE, TensorRTUnavailable

HAVE_TENSORRT = importlib.util.find_spec("tensorrt") is not None
needs_no_tensorrt = pytest.mark.skipif(HAVE_TENSORRT, reason="TensorRT is installed: the unavailable path cannot run")


@needs_no_tensorrt
def test_session_with_tensorrt_is_unavailable_without_it(tiny_export_dir):
    # The C++ engine's own message: what is missing (TensorRT not compiled in, or libnvinfer absent).
    with pytest.raises(TensorRTUnavailable, match="TensorRT|libnvinfer"):
        parakeet_trt.Session(tiny_export_dir, engine="tensorrt")
    with pytest.raises(ValueError, match="engine must be one of"):
        parakeet_trt.Session(tiny_export_dir, engine="tvm")


@needs_no_tensorrt
def test_cli_engine_tensorrt_exits_7(tiny_export_dir, speech_signal, tmp_path, capsys):
    import soundfile

    from parakeet_trt.cli import main

    wav = tmp_path / "speech.wav"
    soundfile.write(wav, speech_signal, 16000)
    for mode in ("offline", "buffered", "cache_aware"):
        code = main(["transcribe", "--model", str(tiny_export_dir), "--engine", "tensorrt", "--mode", mode, str(wav)])
        assert code == EXIT_UNAVAILABLE == 7
        err = capsys.readouterr().err
        assert "TensorRT" in err or "libnvinfer" in err
    with pytest.raises(SystemExit) as bad:
        main(["transcribe", "--engine", "tvm", str(wav)])
    assert bad.value.code == 2


def test_tensorrt_adapter_feeds_the_core_like_onnxruntime(tiny_export_dir, tiny_session, speech_signal):
    import onnxruntime as ort

    meta = json.loads((tiny_export_dir / "model_meta.json").read_text())
    graph = ort.InferenceSession(str(tiny_export_dir / meta["graphs"]["encoder"]["file"]),
                                 providers=["CPUExecutionProvider"])
    adapter = TensorRtPythonEngine(graph, "onnxruntime session behind the TensorRT adapter")
    recognizer = _core.OfflineRecognizer(tiny_session.model, adapter)
    audio = speech_signal.astype(np.float32)
    got = recognizer.transcribe(audio)
    expected = tiny_session.transcribe(audio, 16000)
    assert got["token_ids"] == expected.token_ids and len(got["token_ids"]) > 3


def test_missing_engine_file_says_how_to_build_it(tiny_export_dir, tmp_path, monkeypatch):
    import parakeet_trt.tensorrt.build as build

    monkeypatch.setattr(build, "import_tensorrt", lambda: object())  # as if TensorRT were installed
    with pytest.raises(ModelError, match=r"no TensorRT engine at .*encoder.engine.*parakeet-trt build-trt"):
        TensorRtPythonEngine.load(tmp_path, "encoder", tiny_export_dir / "x.contract.json")


def test_the_onnxruntime_library_variable_is_honoured(monkeypatch, tmp_path):
    """$PTRT_ONNXRUNTIME_LIBRARY is the library Python sessions load too (not overridden by the wheel's)."""
    missing = tmp_path / "libonnxruntime.so"
    monkeypatch.setenv("PTRT_ONNXRUNTIME_LIBRARY", str(missing))
    with pytest.raises(_core.UnavailableError, match=str(missing)):
        parakeet_trt.Session("demo")


def test_allow_spinning_takes_a_bool_and_either_value_reads_the_same(tiny_export_dir, speech_signal):
    """Session(allow_spinning=...) is a bool ('False' would be truthy); spinning and blocking engines give the
    same tokens."""
    for bad in ("False", 0, None):
        with pytest.raises(TypeError, match="allow_spinning must be True or False"):
            parakeet_trt.Session(tiny_export_dir, allow_spinning=bad)
    spinning = parakeet_trt.Session(tiny_export_dir, allow_spinning=True)
    blocking = parakeet_trt.Session(tiny_export_dir, allow_spinning=False)
    assert list(spinning.transcribe(speech_signal, 16000).token_ids) == \
        list(blocking.transcribe(speech_signal, 16000).token_ids)
