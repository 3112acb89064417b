"""Command-line front of the exporter, shared by `parakeet-trt export` and tools/export_onnx/export.py.

Writes into --out:
  encoder.onnx [+ encoder.onnx.data]  audio_signal f32 [B,n_mels,T], length i64 [B]
                                      -> outputs f32 [B,D,T_enc], encoded_lengths i64 [B]
                                      (external data, one file, when the graph is > ~1.8 GB)
  decoder_joint.onnx                  NeMo's RNNTDecoderJoint: encoder_outputs, targets i32,
                                      target_length i32, input_states_1/2 -> outputs (raw logits),
                                      prednet_lengths, output_states_1/2
  decoder_step.bin                    embedding, LSTM and joint weights, raw float32, 64-byte aligned
  vocab.txt                           one token per line, id order (blank not listed)
  encoder_streaming.onnx              (--component encoder_streaming) NeMo's cache-aware step:
                                      audio_signal [B,n_mels,window], length, cache_last_channel,
                                      cache_last_time, cache_last_channel_len -> outputs,
                                      encoded_lengths and the next caches
  model_meta.json                     everything the runtime needs, read from the .nemo
  <model>.contract.json               the contract the runtime checks (docs/CONTRACT_SOURCES.md)

The export is deterministic: the same .nemo gives byte-identical files. ONNX opset 17,
TorchScript exporter (dynamo=False), onnx.checker-clean. Progress goes to stderr; a JSON
summary goes to stdout. Exit status 2 for a bad input (missing/corrupt .nemo, not an
RNNT/TDT model, unwritable output directory).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", required=True, type=Path, help="input .nemo file")
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
    parser.add_argument("--component", default="all",
                        help="what to export, comma-separated: all (= encoder,decoder_joint), encoder, "
                             "decoder_joint, encoder_streaming. Every export also writes decoder_step.bin, "
                             "vocab.txt, model_meta.json and <model>.contract.json")
    parser.add_argument("--streaming-profile", choices=["chunk_isolated", "cache_aware"], default=None,
                        help="encoder_streaming profile (default: cache_aware when --streaming-chunk-size is "
                             "given, else chunk_isolated = NeMo's default streaming parameters)")
    parser.add_argument("--streaming-chunk-size", type=int, default=None,
                        help="cache_aware: encoder frames per call (80 ms each for parakeet)")
    parser.add_argument("--streaming-shift-size", type=int, default=None,
                        help="cache_aware: encoder frames committed and emitted per call (<= chunk)")
    parser.add_argument("--streaming-left-chunks", type=int, default=None,
                        help="cache_aware: attention cache = left_chunks * chunk encoder frames")
    parser.add_argument("--streaming-cache-size", type=int, default=None,
                        help="override the attention cache length (encoder frames); chunk_isolated default: "
                             "its cache_drop_size, since NeMo's 10000 does not fit the positional table")
    parser.add_argument("--streaming-cache-drop-size", type=int, default=None,
                        help="override NeMo's cache_drop_size (encoder frames recomputed each call)")
    parser.add_argument("--precision", default="fp32",
                        help="encoder graphs' precision: fp32 (default, token-identical to NeMo), int8 (ONNX "
                             "Runtime dynamic quantization of the MatMul weights, per channel; the fastest on CPU), "
                             "fp16 (for GPU engines). bf16 is refused: ONNX Runtime's CPU provider has no bf16 "
                             "kernels; TensorRT builds bf16 from the fp32 graph. Recorded in the contract")
    parser.add_argument("--device", default="cpu", help="torch device used for tracing (default cpu)")
    parser.add_argument("--smoke-test-ort", action="store_true",
                        help="run the exported graphs in ONNX Runtime on random inputs and report the max abs "
                             "difference to the PyTorch modules")
    parser.add_argument("--max-audio-s", type=float, default=None,
                        help="longest audio (seconds) one encoder call must accept; extends the encoder's "
                             "positional table before export (default: the model's own limit, 5000 encoder "
                             "frames = 400 s for parakeet). The limit is recorded as encoder.max_encoder_frames")
    parser.add_argument("--quiet", action="store_true", help="no progress messages on stderr")


def _log(msg: str) -> None:
    print(f"[export] {msg}", file=sys.stderr, flush=True)


def run_export(args: argparse.Namespace) -> int:
    from parakeet_trt.export import ExportError, export_model

    try:
        res = export_model(args.model, args.out, component=args.component, device=args.device,
                           smoke_test_ort=args.smoke_test_ort, max_audio_s=args.max_audio_s,
                           streaming_profile=args.streaming_profile, streaming_chunk_size=args.streaming_chunk_size,
                           streaming_shift_size=args.streaming_shift_size,
                           streaming_left_chunks=args.streaming_left_chunks,
                           streaming_cache_size=args.streaming_cache_size,
                           streaming_cache_drop_size=args.streaming_cache_drop_size, precision=args.precision,
                           log=(lambda m: None) if args.quiet else _log)
    except ExportError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    summary = {"out_dir": str(res.out_dir), "artifacts": res.files,
               "timings_s": {k: round(v, 2) for k, v in res.timings_s.items()}}
    if res.smoke is not None:
        summary["smoke_test_ort"] = res.smoke
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="export.py")
    add_export_arguments(parser)
    return run_export(parser.parse_args(argv))
