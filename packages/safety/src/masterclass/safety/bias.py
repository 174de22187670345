r"""# Bias detection and mitigation

A model learns the associations of its data, including those we would not endorse. Measuring
them comes first; three measurements cover the three places bias shows.

**In embeddings: WEAT.** The Word Embedding Association Test (Caliskan et al., 2017) transposes the
psychologists' implicit association test. Two sets of *target* words $X, Y$ (male, female names)
and two sets of *attribute* words $A, B$ (career, family). Each word's association is

$$ s(w, A, B) = \operatorname{mean}_{a \in A} \cos(w, a) - \operatorname{mean}_{b \in B} \cos(w, b), $$

and the effect size is a standardised difference of means (Cohen's $d$),

$$ d = \frac{\operatorname{mean}_{x \in X} s(x, A, B) - \operatorname{mean}_{y \in Y} s(y, A, B)}
           {\operatorname{std}_{w \in X \cup Y} s(w, A, B)} \in [-2, 2]. $$

Its significance comes from a **permutation test**: under the null hypothesis that $X$ and $Y$ are
interchangeable, every equal-size split $(X_i, Y_i)$ of $X \cup Y$ is equally likely, so the
one-sided p-value is the fraction of splits whose statistic $S = \sum_{x} s(x) - \sum_y s(y)$ is
at least the observed one (all $\binom{2n}{n}$ splits when that is small, a random sample
otherwise). SEAT (May et al., 2019) is the same test with sentence embeddings.

**In decisions: group fairness.** For a classifier's decisions $\hat y$ and a sensitive attribute
$g$, *demographic parity* asks $P(\hat y = 1 \mid g)$ to be equal across groups and *equalized
odds* (Hardt et al., 2016) asks the true- and false-positive rates to be. The gaps are the spread
(max minus min over groups), and for equalized odds the larger of the two spreads: `fairlearn`'s
definitions, which the test matches.

**In a language model: templated probes.** Fill templates ("The {occupation} said that") and
compare the model's log-probabilities of continuations (" he" against " she").

**Mitigation.** *Counterfactual data augmentation* (Lu et al., 2020; Zmigrod et al., 2019) adds a
copy of each training sentence with the gendered words swapped, so that the corpus, and any
statistics of it, become symmetric in the pairs. *Hard debiasing* (Bolukbasi et al., 2016) edits
the embeddings instead: estimate a gender direction $\hat g$ from the pair differences (their first
principal component) and project it out of every word that should be neutral,
$w \leftarrow w - (w^\top \hat g)\hat g$. Both shrink the measured effect; neither removes bias
that the test does not look for (Gonen and Goldberg, 2019, *Lipstick on a Pig*).

The embeddings here are built with `nlp`'s vocabulary and co-occurrence counts, turned into
positive PMI and factorised by SVD (Levy and Goldberg, 2014): deterministic, and exact enough that a
symmetric corpus gives exactly symmetric vectors.

## References

- A. Caliskan, J. Bryson, A. Narayanan, *Semantics derived automatically from language corpora contain human-like biases*, Science 2017, [arXiv:1608.07187](https://arxiv.org/abs/1608.07187).
- C. May et al., *On Measuring Social Biases in Sentence Encoders*, NAACL 2019, [arXiv:1903.10561](https://arxiv.org/abs/1903.10561).
- M. Hardt, E. Price, N. Srebro, *Equality of Opportunity in Supervised Learning*, NeurIPS 2016, [arXiv:1610.02413](https://arxiv.org/abs/1610.02413).
- T. Bolukbasi et al., *Man is to Computer Programmer as Woman is to Homemaker?*, NeurIPS 2016, [arXiv:1607.06520](https://arxiv.org/abs/1607.06520).
- K. Lu et al., *Gender Bias in Neural NLP*, 2020, [arXiv:1807.11714](https://arxiv.org/abs/1807.11714).
- H. Gonen, Y. Goldberg, *Lipstick on a Pig*, NAACL 2019, [arXiv:1903.03862](https://arxiv.org/abs/1903.03862).

Left out: intersectional groups, calibration-based fairness criteria, and in-processing
mitigations (constrained training, adversarial debiasing).

>>> import numpy as np
>>> y_pred = np.array([1, 0, 1, 1])   # group a: 1 of 2 positive, group b: 2 of 2
>>> float(demographic_parity_difference(y_pred, np.array(["a", "a", "b", "b"])))
0.5

## Exercises

1. Write `solution_1_association(w, A, B)`: $s(w, A, B)$ for a vector `w` `(C,)` and attribute
   matrices `A`, `B` `(n, C)`. Check it: `uv run pytest --exercise safety.bias`.
2. Write `solution_2_swap(sentence, pairs)`: the counterfactual of a tokenised sentence, each word
   of a pair replaced by its partner.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Sequence

import numpy as np

from masterclass.nlp.embeddings import Vocabulary, cooccurrence

# ## WEAT
#
# Rows are normalised once, so that cosines are dot products.


def _unit(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=-1, keepdims=True)


def association(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """$s(w, A, B)$ for each row of `w` `(n, C)` against attribute rows `a`, `b`, `(n,)`."""
    w, a, b = _unit(np.atleast_2d(w)), _unit(a), _unit(b)
    return (w @ a.T).mean(1) - (w @ b.T).mean(1)


def weat(
    x: np.ndarray,
    y: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """WEAT effect size and one-sided permutation p-value; `x`, `y` `(n, C)` of equal size."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"X and Y must have one size >= 2, got {len(x)} and {len(y)}")
    # The effect size is the gap of mean associations of X and Y, in units of the standard
    # deviation over both; the test statistic is the gap of their sums.
    s = association(np.concatenate([x, y]), a, b)  # (2n,)
    n = len(x)
    effect = (s[:n].mean() - s[n:].mean()) / s.std(ddof=1)
    observed = s[:n].sum() - s[n:].sum()
    # Every split (exact) when there are few, else a seeded random sample of splits.
    total = s.sum()
    if math.comb(2 * n, n) <= n_permutations:
        splits = itertools.combinations(range(2 * n), n)
    else:
        rng = random.Random(seed)
        splits = (rng.sample(range(2 * n), n) for _ in range(n_permutations))
    stats = np.array([2 * s[list(idx)].sum() - total for idx in splits])
    # Ties count as "at least as extreme"; a tiny tolerance absorbs float rounding of equal sums.
    p_value = float((stats >= observed - 1e-12).mean())
    return float(effect), p_value


