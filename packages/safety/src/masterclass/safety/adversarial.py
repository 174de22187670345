r"""# Adversarial testing: FGSM and PGD on images, HotFlip and GCG on tokens

Robustness metrics average over random corruptions; an adversary picks the *worst* one. Testing a
model adversarially means solving, within a budget $\mathcal S$ of allowed changes,

$$ \max_{\delta \in \mathcal S} \; \mathcal L\big(f(x + \delta), y\big). $$

**Images (continuous inputs).** With $\mathcal S = \{\lVert\delta\rVert_\infty \le \varepsilon\}$
the first-order Taylor expansion $\mathcal L(x + \delta) \approx \mathcal L(x) + \delta^\top \nabla_x
\mathcal L$ is maximised over the box by $\delta = \varepsilon\,\mathrm{sign}(\nabla_x \mathcal L)$:
that is **FGSM** (Goodfellow et al., 2015), one gradient step. **PGD** (Madry et al., 2018) iterates
it with a smaller step $\alpha$ and projects back onto the box (and the valid pixel range) after
each step,

$$ x_{t+1} = \Pi_{x + \mathcal S}\big(x_t + \alpha\,\mathrm{sign}(\nabla_x \mathcal L(x_t))\big), $$

the strongest first-order attack in practice. Accuracy against $\varepsilon$ is the ε–accuracy
curve: it starts at clean accuracy and falls, faster for PGD than FGSM.

**Tokens (discrete inputs).** Text cannot move by $\varepsilon$, but the gradient still ranks
substitutions. Write token $i$ as a one-hot $e_{x_i}$ times the embedding matrix; swapping it for
token $v$ changes the loss by about $(e_v - e_{x_i})^\top \nabla_{e_i}\mathcal L$. **HotFlip**
(Ebrahimi et al., 2018) makes the single best flip by this estimate, and repeats: one gradient
per flip, the flip chosen over every position and every token at once (here the few best
estimates are also evaluated exactly, a beam of one step, since a first-order estimate over a
whole vocabulary is often wrong about its very best entry). **GCG** (Zou et al., 2023,
the attack behind universal jailbreak suffixes) keeps the gradient only as a filter: take the
top-$k$ tokens by $-\nabla_{e_i}\mathcal L$ at each position of an adversarial suffix, try a batch
of random single swaps drawn from them, evaluate each *exactly*, and keep the best. The attack
here minimises the loss of a chosen target next-token after `prompt + suffix`; it succeeds when
the target becomes the model's greedy prediction.

**The budget.** Both attacks are counted in gradient evaluations and exact forward passes: HotFlip
spends one gradient and `candidates` forwards per flip, GCG one gradient and `batch` forwards per
step. The capstone's tests run both against the trained tiny capstone model, forcing chosen next
tokens, and assert the success rate each reaches in its budget; `capstone/bench/token_attacks.py`
prints the measured rates (`capstone/bench/results/token_attacks.txt`).

## References

- I. Goodfellow, J. Shlens, C. Szegedy, *Explaining and Harnessing Adversarial Examples*, ICLR 2015, [arXiv:1412.6572](https://arxiv.org/abs/1412.6572).
- A. Madry et al., *Towards Deep Learning Models Resistant to Adversarial Attacks*, ICLR 2018, [arXiv:1706.06083](https://arxiv.org/abs/1706.06083).
- J. Ebrahimi et al., *HotFlip: White-Box Adversarial Examples for Text Classification*, ACL 2018, [arXiv:1712.06751](https://arxiv.org/abs/1712.06751).
- A. Zou et al., *Universal and Transferable Adversarial Attacks on Aligned Language Models*, 2023, [arXiv:2307.15043](https://arxiv.org/abs/2307.15043).

Left out: adversarial training (the defence), $L^2$ attacks (C&W), black-box attacks, and
multi-token target strings (GCG's loss is then the sum over the target's tokens; the code is the
same with a longer target).

![Accuracy against epsilon for FGSM and PGD](figures/eps_accuracy.png)

>>> import torch
>>> net = torch.nn.Linear(2, 2)
>>> x = torch.tensor([[0.5, 0.5]])
>>> bool((fgsm(net, x, torch.tensor([0]), 0.1) - x).abs().max() <= 0.1 + 1e-7)
True

## Exercises

1. Write `solution_1_targeted_fgsm(model, x, target, eps)`: a step that *lowers* the loss of a
   chosen target class, $x - \varepsilon\,\mathrm{sign}(\nabla_x \mathcal L(x, t))$, clamped to
   $[0, 1]$. Check it: `uv run pytest --exercise safety.adversarial`.
2. Write `solution_2_hotflip_gain(model, ids, position, token)`: the first-order estimate of the
   loss change when `ids[position]` becomes `token`, and compare with `hotflip_scores`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

# ## FGSM and PGD
#
# Both take a classifier `(B, ...) -> (B, K)`, inputs in `[lo, hi]` and integer labels. The loss is
# the summed cross-entropy: its sign-gradient equals that of the mean.


def _input_grad(model: nn.Module, x: Tensor, y: Tensor) -> Tensor:
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
    return g


# FGSM: the L-inf ball's corner in the direction the loss grows fastest, to first order.
def fgsm(
    model: nn.Module, x: Tensor, y: Tensor, eps: float, *, lo: float = 0.0, hi: float = 1.0
) -> Tensor:
    """One signed-gradient step of size `eps` that raises the loss, clamped to `[lo, hi]`."""
    if eps < 0:
        raise ValueError(f"eps must be >= 0, got {eps}")
    return torch.clamp(x + eps * torch.sign(_input_grad(model, x, y)), lo, hi).detach()


# PGD repeats smaller FGSM steps and projects back after each one, so it follows the loss surface
# where one linear step would overshoot.
def pgd(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    eps: float,
    *,
    step_size: float,
    steps: int,
    lo: float = 0.0,
    hi: float = 1.0,
) -> Tensor:
    """`steps` signed-gradient steps of `step_size`, each projected onto the L-inf ball of `eps`."""
    if eps < 0 or step_size <= 0 or steps < 1:
        raise ValueError(
            f"need eps >= 0, step_size > 0, steps >= 1; got {eps}, {step_size}, {steps}"
        )
    adv = x.detach().clone()
    for _ in range(steps):
        adv = adv + step_size * torch.sign(_input_grad(model, adv, y))
        # Project: first onto the box around x, then onto the valid pixel range.
        adv = torch.clamp(x + torch.clamp(adv - x, -eps, eps), lo, hi).detach()
    return adv


# Robustness is a curve, not a number: accuracy as the attacker's budget grows.
def accuracy_under_attack(
    model: nn.Module, x: Tensor, y: Tensor, epsilons: list[float], attack: Callable[..., Tensor]
) -> list[float]:
    """Accuracy on `attack(model, x, y, eps)` for each `eps`: the ε–accuracy curve."""
    curve = []
    for eps in epsilons:
        adv = attack(model, x, y, eps)
        with torch.no_grad():
            curve.append(float((model(adv).argmax(1) == y).double().mean()))
    return curve


# ## A small image task
#
# Ten-by-ten grey images of three classes, a horizontal bar, a vertical bar and a diagonal, at a
# random place, plus noise. A small perceptron learns it to 100% in a second,
# which is the point: a perfect clean score still falls apart under small perturbations.


def bar_images(n: int, *, seed: int, size: int = 10, noise: float = 0.15) -> tuple[Tensor, Tensor]:
    """`n` images `(n, 1, size, size)` in [0, 1] and labels `(n,)` in {0, 1, 2}."""
    # Balanced classes; each bar at a random row, column or diagonal offset away from the edges.
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    x = torch.zeros(n, 1, size, size)
    offsets = torch.randint(1, size - 1, (n,), generator=g)
    for i in range(n):
        o = int(offsets[i])
        if labels[i] == 0:
            x[i, 0, o, :] = 1
        elif labels[i] == 1:
            x[i, 0, :, o] = 1
        else:
            x[i, 0] = torch.eye(size).roll(o - size // 2, dims=1)
    # Dim the bars to 0.8 and add uniform noise, so pixels are not just 0 or 1.
    x = (x * 0.8 + noise * torch.rand(x.shape, generator=g)).clamp(0, 1)
    return x, labels


# Full-batch Adam on 300 images; the test set comes from another seed.
def small_classifier() -> nn.Module:
    """A two-layer perceptron for `bar_images` (a convolution would do too, at ten times the cost)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(100, 32), nn.ReLU(), nn.Linear(32, 3))


