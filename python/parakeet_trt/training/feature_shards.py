"""Log-mel feature shards of the synthetic corpus, computed once and reused by every training epoch.

    write_feature_shards(work / "features", "train", num_utterances=16000, seed=0, preprocessor_cfg=cfg)
    write_feature_shards(work / "features", "train", 30000, 0, cfg, recipe="live", text_cache=cache)
    shards = load_feature_shards(work / "features", "train")

Recipes (``RECIPES``): ``corpus`` renders the corpus's utterances (``corpus.make_utterance``, either
split); ``live`` renders the live-like training examples of ``training.live_mix`` (train split only;
open-English text from ``training.open_text``, fetched into ``text_cache``).

Each shard ``{split}_{k:04d}.npz`` holds ``SHARD_SIZE`` consecutive utterances of the split:
``features`` (float16, all utterances' ``[n_mels, frames]`` matrices concatenated along time),
``frames`` (int32 per utterance), ``texts`` and ``seeds`` (the corpus recipe: utterance seeds; the
live recipe: example indices). Features come from NeMo's own
``AudioToMelSpectrogramPreprocessor`` built from the model's config, in eval mode (no dither), so
training sees what inference computes. A shard is written to ``.partial`` and renamed, so an
interrupted run loses at most the shard in progress; the next run skips every finished shard.
Shards are rendered by ``workers`` processes (espeak-ng synthesis dominates the cost).
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List

import numpy as np

SHARD_SIZE = 500
RECIPES = ("corpus", "live")


@dataclass
class FeatureSet:
    """All utterances of a split, features kept as a list of float16 ``[n_mels, frames]`` arrays."""

    features: List[np.ndarray]
    texts: List[str]
    seeds: List[int]

    @property
    def frames(self) -> np.ndarray:
        return np.array([f.shape[1] for f in self.features], dtype=np.int64)


def _shard_path(out: Path, split: str, shard: int) -> Path:
    return out / f"{split}_{shard:04d}.npz"


def _render_shard(args) -> str:
    out, split, seed, shard, count, preprocessor_cfg, recipe, text_cache = args
    import torch
    from omegaconf import OmegaConf

    from parakeet_trt.testing.test_models import _quiet_nemo
    from parakeet_trt.training.corpus import make_utterance, utterance_seed

    torch.set_num_threads(1)
    _quiet_nemo()
    from nemo.collections.asr.modules import AudioToMelSpectrogramPreprocessor

    cfg = {k: v for k, v in preprocessor_cfg.items() if k != "_target_"}
    pre = AudioToMelSpectrogramPreprocessor(**OmegaConf.to_container(OmegaConf.create(cfg))).eval()
    sentences = ()
    if recipe == "live":
        from parakeet_trt.training.open_text import training_sentences

        sentences = training_sentences(text_cache)
    feats, texts, seeds = [], [], []
    first = shard * SHARD_SIZE
    for index in range(first, first + count):
        if recipe == "live":
            from parakeet_trt.training.live_mix import make_live_example

            useed = index
            audio, text, _ = make_live_example(seed, index, sentences)
        else:
            useed = utterance_seed(split, seed, index)
            audio, text, _ = make_utterance(useed)
        with torch.no_grad():
            f, n = pre(input_signal=torch.from_numpy(audio.astype(np.float32))[None],
                       length=torch.tensor([audio.shape[0]]))
        feats.append(f[0, :, : int(n[0])].numpy().astype(np.float16))
        texts.append(text)
        seeds.append(useed)
    path = _shard_path(Path(out), split, shard)
    partial = path.with_name(path.name + ".partial.npz")
    np.savez(partial, features=np.concatenate(feats, axis=1), frames=np.array([x.shape[1] for x in feats], np.int32),
             texts=np.array(texts), seeds=np.array(seeds, dtype=np.uint64))
    os.replace(partial, path)
    return str(path)


def write_feature_shards(out_dir, split: str, num_utterances: int, seed: int, preprocessor_cfg: Dict[str, Any],
                         *, workers: int = 2, progress: bool = True, recipe: str = "corpus",
                         text_cache=None) -> List[Path]:
    """Render and featurize utterances ``0..num_utterances-1`` of ``split``; returns the shard paths."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    if recipe == "live" and (split != "train" or text_cache is None):
        raise ValueError("the live recipe makes training examples only (split 'train') and needs text_cache")
    from parakeet_trt.training.corpus import CORPUS_VERSION
    from parakeet_trt.training.live_mix import LIVE_MIX_VERSION

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if recipe == "live":  # fetched once here, before the workers read it
        from parakeet_trt.training.open_text import WORDNET_PACKAGE, fetch_debian_package, package_version

        text_source = package_version(fetch_debian_package(WORDNET_PACKAGE, text_cache))
        (out / f"{split}_text_source.txt").write_text(text_source + "\n")
    info_path = out / f"{split}_shards.json"
    info = {"split": split, "seed": seed, "shard_size": SHARD_SIZE, "preprocessor": preprocessor_cfg,
            "recipe": recipe, "version": LIVE_MIX_VERSION if recipe == "live" else CORPUS_VERSION}
    if info_path.exists():
        old = json.loads(info_path.read_text())
        if {k: old.get(k) for k in info} != json.loads(json.dumps(info)):
            raise ValueError(f"{out} holds {split} shards made with other settings ({info_path}); "
                             "use another folder or delete it")
    info_path.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    n_shards = (num_utterances + SHARD_SIZE - 1) // SHARD_SIZE
    jobs = []
    for shard in range(n_shards):
        count = min(SHARD_SIZE, num_utterances - shard * SHARD_SIZE)
        path = _shard_path(out, split, shard)
        if path.exists() and _shard_count(path) == count:
            continue
        jobs.append((str(out), split, seed, shard, count, preprocessor_cfg, recipe,
                     None if text_cache is None else str(text_cache)))
    started = time.monotonic()
    if jobs:
        if progress:
            print(f"[features] {split}: rendering {len(jobs)} of {n_shards} shards with {workers} workers",
                  file=sys.stderr, flush=True)
        if workers > 1:
            import multiprocessing as mp

            with mp.get_context("spawn").Pool(workers) as pool:
                for done, path in enumerate(pool.imap_unordered(_render_shard, jobs), 1):
                    _report(progress, split, done, len(jobs), started, path)
        else:
            for done, job in enumerate(jobs, 1):
                _report(progress, split, done, len(jobs), started, _render_shard(job))
    return [_shard_path(out, split, s) for s in range(n_shards)]


def _report(progress: bool, split: str, done: int, total: int, started: float, path: str) -> None:
    if progress:
        elapsed = time.monotonic() - started
        eta = elapsed / done * (total - done)
        print(f"[features] {split}: {done}/{total} shards ({elapsed:.0f} s, ETA {eta:.0f} s) {Path(path).name}",
              file=sys.stderr, flush=True)


def _shard_count(path: Path) -> int:
    try:
        with np.load(path) as z:
            return int(z["frames"].shape[0])
    except (OSError, ValueError, KeyError):
        return -1


def load_feature_shards(paths: List[Path]) -> FeatureSet:
    features: List[np.ndarray] = []
    texts: List[str] = []
    seeds: List[int] = []
    for path in paths:
        with np.load(path) as z:
            offsets = np.concatenate([[0], np.cumsum(z["frames"])])
            allf = z["features"]
            features += [allf[:, offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
            texts += [str(t) for t in z["texts"]]
            seeds += [int(s) for s in z["seeds"]]
    return FeatureSet(features, texts, seeds)
