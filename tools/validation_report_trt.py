#!/usr/bin/env python3
"""Generate docs/VALIDATION_REPORT_TRT.md: the TensorRT validation ladder, per precision.

    tools/validation_report_trt.py [--archs tiny] [--precisions fp32,fp16,bf16] [--out docs/VALIDATION_REPORT_TRT.md] [--quick]

For each test model and precision, builds the TensorRT engines (parakeet_trt.tensorrt.build_model_engines,
cached under $PARAKEET_TRT_CACHE/trt/<arch>/<precision>/) and runs the ONNX Runtime report's rungs where they
apply, with the engine in ONNX Runtime's place (the same code: parakeet_trt.parity.ladder with a session):
offline encoder, decoder_joint, the streaming encoder of each profile (functional and closed-loop,
parakeet_trt.parity.streaming.compare_stream) and decoded tokens (the C++ pipeline with the TensorRT encoder).
fp32 is judged against the contract's tolerances; fp16/bf16 errors are quantified (max abs/rel, P95/P99 against
fp32 TensorRT) with token argmax stability: the share of decoder_joint positions (frames x steps) whose argmax
token equals fp32's and ONNX Runtime's, and the share of utterances whose token sequence is identical.
Exit codes: 0 report written, 7 TensorRT, CUDA or a GPU not available (nothing written).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

import importlib.util

import numpy as np

TOOLS = Path(__file__).resolve().parent
# Run as a script, tools/ is sys.path[0], and its tensorrt/ folder would shadow the real `import tensorrt`.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != TOOLS]
_spec = importlib.util.spec_from_file_location("validation_report_ort", TOOLS / "validation_report_ort.py")
ort_report = importlib.util.module_from_spec(_spec)  # shared constants and formatting
_spec.loader.exec_module(ort_report)

REPO = ort_report.REPO
PRECISIONS = ("fp32", "fp16", "bf16")
JOINT_SHAPE = {"seed": 3, "enc_time": 7, "target_time": 5}


def _joint_feeds(nemo_model) -> dict:
    """decoder_joint inputs at batch 1 (the engine's profiles are batch 1), seeded."""
    rng = np.random.default_rng(JOINT_SHAPE["seed"])
    dec, joint = nemo_model.decoder, nemo_model.joint
    shape = (dec.pred_rnn_layers, 1, dec.pred_hidden)
    return {"encoder_outputs": rng.standard_normal((1, joint.encoder_hidden, JOINT_SHAPE["enc_time"])).astype(np.float32),
            "targets": rng.integers(0, dec.blank_idx + 1, (1, JOINT_SHAPE["target_time"])).astype(np.int32),
            "target_length": np.full((1,), JOINT_SHAPE["target_time"], np.int32),
            "input_states_1": (0.5 * rng.standard_normal(shape)).astype(np.float32),
            "input_states_2": (0.5 * rng.standard_normal(shape)).astype(np.float32)}


def run_arch(arch: str, cache: Path, precisions, quick: bool = False) -> list[str]:
    from parakeet_trt import _core
    from parakeet_trt.parity import ladder
    from parakeet_trt.tensorrt import build_model_engines
    from parakeet_trt.tensorrt.accuracy import argmax_stability, error_stats, merge_error_stats, sequence_identity
    from parakeet_trt.engines.tensorrt_engine import TensorRtPythonEngine
    from parakeet_trt.tensorrt.runner import TrtSession

    m = ort_report.load_arch(arch, cache, quick)
    export_dir, stream_dirs, nemo, core_model, ort_session = (m.export_dir, m.stream_dirs, m.nemo, m.core_model,
                                                               m.session)
    signals, num_chunks = m.signals, m.num_chunks
    num_tokens = nemo.decoder.blank_idx + 1
    feeds = _joint_feeds(nemo)
    ort_logits = ladder._ort(export_dir / "decoder_joint.onnx").run(["outputs"], feeds)[0]
    ort_tokens = [ort_session.transcribe(s.samples, 16000).token_ids for s in signals]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def engines(src: Path, name: str, precision: str) -> Path:
        out = cache / "trt" / arch / precision / name
        if not all((out / f"{e}.engine").is_file() for e in ("encoder", "decoder_joint", "encoder_streaming")
                   if (src / f"{e}.onnx").is_file()):
            build_model_engines(src / "model_meta.json", out, precision, timing_cache=cache / "trt" / "timing.cache",
                                log=log)
        return out

    results, fp32 = {}, {}
    for precision in precisions:
        t0 = time.monotonic()
        offline = engines(export_dir, "offline", precision)
        contract = export_dir / _contract_file(export_dir)
        enc = TrtSession(offline / "encoder.engine", contract)
        joint = TrtSession(offline / "decoder_joint.engine", contract)
        trt_session = copy.copy(ort_session)
        trt_session.encoder_engine = TensorRtPythonEngine(enc, f"tensorrt {precision} encoder.engine")
        trt_session._recognizer = _core.OfflineRecognizer(core_model, trt_session.encoder_engine)
        rungs = [ladder.encoder_rung(nemo, export_dir, core_model, signals, session=enc),
                 ladder.decoder_joint_rung(nemo, export_dir, session=joint, batch=1),
                 ladder.tokens_rung(nemo, trt_session, signals)]
        streams = {}
        for p, d in stream_dirs.items():
            s_engine = engines(d, p, precision) / "encoder_streaming.engine"
            streams[p] = ladder.streaming_rungs(nemo, d, num_chunks,
                                                session=TrtSession(s_engine, d / _contract_file(d)))
        logits = joint.run(["outputs"], feeds)[0]
        tokens = [trt_session.transcribe(s.samples, 16000).token_ids for s in signals]
        enc_out = [enc.run(["outputs"], _encoder_feeds(core_model, s))[0] for s in signals]
        if precision == "fp32":
            fp32 = {"logits": logits, "tokens": tokens, "encoder": enc_out}
        results[precision] = {
            "rungs": rungs, "streams": streams, "seconds": time.monotonic() - t0,
            "vs_fp32": None if precision == "fp32" or not fp32 else {
                "encoder": merge_error_stats([error_stats(a, b) for a, b in zip(enc_out, fp32["encoder"])]),
                "logits": error_stats(logits, fp32["logits"]),
                "argmax": argmax_stability(logits, fp32["logits"], num_tokens),
                "tokens": sequence_identity(tokens, fp32["tokens"])},
            "vs_ort": {"argmax": argmax_stability(logits, ort_logits, num_tokens),
                       "tokens": sequence_identity(tokens, ort_tokens)},
        }
    return report_lines(arch, core_model, results)


def _contract_file(model_dir: Path) -> str:
    import json

    return json.loads((model_dir / "model_meta.json").read_text())["contract"]["file"]


def _encoder_feeds(core_model, signal) -> dict:
    from parakeet_trt import _core

    feats, valid = _core.FeatureExtractor(core_model).compute(signal.samples)
    return {"audio_signal": feats[None], "length": np.array([max(valid, 1)])}


def report_lines(arch: str, core_model, results: dict) -> list[str]:
    fmt = ort_report._fmt
    lines = [f"## {arch}", "",
             "Against NeMo (PyTorch, CPU); the contract's tolerances judge fp32 only, fp16/bf16 are quantified.", "",
             "| precision | component | compared | max abs error | max abs reference | relative | tolerance (abs, rel) "
             "| result |", "|---|---|---|---|---|---|---|---|"]
    for precision, r in results.items():
        lines += [f"| {precision} | " + ort_report.rung_row(rung, None if precision == "fp32" else "quantified")
                  for rung in r["rungs"]]
    lines += ["", "Streaming encoder engine per profile against NeMo:", "",
              "| precision | profile | mode | chunks | pass rate | max abs | P95 | P99 | trend | cache len (last) |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for precision, r in results.items():
        lines += [f"| {precision} | {p} | {m} | {ort_report.stream_row(s)}"
                  for p, modes in r["streams"].items() for m, s in modes.items()]
    lines += ["", "Reduced precision against fp32 TensorRT and ONNX Runtime (argmax over the token logits of "
              f"decoder_joint at {JOINT_SHAPE}; token sequences of the offline pipeline):", "",
              "| precision | encoder max abs / rel / P95 / P99 vs fp32 | logits max abs / rel / P95 / P99 vs fp32 | "
              "argmax = fp32 | argmax = ORT | tokens = fp32 | tokens = ORT |", "|---|---|---|---|---|---|---|"]
    def stats(e):
        return f"{fmt(e['max_abs'])} / {fmt(e['max_rel'])} / {fmt(e['p95_abs'])} / {fmt(e['p99_abs'])}"

    for precision, r in results.items():
        v, o = r["vs_fp32"], r["vs_ort"]
        cells = ([stats(v["encoder"]), stats(v["logits"]), f"{v['argmax']['share']:.4f}"] if v else ["-", "-", "-"])
        cells += [f"{o['argmax']['share']:.4f}", f"{v['tokens']['identical']}/{v['tokens']['sequences']}" if v else "-",
                  f"{o['tokens']['identical']}/{o['tokens']['sequences']}"]
        lines.append(f"| {precision} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--archs", default="tiny")
    p.add_argument("--precisions", default=",".join(PRECISIONS))
    p.add_argument("--out", type=Path, default=REPO / "docs" / "VALIDATION_REPORT_TRT.md")
    p.add_argument("--quick", action="store_true", help=f"fewer signals and chunks ({ort_report.QUICK}); for tests")
    args = p.parse_args(argv)
    precisions = args.precisions.split(",")
    if any(x not in PRECISIONS for x in precisions):
        p.error(f"--precisions: each of {PRECISIONS}")
    precisions = ["fp32", *[x for x in precisions if x != "fp32"]]  # fp16/bf16 are measured against fp32
    from parakeet_trt.tensorrt import EXIT_UNAVAILABLE, TensorRTUnavailable, import_tensorrt
    from parakeet_trt.tensorrt.build import gpu_compute_capability

    try:
        trt = import_tensorrt()
        capability = gpu_compute_capability()
        cache = Path(os.environ.get("PARAKEET_TRT_CACHE", REPO / ".cache"))
        body = []
        for arch in args.archs.split(","):
            print(f"[validation-trt] {arch}", file=sys.stderr, flush=True)
            body += run_arch(arch, cache, precisions, args.quick)
    except TensorRTUnavailable as error:
        print(f"validation_report_trt: TensorRT not available: {error}; nothing written", file=sys.stderr)
        return EXIT_UNAVAILABLE
    head = ["# TensorRT validation report", "",
            "Generated by `tools/validation_report_trt.py`; do not edit by hand. The ONNX Runtime report's rungs "
            "with TensorRT engines in ONNX Runtime's place, per precision.", "",
            f"TensorRT {trt.__version__}, GPU compute capability {capability}.", "",
            *([f"Quick mode {ort_report.QUICK}: not the committed report.", ""] if args.quick else [])]
    args.out.write_text("\n".join(head + body), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
