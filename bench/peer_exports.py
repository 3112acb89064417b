#!/usr/bin/env python3
"""The peers' own exports of a ``.nemo``, made the way each peer documents (run in the project's venv,
which has NeMo; bench/bench_peers.py calls it once per model and caches the folders).

    python bench/peer_exports.py MODEL.nemo SHERPA_DIR ONNX_ASR_DIR

sherpa-onnx (its scripts/nemo/parakeet-tdt-0.6b-v3 recipe): NeMo's ``Exportable.export`` of the encoder,
the decoder and the joint separately (encoder.onnx, decoder.onnx, joiner.onnx), tokens.txt with
"<piece> <id>" lines and "<blk>" last, the model's settings as ONNX metadata on the encoder (the
runtime reads vocab_size, pred_rnn_layers, pred_hidden, feat_dim, normalize_type, and takes the model
for TDT when the ``url`` entry contains "tdt"), and its int8
variant: ``quantize_dynamic`` of each graph with default operator types and per-tensor weights,
uint8 weights for the encoder and int8 for the decoder and joiner (*.int8.onnx).

onnx-asr (its README, "NeMo models"): NeMo's ``ASRModel.export`` of the whole model, which writes
encoder-model.onnx and decoder_joint-model.onnx, and vocab.txt with "<token> <id>" lines and "<blk>".
A config.json gives the feature size (onnx-asr assumes 80 otherwise).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _write_tokens(pieces, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i, piece in enumerate(pieces):
            f.write(f"{piece} {i}\n")
        f.write(f"<blk> {len(pieces)}\n")


def _set_metadata(path: Path, values: dict) -> None:
    """The recipe's metadata on one graph; a graph over 2 GB is re-saved with one external data file
    ``<stem>.weights`` (as the recipe does for the encoder)."""
    import onnx

    model = onnx.load(str(path), load_external_data=True)
    del model.metadata_props[:]
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    if sum(len(t.raw_data) for t in model.graph.initializer) > 1_800_000_000:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.stem + ".weights")
    else:
        onnx.save_model(model, str(path))


def _drop_scattered_tensors(folder: Path) -> None:
    """NeMo's exporter writes a big graph's tensors as one file each; after the re-save they are unused."""
    keep = {".onnx", ".txt", ".json", ".weights"}
    for stale in folder.iterdir():
        if stale.is_file() and stale.suffix not in keep and stale.name != "DONE":
            stale.unlink()


def sherpa_onnx_export(model, out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    _write_tokens(list(model.joint.vocabulary), out / "tokens.txt")
    model.encoder.export(str(out / "encoder.onnx"))
    model.decoder.export(str(out / "decoder.onnx"))
    model.joint.export(str(out / "joiner.onnx"))
    normalize = model.cfg.preprocessor.normalize
    meta = {"vocab_size": model.decoder.vocab_size, "normalize_type": "" if normalize == "NA" else normalize,
            "pred_rnn_layers": model.decoder.pred_rnn_layers, "pred_hidden": model.decoder.pred_hidden,
            "subsampling_factor": model.encoder.subsampling_factor, "model_type": "EncDecRNNTBPEModel",
            "version": "2", "model_author": "NeMo", "comment": "Only the transducer branch is exported",
            # sherpa-onnx decodes as TDT when this URL names a TDT model (its recipe's value)
            "url": "https://huggingface.co/nvidia/parakeet-tdt-0.6b-v3",
            "feat_dim": model.cfg.preprocessor.features}
    for name in ("encoder", "decoder", "joiner"):
        if not (out / f"{name}.int8.onnx").is_file():  # kept from an interrupted run: same inputs, same bytes
            quantize_dynamic(model_input=str(out / f"{name}.onnx"), model_output=str(out / f"{name}.int8.onnx"),
                             weight_type=QuantType.QUInt8 if name == "encoder" else QuantType.QInt8)
    _set_metadata(out / "encoder.int8.onnx", meta)
    _set_metadata(out / "encoder.onnx", meta)
    _drop_scattered_tensors(out)


def onnx_asr_export(model, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.export(str(out / "model.onnx"))
    _write_tokens(list(model.tokenizer.vocab), out / "vocab.txt")
    (out / "config.json").write_text(json.dumps({
        "model_type": "nemo-conformer-tdt", "features_size": int(model.cfg.preprocessor.features),
        "subsampling_factor": int(model.encoder.subsampling_factor),
        "max_tokens_per_step": int(model.cfg.decoding.greedy.get("max_symbols", 10) or 10)}))


def main(argv) -> int:
    from parakeet_trt.testing.test_models import load_test_model

    nemo_path, sherpa_dir, onnx_asr_dir = map(Path, argv)
    model = load_test_model(nemo_path)
    print(f"[peer-exports] sherpa-onnx recipe -> {sherpa_dir}", file=sys.stderr, flush=True)
    sherpa_onnx_export(model, sherpa_dir)
    print(f"[peer-exports] onnx-asr recipe -> {onnx_asr_dir}", file=sys.stderr, flush=True)
    onnx_asr_export(model, onnx_asr_dir)
    for d in (sherpa_dir, onnx_asr_dir):
        (d / "DONE").write_text("ok\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
