r"""# Direct preference optimisation: DPO, IPO and the hinge loss

RLHF fits a reward model and then runs RL against it. **DPO** (Rafailov et al., 2023, *Direct
Preference Optimization: Your Language Model is Secretly a Reward Model*,
[arXiv:2305.18290](https://arxiv.org/abs/2305.18290)) notices that the KL-regularised objective
has a closed-form optimum and trains the policy on the preference pairs directly, with one
supervised-style loss and no sampling.

**Derivation.** The objective $\max_\pi \mathbb{E}_{y\sim\pi}[r(x,y)] - \beta\,
\mathrm{KL}(\pi \| \pi_{\text{ref}})$ is, for each prompt $x$, maximised by

$$ \pi^*(y \mid x) = \frac{1}{Z(x)}\, \pi_{\text{ref}}(y \mid x)\, e^{r(x,y)/\beta} $$

(write the objective as $-\beta\,\mathrm{KL}(\pi \,\|\, \pi_{\text{ref}} e^{r/\beta}/Z) +
\beta\log Z$; the KL is minimal, zero, at $\pi = \pi^*$). Solving for the reward,

$$ r(x, y) = \beta \log\frac{\pi^*(y\mid x)}{\pi_{\text{ref}}(y\mid x)} + \beta \log Z(x). $$

Substituted into the Bradley–Terry likelihood $\sigma(r(x,y_w) - r(x,y_l))$ the intractable
$\beta\log Z(x)$ cancels, because both responses share the prompt. Parametrising $\pi^*$ by the
policy $\pi_\theta$ gives the DPO loss with the **implicit rewards**
$\hat r_w = \beta \log \frac{\pi_\theta(y_w)}{\pi_{\text{ref}}(y_w)}$ and likewise $\hat r_l$:

$$ \mathcal{L}_{\text{DPO}} = -\log\sigma\big(\hat r_w - \hat r_l\big)
   = -\log\sigma\big(\beta\,[(\log\pi_\theta(y_w) - \log\pi_{\text{ref}}(y_w))
   - (\log\pi_\theta(y_l) - \log\pi_{\text{ref}}(y_l))]\big). $$

At the start, $\pi_\theta = \pi_{\text{ref}}$, the margin is 0 and the loss is exactly
$-\log\sigma(0) = \log 2$. With label smoothing $\varepsilon$ (conservative DPO: a fraction
$\varepsilon$ of labels assumed flipped) the loss is
$-(1-\varepsilon)\log\sigma(\beta h) - \varepsilon\log\sigma(-\beta h)$ with $h$ the margin.

**IPO** (Azar et al., 2023, *A General Theoretical Paradigm to Understand Learning from Human
Preferences*, [arXiv:2310.12036](https://arxiv.org/abs/2310.12036)) observes that with
deterministic preferences DPO pushes $h \to \infty$ and the KL regularisation vanishes; it
regresses the margin onto a finite target instead, $\mathcal{L}_{\text{IPO}} = (h - \tfrac{1}{2\beta})^2$,
with $h$ computed from *per-token averaged* log-probabilities (TRL's convention, confirmed with
the authors). The **hinge** loss (SLiC, Zhao et al., 2023) is $\max(0, 1 - \beta h)$: no
gradient once the margin clears $1/\beta$.

The sequence log-probabilities $\log\pi(y \mid x)$ are sums over the response tokens only:
the prompt is masked with -100 (`losses.sequence_logprobs`). The tests check every loss
against TRL's `DPOTrainer` on random log-probabilities to 1e-6.

Left out: the reference-free variants (SimPO, ORPO), iterative/online DPO and the
f-divergence generalisations TRL offers.

## Exercises

1. Write `dpo_margin_grad(beta, h)`: $\partial \mathcal{L}_{\text{DPO}} / \partial h$ for the
   unsmoothed loss, in closed form. Check it: `uv run pytest --exercise training.dpo`
2. Write `ipo_optimum(beta)`: the margin $h$ at which the IPO loss is minimal. Check it:
   `uv run pytest --exercise training.dpo`
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.training.losses import IGNORE_INDEX, sequence_logprobs

__all__ = ["DPOConfig", "dpo_loss", "dpo_train", "pair_batch", "preference_logprobs"]

LOSS_TYPES = ("sigmoid", "ipo", "hinge")


# ## The losses from the four log-probabilities
#
# Everything is a function of the log-ratios of the policy to the reference on the chosen and
# rejected responses. The implicit rewards $\beta \cdot$ log-ratio are returned too: their
# difference, the *preference margin*, is what a DPO run should move.


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    *,
    beta: float = 0.1,
    loss_type: str = "sigmoid",
    label_smoothing: float = 0.0,
    chosen_lengths: Tensor | None = None,
    rejected_lengths: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    r"""Mean preference loss and the implicit rewards `(B,)` of chosen and rejected.

    Inputs are sequence log-probabilities `(B,)`. `loss_type` is "sigmoid" (DPO), "ipo" or
    "hinge"; IPO divides each log-ratio by its response length (`*_lengths`, default 1).

    >>> z = torch.zeros(3)
    >>> round(dpo_loss(z, z, z, z)[0].item(), 6), round(torch.log(torch.tensor(2.0)).item(), 6)
    (0.693147, 0.693147)
    """
    # The arguments first: a known loss, a positive beta, and label smoothing below one half (at one
    # half the two responses would be equally preferred).
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if not 0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    # The implicit reward of a response is beta times its log-ratio to the reference. DPO takes
    # the log-sigmoid of the reward margin (optionally label-smoothed), the hinge is zero once the
    # margin reaches 1, and IPO regresses the length-normalised log-ratio margin onto 1 / (2 beta).
    chosen_ratio = policy_chosen - ref_chosen  # (B,)
    rejected_ratio = policy_rejected - ref_rejected  # (B,)
    if loss_type == "sigmoid":
        h = beta * (chosen_ratio - rejected_ratio)
        losses = -(1 - label_smoothing) * F.logsigmoid(h) - label_smoothing * F.logsigmoid(-h)
    elif loss_type == "hinge":
        losses = torch.relu(1 - beta * (chosen_ratio - rejected_ratio))
    else:
        n_w = 1 if chosen_lengths is None else chosen_lengths.clamp(min=1)
        n_l = 1 if rejected_lengths is None else rejected_lengths.clamp(min=1)
        losses = (chosen_ratio / n_w - rejected_ratio / n_l - 1 / (2 * beta)) ** 2
    return losses.mean(), beta * chosen_ratio.detach(), beta * rejected_ratio.detach()


# ## Batching preference pairs
#
# A pair shares its prompt. Chosen and rejected rows are stacked into one batch `(2B, T)`,
# right-padded; the labels are the ids with the prompt and the padding replaced by -100, so that
# only response tokens count in the log-probabilities. One forward pass scores both halves.


def pair_batch(
    pairs: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int]]], pad_id: int = 0
) -> tuple[Tensor, Tensor]:
    """Ids and labels `(2B, T)` for `(prompt, chosen, rejected)` id lists: chosen rows first."""
    if not pairs:
        raise ValueError("pairs is empty; give at least one (prompt, chosen, rejected) triple")
    rows, masks = [], []
    for half in (1, 2):
        for i, pair in enumerate(pairs):
            prompt, response = list(pair[0]), list(pair[half])
            if not prompt or not response:
                raise ValueError(f"pairs[{i}] has an empty prompt or response; both need tokens")
            rows.append(prompt + response)
            masks.append([False] * len(prompt) + [True] * len(response))
    # One padded batch for both halves; labels keep only response tokens, so the sequence log-prob
    # below sums over the response alone.
    T = max(len(r) for r in rows)
    ids = torch.full((len(rows), T), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
    for b, (row, mask) in enumerate(zip(rows, masks, strict=True)):
        ids[b, : len(row)] = torch.tensor(row)
        keep = torch.tensor(mask)
        labels[b, : len(row)] = torch.where(keep, torch.tensor(row), IGNORE_INDEX)
    return ids, labels


# One forward pass over the `2B` rows, split back into chosen and rejected halves.
def preference_logprobs(model: nn.Module, ids: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Sequence log-probabilities of the chosen and the rejected halves of a `pair_batch`."""
    logits = model(ids)  # (2B, T, V)
    logits = logits.logits if hasattr(logits, "logits") else logits
    return sequence_logprobs(logits, labels).chunk(2)


