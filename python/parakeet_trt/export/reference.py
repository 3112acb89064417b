"""PyTorch (NeMo) reference outputs for component parity tests.

All functions take numpy arrays (or anything ``np.asarray`` accepts), run NeMo's
modules on CPU in eval mode under ``torch.inference_mode()``, and return numpy.
They compute what the exported graphs compute (decoder without SOS prepended,
joint logits without log_softmax), without changing the model.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np


def _t(x, dtype=None):
    import torch

    t = torch.as_tensor(np.ascontiguousarray(x))
    return t.to(dtype) if dtype is not None else t


def nemo_features(model, audio, length=None) -> Tuple[np.ndarray, np.ndarray]:
    """Log-mel features: audio [N] or [B, N] float32 16 kHz -> (features [B, n_mels, T], lengths [B] int64)."""
    import torch

    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None]
    if length is None:
        length = np.full((a.shape[0],), a.shape[1], dtype=np.int64)
    model.eval()
    with torch.inference_mode():
        f, fl = model.preprocessor(input_signal=_t(a), length=_t(np.asarray(length, np.int64)))
    return f.numpy().copy(), fl.numpy().astype(np.int64)


def nemo_encoder(model, feats, length) -> Tuple[np.ndarray, np.ndarray]:
    """Encoder: features [B, n_mels, T], lengths [B] -> (outputs [B, D, T_enc], encoded_lengths [B] int64)."""
    import torch

    model.eval()
    with torch.inference_mode():
        e, el = model.encoder(audio_signal=_t(np.asarray(feats, np.float32)),
                              length=_t(np.asarray(length, np.int64)))
    return e.numpy().copy(), el.numpy().astype(np.int64)


def nemo_decoder_joint(model, encoder_outputs, targets, target_length, input_states_1, input_states_2):
    """What ``decoder_joint.onnx`` computes.

    encoder_outputs [B, D, T], targets [B, U] (token ids fed as-is, no SOS), target_length [B],
    states [L, B, H] -> (outputs [B, T, U, C] raw logits, prednet_lengths [B],
    output_states_1 [L, B, H], output_states_2 [L, B, H]).
    """
    import torch

    dec, joint = model.decoder, model.joint
    model.eval()
    with torch.inference_mode():
        y = _t(np.asarray(targets), torch.int64)
        g, (h, c) = dec.predict(y, state=[_t(np.asarray(input_states_1, np.float32)),
                                          _t(np.asarray(input_states_2, np.float32))],
                                add_sos=False, batch_size=y.shape[0])
        f = joint.project_encoder(_t(np.asarray(encoder_outputs, np.float32)).transpose(1, 2))
        p = joint.project_prednet(g)
        logits = joint.joint_net(f.unsqueeze(2) + p.unsqueeze(1))  # raw: no log_softmax
    return (logits.numpy().copy(), np.asarray(target_length).copy(), h.numpy().copy(), c.numpy().copy())


def nemo_predictor_step(model, labels, state_h, state_c):
    """One prediction-network step as the label-looping decoder runs it.

    labels [B] int (blank = SOS), states [L, B, H] -> (projected G [B, J], h, c).
    """
    import torch

    dec, joint = model.decoder, model.joint
    with torch.inference_mode():
        y = _t(np.asarray(labels), torch.int64).reshape(-1, 1)
        g, (h, c) = dec.predict(y, state=[_t(np.asarray(state_h, np.float32)), _t(np.asarray(state_c, np.float32))],
                                add_sos=False, batch_size=y.shape[0])
        G = joint.project_prednet(g)[:, 0]
    return G.numpy().copy(), h.numpy().copy(), c.numpy().copy()


def nemo_joint_logits(model, encoder_frames, projected_pred):
    """Raw joint logits: encoder frames [N, D] (not projected), G [N, J] -> [N, C]."""
    import torch

    joint = model.joint
    with torch.inference_mode():
        f = joint.project_encoder(_t(np.asarray(encoder_frames, np.float32)))
        out = joint.joint_net(f + _t(np.asarray(projected_pred, np.float32)))
    return out.numpy().copy()
