"""``parakeet-trt transcribe-batch``: transcribe a folder or a manifest of files on a Ray cluster with Ray Data.

Workers (Ray Data actors, one ``Session`` each) transcribe the files; the driver appends one JSON line
per file to ``--out`` as results arrive (flushed per line, the fields of ``transcribe --json``) and
shows a progress bar. Resumable: files already in ``--out`` without an error are skipped, and a line
cut off by a killed run is dropped. A file that cannot be read gets a line with ``error`` (exit code 4)
and is tried again by the next run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64", ".rf64", ".opus"}


def list_inputs(source: str) -> list[str]:
    """A folder's audio files (recursively, sorted), or a manifest's: JSON lines with ``audio_filepath``
    (NeMo's manifests) or ``file``, or plain lines of paths; relative paths are the manifest's."""
    path = Path(source)
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file())
    if not path.is_file():
        raise FileNotFoundError(f"transcribe-batch: no folder or manifest at {source}")
    files = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
                line = entry.get("audio_filepath") or entry["file"]
            except (ValueError, KeyError):
                raise ValueError(f"{source}:{number}: a JSON line needs 'audio_filepath' or 'file'") from None
        files.append(str(path.parent / line) if not os.path.isabs(line) else line)
    return files


def done_files(out: Path) -> set[str]:
    """Files ``out`` holds a transcript of; a trailing line cut off by a killed run is removed from it."""
    if not out.exists():
        return set()
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    done, kept = set(), []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a partial line: dropped
        kept.append(line if line.endswith("\n") else line + "\n")
        if not record.get("error"):
            done.add(record["file"])
    if "".join(kept) != text:
        out.write_text("".join(kept), encoding="utf-8")
    return done


class Transcriber:
    """One Ray Data actor: a Session, files in, JSON lines out (errors as lines, never raised)."""

    def __init__(self, model: str):
        from parakeet_trt.session import Session

        self.session = Session(model)

    def __call__(self, batch: dict) -> dict:
        from parakeet_trt.errors import ParakeetError
        from parakeet_trt.live.protocol import round_floats

        lines = []
        for path in batch["path"]:
            try:
                record = round_floats(self.session.transcribe(str(path)).to_json_dict())
            except ParakeetError as error:
                record = {"file": str(path), "error": str(error)}
            lines.append(json.dumps(record, ensure_ascii=False))
        return {"line": lines}


def add_batch_arguments(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("source", metavar="FOLDER|MANIFEST",
                   help="a folder (its audio files, recursively) or a manifest (JSON lines with audio_filepath or "
                        "file, or one path per line)")
    p.add_argument("--out", required=True, help="results, one JSON line per file, appended (resumable)")
    p.add_argument("--model", default="demo", help="exported model folder or packaged name (default: demo)")
    p.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="Ray cluster to run on (ray start --head ...) (default: a local Ray instance)")
    p.add_argument("--workers", type=int, default=2,
                   help="Ray Data actors, each one model and one CPU (default 2)")


def run_batch_command(args: argparse.Namespace) -> int:
    from parakeet_trt.extras import require

    require("ray", "parakeet-trt transcribe-batch")
    if args.workers < 1:
        raise ValueError(f"--workers must be at least 1, got {args.workers}")
    files = list_inputs(args.source)
    out = Path(args.out)
    done = done_files(out)
    todo = [f for f in files if f not in done]
    print(f"[batch] {len(files)} files, {len(files) - len(todo)} already in {out}, {len(todo)} to transcribe",
          file=sys.stderr, flush=True)
    if not todo:
        return 0
    import ray
    from tqdm import tqdm

    if args.ray:
        ray.init(address=args.ray, log_to_driver=False)
    else:
        ray.init(address="local", num_cpus=args.workers, include_dashboard=False, log_to_driver=False)
    failed = 0
    try:
        from ray.data import DataContext

        DataContext.get_current().enable_progress_bars = False  # ours counts files
        dataset = ray.data.from_items([{"path": f} for f in todo], override_num_blocks=min(len(todo), 64))
        lines = dataset.map_batches(Transcriber, fn_constructor_kwargs={"model": args.model}, batch_size=1,
                                    concurrency=args.workers, num_cpus=1)
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a", encoding="utf-8") as sink, tqdm(total=len(todo), unit="file", file=sys.stderr) as bar:
            for row in lines.iter_rows():
                sink.write(row["line"] + "\n")
                sink.flush()
                failed += bool(json.loads(row["line"]).get("error"))
                bar.update(1)
    finally:
        ray.shutdown()
    if failed:
        print(f"[batch] {failed} file(s) could not be transcribed (their lines hold the error; rerun to retry)",
              file=sys.stderr)
        return 4
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="parakeet-trt transcribe-batch")
    add_batch_arguments(parser)
    sys.exit(run_batch_command(parser.parse_args()))
