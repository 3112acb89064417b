"""Component parity: PyTorch (NeMo modules) ↔ ONNX Runtime (exported graphs) ↔ the native C++
decoder step, on real encoder outputs of real speech.

Tolerances (float32, different summation orders): encoder outputs 1e-4 relative to their scale;
joint logits 1e-5 relative to their largest magnitude (+1e-5); LSTM states 1e-5 absolute; the
token and duration argmax must agree exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from parakeet_trt import _core
from parakeet_trt.engines.onnxruntime_engine import OnnxRuntimeEngine

ENCODER_RELATIVE_TOLERANCE = 1e-4
LOGIT_RELATIVE_TOLERANCE = 1e-5
STATE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def encoded(tiny_nemo_model, speech_signal):
    from parakeet_trt.parity.offline import nemo_features

    feats, valid = nemo_features(tiny_nemo_model, speech_signal)
    with torch.inference_mode():
        enc, enc_len = tiny_nemo_model.encoder(audio_signal=torch.from_numpy(feats)[None],
                                               length=torch.tensor([valid]))
    return feats, valid, enc[0].numpy(), int(enc_len[0])


def test_encoder_pytorch_vs_onnxruntime(tiny_export_dir, encoded):
    feats, valid, enc_torch, enc_len = encoded
    engine = OnnxRuntimeEngine(tiny_export_dir / "encoder.onnx", None)
    out = engine.run_copy({"audio_signal": feats[None], "length": np.array([valid], np.int64)})
    assert int(out["encoded_lengths"][0]) == enc_len
    scale = float(np.abs(enc_torch).max())
    err = float(np.abs(out["outputs"][0] - enc_torch).max())
    print(f"encoder max|diff| {err:.2e} (scale {scale:.2f})")
    assert err <= ENCODER_RELATIVE_TOLERANCE * max(scale, 1.0)


def _torch_step(nemo_model, token, h, c, enc_frame):
    """NeMo modules: LSTM step on `token` from (h, c), then raw joint logits for one encoder frame."""
    with torch.inference_mode():
        g, (h2, c2) = nemo_model.decoder.predict(torch.tensor([[token]]), state=[torch.from_numpy(h), torch.from_numpy(c)],
                                                 add_sos=False, batch_size=1)
        f = nemo_model.joint.project_encoder(torch.from_numpy(enc_frame)[None, None])   # [1,1,J]
        p = nemo_model.joint.project_prednet(g)                                          # [1,1,J]
        logits = nemo_model.joint.joint_net(f[:, :, None, :] + p[:, None, :, :])        # raw, no log_softmax
    return logits.reshape(-1).numpy(), h2.numpy(), c2.numpy()


def test_decoder_step_pytorch_vs_onnxruntime_vs_native(tiny_nemo_model, tiny_export_dir, encoded):
    _, _, enc, enc_len = encoded
    model = _core.Model.load(str(tiny_export_dir))
    native = _core.NativeDecoderStep(model)
    ort = OnnxRuntimeEngine(tiny_export_dir / "decoder_joint.onnx", None)
    projected = native.project_encoder(np.ascontiguousarray(enc))
    layers = tiny_nemo_model.decoder.pred_rnn_layers
    hidden = tiny_nemo_model.decoder.pred_hidden
    h = np.zeros((layers, 1, hidden), np.float32)
    c = np.zeros((layers, 1, hidden), np.float32)
    state = native.make_state()
    rng = np.random.default_rng(0)
    tokens = [model.blank_id] + [int(t) for t in rng.integers(0, model.vocab_size, 12)]
    worst = 0.0
    for step, token in enumerate(tokens):
        frame = int(rng.integers(0, enc_len))
        ref_logits, ref_h, ref_c = _torch_step(tiny_nemo_model, token, h, c, np.ascontiguousarray(enc[:, frame]))
        out = ort.run_copy({"encoder_outputs": np.ascontiguousarray(enc[None, :, frame:frame + 1]),
                            "targets": np.array([[token]], np.int32), "target_length": np.array([1], np.int32),
                            "input_states_1": h, "input_states_2": c})
        state = native.predict(token, state)
        native_logits = native.joint(projected[frame], state)
        ort_logits = out["outputs"].reshape(-1)
        logit_tolerance = LOGIT_RELATIVE_TOLERANCE * float(np.abs(ref_logits).max()) + 1e-5
        logit_errors = {"ort logits": np.abs(ort_logits - ref_logits).max(),
                        "native logits": np.abs(native_logits - ref_logits).max()}
        state_errors = {"ort h": np.abs(out["output_states_1"] - ref_h).max(),
                        "native h": np.abs(state.h.reshape(ref_h.shape) - ref_h).max(),
                        "native c": np.abs(state.c.reshape(ref_c.shape) - ref_c).max()}
        worst = max(worst, *state_errors.values())
        context = f"step {step} token {token}: {logit_errors} (tolerance {logit_tolerance:.1e}), {state_errors}"
        assert all(v <= logit_tolerance for v in logit_errors.values()), context
        assert all(v <= STATE_TOLERANCE for v in state_errors.values()), context
        blank = model.blank_id
        for logits in (native_logits, ort_logits):
            assert int(np.argmax(logits[:blank + 1])) == int(np.argmax(ref_logits[:blank + 1]))
            assert int(np.argmax(logits[blank + 1:])) == int(np.argmax(ref_logits[blank + 1:]))
        h, c = ref_h, ref_c
    print(f"decoder step worst state max|diff| {worst:.2e} over {len(tokens)} steps")