# ## A DPO run
#
# The reference is a frozen copy of the policy at the start, and its log-probabilities are
# computed once. Every step takes the whole (small) set of pairs; the returned history holds
# the loss and the mean preference margin $\hat r_w - \hat r_l$ of each step.


@dataclass
class DPOConfig:
    """Hyper-parameters of `dpo_train`."""

    # Optimisation steps over the full set of pairs.
    steps: int = 30
    # Adam learning rate.
    lr: float = 1e-3
    # KL strength beta (the temperature of the implicit reward).
    beta: float = 0.1
    # "sigmoid" (DPO), "ipo" or "hinge".
    loss_type: str = "sigmoid"
    # Conservative-DPO label smoothing.
    label_smoothing: float = 0.0


# The whole preference set is one batch. The reference log-probs are computed once, from a frozen
# copy of the starting policy; only the policy's side changes during training.
def dpo_train(
    policy: nn.Module,
    pairs: Sequence[tuple[Sequence[int], Sequence[int], Sequence[int]]],
    config: DPOConfig,
    *,
    pad_id: int = 0,
) -> list[dict[str, float]]:
    """Train `policy` in place on `(prompt, chosen, rejected)` id triples; per-step loss and margin."""
    ids, labels = pair_batch(pairs, pad_id)
    ref = copy.deepcopy(policy).eval()
    with torch.no_grad():
        ref_w, ref_l = preference_logprobs(ref, ids, labels)
    n_tokens = (labels[:, 1:] != IGNORE_INDEX).sum(1)
    len_w, len_l = n_tokens.chunk(2)
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    history = []
    policy.train()
    # Each step: the policy's log-probs of both halves, the preference loss against the fixed
    # reference, one Adam update, and the reward margin as the progress signal.
    for _ in range(config.steps):
        pol_w, pol_l = preference_logprobs(policy, ids, labels)
        loss, r_w, r_l = dpo_loss(
            pol_w,
            pol_l,
            ref_w,
            ref_l,
            beta=config.beta,
            loss_type=config.loss_type,
            label_smoothing=config.label_smoothing,
            chosen_lengths=len_w,
            rejected_lengths=len_l,
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append({"loss": loss.item(), "margin": (r_w - r_l).mean().item()})
    return history
