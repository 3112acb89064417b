"""The LLM lane's test model: a tiny Llama-architecture language model that learns to write the
demo corpus's sentences in their cased, punctuated form (corpus.written_form), saved as GGUF so
that llama.cpp's OpenAI-compatible server can serve it (tests/test_llm_server.py).

    python -m parakeet_trt.training.polish_lm [--out F] [--seed 0] [--steps 300]

One command with progress output, deterministic by seed on a given machine (torch on the CPU, a
fixed thread count), a few minutes on two CPU cores. cached_polish_lm() builds it once under
$PARAKEET_TRT_CACHE/polish_lm/ (keyed by the settings and this file's version) and reuses it.

Sequence: <s> heard text (lower case, as the ASR writes it) "\\n" " " written form </s>; the loss is
on the written part. The GGUF chat template renders the last line of the last user message, then
"\\n", so a chat request whose user message ends with the heard text asks exactly this question.

Tokenizer: llama.cpp's SentencePiece ("llama") model with byte fallback: <unk> <s> </s>, the 256
byte tokens <0x00>..<0xFF> and "▁" (a space). Every character but the space is its UTF-8 bytes, as
llama.cpp tokenizes it (no merges exist, no space prefix is added). RoPE pairs adjacent dimensions
(llama.cpp's "normal" RoPE, Meta's layout), so the weights go to GGUF unpermuted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

VERSION = "polish-lm-v1"
SPACE_PIECE = "\u2581"
N_SPECIAL = 3  # <unk> <s> </s>
BOS, EOS = 1, 2
SPACE_ID = N_SPECIAL + 256
VOCAB_SIZE = SPACE_ID + 1
CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}{% if loop.last and message['role'] == 'user' %}"
                 "{{ message['content'].split('\\n')[-1] }}{% endif %}{% endfor %}{{ '\\n' }}")
# (the newline is an expression: llama-cpp-python renders templates with trim_blocks, which drops a
# newline written right after a block tag)


@dataclass(frozen=True)
class PolishLmConfig:
    seed: int = 0
    steps: int = 300
    batch: int = 24
    sentences: int = 4000
    dim: int = 64
    layers: int = 2
    heads: int = 4
    ffn: int = 192
    context: int = 256
    lr: float = 3e-3
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    def key(self) -> str:
        blob = json.dumps({"version": VERSION, **asdict(self)}, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def encode(text: str) -> list[int]:
    """Token ids as llama.cpp's SPM tokenizer gives them for this vocabulary."""
    ids = []
    for ch in text:
        if ch == " ":
            ids.append(SPACE_ID)
        else:
            ids.extend(N_SPECIAL + b for b in ch.encode("utf-8"))
    return ids


def training_pairs(seed: int, count: int, split: str = "train") -> list[tuple[str, str]]:
    """(heard, written) sentence pairs of the demo corpus's split (heard: the normalized text)."""
    import numpy as np

    from parakeet_trt.training.corpus import make_text, written_form

    rng = np.random.default_rng([seed, 7])
    pairs = []
    for _ in range(count):
        text, template = make_text(rng, split)
        pairs.append((text, written_form(text, template)))
    return pairs


def _model(config: PolishLmConfig):
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d = config.dim
            self.attn_norm = nn.Parameter(torch.ones(d))
            self.q, self.k, self.v, self.o = (nn.Linear(d, d, bias=False) for _ in range(4))
            self.ffn_norm = nn.Parameter(torch.ones(d))
            self.gate = nn.Linear(d, config.ffn, bias=False)
            self.up = nn.Linear(d, config.ffn, bias=False)
            self.down = nn.Linear(config.ffn, d, bias=False)

    class Lm(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB_SIZE, config.dim)
            self.blocks = nn.ModuleList(Block() for _ in range(config.layers))
            self.norm = nn.Parameter(torch.ones(config.dim))
            self.head = nn.Linear(config.dim, VOCAB_SIZE, bias=False)
            hd = config.dim // config.heads
            inv = config.rope_base ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
            angles = torch.arange(config.context, dtype=torch.float32)[:, None] * inv[None, :]
            self.register_buffer("cos", angles.cos(), persistent=False)
            self.register_buffer("sin", angles.sin(), persistent=False)

        def rms(self, x, w):
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + config.norm_eps) * w

        def rope(self, x):  # x: (B, T, H, D); adjacent pairs (2i, 2i+1) rotate together
            t = x.shape[1]
            a, b = x[..., 0::2], x[..., 1::2]
            cos, sin = self.cos[:t, None, :], self.sin[:t, None, :]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

        def forward(self, ids):
            import torch.nn.functional as F

            B, T = ids.shape
            H, D = config.heads, config.dim // config.heads
            x = self.embed(ids)
            for blk in self.blocks:
                h = self.rms(x, blk.attn_norm)
                q = self.rope(blk.q(h).view(B, T, H, D)).transpose(1, 2)
                k = self.rope(blk.k(h).view(B, T, H, D)).transpose(1, 2)
                v = blk.v(h).view(B, T, H, D).transpose(1, 2)
                att = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                x = x + blk.o(att.transpose(1, 2).reshape(B, T, config.dim))
                h = self.rms(x, blk.ffn_norm)
                x = x + blk.down(F.silu(blk.gate(h)) * blk.up(h))
            return self.head(self.rms(x, self.norm))

    return Lm()


