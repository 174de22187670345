r"""# Decoding: greedy, temperature, top-k and top-p sampling

A language model gives, at each step, a distribution $p(x_{t+1} \mid x_{\le t})$ over the
vocabulary. Generating text is choosing a token from it, appending it, and running the model again.
How the token is chosen changes the text more than one would think:

- **Greedy**: $\arg\max$. Deterministic and locally optimal; in practice it falls into loops
  ("the the the"), since the most likely continuation of a repetition is more repetition.
- **Temperature** $\tau$: sample from $\operatorname{softmax}(z / \tau)$. $\tau < 1$ sharpens the
  distribution towards greedy, $\tau > 1$ flattens it towards uniform.
- **Top-k** (Fan et al., 2018): keep the $k$ most likely tokens, renormalise, sample. It cuts the
  long tail of individually unlikely but collectively likely junk tokens; but a fixed $k$ is too
  many when the model is sure and too few when it is not.
- **Top-p, nucleus sampling** (Holtzman et al., 2020, *The Curious Case of Neural Text
  Degeneration*): keep the smallest set of most likely tokens whose total probability reaches $p$.
  The set adapts: one token when the model is sure, hundreds when it is not.

Filters are applied to the logits, in the order temperature → top-k → top-p (that of Hugging Face's
`generate`), by setting removed logits to $-\infty$; sampling then draws from the softmax. Each
filter is equal to Hugging Face's corresponding logits warper (`test_sampling.py`).

`generate` runs the whole prefix through the model at every step, which costs $O(T^2)$ per token;
the key/value cache that removes the recomputation is in Module 7. When the prefix outgrows the
model's position table, only its last `max_positions` tokens are kept as context.

## Exercises

1. Write `gumbel_max(logits, n, generator)`: `n` draws from $\mathrm{softmax}(z)$ as
   $\arg\max_i (z_i + g_i)$ with Gumbel noise. Derive why the argmax is distributed as the softmax.
   Check it: `uv run pytest --exercise transformer.sampling`.
2. Write `entropy(logits, temperature)`: the entropy of $\mathrm{softmax}(z / \tau)$. What are
   its limits as $\tau \to 0$ and $\tau \to \infty$? Check it:
   `uv run pytest --exercise transformer.sampling`.
3. Write `top_p(logits, p)`: the nucleus filter, with a loop over the sorted tokens. Check it:
   `uv run pytest --exercise transformer.sampling`.
"""

import torch
from torch import Tensor, nn

__all__ = ["generate", "sample_next_token", "top_k_filter", "top_p_filter"]


def top_k_filter(logits: Tensor, k: int) -> Tensor:
    """Keep the `k` largest logits of each row (and any tied with the k-th), set the rest to -inf.

    Shapes: `(..., V) -> (..., V)`.

    >>> top_k_filter(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), k=2).tolist()
    [[-inf, 3.0, 2.0, -inf]]
    """
    if k <= 0:
        raise ValueError(f"top_k must be a positive integer, got {k}")
    k = min(k, logits.shape[-1])
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth, float("-inf"))


# The nucleus is found on the sorted distribution: walking from the most likely token down, a token
# is dropped when the mass of the tokens *before* it already reaches $p$. The most likely token is
# therefore always kept, even when its probability alone exceeds $p$.
def top_p_filter(logits: Tensor, p: float) -> Tensor:
    """Keep the smallest set of most likely tokens whose probability sums to at least `p`.

    Shapes: `(..., V) -> (..., V)`, removed entries set to -inf.

    >>> logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    >>> torch.isfinite(top_p_filter(logits, p=0.7)).tolist()  # 0.5 + 0.3 >= 0.7
    [[True, True, False, False]]
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)  # (..., V)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # (..., V)
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


# One decoding step: greedy takes the argmax; otherwise the temperature scales the logits, the
# filters cut the tail, and a token is drawn from what is left.
def sample_next_token(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Choose one token per row of `logits` `(B, V)`; returns `(B,)` token ids."""
    if greedy:
        return logits.argmax(dim=-1)
    if temperature <= 0:
        raise ValueError(
            f"temperature must be positive (use greedy=True for argmax), got {temperature}"
        )
    # Temperature first, then the filters on the scaled logits; the softmax runs in float32.
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    probs = torch.softmax(logits.float(), dim=-1)  # (B, V)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)  # (B,)


# The loop: one forward pass over the whole context per new token (nothing is cached), without
# gradients.
@torch.no_grad()
def generate(
    model: nn.Module,
    input_ids: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    eos_token_id: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Extend `input_ids` `(B, T)` by up to `max_new_tokens` tokens.

    `model(ids)` must return logits `(B, T, V)` first (a `GPT` does). Rows that produced
    `eos_token_id` keep producing it, and generation stops when every row has. Returns
    `(B, T + n)` ids.
    """
    if input_ids.dim() != 2 or input_ids.shape[1] == 0:
        raise ValueError(
            f"input_ids must be a non-empty (B, T) prompt, got {tuple(input_ids.shape)}"
        )
    # Generation runs in eval mode (no dropout), restored at the end. A model with a fixed window
    # sees only its last `max_positions` tokens, and only the last position's logits are used.
    max_positions = getattr(getattr(model, "cfg", None), "max_positions", None)
    was_training = model.training
    model.eval()
    ids = input_ids
    done = torch.zeros(ids.shape[0], dtype=torch.bool, device=ids.device)
    for _ in range(max_new_tokens):
        context = ids if max_positions is None else ids[:, -max_positions:]
        logits = model(context)[0][:, -1]  # (B, V)
        nxt = sample_next_token(logits, temperature, top_k, top_p, greedy, generator)  # (B,)
        # A finished row keeps emitting `eos_token_id`, so the batch stays rectangular.
        if eos_token_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, eos_token_id), nxt)
            done |= nxt == eos_token_id
        ids = torch.cat([ids, nxt[:, None]], dim=1)  # (B, T + 1)
        if eos_token_id is not None and done.all():
            break
    model.train(was_training)
    return ids
