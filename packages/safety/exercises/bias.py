r"""# Exercises: Bias detection and mitigation

The WEAT association of one word, and the counterfactual swap."""

import numpy as np

from masterclass.safety.bias import association, counterfactual_augment


def solution_1_association(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Mean cosine with A minus mean cosine with B."""

    def cos(u, v):
        return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))

    return float(np.mean([cos(w, x) for x in a]) - np.mean([cos(w, x) for x in b]))


def check_1_association(fn) -> None:
    """Compare with the chapter's vectorised `association`."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    for _ in range(3):
        w = rng.normal(size=6)
        expected = float(association(w, a, b)[0])
        got = fn(w, a, b)
        assert abs(got - expected) < 1e-10, f"expected s(w, A, B) = {expected:.6f}, got {got}"


def solution_2_swap(sentence: list[str], pairs: list[list[str]]) -> list[str]:
    """Each word of a pair replaced by its partner."""
    swap = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    return [swap.get(w, w) for w in sentence]


def check_2_swap(fn) -> None:
    """Compare with the second half of `counterfactual_augment`."""
    pairs = [["he", "she"], ["his", "her"]]
    for sentence in (["he", "took", "her", "book"], ["she", "and", "he"], ["nobody"]):
        expected = counterfactual_augment([sentence], pairs)[1]
        got = fn(list(sentence), pairs)
        assert got == expected, f"{sentence}: expected {expected}, got {got}"
