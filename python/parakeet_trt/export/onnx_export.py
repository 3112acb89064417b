"""ONNX export of the encoder and the decoder+joint, deterministic and checker-clean.

Why the TorchScript exporter (``torch.onnx.export(..., dynamo=False)``):
- NeMo 3.0.0's own ``Exportable._export`` uses it (``dynamo=False``, "legacy
  TorchScript-based exporter for LSTM compatibility"); the dynamo path of torch >= 2.9
  (the default since 2.9) has known dynamic-axes problems with NeMo models (facts §6 #8)
  and NeMo's ``use_dynamo`` branch calls ``torch.onnx.dynamo_export``, which torch 2.13
  no longer has.
- It gives named dynamic axes for batch and time on inputs and outputs, and the same
  bytes for the same weights (checked by tests/test_export.py).

We do not call ``Exportable.export`` itself (it works in NeMo 3.0.0): it names the
dynamic axes per tensor (``audio_signal_dynamic_axes_1``, ``Transposeoutputs_dim_0``...),
so the batch and time axes of inputs and outputs are not tied together by name, and it
traces on unseeded random examples (the decoder_joint example has T=8192).  We replicate
its preparation steps (typecheck off, ``forward_for_export``, ``_prepare_for_export`` on
every Exportable submodule, inference mode) with explicit names, shared axis names
(``batch``, ``time``...) and seeded examples.

Graphs bigger than the protobuf limit are written with all tensors in one external
data file ``<graph>.onnx.data`` (fixed order, written fresh).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

OPSET = 17
# Above this many bytes of initializers a graph is saved with external data (protobuf limit is 2 GiB).
EXTERNAL_DATA_THRESHOLD_BYTES = 1_800_000_000

ENCODER_INPUTS = ["audio_signal", "length"]
ENCODER_OUTPUTS = ["outputs", "encoded_lengths"]
ENCODER_AXES = {
    "audio_signal": {0: "batch", 2: "time"},
    "length": {0: "batch"},
    "outputs": {0: "batch", 2: "encoded_time"},
    "encoded_lengths": {0: "batch"},
}
DECODER_JOINT_INPUTS = ["encoder_outputs", "targets", "target_length", "input_states_1", "input_states_2"]
DECODER_JOINT_OUTPUTS = ["outputs", "prednet_lengths", "output_states_1", "output_states_2"]
DECODER_JOINT_AXES = {
    "encoder_outputs": {0: "batch", 2: "encoder_time"},
    "targets": {0: "batch", 1: "target_time"},
    "target_length": {0: "batch"},
    "input_states_1": {1: "batch"},
    "input_states_2": {1: "batch"},
    "outputs": {0: "batch", 1: "encoder_time", 2: "target_time"},
    "prednet_lengths": {0: "batch"},
    "output_states_1": {1: "batch"},
    "output_states_2": {1: "batch"},
}


@contextlib.contextmanager
def nemo_export_mode(module):
    """The preparation NeMo's ``Exportable._export`` does, undone afterwards where possible.

    ``_prepare_for_export`` flips ``RNNTDecoder._rnnt_export`` (no SOS prepended) and
    ``RNNTJoint.log_softmax=False`` / ``_fuse_loss_wer=False`` (raw logits); those are
    restored on exit so the model object keeps decoding like before.
    """
    import torch
    from lightning.pytorch.core.module import _jit_is_scripting
    from nemo.core.classes import typecheck
    from nemo.core.classes.exportable import Exportable
    from nemo.utils.export_utils import wrap_forward_method

    saved = []
    for m in module.modules():
        for attr in ("_rnnt_export", "log_softmax", "_fuse_loss_wer"):
            if attr in m.__dict__:
                saved.append((m, attr, m.__dict__[attr]))
    was_training = module.training
    module.eval()
    typecheck.set_typecheck_enabled(enabled=False)
    forward_method, old_forward = wrap_forward_method(module)
    try:
        with torch.inference_mode(), torch.no_grad(), torch.jit.optimized_execution(True), _jit_is_scripting():
            for ex in module.modules():
                if isinstance(ex, Exportable) and ex is not module:
                    ex._prepare_for_export(noreplace=True)
            if isinstance(module, Exportable):
                module._prepare_for_export()
            yield module
    finally:
        typecheck.enable_wrapping(enabled=True)
        typecheck.set_typecheck_enabled(enabled=True)
        if forward_method:
            type(module).forward = old_forward
        for m, attr, val in saved:
            setattr(m, attr, val)
        module.train(was_training)


def encoder_example(model, batch: int = 2, time: int = 256):
    """Deterministic tracing input for the encoder: features [B, n_mels, T], lengths [B]."""
    import torch

    g = torch.Generator().manual_seed(1234)
    feat_in = model.encoder._feat_in
    feats = torch.randn(batch, feat_in, time, generator=g)
    lengths = torch.tensor([time] + [max(1, time - 63 * (i + 1)) for i in range(batch - 1)], dtype=torch.int64)
    return feats, lengths


def decoder_joint_example(model, batch: int = 2, enc_time: int = 4, target_time: int = 3):
    """Deterministic tracing input for RNNTDecoderJoint."""
    import torch

    g = torch.Generator().manual_seed(4321)
    dec, joint = model.decoder, model.joint
    enc = torch.randn(batch, joint.encoder_hidden, enc_time, generator=g)
    targets = torch.randint(0, dec.blank_idx + 1, (batch, target_time), generator=g, dtype=torch.int64).to(torch.int32)
    target_length = torch.full((batch,), target_time, dtype=torch.int32)
    shape = (dec.pred_rnn_layers, batch, dec.pred_hidden)
    h = 0.1 * torch.randn(*shape, generator=g)
    c = 0.1 * torch.randn(*shape, generator=g)
    return enc, targets, target_length, h, c


def _initializer_bytes(module) -> int:
    return sum(t.numel() * t.element_size() for t in list(module.parameters()) + list(module.buffers()))


def export_graph(
    module,
    example: Sequence[Any],
    out_path: Path,
    input_names: List[str],
    output_names: List[str],
    dynamic_axes: Dict[str, Dict[int, str]],
    opset: int = OPSET,
    external_data: Optional[bool] = None,
    log=lambda msg: None,
) -> Dict[str, Any]:
    """Trace ``module`` to ``out_path``.  Returns {"file", "external_data": [...]}."""
    import onnx
    import torch

    out_path = Path(out_path)
    if external_data is None:
        external_data = _initializer_bytes(module) > EXTERNAL_DATA_THRESHOLD_BYTES
    data_name = out_path.name + ".data"
    with tempfile.TemporaryDirectory(prefix="ptrt_onnx_", dir=str(out_path.parent)) as td:
        raw = Path(td) / "raw" / out_path.name
        raw.parent.mkdir()
        log(f"tracing {type(module).__name__} -> {out_path.name} (opset {opset})")
        with nemo_export_mode(module):
            torch.onnx.export(
                module,
                tuple(example),
                str(raw),
                input_names=input_names,
                output_names=output_names,
                dynamic_axes=dynamic_axes,
                opset_version=opset,
                do_constant_folding=True,
                keep_initializers_as_inputs=False,
                dynamo=False,
            )
        log(f"re-saving {out_path.name}" + (f" with external data {data_name}" if external_data else ""))
        proto = onnx.load(str(raw), load_external_data=True)
        shutil.rmtree(raw.parent)
        return save_graph(proto, out_path, external_data, Path(td))


def save_graph(proto, out_path: Path, external_data: bool, work_dir: Path) -> Dict[str, Any]:
    """Write ``proto`` to ``out_path`` (all tensors in ``<graph>.onnx.data`` when ``external_data``),
    staged in ``work_dir`` and moved over any previous graph and data file.
    Returns {"file", "external_data": [...]}."""
    import onnx

    data_name = out_path.name + ".data"
    staged = Path(work_dir) / "staged"
    staged.mkdir()
    if external_data:
        onnx.save_model(
            proto,
            str(staged / out_path.name),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=data_name,
            size_threshold=1024,
            convert_attribute=False,
        )
    else:
        onnx.save_model(proto, str(staged / out_path.name))
    del proto
    for name in (out_path.name, data_name):
        dst = out_path.parent / name
        if dst.exists():
            dst.unlink()
    os.replace(staged / out_path.name, out_path)
    os.chmod(out_path, 0o644)
    if external_data:
        os.replace(staged / data_name, out_path.parent / data_name)
        os.chmod(out_path.parent / data_name, 0o644)  # onnx creates it 0600
    return {"file": out_path.name, "external_data": [data_name] if external_data else []}


def graph_io(onnx_path: Path) -> Dict[str, List[Dict[str, Any]]]:
    """Names, dtypes and shapes (ints or dim_param strings) of a graph's inputs/outputs."""
    import onnx

    m = onnx.load(str(onnx_path), load_external_data=False)

    def desc(vi):
        tt = vi.type.tensor_type
        dims = []
        for d in tt.shape.dim:
            dims.append(d.dim_param if d.HasField("dim_param") else int(d.dim_value))
        return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type).name, "shape": dims}

    return {"inputs": [desc(v) for v in m.graph.input], "outputs": [desc(v) for v in m.graph.output]}


def check_graph(onnx_path: Path) -> None:
    """``onnx.checker.check_model`` by path (works with external data)."""
    import onnx

    onnx.checker.check_model(str(onnx_path), full_check=False)


def export_encoder(model, out_dir: Path, log=lambda m: None) -> Dict[str, Any]:
    info = export_graph(model.encoder, encoder_example(model), out_dir / "encoder.onnx",
                        ENCODER_INPUTS, ENCODER_OUTPUTS, ENCODER_AXES, log=log)
    return info


def export_decoder_joint(model, out_dir: Path, log=lambda m: None) -> Dict[str, Any]:
    from nemo.collections.asr.modules.rnnt import RNNTDecoderJoint

    module = RNNTDecoderJoint(model.decoder, model.joint)
    return export_graph(module, decoder_joint_example(model), out_dir / "decoder_joint.onnx",
                        DECODER_JOINT_INPUTS, DECODER_JOINT_OUTPUTS, DECODER_JOINT_AXES, log=log)
