"""# Stage 5 · Evaluation: bits per byte, and what they are worth

The training loss is measured in nats per *token*, a unit that depends on the tokenizer: a
tokenizer with longer tokens has fewer, harder predictions. To compare a language model with
anything else (another tokenizer, an n-gram model, a file compressor), the loss is converted into
**bits per byte** of the held-out text:
$$ \\mathrm{bpb} = \\frac{\\sum_t -\\ln p(y_t \\mid y_{<t})}{\\ln 2 \\cdot N_{\\text{bytes}}}, $$
the total negative log-likelihood of the held-out split (in nats) divided by $\\ln 2$ (to get bits)
and by the number of bytes it covers. By Shannon's source coding theorem, with arithmetic coding a
model that assigns probability $p$ to a text can store it in $\\lceil -\\log_2 p \\rceil + 2$ bits,
so bits per byte is a *compression rate*, directly comparable with `gzip -9` or `xz -9` run on the
same bytes: $\\mathrm{bpb} = 8 \\cdot |\\text{compressed}| / |\\text{original}|$.

**What is counted.** The held-out token stream is $[\\text{EOT}, d_1, \\text{EOT}, d_2, \\ldots]$: each
document preceded by the end-of-text token. It is cut into windows of the model's context $T$; in
each window the model predicts every token from the ones before it in the window. Targets that are
the EOT token are left out of the sum (a compressor does not encode document boundaries either), so
the targets are exactly the bytes of the held-out documents, and
$$ \\text{perplexity} = \\exp\\Bigl(\\frac{1}{N_{\\text{tokens}}} \\sum_t -\\ln p(y_t \\mid y_{<t})\\Bigr) $$
is per token over those same targets. The baselines see the same bytes:

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
"""

from __future__ import annotations

import bz2
import gzip
import itertools
import lzma
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from masterclass.capstone.config import END_OF_TEXT, RunConfig
from masterclass.capstone.corpus import CorpusSplit
from masterclass.capstone.data import load_split, token_bytes_table
from masterclass.capstone.model import load_trained
from masterclass.capstone.tokenizer import load_tokenizer
from masterclass.llm.generate import generate
from masterclass.nlp.bpe import BPETokenizer
from masterclass.nlp.ngram import KneserNeyLM

# A function from token ids (B, T) to next-token logits (B, T, V): the PyTorch model, the int8
# model and the onnxruntime session all fit behind it, so one evaluator measures them all.
LogitsFn = Callable[[torch.Tensor], torch.Tensor]

LN2 = math.log(2.0)


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


def windows(stream: np.ndarray, context: int) -> list[tuple[int, int]]:
    """`(start, length)` of the consecutive windows that predict every token of `stream` but the first.

    Window $k$ feeds `stream[start : start + length]` and predicts `stream[start + 1 : start + length + 1]`;
    the last one may be shorter than `context`.

    >>> windows(np.arange(10), 4)
    [(0, 4), (4, 4), (8, 1)]
    """
    n = len(stream)
    return [(s, min(context, n - 1 - s)) for s in range(0, n - 1, context)]