def train_image_classifier(steps: int = 100, *, seed: int = 0) -> tuple[nn.Module, Tensor, Tensor]:
    """A trained `small_classifier` and a held-out test set `(x, y)`."""
    torch.manual_seed(seed)
    model = small_classifier()
    x, y = bar_images(300, seed=seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model.eval(), *bar_images(150, seed=seed + 1)


# ## Token attacks on a language model
#
# The model is any `(B, T) ids -> (B, T, V)` logits module with a `tok_emb` embedding (the
# `LanguageModel` of `llm`). The gradient with respect to a one-hot input is $W_E \nabla_{e_i}
# \mathcal L$, computed by feeding `one_hot @ W_E` through the rest of the model: the embedding
# module is bypassed with a forward hook that returns our differentiable embeddings.


def _target_loss(logits: Tensor, target: int) -> Tensor:
    return F.cross_entropy(logits[:, -1], torch.full((logits.shape[0],), target), reduction="none")


# The hook replaces the embedding module's output with `one_hot @ W_E`, which equals it in value
# but carries a gradient to the one-hot matrix; it is removed even if the forward pass fails.
def token_gradients(model: nn.Module, ids: Tensor, target: int) -> Tensor:
    r"""$\partial \mathcal L / \partial (\text{one-hot})$ `(T, V)` for ids `(T,)`, the loss of `target` next."""
    w = model.tok_emb.weight  # (V, C)
    one_hot = F.one_hot(ids, w.shape[0]).to(w.dtype).requires_grad_(True)  # (T, V)
    embeds = (one_hot @ w)[None]  # (1, T, C)
    handle = model.tok_emb.register_forward_hook(lambda _m, _i, _o: embeds)
    try:
        loss = _target_loss(model(ids[None]), target).sum()
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(loss, one_hot)
    return g


# Swapping token $x_i$ for $v$ moves the one-hot input by $e_v - e_{x_i}$, so to first order the
# loss changes by the difference of the two gradient entries.
def hotflip_scores(model: nn.Module, ids: Tensor, target: int) -> Tensor:
    """First-order loss change `(T, V)` of setting position $i$ to token $v$:
    $g_{i,v} - g_{i, x_i}$ with $g$ the one-hot gradient."""
    g = token_gradients(model, ids, target)  # (T, V)
    return g - g.gather(1, ids[:, None])


# HotFlip (Ebrahimi et al., 2018) searches greedily: trust the first-order scores to shortlist
# swaps, and the exact loss to choose among them.
def hotflip_attack(
    model: nn.Module,
    prompt: Tensor,
    target: int,
    *,
    suffix_len: int = 4,
    flips: int = 10,
    candidates: int = 8,
    seed: int = 0,
) -> tuple[Tensor, bool, int]:
    """HotFlip: a suffix `(suffix_len,)` after `prompt` `(T,)` that makes `target` the greedy
    next token, one flip at a time. Returns the suffix, success, and the flips used.

    Each flip ranks every (position, token) swap of the suffix by `hotflip_scores` and keeps the
    best of the `candidates` lowest estimates (and the unchanged suffix) by the exact loss.

    >>> import torch
    >>> from masterclass.llm import LanguageModel, LMConfig
    >>> _ = torch.manual_seed(0)
    >>> lm = LanguageModel(LMConfig(vocab_size=32, d_model=16, n_layers=1, n_heads=2)).eval()
    >>> suffix, ok, used = hotflip_attack(lm, torch.tensor([1, 2, 3]), 7, flips=3)
    >>> suffix.shape, isinstance(ok, bool), 1 <= used <= 3
    (torch.Size([4]), True, True)
    """
    # Every count must be at least one, or the search has nothing to try.
    if suffix_len < 1 or flips < 1 or candidates < 1:
        raise ValueError(
            f"suffix_len, flips and candidates must all be >= 1, got {suffix_len}, {flips}, "
            f"{candidates}"
        )
    # Start from a random suffix; the prompt's length marks where the suffix begins.
    g = torch.Generator().manual_seed(seed)
    vocab = model.tok_emb.weight.shape[0]
    suffix = torch.randint(0, vocab, (suffix_len,), generator=g)
    n = len(prompt)
    for flip in range(1, flips + 1):
        # The first-order loss change of every single swap in the suffix, (S, V); the lowest
        # `candidates` of them, over all positions together, are tried exactly.
        scores = hotflip_scores(model, torch.cat([prompt, suffix]), target)[n:]  # (S, V)
        best_flat = scores.flatten().topk(min(candidates, scores.numel()), largest=False).indices
        trials = suffix.repeat(len(best_flat), 1)  # (c, S)
        trials[torch.arange(len(best_flat)), best_flat // vocab] = best_flat % vocab
        trials = torch.cat([suffix[None], trials])  # keep the current suffix as a candidate
        # The exact loss of every candidate in one batch; keep the lowest, stop once greedy.
        with torch.no_grad():
            logits = model(torch.cat([prompt.expand(len(trials), -1), trials], dim=1))
            losses = _target_loss(logits, target)  # (c + 1,)
        best = int(losses.argmin())
        suffix = trials[best]
        if int(logits[best, -1].argmax()) == target:
            return suffix, True, flip
    return suffix, False, flips


# GCG (Zou et al., 2023) differs from HotFlip in its candidates: the gradient only shortlists
# tokens per position, and random swaps from the shortlists are scored exactly, which escapes
# the first-order estimate's mistakes.
def gcg_attack(
    model: nn.Module,
    prompt: Tensor,
    target: int,
    *,
    suffix_len: int = 4,
    steps: int = 20,
    top_k: int = 16,
    batch: int = 32,
    seed: int = 0,
) -> tuple[Tensor, bool, int]:
    """Greedy coordinate gradient: a suffix `(suffix_len,)` after `prompt` `(T,)` that makes
    `target` the greedy next token. Returns the suffix, success, and the steps used."""
    if suffix_len < 1 or steps < 1 or top_k < 1 or batch < 1:
        raise ValueError("suffix_len, steps, top_k and batch must all be >= 1")
    # As in HotFlip: a random starting suffix, placed after the prompt's `n` tokens.
    g = torch.Generator().manual_seed(seed)
    vocab = model.tok_emb.weight.shape[0]
    suffix = torch.randint(0, vocab, (suffix_len,), generator=g)
    n = len(prompt)
    for step in range(1, steps + 1):
        ids = torch.cat([prompt, suffix])
        # Candidates: the top-k tokens by the most negative gradient at each suffix position.
        grad = token_gradients(model, ids, target)[n:]  # (S, V)
        top = (-grad).topk(min(top_k, vocab), dim=1).indices  # (S, k)
        # A batch of single swaps, each at a random position with a random candidate.
        pos = torch.randint(0, suffix_len, (batch,), generator=g)
        pick = torch.randint(0, top.shape[1], (batch,), generator=g)
        trials = suffix.repeat(batch, 1)  # (batch, S)
        trials[torch.arange(batch), pos] = top[pos, pick]
        trials = torch.cat([suffix[None], trials])  # keep the current suffix as a candidate
        # As in HotFlip: exact losses in one batch, keep the best, stop once `target` is greedy.
        with torch.no_grad():
            logits = model(torch.cat([prompt.expand(len(trials), -1), trials], dim=1))
            losses = _target_loss(logits, target)  # (batch + 1,)
        best = int(losses.argmin())
        suffix = trials[best]
        if int(logits[best, -1].argmax()) == target:
            return suffix, True, step
    return suffix, False, steps


# One attack per target, each with its own seed; the mean cost counts only the successes.
def attack_success_rate(
    model: nn.Module,
    prompt: Tensor,
    targets: list[int],
    *,
    attack: Callable[..., tuple[Tensor, bool, int]] | None = None,
    **options,
) -> tuple[float, float]:
    """Fraction of `targets` an attack (`gcg_attack` unless `attack` says, e.g.
    `hotflip_attack`) reaches, and the mean steps (flips) of the successful attacks."""
    attack = gcg_attack if attack is None else attack
    results = [attack(model, prompt, t, seed=i, **options) for i, t in enumerate(targets)]
    wins = [steps for _, ok, steps in results if ok]
    return len(wins) / len(targets), (sum(wins) / len(wins) if wins else math.nan)
