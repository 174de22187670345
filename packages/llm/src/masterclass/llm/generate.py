r"""# Generation: decoding with a KV cache

An autoregressive model defines $p(x_{t+1} \mid x_{\le t})$; generating text is repeatedly turning
that distribution into one token. `generate` runs the prompt through the model once (the *prefill*),
filling a `StaticKVCache`, then feeds one token per step (the *decode* phase), each step touching
only the new position.

How a token is picked from the logits $z$:

- **greedy** (`temperature=0`): $\arg\max_i z_i$, deterministic;
- **temperature** $\tau$: sample from $\operatorname{softmax}(z / \tau)$; $\tau < 1$ sharpens, $\tau > 1$
  flattens;
- **top-k** (Fan et al., 2018): keep the $k$ largest logits, renormalize;
- **top-p / nucleus** (Holtzman et al., 2020): keep the smallest set of most likely tokens whose
  probabilities sum to at least $p$, renormalize. The set adapts to the distribution's shape: a
  few tokens when the model is sure, many when it is not.

Filters apply in the order temperature, top-k, top-p, as in Hugging Face's `generate`, so that with
the same `torch.Generator` seed the two draw from the same distribution. A sequence that emits one
of `stop_tokens` is finished: later positions repeat that stop token, and generation ends when every
sequence is finished. Left out: beam search, repetition penalties, speculative decoding.

## Exercises

1. Write `top_k(logits, k)`: keep the $k$ largest logits of each row `(B, V)`, set the rest to
   $-\infty$. Check it: `uv run pytest --exercise llm.generate`.
2. Write `top_p(logits, p)`: keep the smallest set of most likely tokens whose probabilities sum to
   at least $p$. How many tokens survive for a uniform distribution over $V$? For one token of
   probability $0.95$? Check it: `uv run pytest --exercise llm.generate`.
3. Write `greedy(model, idx, n)`: greedy decoding *without* a cache, one full forward pass per new
   token. The checker compares your tokens with `generate(..., temperature=0)`; count the positions
   your version recomputes. Check it: `uv run pytest --exercise llm.generate`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from masterclass.llm.kv_cache import StaticKVCache


def filter_logits(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Tensor:
    r"""Apply temperature, top-k and top-p to `logits` `(B, V)`; removed entries become $-\infty$.

    >>> filter_logits(torch.tensor([[1.0, 3.0, 2.0]]), top_k=2).tolist()
    [[-inf, 3.0, 2.0]]
    """
    if temperature <= 0:
        raise ValueError(f"filter_logits needs temperature > 0, got {temperature}; 0 means greedy")
    logits = logits.float() / temperature  # (B, V)
    # Top-k keeps the `k` largest logits (and any that tie with the `k`-th).
    if top_k is not None:
        if top_k <= 0:
            raise ValueError(f"top_k must be a positive int or None, got {top_k}")
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        # Sort ascending and drop the low tail whose total mass is at most 1 - p: what remains is
        # the smallest set with mass >= p (the most likely token always survives).
        sorted_logits, order = torch.sort(logits, dim=-1)  # (B, V) ascending
        tail_mass = sorted_logits.softmax(dim=-1).cumsum(dim=-1)  # (B, V)
        drop_sorted = tail_mass <= 1 - top_p
        drop_sorted[:, -1] = False
        drop = drop_sorted.scatter(1, order, drop_sorted)  # (B, V) back in vocabulary order
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


# One decoding step: the argmax at temperature 0, otherwise a draw from the filtered distribution.
def sample_next(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick one token per row of `logits` `(B, V)`; returns `(B,)` int64. Greedy when temperature == 0."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, temperature=temperature, top_k=top_k, top_p=top_p).softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)  # (B,)


# The loop: a prefill pass over the prompt, then one single-token pass per new token, each reading
# the keys and values of all earlier tokens from the cache.
@torch.no_grad()
def generate(
    model: torch.nn.Module,
    idx: Tensor,
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    stop_tokens: Sequence[int] = (),
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue the prompts `idx` `(B, T)` by up to `max_new_tokens` tokens with a KV cache.

    Returns `(B, T + n)` token ids, `n <= max_new_tokens` (fewer when every sequence stopped).
    `model` is a `LanguageModel`; it is put in eval mode.
    """
    # Check the prompt and the budget; temperature 0 means greedy.
    if idx.dim() != 2 or idx.shape[1] == 0:
        raise ValueError(f"idx must be a non-empty (B, T) prompt, got shape {tuple(idx.shape)}")
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    # One static cache holds prompt and continuation; `finished` and `last_token` track the rows
    # that have met a stop token.
    model.eval()
    B, T = idx.shape
    cache = StaticKVCache.for_model(model, B, T + max_new_tokens)
    stops = torch.tensor(list(stop_tokens), dtype=torch.long, device=idx.device)  # (S,)
    finished = torch.zeros(B, dtype=torch.bool, device=idx.device)  # (B,)
    last_token = torch.zeros(
        B, dtype=torch.long, device=idx.device
    )  # (B,) token each row stopped on
    out = [idx]
    # Prefill: the whole prompt in one pass, keeping the last position's logits. Then one token per
    # step; a finished row repeats its stop token, so the batch stays rectangular.
    logits = model.decode(idx, cache, last_only=True)[:, -1]  # (B, V) prefill
    for step in range(max_new_tokens):
        nxt = sample_next(
            logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=generator
        )  # (B,)
        if len(stop_tokens):
            nxt = torch.where(finished, last_token, nxt)
            hit = torch.isin(nxt, stops) & ~finished
            last_token = torch.where(hit, nxt, last_token)
            finished = finished | hit
        out.append(nxt[:, None])
        if step == max_new_tokens - 1 or (len(stop_tokens) and bool(finished.all())):
            break
        logits = model.decode(nxt[:, None], cache)[:, -1]  # (B, V)
    return torch.cat(out, dim=1)
