r"""# Loss functions of language-model training

Pretraining minimises one number, the mean **next-token cross-entropy**, and a handful of
auxiliary terms keep the run healthy. This chapter writes each from its formula.

**Cross-entropy with an ignore index.** For logits $z \in \mathbb{R}^V$ at a position whose next
token is $y$, with $\log p = \log\operatorname{softmax}(z) = z - \operatorname{LSE}(z)$,

$$ \ell = -\log p_y = \operatorname{LSE}(z) - z_y, \qquad
   \operatorname{LSE}(z) = \log \textstyle\sum_v e^{z_v}. $$

Positions whose target is the *ignore index* (-100, padding, prompt tokens in fine-tuning) are
dropped from the sum **and** from the count: the mean is over the $N$ kept positions only.

**Label smoothing** (Szegedy et al., 2016) trains against $q = (1-\varepsilon)\,\delta_y +
\varepsilon / V$ instead of the one-hot target. Expanding $-\sum_v q_v \log p_v$:

$$ \ell_\varepsilon = (1-\varepsilon)\,(-\log p_y) + \varepsilon \cdot
   \tfrac{1}{V}\textstyle\sum_v (-\log p_v), $$

which is what `torch.nn.functional.cross_entropy(..., label_smoothing=ε)` computes. Its gradient
w.r.t. $z$ is $p - q$: the model is never pushed to put all its mass on $y$.

**z-loss** (PaLM, Chowdhery et al., 2022, §5): $\lambda_z \operatorname{LSE}(z)^2$ with
$\lambda_z = 10^{-4}$. Cross-entropy is invariant to adding a constant to every logit, so
nothing stops $\operatorname{LSE}$ from drifting to large values where bf16 softmax loses
precision; the squared penalty pins it near 0 (the softmax normaliser near 1) and has gradient
$2\lambda_z \operatorname{LSE}(z)\, p$.

**Load balancing** for mixture-of-experts layers, $E \sum_e f_e P_e$, is Module 7's
(`masterclass.llm.moe.load_balancing_loss`), re-exported here so the training losses sit in one
place; one algorithm, one implementation.

**Multi-token prediction** (Gloeckle et al., 2024, *Better & Faster Large Language Models via
Multi-token Prediction*, [arXiv:2404.19737](https://arxiv.org/abs/2404.19737)): $n$ heads on a
shared trunk; head $k$ ($k = 1..n$) at position $t$ predicts token $x_{t+k}$:

$$ \mathcal{L}_{\text{MTP}} = \sum_{k=1}^{n} w_k\;
   \frac{1}{T-k}\sum_{t=1}^{T-k} -\log p_k(x_{t+k} \mid x_{\le t}). $$

Head 1 is the ordinary next-token head; the extra heads give denser supervision and can be used
for self-speculative decoding. The paper weights every head 1; `weights` generalises that.

Left out: fused/chunked cross-entropy kernels (the logits of a 128k vocabulary do not fit in
memory at long context), focal loss, and the sequence-level losses of alignment (DPO has its own
chapter).

## Exercises

1. Write `smoothed_nll(logits, targets, eps)` for logits `(N, V)` and targets `(N,)` without
   `label_smoothing=`: the mean of $(1-\varepsilon)(-\log p_y) + \varepsilon\,\overline{(-\log p)}$.
   Check it: `uv run pytest --exercise training.losses`
2. Write `z_loss_grad(logits)` returning $\partial\, \operatorname{LSE}(z)^2 / \partial z$ for one
   row of logits, in closed form. Check it: `uv run pytest --exercise training.losses`
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from masterclass.llm.moe import load_balancing_loss

__all__ = [
    "IGNORE_INDEX",
    "MultiTokenHeads",
    "cross_entropy",
    "load_balancing_loss",
    "multi_token_prediction_loss",
    "next_token_loss",
    "sequence_logprobs",
    "z_loss",
]

# Targets equal to this are skipped (the convention of torch and Hugging Face).
IGNORE_INDEX = -100


def _flatten(logits: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)} disagree: logits "
            "must be targets.shape + (V,)"
        )
    return logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)


# ## Cross-entropy from the log-sum-exp
#
# $\log p = z - \operatorname{LSE}(z)$, with the maximum subtracted inside LSE so that no
# exponential overflows (`torch.logsumexp` does it). Ignored targets would index out of range,
# so they are replaced by 0 before the gather and then masked out of both sum and count.


def cross_entropy(
    logits: Tensor,
    targets: Tensor,
    *,
    ignore_index: int = IGNORE_INDEX,
    label_smoothing: float = 0.0,
) -> Tensor:
    r"""Mean cross-entropy of `logits` `(..., V)` against integer `targets` `(...)`.

    Targets equal to `ignore_index` count neither in the sum nor in the mean; with
    `label_smoothing` $\varepsilon$ the target is $(1-\varepsilon)\delta_y + \varepsilon/V$.
    All targets ignored gives NaN, as torch does.

    >>> z = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    >>> round(cross_entropy(z, torch.tensor([0, -100])).item(), 4)
    0.1269
    """
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    # Log-softmax in float32 via the log-sum-exp. An ignored target is replaced by 0 for the gather
    # (any valid index would do) and masked out of both the sum and the count; label smoothing mixes
    # in the mean of -log p over the vocabulary.
    z, y = _flatten(logits, targets)  # (N, V), (N,)
    keep = y != ignore_index  # (N,)
    logp = z.float() - torch.logsumexp(z.float(), dim=-1, keepdim=True)  # (N, V)
    nll = -logp.gather(1, torch.where(keep, y, 0)[:, None])[:, 0]  # (N,)
    if label_smoothing:
        nll = (1 - label_smoothing) * nll - label_smoothing * logp.mean(dim=-1)
    return (nll * keep).sum() / keep.sum()


# ## The next-token shift
#
# A model's logits at position $t$ predict token $t+1$, so the targets are the inputs shifted
# left by one; the last position has no target. Labels already masked (-100) stay masked.


def next_token_loss(logits: Tensor, labels: Tensor, **kwargs: float | int) -> Tensor:
    """Cross-entropy of logits `(B, T, V)` predicting `labels[:, 1:]` from positions `:-1`.

    `labels` `(B, T)` are the input ids with positions to ignore set to -100; keyword arguments
    go to `cross_entropy`.
    """
    return cross_entropy(logits[:, :-1], labels[:, 1:], **kwargs)


def sequence_logprobs(logits: Tensor, labels: Tensor, *, average: bool = False) -> Tensor:
    r"""$\sum_t \log p(x_{t+1} \mid x_{\le t})$ over the unmasked labels of each row, `(B,)`.

    `logits` `(B, T, V)`, `labels` `(B, T)` (-100 = not part of the response). With
    `average=True` the sum is divided by the number of counted tokens. This is the
    sequence log-likelihood that DPO, RLHF and few-shot scoring are built on.
    """
    z, y = logits[:, :-1].float(), labels[:, 1:]  # (B, T-1, V), (B, T-1)
    keep = y != IGNORE_INDEX  # (B, T-1)
    logp = z.log_softmax(dim=-1).gather(-1, torch.where(keep, y, 0)[..., None])[..., 0]
    total = (logp * keep).sum(dim=-1)  # (B,)
    return total / keep.sum(dim=-1).clamp(min=1) if average else total


# ## z-loss
#
# The penalty acts on the log-normaliser of each kept position; its gradient $2\lambda_z\,
# \operatorname{LSE}(z)\, \operatorname{softmax}(z)$ is what autograd finds (the test checks it
# against the closed form).


def z_loss(logits: Tensor, mask: Tensor | None = None, *, coefficient: float = 1e-4) -> Tensor:
    r"""PaLM's z-loss $\lambda_z\, \overline{\operatorname{LSE}(z)^2}$ over logits `(..., V)`.

    `mask` `(...)` (bool) selects the positions that count; default all.
    """
    lse = torch.logsumexp(logits.float(), dim=-1)  # (...)
    if mask is None:
        return coefficient * lse.square().mean()
    if mask.shape != lse.shape:
        raise ValueError(f"mask must have shape {tuple(lse.shape)}, got {tuple(mask.shape)}")
    return coefficient * (lse.square() * mask).sum() / mask.sum()


# ## Multi-token prediction
#
# The heads are independent linear maps from the trunk's final hidden state (the paper uses one
# transformer layer per head and a shared unembedding; a linear head keeps the idea and the
# loss). Head $k$ at position $t$ is scored against $x_{t+k}$, so its last $k$ positions have no
# target and are dropped, exactly as the shift by one drops one position for head 1.


class MultiTokenHeads(nn.Module):
    """`n_future` output heads over hidden states `(B, T, d_model)`, each giving `(B, T, V)`."""

    def __init__(self, d_model: int, vocab_size: int, n_future: int) -> None:
        super().__init__()
        if n_future < 1:
            raise ValueError(f"n_future must be >= 1, got {n_future}")
        self.heads = nn.ModuleList(
            nn.Linear(d_model, vocab_size, bias=False) for _ in range(n_future)
        )

    def forward(self, hidden: Tensor) -> list[Tensor]:
        """One logits tensor `(B, T, V)` per future offset 1..n."""
        return [head(hidden) for head in self.heads]


# Head k at position t predicts token t + k, so its logits lose their last k positions and the
# targets their first k; the heads' losses are weighted and summed.
def multi_token_prediction_loss(
    logits_per_head: list[Tensor], idx: Tensor, weights: list[float] | None = None
) -> Tensor:
    r"""$\sum_k w_k \cdot$ mean cross-entropy of head $k$ against $x_{t+k}$.

    `logits_per_head[k-1]` `(B, T, V)` predicts `idx[:, t + k]` `(B, T)` from position `t`.
    """
    n = len(logits_per_head)
    weights = [1.0] * n if weights is None else list(weights)
    if len(weights) != n:
        raise ValueError(f"weights has {len(weights)} entries for {n} heads; give one per head")
    if n >= idx.shape[1]:
        raise ValueError(f"{n} heads need sequences longer than {n} tokens, got T={idx.shape[1]}")
    total = logits_per_head[0].new_zeros((), dtype=torch.float32)
    for k, (logits, w) in enumerate(zip(logits_per_head, weights, strict=True), start=1):
        total = total + w * cross_entropy(logits[:, :-k], idx[:, k:])
    return total
