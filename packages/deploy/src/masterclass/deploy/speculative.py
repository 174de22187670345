r"""# Speculative decoding

A large model at batch 1 is memory-bound: scoring $k+1$ positions in one forward pass costs
about as much as scoring one, because the weights are read once either way. Speculative decoding
(Leviathan et al., 2023; Chen et al., 2023) exploits this: a small *draft* model $q$ proposes $k$
tokens one by one (cheap), the *target* $p$ scores all of them in **one** pass, and a rejection
rule keeps a prefix of the draft plus one token of its own. Each target pass yields between $1$
and $k+1$ tokens, and the output distribution is exactly the target's.

**Greedy.** Keep draft tokens while each equals the target's argmax at its position; at the
first disagreement emit the target's argmax instead (and if all $k$ agree, the target's argmax
after them, for free). Every emitted token is the target's argmax given the tokens before it,
so the output is token-identical to greedy decoding with the target alone.

**Sampling.** With draft token $x \sim q(\cdot)$ at some position and target probabilities
$p(\cdot)$ there:

1. accept $x$ with probability $\min\!\big(1, p(x)/q(x)\big)$;
2. on rejection, sample from the residual $r(y) = \dfrac{\max(0,\, p(y) - q(y))}{\sum_z \max(0,\, p(z) - q(z))}$
   and stop.

*Derivation that the emitted token follows $p$.* The probability of emitting $y$ is
$$ P(y) = q(y)\min\!\Big(1, \tfrac{p(y)}{q(y)}\Big) + \Big(1 - \sum_x q(x)\min\!\Big(1, \tfrac{p(x)}{q(x)}\Big)\Big)\, r(y)
        = \min(p(y), q(y)) + \beta\, r(y), $$
where $\beta = 1 - \sum_x \min(p(x), q(x))$. Since $\sum_x \min(p, q) + \sum_x \max(0, p - q) =
\sum_x p(x) = 1$, the normaliser of $r$ is exactly $\beta$, so $\beta r(y) = \max(0, p(y) - q(y))$
and $P(y) = \min(p(y), q(y)) + \max(0, p(y) - q(y)) = p(y)$. By induction over positions (each
step conditions on the accepted prefix, at which both models are evaluated) the whole sequence
follows the target. The expected number of accepted tokens per pass is
$\sum_{i=0}^{k} \alpha^i$ for an acceptance rate $\alpha = \sum_x \min(p, q)$.

The tests check greedy identity against `llm.generate` and, for sampling, a chi-square test that
the distribution of generated token pairs equals the target's (two Markov chains as models, so
the exact distribution is known).

References: Leviathan, Kalman, Matias, 2023, *Fast Inference from Transformers via Speculative
Decoding* ([arXiv:2211.17192](https://arxiv.org/abs/2211.17192)); Chen et al., 2023,
*Accelerating Large Language Model Decoding with Speculative Sampling*
([arXiv:2302.01318](https://arxiv.org/abs/2302.01318)).

Left out: tree drafts (SpecInfer, Medusa), self-drafting (EAGLE, lookahead), and a KV cache for
the draft (this version re-scores the prefix with KV caches for both models and rolls them back).

## Exercises

1. Write `residual(p, q)`: the normalised residual distribution $\max(0, p - q)/\beta$. Check it:
   `uv run pytest --exercise deploy.speculative`
2. Write `expected_tokens(alpha, k)`: the expected number of tokens per target pass,
   $\sum_{i=0}^{k}\alpha^i$ (equal to $k + 1$ when $\alpha = 1$). Check it:
   `uv run pytest --exercise deploy.speculative`
"""

from __future__ import annotations

import torch
from torch import Tensor

from masterclass.llm.kv_cache import StaticKVCache

__all__ = ["speculative_accept", "speculative_generate"]


# ## The acceptance rule
#
# `p` holds the target's probabilities at the $k$ drafted positions and one more (after the
# last draft token); `q` the draft's at the $k$ drafted positions. The rule walks the draft and
# returns the emitted tokens: the accepted prefix and one more token (a residual sample at the
# first rejection, or a sample from `p[k]` when everything was accepted).
def speculative_accept(
    p: Tensor, q: Tensor, draft: Tensor, *, generator: torch.Generator | None = None
) -> list[int]:
    """Emitted tokens for draft tokens `draft` `(k,)` with target probs `p` `(k+1, V)` and draft
    probs `q` `(k, V)` (Leviathan et al., Algorithm 1).

    >>> p = torch.tensor([[0.5, 0.5], [1.0, 0.0]]); q = torch.tensor([[1.0, 0.0]])
    >>> g = torch.Generator().manual_seed(0)
    >>> out = speculative_accept(p, q, torch.tensor([0]), generator=g)
    >>> len(out) in (1, 2), out[0] in (0, 1)
    (True, True)
    """
    k = draft.shape[0]
    if p.shape[0] != k + 1 or q.shape[0] != k:
        raise ValueError(
            f"need p of {k + 1} rows and q of {k} rows for {k} draft tokens, got "
            f"{tuple(p.shape)} and {tuple(q.shape)}"
        )
    # Accept draft token x with probability min(1, p(x) / q(x)); at the first rejection, sample
    # from the residual $\max(p - q, 0)$, normalised, which makes every emitted token an exact
    # sample from p; the walk ends there.
    out: list[int] = []
    u = torch.rand(k, generator=generator, dtype=torch.float64)  # (k,)
    for i in range(k):
        x = int(draft[i])
        px, qx = float(p[i, x]), float(q[i, x])
        if qx > 0 and u[i] * qx <= px:  # u < p/q without dividing
            out.append(x)
            continue
        resid = (p[i] - q[i]).clamp(min=0)  # (V,)
        if float(resid.sum()) <= 0:  # p == q numerically: any sample from p is right
            resid = p[i]
        out.append(int(torch.multinomial(resid / resid.sum(), 1, generator=generator)))
        return out
    # Every draft accepted: the target's extra position gives one more token for free.
    out.append(int(torch.multinomial(p[k], 1, generator=generator)))
    return out


