"""The demo model: its training (joined examples and window-statistics renormalization in the
batches; an interrupted run resumes exactly) and the packaged model itself (size, held-out word
error rate offline and buffered, tokens equal to NeMo's, `parakeet-trt live --demo`)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from parakeet_trt.models import resolve_model_dir


@pytest.fixture(scope="module")
def demo_model_and_data(tmp_path_factory):
    """A fresh (untrained) demo-architecture model with a tokenizer trained on corpus texts, and six
    training utterances' features from its own preprocessor."""
    import torch

    from parakeet_trt.training.corpus import make_utterance, plan_utterance, utterance_seed
    from parakeet_trt.training.demo_model import build_demo_model, train_demo_tokenizer
    from parakeet_trt.training.feature_shards import FeatureSet

    torch.set_num_threads(1)
    tok_dir = tmp_path_factory.mktemp("tokenizer")
    train_demo_tokenizer([plan_utterance(utterance_seed("train", 0, i)).text for i in range(4000)], tok_dir, 0)
    model = build_demo_model(str(tok_dir), seed=0)
    model.eval()
    feats, texts = [], []
    for i in range(6):
        audio, text, _ = make_utterance(utterance_seed("train", 0, i))
        with torch.no_grad():
            f, n = model.preprocessor(input_signal=torch.from_numpy(audio)[None], length=torch.tensor([len(audio)]))
        feats.append(f[0, :, : int(n[0])].numpy().astype(np.float16))
        texts.append(text)
    return model, FeatureSet(feats, texts, list(range(6)))


def test_joined_examples_cover_every_utterance_once_per_epoch():
    from parakeet_trt.training.batches import batch_schedule, collate, make_examples

    examples = make_examples(100, 0.3, seed=0, epoch=0)
    assert sorted(i for ex in examples for i in ex) == list(range(100))
    assert sum(len(ex) == 2 for ex in examples) == 15
    assert make_examples(100, 0.3, 0, 0) == examples != make_examples(100, 0.3, 0, 1)
    assert make_examples(100, 0.0, 0, 0) == [(i,) for i in range(100)]
    with pytest.raises(ValueError, match="concat_share"):
        make_examples(10, 1.5, 0, 0)
    # A batch holds whole examples within the frame budget; an epoch covers every utterance once.
    frames = np.random.default_rng(0).integers(50, 400, size=100)
    seen, schedule = [], batch_schedule(frames, 1200, seed=0, concat_share=0.3)
    while True:
        epoch, batch = next(schedule)
        if epoch:
            break
        assert max(sum(frames[i] for i in ex) for ex in batch) * len(batch) <= 1200 or len(batch) == 1
        seen += [i for ex in batch for i in ex]
    assert sorted(seen) == list(range(100))
    # Joined examples: features end to end, token ids in order.
    feats = [np.full((3, n), i, np.float16) for i, n in enumerate([2, 3, 4])]
    x, xl, y, yl = collate(feats, [[1], [2, 3], [4]], [(0, 2), (1,)])
    assert xl.tolist() == [6, 3] and yl.tolist() == [2, 2]
    assert x[0, 0].tolist() == [0, 0, 2, 2, 2, 2] and x[1, 0].tolist() == [1, 1, 1, 0, 0, 0]
    assert y.tolist() == [[1, 4], [2, 3]]


def test_renormalizing_normalized_features_equals_normalizing_raw_ones_over_the_span():
    """The window-statistics augmentation is exact: the per-bin affine maps compose."""
    import torch

    from parakeet_trt.training.trainer import TrainConfig, renormalize_over_spans

    rng = np.random.default_rng(1)
    raw = torch.from_numpy(rng.normal(3.0, 2.0, size=(2, 8, 400)) * np.linspace(0.5, 2, 8)[None, :, None])
    lengths = torch.tensor([400, 300])

    def normalize(r, start, stop):
        w = r[:, start:stop]
        return (r - w.mean(dim=1, keepdim=True)) / (w.std(dim=1, keepdim=True) + 1e-5)

    normalized = torch.stack([normalize(raw[k], 0, int(n)) for k, n in enumerate(lengths)])
    for k, n in enumerate(lengths.tolist()):
        normalized[k, :, n:] = 0
    cfg = TrainConfig(renorm_share=1.0, renorm_min_frames=112, renorm_prefix=0.5)
    out = renormalize_over_spans(normalized, lengths, cfg, np.random.default_rng(7))
    draw = np.random.default_rng(7)  # the same draws: share, span, prefix coin, (start)
    for k, n in enumerate(lengths.tolist()):
        draw.random()
        span = int(draw.integers(112, n + 1))
        start = 0 if draw.random() < 0.5 else int(draw.integers(0, n - span + 1))
        expected = normalize(raw[k, :, :n], start, start + span)
        torch.testing.assert_close(out[k, :, :n], expected, rtol=1e-4, atol=1e-4)
        assert span < n and not torch.allclose(out[k, :, :n], normalized[k, :, :n], atol=1e-2)
    assert torch.equal(renormalize_over_spans(normalized, lengths, TrainConfig(renorm_share=0.0),
                                              np.random.default_rng(7)), normalized)


