#!/usr/bin/env python3
"""Offline benchmark: parakeet_trt vs NeMo (baseline) vs onnx-asr (peer), in one run, one table.

    bench/bench_offline.py [--arch tiny parakeet-tdt-0.6b-v3] [--repeats 5] [--markdown docs/BENCH_OFFLINE.md]

Rows:
  features   C++ log-mel vs NeMo's preprocessor (torch), same audio
  decode     C++ projection + TDT greedy decoding vs NeMo greedy_batch, same encoder output
  end-to-end file → text: parakeet_trt (C++ features, ONNX Runtime encoder, C++ decoding) vs NeMo
             (preprocessor + encoder + greedy_batch in PyTorch) vs onnx-asr (its ONNX preprocessor,
             the same encoder.onnx / decoder_joint.onnx, its Python TDT loop)
Transcripts are compared: ours must equal NeMo token for token and onnx-asr text for text.
Times are medians over --repeats runs after one warm-up, on this machine's CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]



def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def onnx_asr_folder(export_dir: Path, core_model, dest: Path) -> Path:
    """The layout onnx-asr expects, pointing at the very same graphs (symlinks)."""
    dest.mkdir(parents=True, exist_ok=True)
    meta = json.loads((export_dir / "model_meta.json").read_text())
    (dest / "encoder-model.onnx").symlink_to((export_dir / "encoder.onnx").resolve())
    for extra in meta["graphs"]["encoder"].get("external_data", []):
        (dest / extra).symlink_to((export_dir / extra).resolve())
    (dest / "decoder_joint-model.onnx").symlink_to((export_dir / "decoder_joint.onnx").resolve())
    pieces = (export_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    with open(dest / "vocab.txt", "w", encoding="utf-8") as f:
        for i, piece in enumerate(pieces):
            f.write(f"{piece} {i}\n")
        f.write(f"<blk> {len(pieces)}\n")
    (dest / "config.json").write_text(json.dumps({
        "model_type": "nemo-conformer-tdt", "features_size": core_model.n_mels,
        "subsampling_factor": 8, "max_tokens_per_step": core_model.max_symbols}))
    return dest


def bench_arch(arch: str, seed: int, audio: np.ndarray, repeats: int, rows: list, checks: list) -> None:
    import onnx_asr
    import torch

    import parakeet_trt
    from parakeet_trt import _core
    from parakeet_trt.parity.offline import nemo_features
    from parakeet_trt.testing.exports import cached_export_dir, cached_nemo_path
    from parakeet_trt.testing.test_models import decode_with_nemo, load_test_model

    audio_s = len(audio) / 16000
    cache = Path(os.environ.get("PARAKEET_TRT_CACHE", REPO / ".cache"))
    nemo_path = cached_nemo_path(arch, seed, cache)
    export_dir = cached_export_dir(arch, seed, cache)
    nemo = load_test_model(nemo_path)
    session = parakeet_trt.Session(export_dir)
    core_model = session.model

    # Features.
    extractor = _core.FeatureExtractor(core_model)
    ours = median_ms(lambda: extractor.compute(audio), repeats)
    theirs = median_ms(lambda: nemo_features(nemo, audio), repeats)
    rows.append((arch, f"features ({audio_s:.0f} s audio)", ours, theirs, "NeMo preprocessor"))

    # Decode loop on the same encoder output.
    feats, valid = nemo_features(nemo, audio)
    with torch.inference_mode():
        enc, enc_len = nemo.encoder(audio_signal=torch.from_numpy(feats)[None], length=torch.tensor([valid]))
    step = _core.NativeDecoderStep(core_model)
    decoder = _core.TdtGreedyDecoder(core_model, step)
    enc_np = np.ascontiguousarray(enc[0].numpy())

    def ours_decode():
        return decoder.decode(step.project_encoder(enc_np), int(enc_len[0]))

    from parakeet_trt.testing.test_models import decode_encoded_with_nemo

    def nemo_decode():
        return decode_encoded_with_nemo(nemo, enc, enc_len)

    ours = median_ms(ours_decode, repeats)
    theirs = median_ms(nemo_decode, repeats)
    ids, _, _ = ours_decode()
    num_tokens = len(ids)
    rows.append((arch, f"decode ({int(enc_len[0])} frames, {num_tokens} tokens)", ours, theirs, "NeMo greedy_batch"))
    nemo_ids = nemo_decode()["token_ids"]
    checks.append((arch, "decode tokens == NeMo", list(ids) == nemo_ids))

    # End to end.
    ours_e2e = median_ms(lambda: session.transcribe(audio, 16000), repeats)
    nemo_e2e = median_ms(lambda: decode_with_nemo(nemo, audio), repeats)
    with tempfile.TemporaryDirectory() as tmp:
        peer = onnx_asr.load_model("nemo-conformer-tdt", onnx_asr_folder(export_dir, core_model, Path(tmp) / "m"))
        peer_e2e = median_ms(lambda: peer.recognize(audio, sample_rate=16000), repeats)
        peer_text = peer.recognize(audio, sample_rate=16000)
    ours_result = session.transcribe(audio, 16000)
    nemo_result = decode_with_nemo(nemo, audio)
    rows.append((arch, f"end-to-end ({audio_s:.0f} s audio)", ours_e2e, nemo_e2e, "NeMo (PyTorch)"))
    rows.append((arch, f"end-to-end ({audio_s:.0f} s audio)", ours_e2e, peer_e2e, "onnx-asr (same graphs)"))
    checks.append((arch, "end-to-end tokens == NeMo", ours_result.token_ids == nemo_result["token_ids"]))
    checks.append((arch, "end-to-end text == onnx-asr", ours_result.text == peer_text.strip()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", default=["tiny", "parakeet-tdt-0.6b-v3"],
                        help="test-model architectures to run (default: tiny and the full-size v3)")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length (espeak speech, default 60 s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row after one warm-up (default 5)")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table to this Markdown file")
    args = parser.parse_args()

    from parakeet_trt.testing.exports import default_seed
    from parakeet_trt.testing.signals import speech_sequence

    audio = speech_sequence(np.random.default_rng(0), args.seconds)
    rows, checks = [], []
    for arch in args.arch:
        print(f"[bench] {arch} ...", file=sys.stderr)
        bench_arch(arch, default_seed(arch), audio, args.repeats, rows, checks)

    lines = [
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"median of {args.repeats} runs; audio: {args.seconds:.0f} s of espeak-ng speech.",
        "",
        "| model | stage | parakeet_trt ms | baseline ms | baseline | speed-up | RTFx ours |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for arch, stage, ours, theirs, baseline in rows:
        rtfx = f"{args.seconds * 1000 / ours:.1f}" if stage.startswith("end-to-end") else ""
        lines.append(f"| {arch} | {stage} | {ours:.1f} | {theirs:.1f} | {baseline} | {theirs / ours:.2f}× | {rtfx} |")
    lines += ["", "| model | check | result |", "|---|---|---|"]
    lines += [f"| {arch} | {name} | {'pass' if ok else 'FAIL'} |" for arch, name, ok in checks]
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        header = ("# Offline benchmark\n\nGenerated by `bench/bench_offline.py "
                  + " ".join(sys.argv[1:]) + "`; do not edit by hand.\n\n")
        args.markdown.write_text(header + table + "\n")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
