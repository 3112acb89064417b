#!/usr/bin/env python3
"""Train the demo model (small FastConformer-TDT) on the synthetic corpus, on CPU, and package it.

    tools/train_demo_model.py --work data/demo                 # everything, resumable
    tools/train_demo_model.py --work data/demo --phase package --out python/parakeet_trt/models/demo

Phases (``--phase all`` runs them in order; each skips what is already done, so rerunning the same
command after an interruption continues where it stopped):

1. ``prepare``: the open-English training text (WordNet, fetched with ``apt-get download`` into
   ``--text-cache``), the BPE tokenizer on the training texts (WORK/tokenizer), then log-mel feature
   shards of ``--train-utterances`` live-like training examples (parakeet_trt/training/live_mix.py)
   and ``--eval-utterances`` held-out corpus utterances (WORK/features, see
   parakeet_trt/training/feature_shards.py).
2. ``train``: ``--steps`` optimizer steps (about 80 s of audio each) (parakeet_trt/training/trainer.py) with checkpoints in
   WORK/checkpoints (last.pt every 50 steps; train_log.jsonl has every step).
3. ``package``: the trained weights as a byte-deterministic ``demo.nemo`` in WORK, and its ONNX export
   (encoder, cache-aware streaming encoder at DEMO_STREAMING, decoder_joint, decoder step,
   vocabulary, metadata) into ``--out``.

The architecture is in parakeet_trt/training/demo_model.py. Everything is seeded by ``--seed``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

PHASES = ("prepare", "train", "package")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _say(msg: str) -> None:
    print(f"[demo] {msg}", file=sys.stderr, flush=True)


def prepare(args):
    from parakeet_trt.training.corpus import plan_utterance, text_split, utterance_seed
    from parakeet_trt.training.demo_model import build_demo_model, train_demo_tokenizer
    from parakeet_trt.training.feature_shards import write_feature_shards
    from parakeet_trt.training.open_text import training_sentences

    tok_dir = args.work / "tokenizer"
    if not (tok_dir / "tokenizer.model").exists():
        _say(f"fetching the open-English training text into {args.text_cache}")
        open_texts = [t for t in training_sentences(str(args.text_cache)) if text_split(t) == "train"]
        _say(f"training the tokenizer on {args.train_utterances} template texts and {len(open_texts)} open sentences")
        texts = [plan_utterance(utterance_seed("train", args.seed, i)).text for i in range(args.train_utterances)]
        train_demo_tokenizer(texts + open_texts, tok_dir, args.seed)
    model = build_demo_model(str(tok_dir), args.seed)
    from omegaconf import OmegaConf

    pre_cfg = OmegaConf.to_container(model.cfg.preprocessor, resolve=True)
    feat_dir = args.work / "features"
    train = write_feature_shards(feat_dir, "train", args.train_utterances, args.seed, pre_cfg, workers=args.workers,
                                 recipe="live", text_cache=args.text_cache)
    evals = write_feature_shards(feat_dir, "eval", args.eval_utterances, args.seed, pre_cfg, workers=args.workers)
    return model, train, evals


def train(args, model, train_paths, eval_paths):
    from parakeet_trt.training.feature_shards import load_feature_shards
    from parakeet_trt.training.trainer import Trainer, TrainConfig

    _say("loading feature shards")
    train_set, eval_set = load_feature_shards(train_paths), load_feature_shards(eval_paths)
    hours = float(train_set.frames.sum()) / 100 / 3600
    _say(f"{len(train_set.texts)} training utterances ({hours:.1f} h), {len(eval_set.texts)} held out; "
         f"{sum(p.numel() for p in model.parameters()):,} parameters")
    teacher = {} if args.teacher_steps is None else {"teacher_steps": args.teacher_steps}
    cfg = TrainConfig(steps=args.steps, seed=args.seed, threads=args.threads, **teacher)
    trainer = Trainer(model, train_set, eval_set, cfg, args.work / "checkpoints")
    started = time.monotonic()
    result = trainer.run()
    _say(f"training done ({(time.monotonic() - started) / 60:.1f} min this run); held-out greedy "
         f"WER {result.get('wer', float('nan')):.3f}, CER {result.get('cer', float('nan')):.3f}")
    (args.work / "train_result.json").write_text(json.dumps(result, indent=2) + "\n")
    return model


def package(args, model):
    import torch
    from omegaconf import open_dict

    from parakeet_trt.export.api import export_model
    from parakeet_trt.testing.test_models import _write_nemo_deterministic

    ckpt = args.work / "checkpoints" / "last.pt"
    if not ckpt.exists():
        raise FileNotFoundError(f"no trained checkpoint at {ckpt}; run the train phase first")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    if state["step"] < args.steps:
        raise RuntimeError(f"{ckpt} is at step {state['step']} of {args.steps}; finish the train phase first")
    model.load_state_dict(state["model"])
    model.eval()
    result_path = args.work / "train_result.json"
    with open_dict(model.cfg):
        model.cfg.tokenizer.dir = "ptrt-demo-tokenizer"  # no machine-local path in the saved config
        model.cfg.ptrt_demo_model = {
            "trainer": "tools/train_demo_model.py", "seed": args.seed, "steps": args.steps,
            "train_utterances": args.train_utterances,
            "held_out": json.loads(result_path.read_text()) if result_path.exists() else None,
        }
    nemo_path = args.work / "demo.nemo"
    _write_nemo_deterministic(model, nemo_path)
    _say(f"wrote {nemo_path} ({nemo_path.stat().st_size / 1e6:.1f} MB); exporting to {args.out}")
    from parakeet_trt.training.demo_model import DEMO_STREAMING

    export_model(nemo_path, args.out, component="all,encoder_streaming", streaming_profile="cache_aware",
                 streaming_chunk_size=DEMO_STREAMING["chunk_size"], streaming_shift_size=DEMO_STREAMING["shift_size"],
                 streaming_left_chunks=DEMO_STREAMING["left_chunks"])
    if args.nemo_out:
        import shutil

        args.nemo_out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(nemo_path, args.nemo_out)
    total = sum(p.stat().st_size for p in Path(args.out).rglob("*") if p.is_file())
    _say(f"exported model folder: {total / 1e6:.1f} MB")
    if args.sample_out:
        from parakeet_trt.testing.test_models import load_test_model

        write_demo_sample(args.sample_out, args.seed)
        write_nemo_transcript(load_test_model(nemo_path), args.sample_out)  # the packaged file, as shipped


def write_demo_sample(path: Path, seed: int, count: int = 3, pause_s: float = 0.8) -> None:
    """The packaged demo sample: the first ``count`` held-out utterances (never trained on) joined by
    pauses, as 16-bit WAV, with their reference text beside it (``.txt``, one utterance per line)."""
    import numpy as np
    import soundfile

    from parakeet_trt.training.corpus import make_utterance, utterance_seed

    parts, texts = [], []
    for i in range(count):
        audio, text, _ = make_utterance(utterance_seed("eval", seed, i))
        parts += [audio, np.zeros(int(pause_s * 16000), np.float32)]
        texts.append(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.concatenate(parts[:-1]), 16000, subtype="PCM_16")
    path.with_suffix(".txt").write_text("\n".join(texts) + "\n")
    _say(f"wrote {path} and its reference text {path.with_suffix('.txt').name}")


def write_nemo_transcript(model, sample: Path) -> Path:
    """What NeMo itself reads in the packaged sample with the packaged model (its own preprocessor,
    encoder and greedy TDT decoding), one line beside the sample (``demo.nemo_transcript.txt``). The
    C++, C, Rust and Python tests compare the runtime's transcript of the sample with this file, so
    a retrained model needs no test edits."""
    import soundfile

    from parakeet_trt.models import demo_nemo_transcript_path
    from parakeet_trt.testing.test_models import decode_with_nemo

    audio, rate = soundfile.read(sample, dtype="float32")
    if rate != 16000 or audio.ndim != 1:
        raise ValueError(f"{sample}: expected 16 kHz mono, got {rate} Hz, shape {audio.shape}")
    text = decode_with_nemo(model, audio)["text"].strip()
    path = demo_nemo_transcript_path(sample)
    path.write_text(text + "\n")
    _say(f"wrote {path.name}: NeMo reads {text!r}")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=REPO / "data" / "demo",
                        help="working folder: tokenizer, feature shards, checkpoints, demo.nemo (default data/demo)")
    parser.add_argument("--phase", choices=("all",) + PHASES, default="all", help="what to run (default all)")
    parser.add_argument("--out", type=Path, default=REPO / "python" / "parakeet_trt" / "models" / "demo",
                        help="exported model folder (default: the packaged demo model)")
    parser.add_argument("--nemo-out", type=Path, default=None,
                        help="package phase: also copy demo.nemo here (default: OUT/demo.nemo, packaged with the export)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the corpus, tokenizer, weights and batches")
    parser.add_argument("--train-utterances", type=_positive, default=30000,
                        help="live-like training examples (default 30000: about 58 h of audio, 10 min to render "
                             "on two cores); also the number of template texts the tokenizer sees")
    parser.add_argument("--text-cache", type=Path, default=REPO / ".cache" / "text_sources",
                        help="where the Debian text packages are downloaded and unpacked (default .cache/text_sources)")
    parser.add_argument("--eval-utterances", type=_positive, default=400)
    parser.add_argument("--steps", type=_positive, default=4400,
                        help="optimizer steps (default 4400: about 150 min on two quiet cores at 2 s a step, plus 3 "
                             "for the teacher; stop and rerun the same command to continue)")
    parser.add_argument("--sample-out", type=Path, default=REPO / "python" / "parakeet_trt" / "samples" / "demo.wav",
                        help="package phase: also write the demo sample (held-out utterances) here")
    parser.add_argument("--teacher-steps", type=int, default=None,
                        help="steps of the BiLSTM CTC teacher trained first and distilled into the encoder's CTC head "
                             "(default: TrainConfig's, 2500, about 3 minutes on two threads; 0: no teacher)")
    parser.add_argument("--workers", type=_positive, default=2, help="processes rendering the corpus")
    parser.add_argument("--threads", type=_positive, default=2,
                        help="torch threads for training (default 2, for two quiet cores; use 1 when anything else "
                             "runs: a thread that waits for a busy core slows every step several times); a stopped run may "
                             "resume with another value")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    args.nemo_out = args.nemo_out or args.out / "demo.nemo"

    model, train_paths, eval_paths = prepare(args)
    if args.phase in ("all", "train"):
        model = train(args, model, train_paths, eval_paths)
    if args.phase in ("all", "package"):
        package(args, model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
