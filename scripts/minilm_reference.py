#!/usr/bin/env python3
"""all-MiniLM-L6-v2 in plain PyTorch, independent of the Rust engine: the reference for
bt-nn's text encoder and its bench baseline.

The tokenizer is BERT's (uncased WordPiece over vocab.txt) written out here, and the network is
BERT's forward in torch ops over the same model.safetensors (read without the safetensors
package), then the masked mean and L2 normalization of sentence-transformers.

  reference:  python scripts/minilm_reference.py reference MODEL_DIR OUT.json
              (the fixture crates/bt-nn/tests/fixtures/minilm_reference.json, in float64)
  bench:      python scripts/minilm_reference.py bench MODEL_DIR IDS.json --rounds 3
              (IDS.json: {"ids": [[...], ...]} as the Rust bench writes it; prints one JSON line
              with sentences per second for each round of a float32 forward)
"""
import argparse
import hashlib
import json
import math
import struct
import sys
import time
import unicodedata

import numpy as np
import torch

MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length
SENTENCES = [
    "A man is playing a guitar.",
    "The new movie is awesome!",
    "Héllo, naïve café-goers: what's 3.14 × 2? (Ünïcode & punctuation.)",
    "東京 is the capital of Japan; 🙂 emoji are unknown tokens.",
    "Hundreds of people have been forced to vacate their homes in the Southern Highlands "
    "of New South Wales as strong winds today pushed a huge bushfire towards the town of "
    "Hill Top.",
    # over-long: 300 words, truncated to MAX_TOKENS tokens
    " ".join(f"word{i % 17} and" for i in range(150)),
]


# ---- tokenizer: BERT uncased WordPiece ----

def is_punct(c):
    return (c.isascii() and not c.isalnum() and c.isprintable() and not c.isspace()) or \
        unicodedata.category(c).startswith("P")


def is_chinese(c):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in [
        (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)])


def normalize(text):
    out = []
    for c in text:
        if c in "\t\n\r":
            out.append(" ")
        elif ord(c) in (0, 0xFFFD) or unicodedata.category(c).startswith("C"):
            continue
        elif c.isspace():
            out.append(" ")
        elif is_chinese(c):
            out.append(f" {c} ")
        else:
            out.append(c)
    text = unicodedata.normalize("NFD", "".join(out))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return text.lower()


def words(text):
    for chunk in normalize(text).split():
        cur = ""
        for c in chunk:
            if is_punct(c):
                if cur:
                    yield cur
                    cur = ""
                yield c
            else:
                cur += c
        if cur:
            yield cur


def wordpiece(word, vocab, unk=100, max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            sub = word[start:end] if start == 0 else "##" + word[start:end]
            if sub in vocab:
                pieces.append(vocab[sub])
                break
            end -= 1
        else:
            return [unk]
        start = end
    return pieces


def tokenize(text, vocab):
    ids = [tid for w in words(text) for tid in wordpiece(w, vocab)]
    return [vocab["[CLS]"]] + ids[: MAX_TOKENS - 2] + [vocab["[SEP]"]]


# ---- the network ----

def load_safetensors(path, dtype):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        # position_ids (I64) is a buffer the forward recomputes
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        lo, hi = meta["data_offsets"]
        arr = np.frombuffer(data[lo:hi], dtype="<f4").reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.copy()).to(dtype)
    return out


def layer_norm(x, w, b, eps=1e-12):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], w, b, eps)


def linear(x, w, prefix):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def forward(w, ids, mask, heads=12):
    """ids, mask: [B, L] int64; returns [B, 384] unit rows."""
    b, l = ids.shape
    x = w["embeddings.word_embeddings.weight"][ids] \
        + w["embeddings.position_embeddings.weight"][:l] \
        + w["embeddings.token_type_embeddings.weight"][0]
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    h = x.shape[-1]
    d = h // heads
    bias = (1.0 - mask.to(x.dtype))[:, None, None, :] * torch.finfo(x.dtype).min
    i = 0
    while f"encoder.layer.{i}.attention.self.query.weight" in w:
        p = f"encoder.layer.{i}."
        split = lambda t: t.view(b, l, heads, d).transpose(1, 2)
        q = split(linear(x, w, p + "attention.self.query"))
        k = split(linear(x, w, p + "attention.self.key"))
        v = split(linear(x, w, p + "attention.self.value"))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + bias, dim=-1)
        ctx = (att @ v).transpose(1, 2).reshape(b, l, h)
        x = layer_norm(linear(ctx, w, p + "attention.output.dense") + x,
                       w[p + "attention.output.LayerNorm.weight"],
                       w[p + "attention.output.LayerNorm.bias"])
        inter = torch.nn.functional.gelu(linear(x, w, p + "intermediate.dense"))
        x = layer_norm(linear(inter, w, p + "output.dense") + x,
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
        i += 1
    m = mask.to(x.dtype)[:, :, None]
    pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled, p=2, dim=1)


def pad(rows):
    l = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), l), dtype=torch.int64)
    mask = torch.zeros((len(rows), l), dtype=torch.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return ids, mask


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["reference", "bench"])
    ap.add_argument("model_dir")
    ap.add_argument("path", help="reference: output JSON; bench: input ids JSON")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    weights_path = f"{args.model_dir}/model.safetensors"
    if args.mode == "reference":
        with open(f"{args.model_dir}/vocab.txt", encoding="utf-8") as f:
            vocab = {tok.rstrip("\n"): i for i, tok in enumerate(f)}
        w = load_safetensors(weights_path, torch.float64)
        rows = [tokenize(s, vocab) for s in SENTENCES]
        with torch.no_grad():
            emb = forward(w, *pad(rows))
        with open(weights_path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        out = {
            "made_by": "python scripts/minilm_reference.py reference ~/.cache/bittensor-rs/minilm "
                       "crates/bt-nn/tests/fixtures/minilm_reference.json",
            "torch": torch.__version__,
            "dtype": "float64",
            "model_sha256": digest,
            "max_tokens": MAX_TOKENS,
            "sentences": SENTENCES,
            "ids": rows,
            "embeddings": [[float(f"{v:.8g}") for v in row] for row in emb.tolist()],
        }
        with open(args.path, "w", encoding="utf-8") as f:
            json.dump(out, f, ensure_ascii=False)
            f.write("\n")
    else:
        with open(args.path, encoding="utf-8") as f:
            rows = json.load(f)["ids"]
        w = load_safetensors(weights_path, torch.float32)
        ids, mask = pad(rows)
        rates = []
        with torch.inference_mode():
            forward(w, ids, mask)  # warm-up
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                forward(w, ids, mask)
                rates.append(len(rows) / (time.perf_counter() - t0))
        print(json.dumps({"sentences_per_s": rates, "threads": torch.get_num_threads(),
                          "torch": torch.__version__}))


if __name__ == "__main__":
    sys.exit(main())
