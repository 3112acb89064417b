"""Batched offline transcription (C++ BatchTranscriber, `parakeet-trt transcribe --batch-size N`):
token-identical to one-by-one transcription on the demo model's held-out utterances, bad input fails
only its own file."""

import numpy as np
import pytest
import soundfile

from parakeet_trt import _core
from parakeet_trt.errors import InvalidAudioError
from parakeet_trt.session import Session
from parakeet_trt.testing.held_out import held_out_speech

UTTERANCES = 24


@pytest.fixture(scope="module")
def session():
    return Session("demo")


@pytest.fixture(scope="module")
def held_out():
    return [held_out_speech(i)[0].astype(np.float32) for i in range(UTTERANCES)]


@pytest.mark.parametrize("batch_size,workers", [(1, 1), (4, 1), (8, 1), (4, 2), (3, 3)])
def test_batched_tokens_equal_one_by_one(session, held_out, batch_size, workers):
    one_by_one = [session.transcribe(audio, session.sample_rate_hz) for audio in held_out]
    transcriber = _core.BatchTranscriber(session.model, session.encoder_engine, batch_size, workers)
    assert transcriber.workers == workers
    batched = transcriber.transcribe(held_out)
    assert transcriber.encoder_calls == -(-UTTERANCES // batch_size)  # one encoder call per batch
    for alone, result in zip(one_by_one, batched):
        assert result["token_ids"] == alone.token_ids
        assert [int(f) for f in result["token_frames"]] == alone.token_frames
        assert result["token_durations"] == alone.token_durations
        assert result["text"] == alone.text
        assert result["num_encoder_frames"] == alone.num_encoder_frames
    assert sum(bool(t.text) for t in one_by_one) >= UTTERANCES - 2  # real speech, not a trivially equal blank


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_utterances_fail_alone(session, held_out, workers):
    results = session.transcribe_batch([held_out[0], np.zeros(0, np.float32), np.full(4000, np.nan, np.float32),
                                        held_out[1], held_out[0][:50]], batch_size=1 if workers > 1 else 4,
                                       workers=workers)
    assert results[0].text == session.transcribe(held_out[0], session.sample_rate_hz).text
    assert isinstance(results[1], InvalidAudioError) and "empty" in str(results[1])
    assert isinstance(results[2], InvalidAudioError) and "NaN" in str(results[2])
    assert results[3].text == session.transcribe(held_out[1], session.sample_rate_hz).text
    assert results[4].text == ""  # shorter than one hop: nothing, as one by one
    with pytest.raises(ValueError, match="batch_size must be in 1..256"):
        _core.BatchTranscriber(session.model, session.encoder_engine, 0)
    for bad in (0, 65):
        with pytest.raises(ValueError, match="workers must be in 1..64"):
            _core.BatchTranscriber(session.model, session.encoder_engine, 4, bad)


def test_cli_batch_size_prints_what_one_by_one_prints(tmp_path, held_out, capsys):
    from parakeet_trt.cli import main

    files = []
    for i in range(6):
        path = tmp_path / f"utt{i}.wav"
        soundfile.write(path, held_out[i], 16000, subtype="FLOAT")
        files.append(str(path))
    missing = str(tmp_path / "missing.wav")
    assert main(["transcribe", "--model", "demo", *files]) == 0
    alone = capsys.readouterr().out
    for workers in ("1", "2"):
        assert main(["transcribe", "--model", "demo", "--batch-size", "4", "--batch-workers", workers,
                     *files[:3], missing, *files[3:]]) == 4
        captured = capsys.readouterr()
        assert captured.out == alone  # same lines, same order; the unreadable file only on stderr
        assert "missing.wav: audio file not found" in captured.err
        assert f"batches of 4 on {workers} worker" in captured.err
    # Workers alone: batches of one file, two at a time.
    assert main(["transcribe", "--model", "demo", "--batch-workers", "2", *files]) == 0
    captured = capsys.readouterr()
    assert captured.out == alone and "batches of 1 on 2 workers" in captured.err
    with pytest.raises(SystemExit):
        main(["transcribe", "--model", "demo", "--batch-workers", str(_core.BatchTranscriber.max_workers + 1), *files])
    assert "expected an integer in 0..64" in capsys.readouterr().err
    assert main(["transcribe", "--model", "demo", "--mode", "buffered", "--batch-size", "2", *files]) != 0
    assert "--batch-size and --batch-workers apply to --mode offline" in capsys.readouterr().err
    # Batches decode greedily: beam search or an n-best with --batch-size is refused, not dropped.
    assert main(["transcribe", "--model", "demo", "--decoding", "beam", "--batch-size", "2", *files]) == 2
    assert "not available with --batch-size" in capsys.readouterr().err
