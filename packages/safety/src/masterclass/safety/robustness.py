r"""# Robustness metrics: calibration, noise curves, distribution shift

Accuracy on a clean test set is one number about one distribution. Three more say how far to trust
a model off that path.

**Calibration.** A classifier is calibrated when, among the inputs it answers with confidence
$p$, a fraction $p$ is right: $P(\hat y = y \mid \hat p = p) = p$. The *expected calibration error*
(Naeini et al., 2015; Guo et al., 2017) estimates the gap by binning the top-class confidences into
$M$ equal-width bins $B_m$:

$$ \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n} \,\big|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\big| , $$

with $\mathrm{acc}(B_m)$ the accuracy and $\mathrm{conf}(B_m)$ the mean confidence in the bin. It is
the $L^1$ distance between the *reliability diagram* (accuracy against confidence per bin) and the
diagonal, weighted by how many predictions fall in each bin. Bins are left-closed,
$[\frac{m-1}{M}, \frac{m}{M})$, and a confidence of exactly 1 gets a bin of its own, as `torchmetrics`
does. Modern networks trained to zero loss are typically *over*-confident (Guo et al.); temperature
scaling, one scalar fitted on held-out data, fixes most of it.

**Accuracy under noise.** Corrupt the input at rate $p$ (swap, drop or replace characters; drop or
swap words) and plot accuracy against $p$. To make the curve monotone by construction rather than
by luck, the corruptions are *nested*: every character draws its random number once, and is
corrupted at rate $p$ when that number is below $p$, so the corruptions at $p$ are a subset of those
at any $p' > p$ (a coupling). Averaged over seeds the curve then falls smoothly.

**Distribution shift.** Train on one distribution, test on another: the gap
$\mathrm{acc}_{in} - \mathrm{acc}_{shift}$ is what deployment costs (Hendrycks and Dietterich, 2019,
measure it for images with ImageNet-C). The task here is a generated two-topic corpus; the shifted
test set writes the same topics with *synonyms* the classifier never saw in training.

## References

- C. Guo, G. Pleiss, Y. Sun, K. Weinberger, *On Calibration of Modern Neural Networks*, ICML 2017, [arXiv:1706.04599](https://arxiv.org/abs/1706.04599).
- M. P. Naeini, G. Cooper, M. Hauskrecht, *Obtaining Well Calibrated Probabilities Using Bayesian Binning*, AAAI 2015.
- D. Hendrycks, T. Dietterich, *Benchmarking Neural Network Robustness to Common Corruptions*, ICLR 2019, [arXiv:1903.12261](https://arxiv.org/abs/1903.12261).
- J. Morris et al., *TextAttack*, 2020, [arXiv:2005.05909](https://arxiv.org/abs/2005.05909) (character and word perturbations).

Left out: adaptive-width bins and debiased ECE, classwise ECE, and semantic-preserving paraphrase
attacks (the adversarial chapter searches for worst cases; this one measures average cases).

![Reliability diagram and accuracy under noise](figures/calibration.png)

>>> import torch
>>> probs = torch.tensor([[0.95, 0.05], [0.85, 0.15], [0.25, 0.75]])  # one per bin, away from edges
>>> round(float(expected_calibration_error(probs, torch.tensor([0, 1, 1]), n_bins=10)), 4)  # (0.05 + 0.85 + 0.25) / 3
0.3833
>>> char_noise("hello world", 0.0, seed=1), char_noise("hello world", 1.0, seed=1) != "hello world"
('hello world', True)

## Exercises

1. Write `solution_1_maximum_calibration_error(probs, labels, n_bins)`: the largest
   $|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)|$ over non-empty bins (torchmetrics' `norm="max"`).
   Check it: `uv run pytest --exercise safety.robustness`.
2. Write `solution_2_temperature(logits, labels)`: the temperature $T > 0$ minimising the negative
   log-likelihood of `softmax(logits / T)` (a grid search is fine); it must lower the ECE of an
   over-confident model.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

# ## Binning
#
# `bucketize` against the same `linspace` boundaries that torchmetrics uses puts every confidence in
# the same bin as it does, boundary cases included; per-bin sums come from `scatter_add`.


def reliability_bins(
    probs: Tensor, labels: Tensor, n_bins: int = 15
) -> tuple[Tensor, Tensor, Tensor]:
    """Per-bin accuracy, mean confidence and count, each `(n_bins + 1,)`.

    `probs` `(N, K)` class probabilities and `labels` `(N,)` integer classes: bins of the top-class
    confidence against its accuracy. For a binary task `probs` may be `(N,)`, the probability of
    class 1: then the bins hold that probability against the frequency of class 1 (torchmetrics'
    binary convention, the classic reliability diagram of a probability forecast).
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    probs = probs.double()
    if probs.dim() not in (1, 2) or labels.shape != probs.shape[:1]:
        raise ValueError(
            f"probs must be (N, K) or (N,) and labels (N,), got {tuple(probs.shape)} and {tuple(labels.shape)}"
        )
    # What is binned (`conf`) and what is averaged per bin (`correct`), for either convention.
    if probs.dim() == 1:
        conf, correct = probs, labels.double()  # (N,), (N,)
    else:
        conf, pred = probs.max(dim=1)  # (N,), (N,)
        correct = (pred == labels).double()  # (N,)
    # With `right=True` a confidence of exactly 1 lands in an extra last bin, hence `n_bins + 1`
    # slots; empty bins divide by 1 and report 0 with a count of 0.
    edges = torch.linspace(0, 1, n_bins + 1, dtype=torch.float64)
    idx = torch.bucketize(conf, edges, right=True) - 1  # (N,) bin of each prediction
    count = torch.zeros(n_bins + 1, dtype=torch.float64).scatter_add_(0, idx, torch.ones_like(conf))
    conf_sum = torch.zeros_like(count).scatter_add_(0, idx, conf)
    acc_sum = torch.zeros_like(count).scatter_add_(0, idx, correct)
    safe = count.clamp(min=1)
    return acc_sum / safe, conf_sum / safe, count


