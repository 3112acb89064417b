#!/usr/bin/env python3
"""One timed run of one ASR system, in its own process (bench/bench_peers.py starts it).

    <python> bench/peer_worker.py JOB.json     # prints one JSON line: timings, texts, peak RSS

The job names the system (parakeet_trt, nemo, sherpa-onnx, onnx-asr), its model folder (or .nemo),
the thread count and the audio (float32 16 kHz .npy files: one long file, many short ones). The
process loads the model, transcribes the long file, then the short ones one by one, and reports
wall times of each part and its own peak resident memory. It imports only the system it runs, so
it works in the peers' venv (no parakeet_trt there) as well as in the project's.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np


def _parakeet_trt(job):
    import parakeet_trt

    session = parakeet_trt.Session(job["model"], intra_op_threads=job["threads"],
                                   providers=["CPUExecutionProvider"])
    return lambda audio: session.transcribe(audio, 16000).text


def _nemo(job):
    import torch

    from parakeet_trt.testing.test_models import decode_with_nemo, load_test_model

    torch.set_num_threads(job["threads"])
    model = load_test_model(job["model"])
    return lambda audio: decode_with_nemo(model, audio)["text"]


def _sherpa_onnx(job):
    import sherpa_onnx

    folder, suffix = job["model"], job.get("suffix", "")
    recognizer = sherpa_onnx.OfflineRecognizer.from_transducer(
        encoder=f"{folder}/encoder{suffix}.onnx", decoder=f"{folder}/decoder{suffix}.onnx",
        joiner=f"{folder}/joiner{suffix}.onnx", tokens=f"{folder}/tokens.txt", num_threads=job["threads"],
        model_type="nemo_transducer", decoding_method="greedy_search", provider="cpu")

    def run(audio):
        stream = recognizer.create_stream()
        stream.accept_waveform(16000, audio)
        recognizer.decode_stream(stream)
        return stream.result.text

    return run


def _onnx_asr(job):
    import onnx_asr
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = job["threads"]
    options.inter_op_num_threads = 1
    model = onnx_asr.load_model("nemo-conformer-tdt", job["model"], quantization=job.get("quantization"),
                                sess_options=options, providers=["CPUExecutionProvider"])
    return lambda audio: model.recognize(audio, sample_rate=16000)


SYSTEMS = {"parakeet_trt": _parakeet_trt, "nemo": _nemo, "sherpa-onnx": _sherpa_onnx, "onnx-asr": _onnx_asr}
# Distributions whose versions the report names, per system.
PACKAGES = {"parakeet_trt": ["onnxruntime"], "nemo": ["nemo_toolkit", "torch"], "sherpa-onnx": ["sherpa-onnx"],
            "onnx-asr": ["onnx-asr", "onnxruntime"]}


def versions(system: str) -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in PACKAGES[system]:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "?"
    return out


def peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM belongs to the address space made at exec. (getrusage's ru_maxrss
    is not: Linux carries it over fork and exec, so a worker started by a large parent reports the parent's
    peak.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("/proc/self/status has no VmHWM line")


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        job = json.load(f)
    long_audio = np.load(job["long"])
    shorts = [np.load(p) for p in job["shorts"]]
    start = time.perf_counter()
    transcribe = SYSTEMS[job["system"]](job)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    long_text = transcribe(long_audio)
    long_s = time.perf_counter() - start
    start = time.perf_counter()
    short_texts = [transcribe(a) for a in shorts]
    short_s = time.perf_counter() - start
    print(json.dumps({"load_s": load_s, "long_s": long_s, "short_s": short_s,
                      "long_text": " ".join(str(long_text).split()),
                      "short_texts": [" ".join(str(t).split()) for t in short_texts],
                      "peak_rss_mb": peak_rss_mb(),
                      "versions": versions(job["system"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
