"""``--precision``: the numeric precision of the exported encoder graphs.

- ``fp32``: the traced graph as is (the default; token-identical to NeMo).
- ``int8``: ONNX Runtime's dynamic quantization (``onnxruntime.quantization.quantize_dynamic``) of
  the encoder's MatMul weights, int8 per output channel; activations are quantized per call from
  their own range (``DynamicQuantizeLinear``), so no calibration set is needed and the result does
  not depend on which speech was rendered. The pointwise (kernel-1) convolutions are first rewritten
  as MatMuls (pointwise_conv.py) so they are quantized too; the other convolutions stay fp32: ORT's
  ``ConvInteger`` runs slower than its fp32 Conv on this CPU (measured, docs/DECISION_LOG.md "int8
  export"). MatMuls of two activations (attention scores and context) stay fp32
  (``MatMulConstBOnly``): in a one-off trial, quantizing them too was barely faster on the v3
  encoder and worse on the demo model's held-out WER. Signed int8 weights with uint8 activations are
  the pair ORT's x86 int8 GEMM (VNNI u8·s8) runs natively.
- ``fp16``: float16 weights and arithmetic with float32 inputs and outputs
  (``onnxruntime.transformers.float16``), for GPU engines; ONNX Runtime's CPU provider lacks fp16
  kernels for most of the encoder's operators.

``bf16`` is refused: ONNX Runtime's CPU provider has no bfloat16 MatMul, Add or Softmax (measured
with 1.32: "Could not find an implementation"), and TensorRT takes bf16 as a build flag on the fp32
graph, not as a different ONNX file (docs/DECISION_LOG.md "bf16").

The decoder graphs stay fp32: the CPU decoder step runs in C++ from decoder_step.bin, and its
per-token cost is small next to the encoder's.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Dict

from .errors import ExportError

PRECISIONS = ("fp32", "int8", "fp16")
REFUSED = {"bf16": "ONNX Runtime's CPU provider has no bfloat16 MatMul/Add/Softmax kernels, and TensorRT builds "
                   "bf16 engines from the fp32 graph (parakeet-trt build-trt); export fp32 or int8 instead"}
# Graphs whose precision --precision sets; the others stay fp32.
QUANTIZED_GRAPHS = ("encoder", "encoder_streaming")
INT8_RECIPE = {"method": "onnxruntime.quantization.quantize_dynamic", "weight_type": "QInt8",
               "activation_type": "QUInt8 (dynamic, per call)", "per_channel": True, "op_types": ["MatMul"],
               "pointwise_convs_as_matmuls": True,
               "matmul_const_b_only": True}


def check_precision(precision: str) -> str:
    if precision in REFUSED:
        raise ExportError(f"--precision {precision} is not supported: {REFUSED[precision]}")
    if precision not in PRECISIONS:
        raise ExportError(f"--precision must be one of {PRECISIONS}, got {precision!r}")
    return precision


def apply_precision(out_dir: Path, info: Dict[str, Any], precision: str,
                    log: Callable[[str], None] = lambda m: None) -> Dict[str, Any]:
    """Convert the exported graph ``info`` (``{"file", "external_data"}``) in ``out_dir`` to
    ``precision``; returns the new ``info`` with ``precision`` and, when converted, ``conversion``."""
    if precision == "fp32":
        return {**info, "precision": "fp32"}
    import onnx
    import onnxruntime

    from .onnx_export import EXTERNAL_DATA_THRESHOLD_BYTES, save_graph

    src = out_dir / info["file"]
    with tempfile.TemporaryDirectory(prefix="ptrt_precision_", dir=str(out_dir)) as td:
        converted = Path(td) / "converted" / info["file"]
        converted.parent.mkdir()
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            from .pointwise_conv import pointwise_convs_as_matmuls

            proto = onnx.load(str(src), load_external_data=True)
            rewritten = pointwise_convs_as_matmuls(proto)
            matmul_graph = Path(td) / "matmuls" / info["file"]
            matmul_graph.parent.mkdir()
            onnx.save_model(proto, str(matmul_graph), save_as_external_data=True, all_tensors_to_one_file=True,
                            location=info["file"] + ".data")
            del proto
            log(f"quantizing {info['file']} to int8 (dynamic, per-channel MatMul weights; "
                f"{rewritten} pointwise convolutions rewritten as MatMuls)")
            quantize_dynamic(str(matmul_graph), str(converted), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=list(INT8_RECIPE["op_types"]),
                             use_external_data_format=bool(info["external_data"]),
                             extra_options={"MatMulConstBOnly": INT8_RECIPE["matmul_const_b_only"]})
            recipe = dict(INT8_RECIPE)
        else:
            from onnxruntime.transformers.float16 import convert_float_to_float16

            log(f"converting {info['file']} to fp16 (float32 inputs and outputs)")
            from onnxruntime.transformers.onnx_model import OnnxModel

            proto = convert_float_to_float16(onnx.load(str(src), load_external_data=True), keep_io_types=True,
                                             disable_shape_infer=True)
            sorted_model = OnnxModel(proto)  # the converter appends the input casts after their users
            sorted_model.topological_sort()
            proto = sorted_model.model
            onnx.save_model(proto, str(converted), save_as_external_data=bool(info["external_data"]),
                            all_tensors_to_one_file=True, location=info["file"] + ".data")
            del proto
            recipe = {"method": "onnxruntime.transformers.float16.convert_float_to_float16", "keep_io_types": True}
        # Re-save like every exported graph: one file, or one external data file when still too big.
        size = sum(p.stat().st_size for p in converted.parent.iterdir())
        proto = onnx.load(str(converted), load_external_data=True)
        new = save_graph(proto, src, size > EXTERNAL_DATA_THRESHOLD_BYTES, Path(td))
        del proto
    onnx.checker.check_model(str(src), full_check=False)
    recipe["onnxruntime_version"] = onnxruntime.__version__
    return {**new, "precision": precision, "conversion": recipe}