# Weighting by count makes ECE the mean gap per prediction, not per bin.
def expected_calibration_error(probs: Tensor, labels: Tensor, n_bins: int = 15) -> Tensor:
    """ECE: the count-weighted mean of |accuracy - confidence| over the bins, a scalar."""
    acc, conf, count = reliability_bins(probs, labels, n_bins)
    return ((acc - conf).abs() * count).sum() / count.sum()


# ## Nested noise
#
# `_draws` fixes, per character (or word), one uniform number and the corruption it would get: which
# operation and which replacement letter. `char_noise` then applies the corruptions whose number is
# below `p`. Same seed, larger `p`: a superset of the same corruptions.

_OPS = ("swap", "delete", "replace")


def _draws(n: int, seed: int) -> list[tuple[float, str, str]]:
    rng = random.Random(seed)
    return [(rng.random(), rng.choice(_OPS), rng.choice(string.ascii_lowercase)) for _ in range(n)]


# Only letters are corrupted; a swap consumes the next character too, so it is not corrupted
# again in the same pass.
def char_noise(text: str, p: float, *, seed: int) -> str:
    """`text` with each letter swapped with the next, deleted or replaced with probability `p`."""
    if not 0 <= p <= 1:
        raise ValueError(f"noise rate p must be in [0, 1], got {p}")
    # Walk the characters with their fixed draws; a draw below p corrupts its character.
    chars = list(text)
    draws = _draws(len(chars), seed)
    out: list[str] = []
    i = 0
    while i < len(chars):
        u, op, letter = draws[i]
        if u >= p or not chars[i].isalpha():
            out.append(chars[i])
        elif op == "swap" and i + 1 < len(chars):
            out += [chars[i + 1], chars[i]]
            i += 1
        elif op == "replace":
            out.append(letter)
        i += 1  # "delete" appends nothing
    return "".join(out)