def sequence(heard: str, written: str) -> tuple[list[int], int]:
    """Token ids of one example and where its written part starts."""
    prompt = [BOS] + encode(heard + "\n")
    return prompt + encode(" " + written) + [EOS], len(prompt)


def train(config: PolishLmConfig, progress=print):
    import numpy as np
    import torch

    torch.manual_seed(config.seed)
    torch.set_num_threads(2)
    pairs = training_pairs(config.seed, config.sentences)
    examples = [sequence(h, w) for h, w in pairs]
    examples = [e for e in examples if len(e[0]) <= config.context]
    model = _model(config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01)
    rng = np.random.default_rng(config.seed)
    started = time.monotonic()
    for step in range(1, config.steps + 1):
        lr = config.lr * min(1.0, step / 50) * 0.5 * (1 + math.cos(math.pi * step / config.steps))
        for group in opt.param_groups:
            group["lr"] = lr
        picks = [examples[i] for i in rng.integers(0, len(examples), config.batch)]
        T = max(len(ids) for ids, _ in picks)
        ids = torch.zeros(len(picks), T, dtype=torch.long)
        target = torch.full((len(picks), T), -100, dtype=torch.long)
        for r, (seq, start) in enumerate(picks):
            ids[r, : len(seq)] = torch.tensor(seq)
            target[r, start - 1: len(seq) - 1] = torch.tensor(seq[start:])
        logits = model(ids)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB_SIZE), target.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 25 == 0 or step == config.steps:
            progress(f"[polish-lm] step {step}/{config.steps} loss {loss.item():.4f} "
                     f"({time.monotonic() - started:.0f} s)")
    return model


def write_gguf(model, config: PolishLmConfig, path: Path) -> None:
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("parakeet-trt polish test model")
    w.add_context_length(config.context)
    w.add_embedding_length(config.dim)
    w.add_block_count(config.layers)
    w.add_feed_forward_length(config.ffn)
    w.add_head_count(config.heads)
    w.add_head_count_kv(config.heads)
    w.add_layer_norm_rms_eps(config.norm_eps)
    w.add_rope_dimension_count(config.dim // config.heads)
    w.add_rope_freq_base(config.rope_base)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + [SPACE_PIECE]
    types = ([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
             + [gguf.TokenType.BYTE] * 256 + [gguf.TokenType.NORMAL])
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * len(tokens))
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_add_space_prefix(False)
    w.add_chat_template(CHAT_TEMPLATE)

    def put(name, tensor):
        w.add_tensor(name, tensor.detach().float().contiguous().numpy().astype(np.float32))

    put("token_embd.weight", model.embed.weight)
    for i, blk in enumerate(model.blocks):
        put(f"blk.{i}.attn_norm.weight", blk.attn_norm)
        put(f"blk.{i}.attn_q.weight", blk.q.weight)
        put(f"blk.{i}.attn_k.weight", blk.k.weight)
        put(f"blk.{i}.attn_v.weight", blk.v.weight)
        put(f"blk.{i}.attn_output.weight", blk.o.weight)
        put(f"blk.{i}.ffn_norm.weight", blk.ffn_norm)
        put(f"blk.{i}.ffn_gate.weight", blk.gate.weight)
        put(f"blk.{i}.ffn_up.weight", blk.up.weight)
        put(f"blk.{i}.ffn_down.weight", blk.down.weight)
    put("output_norm.weight", model.norm)
    put("output.weight", model.head.weight)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def build(config: PolishLmConfig, out: Path, progress=print) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    model = train(config, progress)
    tmp = out.with_suffix(".tmp")
    write_gguf(model, config, tmp)
    os.replace(tmp, out)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    progress(f"[polish-lm] wrote {out} ({out.stat().st_size / 1e6:.1f} MB, sha256 {digest[:16]})")
    return out


def cached_polish_lm(config: PolishLmConfig | None = None, cache_dir: Path | None = None, progress=print) -> Path:
    """The test model's GGUF, built on first use under <cache>/polish_lm/."""
    from parakeet_trt.testing.exports import cache_root

    config = config or PolishLmConfig()
    path = (cache_dir or cache_root()) / "polish_lm" / f"polish-lm-{config.key()}.gguf"
    if not path.is_file():
        build(config, path, progress)
    return path


def main(argv=None) -> int:
    d = PolishLmConfig()
    p = argparse.ArgumentParser(prog="python -m parakeet_trt.training.polish_lm", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=None,
                   help="GGUF file to write (default: the cache, $PARAKEET_TRT_CACHE/polish_lm/, reused when present)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"training seed (default {d.seed})")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimizer steps (default {d.steps})")
    args = p.parse_args(argv)
    config = PolishLmConfig(seed=args.seed, steps=args.steps)
    progress = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    path = build(config, args.out, progress) if args.out else cached_polish_lm(config, progress=progress)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
