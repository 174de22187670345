r"""# Data augmentation for text: EDA, token noise and mixup

When labelled data is scarce, a model can be shown *variations* of each example that should not
change its label. For images that is cropping and flipping; for text, Wei and Zou (2019) showed
that four trivial edits ("Easy Data Augmentation", EDA) help small classifiers on small data:

- **synonym replacement (SR)**: replace $n$ words by a synonym from a lexicon;
- **random insertion (RI)**: insert a synonym of a random word at a random position, $n$ times;
- **random swap (RS)**: swap two random words, $n$ times;
- **random deletion (RD)**: delete each word independently with probability $p$ (keeping one).

With a sentence of $\ell$ words, $n = \max(1, \lfloor \alpha \ell \rfloor)$, so longer sentences
get more edits; each augmented copy applies one of the four operations. The lexicon here is a
small shipped file (`data/synonyms.tsv`); the paper used WordNet.

**Token noise** corrupts token ids as BERT's masked-LM objective does: each position is selected
with probability $p$; a selected token becomes `mask_id` with probability $0.8$, a uniformly
random token with $0.1$, and stays with $0.1$. The expected fraction of positions changed is
therefore $p(0.8 + 0.1 (1 - 1/V))$.

**Mixup** (Zhang et al., 2018) trains on convex combinations of pairs. For text the inputs are
discrete, so the mix is applied to embeddings (Guo et al., 2019): with $\lambda \sim
\mathrm{Beta}(\alpha, \alpha)$ and a random pairing $\pi$ of the batch,
$$ \tilde e_i = \lambda e_i + (1 - \lambda) e_{\pi(i)}, \qquad
   \tilde y_i = \lambda y_i + (1 - \lambda) y_{\pi(i)} . $$
Cross-entropy is linear in the target, so the loss against the soft $\tilde y_i$ equals
$\lambda\, \mathrm{CE}(z, y_i) + (1 - \lambda)\, \mathrm{CE}(z, y_{\pi(i)})$ for the same logits
$z$: the form most implementations use, checked in the test.

The measured effect on a small bag-of-words classifier is in `bench/augmentation.py` (its output
in `bench/results/augmentation.txt`): trained on sentences with the lexicon's head words only and
tested on sentences with their synonyms only, the classifier is at chance without augmentation
and well above it with EDA; the script prints both accuracies and their ratio.

References: J. Wei and K. Zou, *EDA: Easy Data Augmentation Techniques for Boosting Performance on
Text Classification Tasks*, EMNLP 2019, <https://arxiv.org/abs/1901.11196>; H. Zhang et al.,
*mixup: Beyond Empirical Risk Minimization*, ICLR 2018; H. Guo et al., *Augmenting Data with
Mixup for Sentence Classification*, 2019; J. Devlin et al., *BERT*, 2019 (the 80/10/10 rule).

Left out: back-translation and paraphrasing with a model, and augmentation of LLM pretraining
data (where deduplication, not augmentation, is the concern).

## Exercises

1. Write `swap_preserves(words, swapped)`: True when `swapped` is a reordering of `words` (what
   every random swap must keep).
   Check it: `uv run pytest --exercise infra.augmentation`
2. Write `mixup_targets(y_a, y_b, lam)`, the soft targets of mixup from two one-hot batches.
   Check it: `uv run pytest --exercise infra.augmentation`
"""

from __future__ import annotations

import csv
import random
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

# The four word-level operations of EDA, the combined `eda`, and two augmentations that act on token
# ids and embeddings rather than on words.
__all__ = [
    "eda",
    "load_lexicon",
    "mixup",
    "random_delete",
    "random_insert",
    "random_swap",
    "synonym_replace",
    "token_noise",
]


@lru_cache(maxsize=1)
def load_lexicon() -> dict[str, tuple[str, ...]]:
    """The shipped synonym lexicon: word -> synonyms (symmetric: each synonym maps back too)."""
    # Each line of the TSV is a word and its comma-separated synonyms; the group is made symmetric,
    # so every member lists all the others. Loaded once and cached.
    lex: dict[str, set[str]] = {}
    path = Path(__file__).parent / "data" / "synonyms.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        for word, syns in csv.reader(f, delimiter="\t"):
            group = {word, *syns.split(",")}
            for w in group:
                lex.setdefault(w, set()).update(group - {w})
    return {w: tuple(sorted(s)) for w, s in lex.items()}