# The same draws at word level, where a replacement letter means nothing: only swap or drop.
def word_noise(text: str, p: float, *, seed: int) -> str:
    """`text` with each word dropped or swapped with the next with probability `p`."""
    if not 0 <= p <= 1:
        raise ValueError(f"noise rate p must be in [0, 1], got {p}")
    words = text.split()
    draws = _draws(len(words), seed)
    out: list[str] = []
    i = 0
    while i < len(words):
        u, op, _ = draws[i]
        if u >= p:
            out.append(words[i])
        elif op == "swap" and i + 1 < len(words):
            out += [words[i + 1], words[i]]
            i += 1
        i += 1  # "delete" and "replace" drop the word
    return " ".join(out)


# ## A generated task
#
# Two topics, each a bag of eight content words, plus filler words both share. A sentence is six
# words, four from its topic. `shifted=True` draws the topic words from a second list of synonyms.

TOPICS = {
    "sport": (
        ["match", "goal", "team", "player", "coach", "score", "league", "stadium"],
        ["fixture", "striker", "squad", "athlete", "trainer", "tally", "tournament", "arena"],
    ),
    "food": (
        ["recipe", "oven", "flour", "butter", "sauce", "dinner", "spice", "kitchen"],
        ["dish", "stove", "dough", "cream", "gravy", "supper", "herb", "pantry"],
    ),
}
FILLER = ["the", "a", "of", "and", "to", "in", "was", "with"]


def topic_dataset(n: int, *, seed: int, shifted: bool = False) -> tuple[list[str], list[str]]:
    """`n` generated sentences and their topic labels; `shifted` uses the synonym vocabulary."""
    # Labels alternate, so the classes are balanced; the shuffle hides the filler's position.
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = sorted(TOPICS)[i % 2]
        words = TOPICS[label][1 if shifted else 0]
        sentence = [rng.choice(words) for _ in range(4)] + [rng.choice(FILLER) for _ in range(2)]
        rng.shuffle(sentence)
        texts.append(" ".join(sentence))
        labels.append(label)
    return texts, labels


# ## Curves and gaps
#
# A classifier is any function from a text to a label. Each noise level is averaged over `seeds`;
# seed `s` of text `j` is `1000 * s + j`, the same at every level, which is what nests the noise.

Classifier = Callable[[str], str]
Noise = Callable[..., str]


def accuracy(classify: Classifier, texts: Sequence[str], labels: Sequence[str]) -> float:
    """Fraction of `texts` that `classify` labels right."""
    if len(texts) != len(labels) or not texts:
        raise ValueError(f"need as many labels as texts (> 0), got {len(texts)} and {len(labels)}")
    return sum(classify(t) == y for t, y in zip(texts, labels, strict=True)) / len(texts)


# One point per level: the accuracy averaged over `seeds` corrupted copies of the whole set.
def accuracy_under_noise(
    classify: Classifier,
    texts: Sequence[str],
    labels: Sequence[str],
    noise: Noise,
    levels: Sequence[float],
    seeds: int = 5,
) -> list[float]:
    """Mean accuracy at each noise level, over `seeds` nested corruptions."""
    # The seed of text j in run s does not depend on p, so each level's corruptions contain the
    # lower levels'.
    curve = []
    for p in levels:
        runs = [
            accuracy(
                classify, [noise(t, p, seed=1000 * s + j) for j, t in enumerate(texts)], labels
            )
            for s in range(seeds)
        ]
        curve.append(sum(runs) / seeds)
    return curve


# Distribution shift as one number: how much accuracy the synonym vocabulary costs.
def shift_gap(
    classify: Classifier,
    in_distribution: tuple[Sequence[str], Sequence[str]],
    shifted: tuple[Sequence[str], Sequence[str]],
) -> dict[str, float]:
    """Accuracy in distribution, under shift, and their difference (`gap`)."""
    a_in, a_shift = accuracy(classify, *in_distribution), accuracy(classify, *shifted)
    return {"in_distribution": a_in, "shifted": a_shift, "gap": a_in - a_shift}
