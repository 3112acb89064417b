#!/usr/bin/env python3
"""Generate docs/CONTRACT_SOURCES.md from the committed contracts: every numeric value, its source
(NeMo config key, export field, NeMo source path, paper section), the gaps and the experiment that
would close each.

    tools/contract_sources.py [--update]

--update first refreshes contracts/parakeet-tdt-0.6b-v3*.contract.json from the cached full-size
exports (the v3 architecture with seeded random weights: its config values equal the real model's;
its hashes are those of the random-weight graphs).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Tuple

REPO = Path(__file__).resolve().parents[1]
CONTRACTS = REPO / "contracts"
DOC = REPO / "docs" / "CONTRACT_SOURCES.md"
ARCH = "parakeet-tdt-0.6b-v3"

# (pattern over the flattened path, source). First match wins.
SOURCES: List[Tuple[str, str]] = [
    ("contract_version", "parakeet_trt contract format (parakeet_trt/contract/__init__.py CONTRACT_VERSION)"),
    ("source.onnx_opset", "export: onnx_export.OPSET (NeMo Exportable default 17, exportable.py)"),
    ("source.exporter_version", "export: metadata.EXPORTER_VERSION"),
    ("features.sample_rate_hz", "config: preprocessor.sample_rate (model_config.yaml)"),
    ("features.n_fft", "config: preprocessor.n_fft; NeMo FilterbankFeatures.__init__ (features.py)"),
    ("features.win_length", "config: preprocessor.window_size x sample_rate (int), AudioToMelSpectrogramPreprocessor"),
    ("features.hop_length", "config: preprocessor.window_stride x sample_rate (int)"),
    ("features.n_mels", "config: preprocessor.features"),
    ("features.preemph", "NeMo default AudioToMelSpectrogramPreprocessor(preemph=0.97) (not in config)"),
    ("features.log_zero_guard_value", "NeMo FilterbankFeatures log_zero_guard_value 2**-24 (features.py)"),
    ("features.lowfreq_hz", "config: preprocessor.lowfreq (default 0)"),
    ("features.highfreq_hz", "NeMo default highfreq=None -> sample_rate/2 (features.py)"),
    ("features.mag_power", "NeMo default mag_power=2.0 (features.py)"),
    ("features.normalize_eps", "NeMo features.CONSTANT = 1e-5, added to std (normalize_batch)"),
    ("features.pad_to", "config: preprocessor.pad_to"),
    ("features.pad_value", "config: preprocessor.pad_value"),
    ("features.dither", "config: preprocessor.dither (training only: FilterbankFeatures.forward)"),
    ("features.frame_splicing", "NeMo default frame_splicing=1"),
    ("encoder.d_model", "config: encoder.d_model"),
    ("encoder.n_layers", "config: encoder.n_layers"),
    ("encoder.n_heads", "config: encoder.n_heads"),
    ("encoder.subsampling_factor", "config: encoder.subsampling_factor (three stride-2 convs, subsampling.py)"),
    ("encoder.frame_stride_s", "export: hop_length x subsampling_factor / sample_rate_hz (TDT paper: 80 ms frames)"),
    ("encoder.feat_in", "config: encoder.feat_in (= preprocessor.features)"),
    ("encoder.att_context_size", "config: encoder.att_context_size ([-1,-1] = full context)"),
    ("encoder.conv_kernel_size", "config: encoder.conv_kernel_size"),
    ("encoder.pos_emb_max_len", "config: encoder.pos_emb_max_len"),
    ("encoder.max_encoder_frames", "export: rows of encoder.pos_enc.pe (2L-1 -> L), raised by --max-audio-s"),
    ("encoder.max_feature_frames", "export: largest feature length whose calc_length fits max_encoder_frames"),
    ("decoding.vocab_size", "config: decoder.vocab_size (= tokenizer size); RNNTDecoder"),
    ("decoding.blank_id", "NeMo RNNTDecoder.blank_idx = vocab_size (rnnt.py)"),
    ("decoding.durations", "config: model_defaults.tdt_durations / decoding.durations (TDT paper sec. 3)"),
    ("decoding.max_symbols", "config: decoding.greedy.max_symbols (NeMo default GreedyBatchedRNNTInferConfig: 10)"),
    ("decoding.num_outputs", "NeMo RNNTJoint.num_classes_with_blank = vocab + 1 + num_extra_outputs (rnnt.py)"),
    ("decoding.pred_hidden", "config: decoder.prednet.pred_hidden"),
    ("decoding.pred_rnn_layers", "config: decoder.prednet.pred_rnn_layers"),
    ("decoding.joint_hidden", "config: joint.jointnet.joint_hidden"),
    ("vocabulary.size", "export: vocab.txt lines = tokenizer pieces (artifacts.write_vocab)"),
    ("engines.*.inputs*", "export: ONNX graph I/O (onnx_export.graph_io); NeMo input_types_for_export"),
    ("engines.*.outputs*", "export: ONNX graph I/O (onnx_export.graph_io); NeMo output_types_for_export"),
    ("engines.encoder.profile.time", "parakeet_trt: min 1, opt 1000 (10 s), max = encoder.max_feature_frames"),
    ("engines.decoder_joint.profile.encoder_time", "parakeet_trt: 1..max_encoder_frames"),
    ("engines.*.profile*", "parakeet_trt: batch 1 (one stream per session)"),
    ("engines.*.rules*", "NeMo subsampling.calc_length / config widths (see the rule text)"),
    ("engines.decoder_step.tensors*", "export: decoder_weights.write_decoder_step (embedding, LSTM, joint shapes)"),
    ("streaming.chunk_size", "option: --streaming-chunk-size (encoder frames; null = NeMo default)"),
    ("streaming.shift_size", "option: --streaming-shift-size"),
    ("streaming.left_chunks", "option: --streaming-left-chunks"),
    ("streaming.nemo_chunk_size", "NeMo ConformerEncoder.setup_streaming_params: sampling_frames + 8 x lookahead"),
    ("streaming.nemo_shift_size", "NeMo setup_streaming_params: shift_size"),
    ("streaming.cache_drop_size", "NeMo setup_streaming_params: chunk - shift (regular full context: lookahead)"),
    ("streaming.last_channel_cache_size",
     "NeMo setup_streaming_params: left_chunks x chunk; chunk_isolated: parakeet_trt default cache_drop_size "
     "(NeMo's max_context 10000 exceeds the 5000-row positional table)"),
    ("streaming.valid_out_len", "NeMo setup_streaming_params: valid_out_len"),
    ("streaming.pre_encode_cache_size", "NeMo ConvSubsampling.get_streaming_cache_size()[1] = factor + 1"),
    ("streaming.drop_extra_pre_encoded", "NeMo setup_streaming_params: 1 + (pre_encode_cache - 1) // factor"),
    ("streaming.subsampling_factor", "config: encoder.subsampling_factor"),
    ("streaming.n_layers", "config: encoder.n_layers"),
    ("streaming.d_model", "config: encoder.d_model"),
    ("streaming.conv_cache_size", "NeMo ConformerEncoder.conv_context_size[0] ((kernel-1)/2 for symmetric)"),
    ("streaming.new_frames_per_call",
     "parakeet_trt: chunk_isolated nemo_chunk_size[0] (keeps 0 cache frames), cache_aware nemo_chunk_size[1]"),
    ("streaming.advance_frames_per_call", "NeMo nemo_shift_size[1] (CacheAwareStreamingAudioBuffer)"),
    ("streaming.window_frames", "derived: pre_encode_cache_size + new_frames_per_call"),
    ("streaming.encoder_frames_after_drop", "derived: calc_length(window) - drop_extra_pre_encoded"),
    ("streaming.cache_keep_per_call", "NeMo forward_internal: cache_keep_size = frames after drop - cache_drop_size"),
    ("streaming.output_frames_per_call", "NeMo streaming_post_process: min(frames after drop, valid_out_len)"),
    ("streaming.invariants*", "derived from the parameters above (export/streaming.py StreamingProfile.invariants)"),
    ("tolerances*", "measured: docs/VALIDATION_REPORT_ORT.md, docs/PARITY_OFFLINE.md (about 10x headroom)"),
]

GAPS = [
    ("Real parakeet-tdt-0.6b-v3 weights were never loaded (no downloads here): hashes, and every value "
     "read from modules rather than the config, come from the same architecture with random weights.",
     "Export the released .nemo and diff its contract with contracts/parakeet-tdt-0.6b-v3.contract.json: "
     "every field but hashes, model_name and nemo_sha256 must be equal."),
    ("decoding.max_symbols = 10 is NeMo's default, not a value read from the real model's config.",
     "Read decoding.greedy.max_symbols from the released model_config.yaml."),
    ("Tolerances are measured on random-weight models; trained weights have other activation scales.",
     "Rerun tools/validation_report_ort.py on the demo model and the released model; tighten or widen."),
    ("chunk_isolated uses a cache of cache_drop_size frames, not NeMo's 10000: equivalence is shown on the "
     "tiny model (tests/test_streaming_export.py) with the positional table extended.",
     "Run the same comparison on the full-size architecture (10000-frame cache, ~1 GB per call)."),
    ("Non-causal (full-context) models under cache-aware streaming: accuracy versus offline is measured "
     "only as token edit distance on random-weight models.",
     "WER of each profile vs offline on the demo model's eval split (issue 8) and the released model."),
]


def flatten(node: Any, prefix: str = "") -> List[Tuple[str, Any]]:
    if isinstance(node, dict):
        out = []
        for k in sorted(node):
            out += flatten(node[k], f"{prefix}.{k}" if prefix else k)
        return out
    return [(prefix, node)]


def _numeric(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, (int, float)):
        return True
    return isinstance(v, list) and any(_numeric(x) or isinstance(x, (list, dict)) for x in v)


def source_of(path: str) -> str | None:
    for pattern, source in SOURCES:
        if fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, pattern + ".*"):
            return source
    return None


def numeric_leaves(contract: Dict[str, Any]) -> List[Tuple[str, Any]]:
    return [(p, v) for p, v in flatten(contract) if _numeric(v) and not p.startswith("source.nemo")]


def missing_sources(contract: Dict[str, Any]) -> List[str]:
    return [p for p, _ in numeric_leaves(contract) if source_of(p) is None]


def load_committed() -> Dict[str, Dict[str, Any]]:
    """The committed contracts: offline export, then one per streaming profile."""
    out = {"offline": json.loads((CONTRACTS / f"{ARCH}.contract.json").read_text())}
    for profile in ("chunk_isolated", "cache_aware"):
        path = CONTRACTS / f"{ARCH}.{profile}.contract.json"
        if path.is_file():
            out[profile] = json.loads(path.read_text())
    return out


def _rows(leaves: List[Tuple[str, Any]]) -> List[str]:
    rows = []
    for path, value in leaves:
        shown = json.dumps(value) if not isinstance(value, float) else repr(value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        rows.append(f"| `{path}` | `{shown}` | {source_of(path) or '**MISSING**'} |")
    return rows


def render(contracts: Dict[str, Dict[str, Any]]) -> str:
    lines = [
        "# Contract sources",
        "",
        f"Generated by `tools/contract_sources.py` from `contracts/{ARCH}*.contract.json` (the exporter's "
        "contracts for the v3 architecture: offline export, and one streaming export per profile; config values "
        "equal the released model's). Do not edit by hand.",
        "",
        "## Offline export (`contracts/parakeet-tdt-0.6b-v3.contract.json`)",
        "",
        "| field | value | source |",
        "|---|---|---|",
    ]
    lines += _rows(numeric_leaves(contracts["offline"]))
    for profile, c in contracts.items():
        if profile == "offline":
            continue
        lines += ["", f"## Streaming profile `{profile}` (`contracts/{ARCH}.{profile}.contract.json`)", "",
                  "Fields that differ from the offline contract.", "", "| field | value | source |", "|---|---|---|"]
        base = dict(numeric_leaves(contracts["offline"]))
        lines += _rows([(p, v) for p, v in numeric_leaves(c) if base.get(p, object()) != v])
    lines += ["", "## Gaps and the experiment that closes each", "", "| gap | experiment |", "|---|---|"]
    lines += [f"| {g} | {e} |" for g, e in GAPS]
    lines.append("")
    return "\n".join(lines)


def committed_contract_bytes(export_dir: Path) -> bytes:
    meta = json.loads((Path(export_dir) / "model_meta.json").read_text())
    return (Path(export_dir) / meta["contract"]["file"]).read_bytes()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--update", action="store_true", help="refresh the committed contracts from the cached exports")
    args = p.parse_args(argv)
    if args.update:
        sys.path.insert(0, str(REPO / "python"))
        from parakeet_trt.parity.streaming import cached_streaming_export
        from parakeet_trt.testing.exports import cached_export_dir

        CONTRACTS.mkdir(exist_ok=True)
        cache = REPO / ".cache"
        (CONTRACTS / f"{ARCH}.contract.json").write_bytes(committed_contract_bytes(cached_export_dir(ARCH, None, cache)))
        for profile in ("chunk_isolated", "cache_aware"):
            (CONTRACTS / f"{ARCH}.{profile}.contract.json").write_bytes(
                committed_contract_bytes(cached_streaming_export(ARCH, profile, cache)))
    contracts = load_committed()
    missing = [m for c in contracts.values() for m in missing_sources(c)]
    if missing:
        print("error: no source for " + ", ".join(missing), file=sys.stderr)
        return 1
    DOC.write_text(render(contracts), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