# ## Group fairness gaps
#
# Rates per group, then the spread. A group with no positives (or no negatives) has no TPR (FPR);
# fairlearn then reports NaN, and so do we.


def _spread(values: list[float]) -> float:
    return float(max(values) - min(values))


def demographic_parity_difference(y_pred: np.ndarray, groups: np.ndarray) -> float:
    r"""$\max_g P(\hat y = 1 \mid g) - \min_g P(\hat y = 1 \mid g)$."""
    y_pred, groups = np.asarray(y_pred), np.asarray(groups)
    return _spread([float(y_pred[groups == g].mean()) for g in np.unique(groups)])


def equalized_odds_difference(y_true: np.ndarray, y_pred: np.ndarray, groups: np.ndarray) -> float:
    """The larger of the true-positive-rate spread and the false-positive-rate spread."""
    y_true, y_pred, groups = np.asarray(y_true), np.asarray(y_pred), np.asarray(groups)
    if not (len(y_true) == len(y_pred) == len(groups)):
        raise ValueError(
            f"y_true, y_pred and groups must have one length, got {len(y_true)}, {len(y_pred)}, {len(groups)}"
        )
    # Per group: the rate of positive predictions among true positives (TPR) and among true
    # negatives (FPR); equalized odds asks both to match across groups.
    tpr, fpr = [], []
    for g in np.unique(groups):
        m = groups == g
        tpr.append(float(y_pred[m & (y_true == 1)].mean()))
        fpr.append(float(y_pred[m & (y_true == 0)].mean()))
    return max(_spread(tpr), _spread(fpr))


# ## Embeddings from counts
#
# Positive PMI, $\max(0, \log \frac{p(w, c)}{p(w) p(c)})$, of `nlp`'s window-weighted
# co-occurrence counts, then a rank-`dim` SVD: $W = U_{:d}\, \Sigma_{:d}^{1/2}$.


