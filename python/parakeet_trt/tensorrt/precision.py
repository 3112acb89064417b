"""Precision policy: which ONNX nodes stay float32 when an engine is built with --fp16 or --bf16.

Chosen by walking the parsed ONNX graph (``onnx`` package), so the decision is visible before
TensorRT is involved and can be tested on machines without it. Kept in float32:

- Softmax: exp of large logits overflows fp16; attention probabilities lose mass in bf16.
- LayerNormalization, or its decomposed form ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add(eps)
  -> Sqrt -> Div: the variance of 512..1024 channels overflows fp16 and the eps is below its
  resolution.
- Log (the log-mel's log and any log-softmax): log of small values in fp16 loses the guard value.
- the log-mel front end when the graph has one (STFT / DFT and the nodes after it up to its Log).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List

REASONS = {
    "Softmax": "softmax: exp overflows fp16, attention probabilities lose mass in reduced precision",
    "LayerNormalization": "layer norm: variance over d_model overflows fp16; eps below fp16 resolution",
    "Log": "log: small arguments lose the log guard in reduced precision",
    "STFT": "log-mel front end: power spectrum exceeds fp16 range",
    "DFT": "log-mel front end: power spectrum exceeds fp16 range",
}
DECOMPOSED_LN = "decomposed layer norm (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div): variance overflows fp16"


@dataclass(frozen=True)
class Fp32Node:
    name: str
    op_type: str
    reason: str


def _constant_values(graph) -> Dict[str, float]:
    from onnx import numpy_helper

    values = {}
    for init in graph.initializer:
        if init.dims == [] or list(init.dims) in ([], [1]):
            values[init.name] = float(numpy_helper.to_array(init).reshape(-1)[0])
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute:
            for attr in node.attribute:
                if attr.name == "value" and list(attr.t.dims) in ([], [1]):
                    values[node.output[0]] = float(numpy_helper.to_array(attr.t).reshape(-1)[0])
    return values


def _decomposed_layer_norms(graph) -> List[str]:
    """Node names of every ReduceMean -> Sub -> Pow(2) -> ReduceMean -> Add -> Sqrt -> Div chain."""
    consumers: Dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    constants = _constant_values(graph)

    def next_of(node, op_type):
        return [n for out in node.output for n in consumers.get(out, []) if n.op_type == op_type]

    found: List[str] = []
    for mean in graph.node:
        if mean.op_type != "ReduceMean":
            continue
        for sub in next_of(mean, "Sub"):
            for pow_ in next_of(sub, "Pow"):
                if constants.get(pow_.input[1]) != 2.0:
                    continue
                for var in next_of(pow_, "ReduceMean"):
                    for add in next_of(var, "Add"):
                        for sqrt in next_of(add, "Sqrt"):
                            for div in next_of(sqrt, "Div"):
                                if div.input[0] in sub.output:
                                    found += [n.name for n in (mean, sub, pow_, var, add, sqrt, div)]
    return found


def _log_mel_nodes(graph) -> List[str]:
    """Nodes from an STFT/DFT forward to the first Log after it (the log-mel front end)."""
    consumers: Dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    found: List[str] = []
    frontier = [n for n in graph.node if n.op_type in ("STFT", "DFT")]
    seen = set()
    while frontier:
        node = frontier.pop()
        if node.name in seen:
            continue
        seen.add(node.name)
        found.append(node.name)
        if node.op_type == "Log":
            continue
        frontier += [c for out in node.output for c in consumers.get(out, [])]
    return found


def fp32_nodes(model) -> List[Fp32Node]:
    """The nodes of an ``onnx.ModelProto`` that keep float32 under --fp16/--bf16, with the reason each."""
    graph = model.graph
    by_name = {n.name: n for n in graph.node}
    chosen: Dict[str, Fp32Node] = {}
    for name in _log_mel_nodes(graph):
        chosen[name] = Fp32Node(name, by_name[name].op_type, REASONS["STFT"])
    for name in _decomposed_layer_norms(graph):
        chosen.setdefault(name, Fp32Node(name, by_name[name].op_type, DECOMPOSED_LN))
    for node in graph.node:
        if node.op_type in ("Softmax", "LayerNormalization", "Log"):
            chosen.setdefault(node.name, Fp32Node(node.name, node.op_type, REASONS[node.op_type]))
    unnamed = [n for n in chosen.values() if not n.name]
    if unnamed:
        raise ValueError(f"{len(unnamed)} {unnamed[0].op_type} node(s) without a name: TensorRT layers are matched "
                         "by ONNX node name, so re-export with named nodes")
    order = {n.name: i for i, n in enumerate(graph.node)}
    return sorted(chosen.values(), key=lambda n: order[n.name])


def fp32_nodes_of_file(onnx_path) -> List[Fp32Node]:
    import onnx

    return fp32_nodes(onnx.load(str(onnx_path), load_external_data=False))
