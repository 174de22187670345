"""# Stage 5 · Evaluation: bits per byte, and what they are worth

The model is measured in **bits per byte** of the held-out text (the measuring chapter,
`measure.py`, derives it), a unit in which a language model, an n-gram model and a file
compressor can be compared on the very same bytes. The baselines:

- **gzip -9, bz2 -9, xz -9** (`gzip`, `bz2` and `lzma` at their strongest preset) compress the
  held-out documents concatenated; LZ77 with Huffman coding, the Burrows–Wheeler transform, and
  LZMA's range-coded LZ77 with a large dictionary are what a language model must beat to have
  learned anything beyond repeated strings.
- **Kneser–Ney** (`nlp`'s interpolated Kneser–Ney n-gram model over bytes) is the classic
  statistical language model, fitted on the train split: the best a model without neural nets does
  with the same train/held-out discipline.

![bits per byte of the compressors and of Kneser-Ney models by order on a slice of the standard library](figures/baselines.png)

**Samples.** A few fixed prompts are continued by the model (top-k sampling with a fixed seed), so
successive runs can be compared by eye.

**Adversarial testing (Module 12).** A held-out loss says how well the model predicts text it is
given; an adversary asks what text makes it say what *they* want. Module 12's token attacks
(`masterclass.safety.adversarial`: HotFlip, one gradient-ranked flip at a time, and GCG, random
swaps among the gradient's top candidates, each evaluated exactly) search for a suffix after a
prompt that makes a chosen token the model's greedy next token. Against the trained tiny model,
whose next token depends mostly on the last one, the targets are the tokens that *some* one-token
suffix forces (an exhaustive search over the vocabulary finds them, and is the reference); the
attacks must find such a suffix with a fraction of its forward passes. `tests/test_safety.py`
asserts the rates at a budget of 8 gradient evaluations and 64 forward passes per target, and
`bench/token_attacks.py` measures them against the budget (`bench/results/token_attacks.txt`):

![fraction of forceable next tokens that HotFlip, GCG and random search force, against the budget](figures/token_attacks.png)

Try one on your own run:

```python
import torch
from masterclass.capstone.run_folder import RunFolder
from masterclass.safety.adversarial import gcg_attack

run = RunFolder.open("runs/try")
model, tok = run.load_model(), run.load_tokenizer()
prompt = torch.tensor(tok.encode("def "))
suffix, ok, steps = gcg_attack(model, prompt, tok.encode("(")[0], suffix_len=4, steps=20)
print(ok, steps, repr(tok.decode(suffix.tolist())))
```

## Exercises

1. Write `xz_bits_per_byte(documents)`: the xz baseline, the documents concatenated and
   compressed by `lzma` at preset 9, in bits per byte (and see why random bytes cost more than 8).
   Check it against a streaming compressor: `uv run pytest --exercise capstone.evaluate`.
2. Write `split_documents(stream, eot)`: the documents of a held-out token stream
   `[EOT, d1, EOT, d2, ...]` (possibly cut in the middle of one), as arrays of ids, leaving out
   empty ones. Check it by decoding: `uv run pytest --exercise capstone.evaluate`.
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from masterclass.capstone.config import END_OF_TEXT, RunConfig
from masterclass.capstone.measure import LN2, heldout_nll, token_bytes_table
from masterclass.capstone.run_folder import CorpusSplit, RunFolder
from masterclass.llm.generate import generate
from masterclass.nlp.bpe import BPETokenizer
from masterclass.nlp.ngram import KneserNeyLM

# `heldout_nll` lives in `measure` (quantize and export use it too) and is re-exported here.
__all__ = [
    "compressor_bits_per_byte",
    "heldout_nll",
    "kneser_ney_bits_per_byte",
    "run_evaluate",
    "sample",
    "split_documents",
]


# The cheapest baselines: a general-purpose compressor's output size, in bits, per input byte. A
# model that cannot beat xz has learned less about the text than a dictionary coder.
def compressor_bits_per_byte(data: bytes) -> dict[str, float]:
    """Bits per byte of `data` under gzip -9 (DEFLATE), bz2 -9 and xz -9 (LZMA preset 9).

    >>> r = compressor_bits_per_byte(b"abc" * 1000)
    >>> r["gzip-9"] < 0.5 and r["xz-9"] < 1.0
    True
    """
    if not data:
        raise ValueError("cannot compress an empty held-out split")
    n = len(data)
    return {
        "gzip-9": 8 * len(gzip.compress(data, compresslevel=9, mtime=0)) / n,
        "bz2-9": 8 * len(bz2.compress(data, 9)) / n,
        "xz-9": 8 * len(lzma.compress(data, preset=9)) / n,
    }


# The held-out stream puts an end-of-text token before every document; cutting at those tokens
# gives back the documents, which the byte-level baselines need one by one.
def split_documents(stream: np.ndarray, eot: int) -> list[np.ndarray]:
    """The documents of a held-out stream `[EOT, d1, EOT, d2, ...]`, as token arrays.

    >>> [d.tolist() for d in split_documents(np.array([9, 1, 2, 9, 3]), eot=9)]
    [[1, 2], [3]]
    """
    cuts = np.flatnonzero(stream == eot)
    bounds = [*cuts.tolist(), len(stream)]
    return [stream[a + 1 : b] for a, b in itertools.pairwise(bounds) if b > a + 1]


# Sampling starts from an end-of-text token, as the model saw at the start of every training
# document.
@torch.no_grad()
def sample(
    model: torch.nn.Module,
    tok: BPETokenizer,
    prompt: str,
    *,
    max_new_tokens: int,
    temperature: float,
    top_k: int,
    seed: int,
    device: str = "cpu",
) -> str:
    """Continue `prompt` (as the start of a new document) with the model; return prompt + text.

    Sampling is seeded, so the same model, prompt and seed always give the same text.
    """
    # The same checks as the command line's, for callers that come through the library.
    eot = tok.special_tokens[END_OF_TEXT]
    context = model.config.max_seq_len
    if top_k < 0:
        raise ValueError(f"top_k must be >= 0 (0: all tokens), got {top_k}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    # Keep only the prompt's last `context - max_new_tokens` tokens, so prompt and continuation fit
    # in the context; a seeded generator makes the text reproducible. End-of-text stops it.
    ids = [eot, *tok.encode_ordinary(prompt)][-(context - max_new_tokens) :]
    gen = torch.Generator(device=device).manual_seed(seed)
    out = generate(
        model,
        torch.tensor([ids], device=device),
        max_new_tokens,
        temperature=temperature,
        top_k=top_k if top_k > 0 else None,
        stop_tokens=[eot],
        generator=gen,
    )  # (1, T + n)
    new = [t for t in out[0, len(ids) :].tolist() if t != eot]
    return prompt + tok.decode(new)


# The evaluate stage scores the model first: mean negative log-likelihood of the held-out stream,
# converted to bits per byte with each token's byte length, so it compares with byte baselines.
def run_evaluate(
    cfg: RunConfig,
    run: RunFolder,
    *,
    device: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The evaluate stage: the model and the baselines on the same held-out bytes, and samples."""
    # Batches as large as training's: evaluation needs no more memory than a training step.
    tok = run.load_tokenizer()
    model = run.load_model(device)
    stream = run.heldout_stream(cfg.evaluate.max_tokens)
    table = token_bytes_table(tok)
    result = heldout_nll(
        model,
        stream,
        cfg.model.max_seq_len,
        token_bytes=table,
        batch_size=cfg.train.batch_size,
        device=device,
        progress=progress,
    )
    # Decode the same stream back to bytes, document by document, for the baselines.
    eot = tok.special_tokens[END_OF_TEXT]
    documents = [tok.decode_bytes(d.tolist()) for d in split_documents(stream, eot)]
    heldout = b"".join(documents)
    # The model's targets and the baselines' input must be the very same bytes.
    if len(heldout) != result["bytes"]:
        raise RuntimeError(f"byte count mismatch: {len(heldout)} vs {result['bytes']}")
    # Baselines: three compressors and a Kneser–Ney byte n-gram fitted on the train split.
    baselines = compressor_bits_per_byte(heldout)
    baselines[f"kneser-ney-{cfg.evaluate.kn_order}"] = kneser_ney_bits_per_byte(
        run.corpus_split("train"),
        documents,
        order=cfg.evaluate.kn_order,
        max_train_bytes=cfg.evaluate.kn_max_train_bytes,
    )
    # One sample per configured prompt, each with its own seed, so samples differ yet reproduce.
    samples = [
        {
            "prompt": p,
            "text": sample(
                model,
                tok,
                p,
                max_new_tokens=cfg.evaluate.sample_tokens,
                temperature=cfg.evaluate.temperature,
                top_k=cfg.evaluate.top_k,
                seed=cfg.seed + i,
                device=device,
            ),
        }
        for i, p in enumerate(cfg.evaluate.prompts)
    ]
    # `beats` answers the stage's question per baseline: fewer bits per byte than it?
    return {
        "model": result,
        "baselines_bits_per_byte": baselines,
        "beats": {name: result["bits_per_byte"] < bpb for name, bpb in baselines.items()},
        "heldout_bytes": len(heldout),
        "heldout_documents": len(documents),
        "samples": samples,
    }


# The strongest classical baseline: an interpolated Kneser–Ney n-gram over bytes.
def kneser_ney_bits_per_byte(
    train: CorpusSplit, heldout: list[bytes], *, order: int, max_train_bytes: int | None
) -> float:
    """Bits per byte of `heldout` documents under `nlp`'s interpolated Kneser–Ney byte model.

    The model is fitted on the train split's documents (the first `max_train_bytes` bytes of them,
    a pure-Python n-gram counter being the slow part) as sequences of byte values.
    """
    # Whole documents until the byte budget is spent; then fit, and sum the held-out nats.
    sequences, total = [], 0
    for doc in train:
        if max_train_bytes is not None and total >= max_train_bytes:
            break
        sequences.append(doc)
        total += len(doc)
    lm = KneserNeyLM(order)
    lm.fit(sequences)
    nats = -sum(lm.log_prob(doc) for doc in heldout if doc)
    return nats / (LN2 * sum(map(len, heldout)))