def test_trainer_resume_continues_exactly(demo_model_and_data, tmp_path):
    """An interrupted run (killed during step 3, restarted) ends with the weights of an
    uninterrupted 4-step run, teacher included; another config is refused."""
    import torch

    from parakeet_trt.training.trainer import Trainer, TrainConfig

    model, data = demo_model_and_data
    state0 = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = TrainConfig(steps=4, batch_frames=1200, warmup_steps=2, teacher_steps=2, distill_steps=3,
                      eval_every=1000, checkpoint_every=2)

    def weights():
        return {k: v.clone() for k, v in model.state_dict().items()}

    Trainer(model, data, None, cfg, tmp_path / "straight", progress=False).run()
    straight = weights()

    class Interrupted(Exception):
        pass

    model.load_state_dict(state0)
    interrupted = Trainer(model, data, None, cfg, tmp_path / "resumed", progress=False)
    real_step = interrupted.train_step

    def step_then_stop(batch):
        if interrupted.step == 3:  # killed during step 3: the checkpoint of step 2 survives
            raise Interrupted
        return real_step(batch)

    interrupted.train_step = step_then_stop
    with pytest.raises(Interrupted):
        interrupted.run()
    model.load_state_dict(state0)  # a fresh process rebuilds the model; the checkpoint restores it
    with pytest.raises(ValueError, match="another training config"):
        Trainer(model, data, None, TrainConfig(**{**cfg.__dict__, "steps": 5}), tmp_path / "resumed",
                progress=False).run()
    other_threads = Trainer(model, data, None, TrainConfig(**{**cfg.__dict__, "threads": cfg.threads + 1}),
                            tmp_path / "resumed", progress=False)
    assert other_threads.load_checkpoint() and other_threads.step == 2  # threads: speed only, may change
    model.load_state_dict(state0)
    Trainer(model, data, None, cfg, tmp_path / "resumed", progress=False).run()
    resumed = weights()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert not all(torch.equal(straight[k], state0[k]) for k in straight)


# Measured at packaging on held-out utterances (docs/DEMO_MODEL_EVAL.md has 200 of them); these
# bounds guard the packaged model against regressions in the runtime, the exporter or the packaging.
HELD_OUT_UTTERANCES = 100
OFFLINE_MAX_WER = 0.20
BUFFERED_560_MAX_GAP = 0.03     # buffered 560 ms chunks (10 s left, 2 s right) minus offline, WER (issue 8)
PARITY_UTTERANCES = 30
DEMO_MAX_BYTES = 25_000_000     # the .nemo and the exported folder together (issue 8)
LIVE_DEMO_MAX_WER = 0.35        # live's default 560 ms right context (held-out: 30% at 560/560, measured 25% here)


@pytest.fixture(scope="module")
def held_out_set():
    from parakeet_trt.testing.held_out import held_out_speech

    return [held_out_speech(i, edge_silence_s=None) for i in range(HELD_OUT_UTTERANCES)]


@pytest.fixture(scope="module")
def demo_session():
    import parakeet_trt

    return parakeet_trt.Session("demo")


def test_demo_model_is_packaged_with_its_nemo_and_contract_within_25_mb():
    folder = resolve_model_dir("demo")
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    assert {"demo.nemo", "encoder.onnx", "decoder_joint.onnx", "model_meta.json", "vocab.txt"} <= set(files)
    assert any(name.endswith(".contract.json") for name in files)
    assert sum(files.values()) <= DEMO_MAX_BYTES, files


