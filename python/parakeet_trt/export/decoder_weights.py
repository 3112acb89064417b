"""``decoder_step.bin``: the prediction network and joint weights as raw float32 tensors.

Layout: little-endian float32, C order, each tensor starting at a multiple of 64 bytes
(zero padding in between), in this order:

    embedding                 [V+1, H]   decoder.prediction["embed"].weight (row V = blank)
    lstm.L.w_ih               [4H, in]   decoder.prediction["dec_rnn"].lstm.weight_ih_lL   (gates i,f,g,o)
    lstm.L.w_hh               [4H, H]    ... weight_hh_lL
    lstm.L.b_ih               [4H]       ... bias_ih_lL
    lstm.L.b_hh               [4H]       ... bias_hh_lL          (for L = 0 .. layers-1)
    joint.enc.weight          [J, D]     joint.enc
    joint.enc.bias            [J]
    joint.pred.weight         [J, H]     joint.pred
    joint.pred.bias           [J]
    joint.out.weight          [C, J]     joint.joint_net[-1]   (C = V + 1 + num_durations)
    joint.out.bias            [C]

The per-token computation these weights describe (NeMo 3.0.0, ``RNNTDecoder.predict``
with ``add_sos=False`` and ``RNNTJoint.joint_after_projection``) is

    x = embedding[token];  (h, c) = LSTM(x, (h, c));  G = joint.pred(h_top)
    logits = joint.out(relu(joint.enc(f_t) + G))

``check_prediction_path`` refuses models where anything else sits in that path
(normalised RNN variants, projections, adapters, another activation, temperature).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

from .errors import UnsupportedModelError

ALIGNMENT_BYTES = 64


def check_prediction_path(model) -> None:
    """Raise UnsupportedModelError unless decoder/joint are exactly embed -> LSTM -> Linear/ReLU/Linear."""
    import torch
    from nemo.collections.common.parts.rnn import LSTMDropout

    dec, joint = model.decoder, model.joint
    pred = dec.prediction
    problems = []
    if set(pred.keys()) != {"embed", "dec_rnn"}:
        problems.append(f"decoder.prediction has modules {sorted(pred.keys())}, expected embed + dec_rnn")
    rnn = pred["dec_rnn"] if "dec_rnn" in pred else None
    if not isinstance(rnn, LSTMDropout):
        problems.append(f"decoder.prediction.dec_rnn is {type(rnn).__name__} (normalization_mode set?), expected LSTMDropout")
    else:
        lstm = rnn.lstm
        if not isinstance(lstm, torch.nn.LSTM):
            problems.append(f"dec_rnn.lstm is {type(lstm).__name__}, expected torch.nn.LSTM")
        elif lstm.proj_size != 0 or lstm.bidirectional or not lstm.bias or lstm.batch_first:
            problems.append(
                f"LSTM with proj_size={lstm.proj_size} bidirectional={lstm.bidirectional} "
                f"bias={lstm.bias} batch_first={lstm.batch_first} is not supported"
            )
        elif lstm.hidden_size != dec.pred_hidden:
            problems.append(f"LSTM hidden {lstm.hidden_size} != pred_hidden {dec.pred_hidden}")
    if not getattr(dec, "blank_as_pad", False):
        problems.append("decoder.blank_as_pad is False (the label-looping TDT decoder requires it)")
    for name, mod in (("decoder", dec), ("joint", joint)):
        if hasattr(mod, "is_adapter_available") and mod.is_adapter_available():
            problems.append(f"{name} has adapters enabled")
    layers = list(joint.joint_net)
    acts = [m for m in layers if not isinstance(m, (torch.nn.Dropout, torch.nn.Linear))]
    if not (isinstance(layers[-1], torch.nn.Linear) and len(acts) == 1 and isinstance(acts[0], torch.nn.ReLU)
            and isinstance(layers[0], torch.nn.ReLU)):
        problems.append(f"joint.joint_net is {[type(m).__name__ for m in layers]}, expected ReLU, [Dropout], Linear")
    if getattr(joint, "temperature", 1.0) != 1.0:
        problems.append(f"joint.temperature is {joint.temperature}, expected 1.0")
    if problems:
        raise UnsupportedModelError("prediction/joint path not supported by decoder_step.bin: " + "; ".join(problems))


def decoder_step_tensors(model) -> List[Tuple[str, Any]]:
    """(name, float32 numpy array) in file order, copied from the NeMo modules."""
    import numpy as np

    check_prediction_path(model)
    dec, joint = model.decoder, model.joint
    lstm = dec.prediction["dec_rnn"].lstm

    def arr(t):
        return np.ascontiguousarray(t.detach().to("cpu").float().numpy(), dtype="<f4")

    out = [("embedding", arr(dec.prediction["embed"].weight))]
    for layer in range(lstm.num_layers):
        out += [
            (f"lstm.{layer}.w_ih", arr(getattr(lstm, f"weight_ih_l{layer}"))),
            (f"lstm.{layer}.w_hh", arr(getattr(lstm, f"weight_hh_l{layer}"))),
            (f"lstm.{layer}.b_ih", arr(getattr(lstm, f"bias_ih_l{layer}"))),
            (f"lstm.{layer}.b_hh", arr(getattr(lstm, f"bias_hh_l{layer}"))),
        ]
    final = joint.joint_net[-1]
    out += [
        ("joint.enc.weight", arr(joint.enc.weight)),
        ("joint.enc.bias", arr(joint.enc.bias)),
        ("joint.pred.weight", arr(joint.pred.weight)),
        ("joint.pred.bias", arr(joint.pred.bias)),
        ("joint.out.weight", arr(final.weight)),
        ("joint.out.bias", arr(final.bias)),
    ]
    return out


def write_decoder_step(model, path: Path) -> Dict[str, Any]:
    """Write ``decoder_step.bin``; returns its meta entry (offsets, shapes, order)."""
    import numpy as np

    tensors = decoder_step_tensors(model)
    entries: Dict[str, Any] = {}
    order = []
    offset = 0
    h = hashlib.sha256()
    with open(path, "wb") as f:
        for name, a in tensors:
            pad = (-offset) % ALIGNMENT_BYTES
            if pad:
                f.write(b"\0" * pad)
                offset += pad
            data = a.astype("<f4", copy=False).tobytes(order="C")
            f.write(data)
            entries[name] = {"offset": offset, "shape": [int(s) for s in a.shape], "nbytes": len(data)}
            order.append(name)
            offset += len(data)
    emb = dict(tensors)["embedding"]
    blank = model.decoder.blank_idx
    return {
        "file": path.name,
        "dtype": "float32",
        "byte_order": "little",
        "alignment_bytes": ALIGNMENT_BYTES,
        "lstm_gate_order": "ifgo",
        "order": order,
        "tensors": entries,
        "total_bytes": offset,
        "blank_embedding_is_zero": bool(not np.any(emb[blank])),
    }


def read_decoder_step(path: Path, meta: Dict[str, Any]) -> Dict[str, Any]:
    """Read the tensors back (numpy arrays by name) using a meta entry."""
    import numpy as np

    buf = Path(path).read_bytes()
    out = {}
    for name, e in meta["tensors"].items():
        n = int(np.prod(e["shape"])) if e["shape"] else 1
        out[name] = np.frombuffer(buf, dtype="<f4", count=n, offset=e["offset"]).reshape(e["shape"])
    return out
