r"""# Exercises: Quality metrics: perplexity, a fastText classifier and readability

Counting syllables, the Flesch formula and the classifier's output gradient, each checked against
an independent computation (the chapter's rule, hand-computed values, torch's autograd)."""

import re

import numpy as np
import torch

from masterclass.infra.quality import syllables


def solution_1_count_syllables(word: str) -> int:
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    if len(w) <= 3:
        return 1
    n = len(re.findall(r"[aeiouy]+", w))
    if (
        (w.endswith("e") and not w.endswith(("le", "ee", "ye")))
        or (w.endswith("ed") and not w.endswith(("ted", "ded")))
        or (
            w.endswith("es") and not w.endswith(("ses", "zes", "ces", "ges", "xes", "shes", "ches"))
        )
    ):
        n -= 1
    n += len(re.findall(r"(?<![cst])i(?:[ao]|en[tc])|oe[mt]", w)) + w.endswith("ea")
    return max(1, n)


def check_1_count_syllables(fn) -> None:
    words = [
        "the",
        "table",
        "make",
        "boxes",
        "jumped",
        "wanted",
        "radio",
        "idea",
        "poem",
        "patient",
        "client",
        "library",
        "a",
    ]
    for w in [*words, "", "Readability", "statistics!"]:
        got, want = fn(w), syllables(w)
        assert got == want, f"count_syllables({w!r}) = {got}, the chapter's rule gives {want}"


def solution_2_flesch_reading_ease(words: int, sentences: int, syllables: int) -> float:
    return 206.835 - 1.015 * words / sentences - 84.6 * syllables / words


def check_2_flesch_reading_ease(fn) -> None:
    # Hand-computed: "The cat sat on the mat." has 6 words, 1 sentence, 6 syllables.
    for args, want in [((6, 1, 6), 116.145), ((7, 2, 17), 206.835 - 3.5525 - 84.6 * 17 / 7),
                       ((100, 4, 150), 206.835 - 25.375 - 126.9)]:  # fmt: skip
        got = fn(*args)
        assert abs(got - want) < 1e-9, f"flesch_reading_ease{args} = {got}, expected {want}"


def solution_3_fasttext_grad_w(E, W, features, label: int) -> np.ndarray:
    h = E[features].mean(axis=0)
    z = W @ h
    p = np.exp(z - z.max())
    p /= p.sum()
    p[label] -= 1.0
    return np.outer(p, h)


def check_3_fasttext_grad_w(fn) -> None:
    rng = np.random.default_rng(0)
    E, W = rng.normal(size=(20, 4)), rng.normal(size=(3, 4))
    for features, label in [(np.array([1, 5, 5, 19]), 0), (np.array([2]), 2)]:
        got = np.asarray(fn(E, W, features, label))
        # Independent: torch's autograd through the same mean-pool, linear layer and softmax.
        Wt = torch.tensor(W, requires_grad=True)
        h = torch.tensor(E[features]).mean(0)
        torch.nn.functional.cross_entropy((Wt @ h)[None], torch.tensor([label])).backward()
        assert got.shape == W.shape, f"the gradient has W's shape {W.shape}, got {got.shape}"
        assert np.allclose(got, Wt.grad.numpy(), atol=1e-10), (
            f"fasttext_grad_w for features {features.tolist()}, label {label} differs from autograd"
        )
