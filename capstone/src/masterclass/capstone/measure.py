r"""# Measuring a model: bits per byte on held-out tokens

Every stage that judges a model (evaluation, quantization, export) measures it the same way, with
the functions of this chapter, so that "the int8 model is 0.3% worse" and "the model reaches 1.4
bits per byte" are statements about the same quantity on the same tokens.

The training loss is measured in nats per *token*, a unit that depends on the tokenizer: a
tokenizer with longer tokens has fewer, harder predictions. To compare a language model with
anything else (another tokenizer, an n-gram model, a file compressor), the loss is converted into
**bits per byte** of the held-out text. Step by step:

1. The model gives each target token $y_t$ a probability $p(y_t \mid y_{<t})$; the text's total
   information content is $\sum_t -\ln p(y_t \mid y_{<t})$ nats.
2. One nat is $1/\ln 2$ bits ($\log_2 x = \ln x / \ln 2$), so the total in bits is that sum
   divided by $\ln 2$.
3. The targets decode to $N_{\text{bytes}}$ bytes of text, so per byte:
$$ \mathrm{bpb} = \frac{\sum_t -\ln p(y_t \mid y_{<t})}{\ln 2 \cdot N_{\text{bytes}}}. $$

By Shannon's source coding theorem, with arithmetic coding a model that assigns probability $p$
to a text can store it in $\lceil -\log_2 p \rceil + 2$ bits, so bits per byte is a *compression
rate*, directly comparable with `gzip -9` or `xz -9` run on the same bytes:
$\mathrm{bpb} = 8 \cdot |\text{compressed}| / |\text{original}|$.

**What is counted.** The held-out token stream is $[\text{EOT}, d_1, \text{EOT}, d_2, \ldots]$: each
document preceded by the end-of-text token. It is cut into windows of the model's context $T$; in
each window the model predicts every token from the ones before it in the window. Targets that are
the EOT token are left out of the sum (a compressor does not encode document boundaries either), so
the targets are exactly the bytes of the held-out documents, and
$$ \text{perplexity} = \exp\Bigl(\frac{1}{N_{\text{tokens}}} \sum_t -\ln p(y_t \mid y_{<t})\Bigr) $$
is per token over those same targets.

A model is anything behind a `LogitsFn`: the PyTorch model, the int8 model and an onnxruntime
session all map ids (B, T) to logits (B, T, V), so one evaluator measures them all.

**A worked example.** A "model" that gives all $V = 4$ tokens the same probability $1/4$, on the
stream `[0, 1, 2, 3, 1]` where token 0 is the special token (0 bytes) and token 2 stands for two
bytes: the 4 targets `1, 2, 3, 1` cost $\ln 4$ nats each, $4 \cdot 2 = 8$ bits in all, for
$1 + 2 + 1 + 1 = 5$ bytes of text, so 1.6 bits per byte:

>>> import numpy as np, torch
>>> uniform = lambda ids: torch.zeros(*ids.shape, 4)  # (B, T, V = 4)
>>> r = heldout_nll(uniform, np.array([0, 1, 2, 3, 1]), 2, token_bytes=np.array([0, 1, 2, 1]))
>>> r["tokens"], r["bytes"], round(r["bits_per_byte"], 6)
(4, 5, 1.6)

## Exercises

1. Write `bits_per_byte(nats, n_bytes)`, the rate of step 3 above. Check it:
   `uv run pytest --exercise capstone.measure`.
2. Write `windows(n, context)`: the `(start, length)` of consecutive windows over a stream of `n`
   tokens that predict every token but the first exactly once, none longer than `context`.
   Check it: `uv run pytest --exercise capstone.measure`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from masterclass.capstone.config import RunConfig
from masterclass.capstone.run_folder import RunFolder
from masterclass.nlp.bpe import BPETokenizer

# A function from token ids (B, T) to next-token logits (B, T, V).
LogitsFn = Callable[[torch.Tensor], torch.Tensor]

LN2 = math.log(2.0)


# Bits per byte needs the bytes behind each target token: a table indexed by token id.
def token_bytes_table(tok: BPETokenizer) -> np.ndarray:
    """`(V,)` int64: bytes each id decodes to, 0 for special tokens (they stand for no text)."""
    table = np.array([len(tok.token_bytes(i)) for i in range(tok.vocab_size)], dtype=np.int64)
    table[list(tok.special_tokens.values())] = 0
    return table


# Non-overlapping windows score each target exactly once; a target early in a window sees little
# context, so the loss is slightly pessimistic against a sliding window, but cheap.
def windows(stream: np.ndarray, context: int) -> list[tuple[int, int]]:
    """`(start, length)` of the consecutive windows that predict every token of `stream` but the first.

    Window $k$ feeds `stream[start : start + length]` and predicts `stream[start + 1 : start + length + 1]`;
    the last one may be shorter than `context`.

    >>> windows(np.arange(10), 4)
    [(0, 4), (4, 4), (8, 1)]
    """
    n = len(stream)
    return [(s, min(context, n - 1 - s)) for s in range(0, n - 1, context)]


# Sums are kept in nats and float64 over the whole stream; the averages are taken once at the end,
# so batch boundaries cannot bias them.
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
    # Per group: inputs and targets shifted by one, log-probabilities of the targets, and the
    # sums over the targets that stand for text.
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
    # Loss per token, its exponential (perplexity), and bits per byte: nats / (ln 2 · bytes).
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


# ## Two models on the same tokens
#
# Quantization and export ask one question: how much worse is the candidate than the reference?
# Both are measured on the first `evaluate.compare_tokens` held-out tokens, and the answer is the
# relative change of the loss, $(\ell_{cand} - \ell_{ref}) / \ell_{ref}$.
def compare_losses(
    reference: LogitsFn,
    candidate: LogitsFn,
    cfg: RunConfig,
    run: RunFolder,
    *,
    device: str = "cpu",
) -> dict[str, Any]:
    """Held-out loss of two models on the same `compare_tokens` tokens, and the relative change."""
    # The same stream, windows and batches for both, so only the model differs.
    tok = run.load_tokenizer()
    stream = run.heldout_stream(cfg.evaluate.compare_tokens)
    kwargs = dict(
        token_bytes=token_bytes_table(tok), batch_size=cfg.train.batch_size, device=device
    )
    ref = heldout_nll(reference, stream, cfg.model.max_seq_len, **kwargs)
    cand = heldout_nll(candidate, stream, cfg.model.max_seq_len, **kwargs)
    return {
        "reference_loss": ref["loss"],
        "candidate_loss": cand["loss"],
        "relative_loss_change": (cand["loss"] - ref["loss"]) / ref["loss"],
        "compared_tokens": ref["tokens"],
    }