# Temperature scaling in float64, so the acceptance ratios are not eaten by rounding.
def _probs(logits: Tensor, temperature: float) -> Tensor:
    return torch.softmax(logits.double() / temperature, dim=-1)  # (..., V)


# ## Generation with two models
#
# Both models keep a `StaticKVCache`; rolling a cache back after rejected tokens is setting its
# `length` back, because a static cache writes each step at position `length` (the stale entries
# beyond are overwritten before they are read). Each round: the draft decodes $k$ tokens one at
# a time, the target decodes "last emitted token + $k$ drafts" in one pass of $k+1$ positions.
@torch.no_grad()
def speculative_generate(
    target: torch.nn.Module,
    draft: torch.nn.Module,
    prompt: Tensor,
    max_new_tokens: int,
    *,
    k: int = 4,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Continue `prompt` `(T,)` by `max_new_tokens` tokens; returns `(tokens (T + n,), stats)`
    with `stats["target_passes"]` and `stats["acceptance"]` (accepted / drafted).

    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> from masterclass.llm.generate import generate
    >>> _ = torch.manual_seed(0)
    >>> big = LanguageModel(LMConfig.llama(vocab_size=32, d_model=32, n_layers=2, n_heads=4))
    >>> small = LanguageModel(LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=2))
    >>> out, stats = speculative_generate(big, small, torch.tensor([1, 2, 3]), 8, k=3)
    >>> torch.equal(out, generate(big, torch.tensor([[1, 2, 3]]), 8, temperature=0)[0])
    True
    """
    # A non-empty prompt, at least one draft per round, and one vocabulary for both models (else
    # the draft's tokens would mean nothing to the target).
    if prompt.dim() != 1 or prompt.numel() == 0:
        raise ValueError(f"prompt must be a non-empty 1-D tensor, got shape {tuple(prompt.shape)}")
    if k < 1:
        raise ValueError(f"k (draft tokens per round) must be >= 1, got {k}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
    if target.config.vocab_size != draft.config.vocab_size:
        raise ValueError(
            f"target and draft must share a vocabulary, got {target.config.vocab_size} and "
            f"{draft.config.vocab_size}"
        )
    # Caches sized for the whole output plus one round's overshoot (k drafts and the extra one).
    target.eval()
    draft.eval()
    T = prompt.numel()
    cap = T + max_new_tokens + k + 1
    tc = StaticKVCache.for_model(target, 1, cap)
    dc = StaticKVCache.for_model(draft, 1, cap)
    tokens = prompt.tolist()
    # Prefill both caches with all but the last prompt token; the last one starts each round.
    if T > 1:
        target.decode(prompt[None, :-1], tc)
        draft.decode(prompt[None, :-1], dc)
    passes = drafted = accepted = 0
    while len(tokens) - T < max_new_tokens:
        base = len(tokens) - 1  # cached positions in both caches
        # Draft k tokens.
        d_tokens: list[int] = []
        q_rows: list[Tensor] = []
        # The draft first catches up on what it has not seen (one token, or two after a round
        # whose drafts were all accepted: the last draft was never fed to it).
        feed_d = tokens[dc.length :]
        for _ in range(k):
            logits = draft.decode(torch.tensor([feed_d]), dc)[0, -1]  # (V,)
            if temperature == 0:
                nxt = int(logits.argmax())
            else:
                q_rows.append(_probs(logits, temperature))
                nxt = int(torch.multinomial(q_rows[-1], 1, generator=generator))
            d_tokens.append(nxt)
            feed_d = [nxt]
        # Score them with the target in one pass over k + 1 positions.
        feed = torch.tensor([[tokens[-1], *d_tokens]])  # (1, k + 1)
        t_logits = target.decode(feed, tc)[0]  # (k + 1, V)
        passes += 1
        # Greedy: keep drafts while they equal the target's argmax, then emit the target's own
        # token (a correction, or a bonus after k matches), so the output is the target's greedy
        # decoding exactly. Sampling: the acceptance rule.
        if temperature == 0:
            choice = t_logits.argmax(-1).tolist()  # target's argmax after each fed token
            n_ok = 0
            while n_ok < k and d_tokens[n_ok] == choice[n_ok]:
                n_ok += 1
            emitted = [*d_tokens[:n_ok], choice[n_ok]]
        else:
            emitted = speculative_accept(
                _probs(t_logits, temperature),
                torch.stack(q_rows),
                torch.tensor(d_tokens),
                generator=generator,
            )
            n_ok = len(emitted) - 1
        drafted += k
        accepted += n_ok
        tokens.extend(emitted)
        # Roll both caches back to the tokens that stay: base + 1 + n_ok positions are valid.
        tc.length = base + 1 + n_ok
        dc.length = min(dc.length, base + 1 + n_ok)
    out = torch.tensor(tokens[: T + max_new_tokens])
    return out, {"target_passes": passes, "acceptance": accepted / max(drafted, 1)}
