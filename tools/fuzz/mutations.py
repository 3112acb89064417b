"""Mutations for the fuzzers: WAV files (headers, sizes, rates, chunk lengths) and model-folder
JSON (model_meta.json, the contract: numbers, types, paths, structure, bytes). Deterministic for a
given numpy Generator."""

from __future__ import annotations

import copy
import io
import json
import struct

import numpy as np
import soundfile

# Values a careless parser mishandles: zero, one, signs, powers of two around int32/int64, huge floats.
INTERESTING_INTS = [0, 1, -1, 2, 7, 8, 255, 256, 1000, 65535, 65536, 2**24, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
                    2**53, 2**62, 2**63 - 1, -2**31, -2**63]
INTERESTING_NUMBERS = INTERESTING_INTS + [0.5, -0.5, 1e-300, 1e12, 1e300, -1e300, 16000.7, 1e-12]
HOSTILE_PATHS = ["../../../../dev/zero", "/dev/zero", "/etc/passwd", "..", ".", "", "a/../../b", "dev/../../x",
                 "vocab.txt/..", "/", "\u00e9\u00e8.bin", "x" * 300, "./././model_meta.json", "nul\u0000byte"]
U32_FIELDS = {"riff_size": 4, "fmt_size": 16, "rate": 24, "byte_rate": 28, "data_size": 40}
U16_FIELDS = {"format": 20, "channels": 22, "block_align": 32, "bits": 34}


def base_wavs(speech: np.ndarray, rate: int = 16000) -> list[bytes]:
    """Well-formed WAVs to mutate: 16-bit mono, float stereo, 8-bit, 24-bit, with a LIST chunk."""
    out = []
    for samples, subtype, sr in ((speech, "PCM_16", rate), (np.stack([speech, -speech], 1), "FLOAT", rate),
                                 (speech[: len(speech) // 2], "PCM_U8", 8000), (speech, "PCM_24", 22050)):
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, sr, subtype=subtype, format="WAV")
        out.append(buffer.getvalue())
    out.append(out[0] + b"LIST" + struct.pack("<I", 16) + b"INFOISFT" + struct.pack("<I", 4) + b"test")
    return out


def mutate_wav(original: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(original)
    for _ in range(int(rng.integers(1, 4))):
        kind = int(rng.integers(0, 8))
        if kind == 0 and len(data) >= 44:  # a 32-bit header field to an interesting value
            field = list(U32_FIELDS.values())[int(rng.integers(0, len(U32_FIELDS)))]
            value = INTERESTING_INTS[int(rng.integers(0, len(INTERESTING_INTS)))] & 0xFFFFFFFF
            data[field:field + 4] = struct.pack("<I", value)
        elif kind == 1 and len(data) >= 44:  # a 16-bit header field
            field = list(U16_FIELDS.values())[int(rng.integers(0, len(U16_FIELDS)))]
            data[field:field + 2] = struct.pack("<H", INTERESTING_INTS[int(rng.integers(0, 12))] & 0xFFFF)
        elif kind == 2:  # random bytes in the header
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(0, min(64, len(data))))] = int(rng.integers(0, 256))
        elif kind == 3 and data:  # random bytes anywhere (samples become NaN/Inf/huge floats)
            for _ in range(int(rng.integers(1, 32))):
                data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        elif kind == 4:  # truncate
            data = data[: int(rng.integers(0, len(data) + 1))]
        elif kind == 5:  # junk or a fake chunk appended
            junk = bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8))
            data += junk if rng.random() < 0.5 else b"junk" + struct.pack("<I", int(rng.integers(0, 2**32))) + junk
        elif kind == 6 and len(data) > 44:  # a chunk inserted before the data
            body = bytes(rng.integers(0, 256, int(rng.integers(0, 64)), dtype=np.uint8))
            size = len(body) if rng.random() < 0.7 else int(rng.integers(0, 2**32))
            data[36:36] = b"fact" + struct.pack("<I", size) + body
        else:  # extreme float samples written in the middle
            if len(data) > 60:
                at = int(rng.integers(44, len(data) - 4))
                data[at:at + 4] = struct.pack("<f", [1e19, -1e38, 3e38, 1e-45, 65536.0][int(rng.integers(0, 5))])
    return bytes(data)


def _paths(node, prefix=()):
    """Every (path, value) in a JSON tree."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _set(root, path, value):
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _delete(root, path):
    node = root
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def mutate_json(document: dict, rng: np.random.Generator) -> str:
    """A mutated JSON text: structured edits (numbers, types, paths, deletions, nesting) or byte edits."""
    if rng.random() < 0.15:  # byte-level: the parser itself
        text = bytearray(json.dumps(document, indent=1).encode())
        for _ in range(int(rng.integers(1, 6))):
            at = int(rng.integers(0, len(text)))
            choice = rng.random()
            if choice < 0.4:
                text[at] = int(rng.integers(0, 256))
            elif choice < 0.7:
                del text[at: at + int(rng.integers(1, 20))]
            else:
                text[at:at] = [b"[", b"{", b"\"", b"1e999", b"-", b"\\u0000", b"[" * 2000][int(rng.integers(0, 7))]
        return text.decode("utf-8", "replace")
    doc = copy.deepcopy(document)
    for _ in range(int(rng.integers(1, 4))):
        nodes = [(p, v) for p, v in _paths(doc) if p]
        path, value = nodes[int(rng.integers(0, len(nodes)))]
        kind = rng.random()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and kind < 0.6:
            _set(doc, path, INTERESTING_NUMBERS[int(rng.integers(0, len(INTERESTING_NUMBERS)))])
        elif isinstance(value, str) and kind < 0.6:
            _set(doc, path, HOSTILE_PATHS[int(rng.integers(0, len(HOSTILE_PATHS)))])
        elif kind < 0.75:
            _set(doc, path, [None, True, "x", 3, [], {}, [1] * 5, -7.5][int(rng.integers(0, 8))])
        elif kind < 0.9:
            _delete(doc, path)
        else:
            _set(doc, path, json.loads("[" * 300 + "]" * 300))
    return json.dumps(doc)