@torch.no_grad()
def heldout_nll(
    logits_fn: LogitsFn,
    stream: np.ndarray,
    context: int,
    *,
    token_bytes: np.ndarray,
    batch_size: int = 8,
    device: str = "cpu",
    progress: Callable[[int], None] | None = None,
) -> dict[str, float]:
    """Total negative log-likelihood (nats) of `stream`'s targets, and the rates derived from it.

    `token_bytes[v]` is the number of bytes token `v` decodes to, 0 for special tokens; targets
    with 0 bytes are not counted. Returns `nats`, `tokens`, `bytes`, `loss` (nats per token),
    `perplexity` and `bits_per_byte`.
    """
    nats, tokens, n_bytes = 0.0, 0, 0
    spans = windows(stream, context)
    # Full windows are batched; the last, shorter one runs alone (no padding, so no masking).
    groups: list[list[tuple[int, int]]] = []
    full = [w for w in spans if w[1] == context]
    groups += [full[i : i + batch_size] for i in range(0, len(full), batch_size)]
    groups += [[w] for w in spans if w[1] != context]
    for group in groups:
        length = group[0][1]
        x = np.stack([stream[s : s + length] for s, _ in group])  # (B, T)
        y = np.stack([stream[s + 1 : s + length + 1] for s, _ in group])  # (B, T)
        logits = logits_fn(torch.from_numpy(x.astype(np.int64)).to(device)).float()  # (B, T, V)
        logp = torch.log_softmax(logits, dim=-1)  # (B, T, V)
        target = torch.from_numpy(y.astype(np.int64)).to(device)  # (B, T)
        nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1).double().cpu().numpy()  # (B, T)
        counted = token_bytes[y] > 0  # (B, T) bool: special-token targets are left out
        nats += float(nll[counted].sum())
        tokens += int(counted.sum())
        n_bytes += int(token_bytes[y][counted].sum())
        if progress is not None:
            progress(int(x.size))
    if tokens == 0:
        raise ValueError("the held-out stream has no byte-bearing target tokens")
    return {
        "nats": nats,
        "tokens": tokens,
        "bytes": n_bytes,
        "loss": nats / tokens,
        "perplexity": math.exp(nats / tokens),
        "bits_per_byte": nats / (LN2 * n_bytes),
    }


def split_documents(stream: np.ndarray, eot: int) -> list[np.ndarray]:
    """The documents of a held-out stream `[EOT, d1, EOT, d2, ...]`, as token arrays.

    >>> [d.tolist() for d in split_documents(np.array([9, 1, 2, 9, 3]), eot=9)]
    [[1, 2], [3]]
    """
    cuts = np.flatnonzero(stream == eot)
    bounds = [*cuts.tolist(), len(stream)]
    return [stream[a + 1 : b] for a, b in itertools.pairwise(bounds) if b > a + 1]


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
    eot = tok.special_tokens[END_OF_TEXT]
    context = model.config.max_seq_len
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


def heldout_stream(run_path: Path, max_tokens: int | None) -> np.ndarray:
    """The held-out token stream `[EOT, d1, EOT, d2, ...]`, cut to `max_tokens` if given."""
    stream = load_split(run_path, "heldout").to_numpy()
    return stream[:max_tokens] if max_tokens is not None else stream


def run_evaluate(
    cfg: RunConfig,
    run_path: Path,
    *,
    device: str,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The evaluate stage: the model and the baselines on the same held-out bytes, and samples."""
    tok = load_tokenizer(run_path)
    model = load_trained(run_path, device)
    stream = heldout_stream(run_path, cfg.evaluate.max_tokens)
    table = token_bytes_table(tok)
    result = heldout_nll(
        model,
        stream,
        cfg.model.context,
        token_bytes=table,
        batch_size=cfg.train.batch_size,
        device=device,
        progress=progress,
    )
    eot = tok.special_tokens[END_OF_TEXT]
    documents = [tok.decode_bytes(d.tolist()) for d in split_documents(stream, eot)]
    heldout = b"".join(documents)
    # The model's targets and the baselines' input must be the very same bytes.
    if len(heldout) != result["bytes"]:
        raise RuntimeError(f"byte count mismatch: {len(heldout)} vs {result['bytes']}")
    baselines = compressor_bits_per_byte(heldout)
    baselines[f"kneser-ney-{cfg.evaluate.kn_order}"] = kneser_ney_bits_per_byte(
        CorpusSplit(Path(run_path) / "corpus", "train"),
        documents,
        order=cfg.evaluate.kn_order,
        max_train_bytes=cfg.evaluate.kn_max_train_bytes,
    )
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
    return {
        "model": result,
        "baselines_bits_per_byte": baselines,
        "beats": {name: result["bits_per_byte"] < bpb for name, bpb in baselines.items()},
        "heldout_bytes": len(heldout),
        "heldout_documents": len(documents),
        "samples": samples,
    }


def kneser_ney_bits_per_byte(
    train: CorpusSplit, heldout: list[bytes], *, order: int, max_train_bytes: int | None
) -> float:
    """Bits per byte of `heldout` documents under `nlp`'s interpolated Kneser–Ney byte model.

    The model is fitted on the train split's documents (the first `max_train_bytes` bytes of them,
    a pure-Python n-gram counter being the slow part) as sequences of byte values.
    """
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