# ## The four EDA operations
#
# Each takes a list of words and a `random.Random`, and returns a new list; none mutates its input.
def synonym_replace(words: list[str], n: int, rng: random.Random) -> list[str]:
    """Replace up to `n` distinct words that have synonyms by a random synonym."""
    lex = load_lexicon()
    out = list(words)
    candidates = [i for i, w in enumerate(out) if w.lower() in lex]
    rng.shuffle(candidates)
    for i in candidates[:n]:
        out[i] = rng.choice(lex[out[i].lower()])
    return out


# Insertion picks a synonym of a random word that has one and puts it anywhere: the sentence keeps
# its words and gains a related one. It stops early when no word has a synonym.
def random_insert(words: list[str], n: int, rng: random.Random) -> list[str]:
    """Insert, `n` times, a synonym of a random word (that has one) at a random position."""
    lex = load_lexicon()
    out = list(words)
    for _ in range(n):
        with_syn = [w for w in out if w.lower() in lex]
        if not with_syn:
            break
        out.insert(rng.randrange(len(out) + 1), rng.choice(lex[rng.choice(with_syn).lower()]))
    return out


# Swap and delete need no lexicon: they perturb the order and the length. A deletion never leaves
# the sentence empty.
def random_swap(words: list[str], n: int, rng: random.Random) -> list[str]:
    """Swap the words at two random positions, `n` times."""
    out = list(words)
    for _ in range(n if len(out) > 1 else 0):
        i, j = rng.randrange(len(out)), rng.randrange(len(out))
        out[i], out[j] = out[j], out[i]
    return out


def random_delete(words: list[str], p: float, rng: random.Random) -> list[str]:
    """Delete each word with probability `p`; if all go, keep one at random."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    out = [w for w in words if rng.random() >= p]
    return out if out or not words else [rng.choice(words)]


# ## EDA: several augmented copies of a sentence
def eda(sentence: str, alpha: float = 0.1, n_aug: int = 4, seed: int = 0) -> list[str]:
    """`n_aug` augmented copies, cycling through SR, RI, RS and RD with strength `alpha`.

    >>> eda("the movie was good and the book was bad", n_aug=4, seed=1)[:2]
    ['the movie was good and the book was poor', 'the terrible movie was good and the book was bad']
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha!r}")
    rng = random.Random(seed)
    words = sentence.split()
    n = max(1, int(alpha * len(words)))
    ops = (
        lambda w: synonym_replace(w, n, rng),
        lambda w: random_insert(w, n, rng),
        lambda w: random_swap(w, n, rng),
        lambda w: random_delete(w, alpha, rng),
    )
    return [" ".join(ops[k % 4](words)) for k in range(n_aug)]


# ## Token-level noise, BERT's 80/10/10
def token_noise(
    ids: Tensor, p: float, vocab_size: int, mask_id: int, generator: torch.Generator | None = None
) -> Tensor:
    """Corrupt token ids `(B, T)`: selected with prob. `p`; then 80% mask, 10% random, 10% kept."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
    u = torch.rand(ids.shape, generator=generator)
    v = torch.rand(ids.shape, generator=generator)
    random_ids = torch.randint(0, vocab_size, ids.shape, generator=generator)
    selected = u < p
    out = torch.where(selected & (v < 0.8), torch.full_like(ids, mask_id), ids)
    return torch.where(selected & (v >= 0.8) & (v < 0.9), random_ids, out)


# ## Mixup of embeddings
def mixup(
    emb: Tensor, targets: Tensor, alpha: float, seed: int = 0
) -> tuple[Tensor, Tensor, float]:
    r"""Mix a batch with a permutation of itself: `(emb (B, ...), soft targets (B, K), lambda)`.

    `targets` are one-hot or soft `(B, K)`; $\lambda \sim \mathrm{Beta}(\alpha, \alpha)$ from
    Python's `random.betavariate`, the pairing from `torch.randperm`, both seeded by `seed`.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0 (the Beta distribution's parameter), got {alpha!r}")
    lam = random.Random(seed).betavariate(alpha, alpha)
    perm = torch.randperm(emb.shape[0], generator=torch.Generator().manual_seed(seed))
    return lam * emb + (1 - lam) * emb[perm], lam * targets + (1 - lam) * targets[perm], lam
