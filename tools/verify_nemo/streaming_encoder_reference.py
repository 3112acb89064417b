#!/usr/bin/env python3
"""PyTorch reference of the streaming encoder: NeMo's cache_aware_stream_step, chunk by chunk.

    tools/verify_nemo/streaming_encoder_reference.py --model X.nemo --device cpu \
        [--contract DIR/<model>.contract.json | --profile chunk_isolated|cache_aware \
         [--chunk-len N --shift-len N --left-chunks N] [--cache-size N]] \
        --num-chunks N --seed N --jsonl-out F

The streaming parameters come from an export's contract (so reference and graph agree exactly) or
from the options, applied as the exporter applies them. Input: seeded N(0,1) features (what
normalized log-mels look like to the encoder). Writes one JSON line per chunk (inputs digest,
outputs, cache digests, lengths) after a header line, and every tensor into F.npz for the
functional parity mode (tools/onnxruntime/onnx_streaming_parity.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--device", default="cpu")
    p.add_argument("--contract", type=Path, default=None, help="take the streaming parameters from this contract")
    p.add_argument("--profile", choices=["chunk_isolated", "cache_aware"], default=None)
    p.add_argument("--chunk-len", type=int, default=None, help="cache_aware chunk (encoder frames)")
    p.add_argument("--shift-len", type=int, default=None, help="cache_aware shift (default: chunk/2)")
    p.add_argument("--left-chunks", type=int, default=None, help="cache_aware left chunks (default 2)")
    p.add_argument("--cache-size", type=int, default=None)
    p.add_argument("--num-chunks", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--jsonl-out", type=Path, required=True)
    args = p.parse_args(argv)

    from parakeet_trt.export.loading import inspect_nemo, restore_model
    from parakeet_trt.export.streaming import apply_streaming_params
    from parakeet_trt.parity.streaming import reference_features, reference_stream, write_reference

    model = restore_model(inspect_nemo(args.model), device=args.device)
    if args.contract is not None:
        s = json.loads(args.contract.read_text())["streaming"]
        params = dict(chunk_size=s["chunk_size"], shift_size=s["shift_size"], left_chunks=s["left_chunks"],
                      cache_size=s["last_channel_cache_size"], cache_drop_size=None)
        profile = s["profile"]
    else:
        profile = args.profile or ("cache_aware" if args.chunk_len else "chunk_isolated")
        params = dict(cache_size=args.cache_size)
        if profile == "cache_aware":
            chunk = args.chunk_len or 16
            params.update(chunk_size=chunk, shift_size=args.shift_len or max(1, chunk // 2),
                          left_chunks=args.left_chunks or 2)
    prof = apply_streaming_params(model.encoder, profile, **params)
    n_frames = prof.pre_encode_cache_size + prof.new_frames_per_call + prof.advance_frames_per_call * args.num_chunks
    feats = reference_features(int(model.encoder._feat_in), n_frames, args.seed)
    records = reference_stream(model.encoder, prof, feats, args.num_chunks)
    header = {"model": str(args.model), "seed": args.seed, "profile": prof.as_dict(), "num_chunks": len(records)}
    write_reference(records, args.jsonl_out, header)
    print(f"wrote {len(records)} chunks ({prof.profile}) to {args.jsonl_out} (+ .npz)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
