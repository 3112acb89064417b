"""Where models come from: an exported model folder, or one shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from parakeet_trt.errors import ModelError

PACKAGED_MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "demo"          # trained on synthetic speech by tools/train_demo_model.py
# Parakeet-TDT-shaped with random weights (its text is nonsense): the C++/Rust/pytest fixtures' model. Named so
# nobody picks it by accident (it was once called "default" without being the default).
RANDOM_WEIGHTS_MODEL = "random-weights-test"


def packaged_models() -> list[str]:
    if not PACKAGED_MODELS_DIR.is_dir():
        return []
    return sorted(p.name for p in PACKAGED_MODELS_DIR.iterdir() if (p / "model_meta.json").is_file())


def resolve_model_dir(model: str | Path | None) -> Path:
    """A folder with model_meta.json, or the name of a packaged model ('demo', the default, or
    'random-weights-test')."""
    if model is None:
        model = DEFAULT_MODEL
    candidate = Path(model)
    if (candidate / "model_meta.json").is_file():
        return candidate
    if str(model) in packaged_models():
        return PACKAGED_MODELS_DIR / str(model)
    if candidate.is_dir():
        raise ModelError(f"{candidate} is not an exported model folder (no model_meta.json); "
                         "create one with `parakeet-trt export --model X.nemo --out DIR`")
    if candidate.suffix == ".nemo":
        raise ModelError(f"{candidate} is a .nemo checkpoint; export it first with "
                         f"`parakeet-trt export --model {candidate} --out DIR` and pass DIR")
    raise ModelError(f"model not found: {model!s} (not a folder with model_meta.json, nor one of the "
                     f"packaged models {packaged_models()})")


def random_model_sample() -> Path:
    """The random-weight model's fixture audio (an espeak-ng sentence; the C++ and Rust tests read it)."""
    return Path(__file__).parent / "samples" / "sample.wav"


def demo_sample() -> Path:
    """The quick start's audio (``transcribe`` with no files, ``live --demo``): three held-out utterances
    of the demo model's corpus, with their text beside it (demo.txt)."""
    return Path(__file__).parent / "samples" / "demo.wav"


def demo_nemo_transcript_path(sample: Path | None = None) -> Path:
    """Beside the demo sample: NeMo's own greedy transcript of it with the packaged demo model, one
    line, written when the model is packaged (tools/train_demo_model.py). Tests in every language
    compare the runtime's transcript with it."""
    sample = demo_sample() if sample is None else Path(sample)
    return sample.with_name(sample.stem + ".nemo_transcript.txt")


def demo_nemo_transcript() -> str:
    """The text of demo_nemo_transcript_path()."""
    return demo_nemo_transcript_path().read_text().strip()