def ppmi_svd_embeddings(
    sentences: Sequence[Sequence[str]], *, dim: int = 8, window: int = 4
) -> tuple[Vocabulary, np.ndarray]:
    """A vocabulary and its word vectors `(V, dim)`."""
    vocab = Vocabulary(sentences)
    counts = cooccurrence(vocab.encode(sentences), len(vocab.words), window)  # (V, V)
    total = counts.sum()
    row = counts.sum(1, keepdims=True)  # (V, 1)
    # Pairs never seen give log 0 = -inf, which the clip at 0 turns into 0, as PPMI defines.
    with np.errstate(divide="ignore"):
        pmi = np.log(counts * total / (row * row.T))  # (V, V)
    ppmi = np.maximum(pmi, 0.0)
    u, sigma, _ = np.linalg.svd(ppmi)
    return vocab, u[:, :dim] * np.sqrt(sigma[:dim])


def vectors(vocab: Vocabulary, emb: np.ndarray, words: Sequence[str]) -> np.ndarray:
    """Rows of `emb` for `words`, `(n, C)`."""
    missing = [w for w in words if w not in vocab.ids]
    if missing:
        raise ValueError(f"words not in the vocabulary: {missing}")
    return emb[[vocab.ids[w] for w in words]]


# ## A biased corpus and its counterfactual
#
# Each sentence is a gendered word among three attribute words; each attribute comes from the
# side's stereotyped set (career for male words, family for female ones) with probability `bias`.
# Embeddings place words with shared contexts close together, so the words of one sentence grow
# alike. Counterfactual augmentation adds every sentence again with each gendered word swapped for
# its partner.


def biased_corpus(words: dict, n: int, *, bias: float = 0.8, seed: int = 0) -> list[list[str]]:
    """`n` four-word sentences, a gendered word and three attributes, with the stated bias."""
    rng = random.Random(seed)
    sentences = []
    for i in range(n):
        side = ("male", "female")[i % 2]
        own, other = ("career", "family") if side == "male" else ("family", "career")
        attrs = [rng.choice(words[own] if rng.random() < bias else words[other]) for _ in range(3)]
        sentence = [rng.choice(words[side]), *attrs]
        rng.shuffle(sentence)
        sentences.append(sentence)
    return sentences


def counterfactual_augment(
    sentences: Sequence[Sequence[str]], pairs: Sequence[Sequence[str]]
) -> list[list[str]]:
    """The sentences followed by their gender-swapped copies."""
    swap = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    return [list(s) for s in sentences] + [[swap.get(w, w) for w in s] for s in sentences]


# ## Hard debiasing
#
# The direction is the first principal component of the centred pair differences $w_a - w_b$
# (Bolukbasi et al. use the pair-centred vectors; for pairs the two agree up to sign). Words in
# `keep` (the gendered ones themselves) are left alone.


def gender_direction(
    emb: np.ndarray, vocab: Vocabulary, pairs: Sequence[Sequence[str]]
) -> np.ndarray:
    """Unit vector `(C,)` along which the pairs differ most."""
    diffs = np.stack(
        [vectors(vocab, _unit(emb), [a])[0] - vectors(vocab, _unit(emb), [b])[0] for a, b in pairs]
    )
    _, _, vt = np.linalg.svd(diffs, full_matrices=False)
    return vt[0]


def hard_debias(
    emb: np.ndarray, vocab: Vocabulary, direction: np.ndarray, keep: Sequence[str]
) -> np.ndarray:
    """Embeddings `(V, C)` with `direction` projected out of every word not in `keep`."""
    out = _unit(emb).copy()
    neutral = np.array([w not in set(keep) for w in vocab.words])
    out[neutral] -= np.outer(out[neutral] @ direction, direction)
    return out


# ## A templated probe of a language model
#
# `score(context, continuation)` is any log-likelihood function, e.g. `training.few_shot`'s
# `loglikelihood` bound to a model and tokenizer. The bias of a filled template is the log-odds of
# the two targets; the probe reports the mean per occupation.

Scorer = Callable[[str, str], float]


def template_probe(
    score: Scorer, templates: Sequence[str], occupations: Sequence[str], targets: Sequence[str]
) -> dict[str, float]:
    r"""Mean $\log p(t_0 \mid \text{ctx}) - \log p(t_1 \mid \text{ctx})$ over templates, per occupation."""
    if len(targets) != 2:
        raise ValueError(f"targets must be two continuations, got {list(targets)}")
    out = {}
    for occ in occupations:
        gaps = [
            score(t.format(occupation=occ), targets[0])
            - score(t.format(occupation=occ), targets[1])
            for t in templates
        ]
        out[occ] = sum(gaps) / len(gaps)
    return out