def test_demo_model_reads_held_out_speech_offline_and_buffered(demo_session, held_out_set):
    import parakeet_trt
    from parakeet_trt.testing.held_out import word_error_rate

    refs = [text for _, text in held_out_set]
    offline = [demo_session.transcribe(audio, 16000).text for audio, _ in held_out_set]
    buffered = []
    for audio, _ in held_out_set:
        stream = parakeet_trt.StreamingSession(demo_session, chunk_ms=560, left_ms=10000, right_ms=2000)
        for i in range(0, len(audio), 1600):
            stream.push(audio[i:i + 1600])
        buffered.append(stream.finish()[-1].text)
    wer_offline, wer_buffered = word_error_rate(refs, offline), word_error_rate(refs, buffered)
    print(f"held-out WER: offline {wer_offline:.3f}, buffered 560 ms (right 2000 ms) {wer_buffered:.3f}")
    assert wer_offline <= OFFLINE_MAX_WER
    assert wer_buffered - wer_offline <= BUFFERED_560_MAX_GAP


def test_demo_model_tokens_equal_nemo_on_held_out_speech(demo_session, held_out_set):
    from parakeet_trt.testing.test_models import decode_with_nemo, load_test_model

    nemo = load_test_model(resolve_model_dir("demo") / "demo.nemo")
    differ, tokens = [], 0
    for k, (audio, text) in enumerate(held_out_set[:PARITY_UTTERANCES]):
        ours, theirs = demo_session.transcribe(audio, 16000), decode_with_nemo(nemo, audio)
        tokens += len(ours.token_ids)
        if list(ours.token_ids) != list(theirs["token_ids"]):
            differ.append((k, text, ours.text, theirs["text"]))
    assert not differ, differ
    assert tokens > 100
    # The transcript every language's tests compare the sample with is NeMo's, from the packaged .nemo.
    import soundfile

    from parakeet_trt.models import demo_nemo_transcript, demo_sample

    sample, _ = soundfile.read(demo_sample(), dtype="float32")
    assert decode_with_nemo(nemo, sample)["text"].strip() == demo_nemo_transcript()


def test_live_demo_captions_the_demo_sample(tmp_path):
    """`parakeet-trt live --demo`: the demo model and sample, as fast as possible; the finals say the
    sample's three sentences."""
    from parakeet_trt.live.protocol import read_events
    from parakeet_trt.models import demo_sample
    from parakeet_trt.testing.held_out import word_error_rate

    log = tmp_path / "events.jsonl"
    result = subprocess.run([sys.executable, "-m", "parakeet_trt.cli", "live", "--demo", "--ui", "none",
                             "--no-realtime", "--events-out", str(log)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    finals = [e for e in read_events(log) if e["type"] == "final"]
    reference = " ".join(demo_sample().with_suffix(".txt").read_text().split())
    captions = "".join(f["text"] for f in finals)
    assert len(finals) >= 2
    assert word_error_rate([reference], [captions]) <= LIVE_DEMO_MAX_WER, (reference, captions)


def test_window_renormalization_is_refused_on_unnormalized_features(demo_model_and_data, tmp_path):
    """The demo model v2's features are raw log-mel: renormalizing spans of them (a per_feature model's
    augmentation) would train on inputs the model never sees, so the trainer refuses it, naming the fix."""
    from parakeet_trt.training.trainer import Trainer, TrainConfig

    model, data = demo_model_and_data
    assert str(model.cfg.preprocessor.normalize) == "None"
    with pytest.raises(ValueError, match="renorm_share 0.5 .* normalize is 'None'; use renorm_share=0"):
        Trainer(model, data, None, TrainConfig(renorm_share=0.5), tmp_path, progress=False)
    Trainer(model, data, None, TrainConfig(), tmp_path, progress=False)  # the default (0) is accepted


def test_the_teacher_normalizes_its_input_per_utterance():
    """The CTC teacher sees per-utterance normalized features whatever the model's (v2's are raw log-mel):
    zero mean and unit deviation per bin over the valid frames, padding zero, normalized input unchanged."""
    import torch

    from parakeet_trt.training.ctc_teacher import normalized_per_utterance

    raw = torch.randn(2, 4, 50, generator=torch.Generator().manual_seed(0)) * 3 - 12
    lengths = torch.tensor([50, 30])
    out = normalized_per_utterance(raw, lengths)
    torch.testing.assert_close(out[1, :, :30].mean(-1), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[1, :, :30].std(-1), torch.ones(4), atol=1e-4, rtol=0)
    assert torch.all(out[1, :, 30:] == 0)
    torch.testing.assert_close(normalized_per_utterance(out, lengths), out, atol=1e-4, rtol=0)
