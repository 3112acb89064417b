#!/usr/bin/env python3
"""Write a synthetic speech corpus (espeak-ng speech, templated English text, noise) for the demo model.

    tools/make_corpus.py --out data/corpus --split train --num 5000 --seed 0
    tools/make_corpus.py --out data/corpus --split eval  --num 500  --seed 0

Writes OUT/SPLIT/SPLIT_sSEED_NNNNNN.wav (16 kHz mono PCM_16), OUT/SPLIT_manifest.jsonl (NeMo style:
audio_filepath relative to OUT, duration, text), OUT/SPLIT_metadata.jsonl (voice, rate, pitch, noise,
SNR, silences of each utterance) and OUT/SPLIT_corpus.json. Progress goes to stderr.

Deterministic: the same arguments give byte-identical WAVs and manifest (on the same espeak-ng,
libsoxr and wamerican versions). Resumable: run it again after an interruption and it skips every
utterance already written; a larger --num extends the corpus. Train and eval never share an
utterance seed or a sentence, whatever --seed each uses. The recipe is documented in
python/parakeet_trt/training/corpus.py.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--split", choices=["train", "eval"], required=True,
                        help="which split: train, or the held-out eval (disjoint seeds and sentences)")
    parser.add_argument("--num", type=_non_negative, required=True, help="number of utterances")
    parser.add_argument("--seed", type=_non_negative, default=0, help="corpus seed (default 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)

    from parakeet_trt.training.corpus import write_corpus

    try:
        manifest = write_corpus(args.out, args.split, args.num, args.seed, progress=not args.quiet)
    except (ValueError, OSError) as error:
        print(f"make_corpus: error: {error}", file=sys.stderr)
        return 1
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
