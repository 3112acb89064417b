"""Rewrite the Conformer's pointwise convolutions as MatMuls, so int8 quantization reaches them.

Each conformer layer's convolution module has two pointwise ``Conv1d`` (kernel 1: 1024 -> 2048 and
1024 -> 1024 at the v3 size). They are GEMMs as large as an attention projection, but ONNX Runtime's
dynamic quantization only turns MatMuls into its fast int8 kernel (``ConvInteger`` runs slower than
fp32 ``Conv`` on this CPU: docs/DECISION_LOG.md "int8 export"). So before quantizing, every 1-D
``Conv`` with a constant ``[C_out, C_in, 1]`` weight, one group, unit strides and dilations and no
padding becomes

    Transpose([0,2,1]) -> MatMul(W[:, :, 0].T) [-> Add(bias)] -> Transpose([0,2,1])

which computes the same sums (fp32 outputs differ only by summation order, ~1e-6 relative). ONNX
Runtime's transpose optimizer cancels the transposes against the module's own ``transpose(1, 2)``
where the layout allows. With it, the v3 architecture's int8 export runs the 60 s file 2.19x faster than
fp32 (docs/BENCH_PEERS.md; 1.88x before; docs/DECISION_LOG.md "int8: pointwise convolutions as MatMuls").
"""

from __future__ import annotations

from typing import Any


def _attribute(node, name: str, default):
    from onnx import helper

    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default


def _is_pointwise_conv1d(node, weights: dict) -> bool:
    if node.op_type != "Conv" or node.input[1] not in weights:
        return False
    shape = tuple(weights[node.input[1]].dims)
    return (len(shape) == 3 and shape[2] == 1 and _attribute(node, "group", 1) == 1
            and all(s == 1 for s in _attribute(node, "strides", [1]))
            and all(d == 1 for d in _attribute(node, "dilations", [1]))
            and all(p == 0 for p in _attribute(node, "pads", [0, 0]))
            and _attribute(node, "auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET", b"VALID", "VALID"))


def pointwise_convs_as_matmuls(model: Any) -> int:
    """Rewrite ``model`` (an ``onnx.ModelProto`` with its weights loaded) in place; returns how many
    convolutions became MatMuls. Weights no node reads any more are dropped."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {init.name: init for init in graph.initializer}
    nodes, rewritten = [], 0
    for node in graph.node:
        if not _is_pointwise_conv1d(node, weights):
            nodes.append(node)
            continue
        base = node.name or node.output[0]
        kernel = numpy_helper.to_array(weights[node.input[1]])
        transposed = numpy_helper.from_array(np.ascontiguousarray(kernel[:, :, 0].T), f"{base}/weight_in_by_out")
        graph.initializer.append(transposed)
        time_major, product = f"{base}/time_major", f"{base}/matmul_out"
        nodes.append(helper.make_node("Transpose", [node.input[0]], [time_major], name=f"{base}/to_time_major",
                                      perm=[0, 2, 1]))
        nodes.append(helper.make_node("MatMul", [time_major, transposed.name], [product], name=f"{base}/MatMul"))
        if len(node.input) > 2 and node.input[2]:
            nodes.append(helper.make_node("Add", [product, node.input[2]], [f"{base}/biased"], name=f"{base}/bias"))
            product = f"{base}/biased"
        nodes.append(helper.make_node("Transpose", [product], [node.output[0]], name=f"{base}/to_channel_major",
                                      perm=[0, 2, 1]))
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    read = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return rewritten
