r"""# Exercises: Benchmark suites: an evaluation harness over shipped tasks

pass@k from binomial coefficients, and the bias of the naive estimate."""

import math

from masterclass.safety.harness import pass_at_k


def solution_1_pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n - c, k) / C(n, k)."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def check_1_pass_at_k(fn) -> None:
    """Compare with the chapter's product form over a grid."""
    for n in (1, 5, 20):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = pass_at_k(n, c, k)
                got = fn(n, c, k)
                assert abs(got - expected) < 1e-9, (
                    f"n={n}, c={c}, k={k}: expected {expected}, got {got}"
                )


def solution_2_naive_bias(n: int, c: int, k: int) -> float:
    """Naive 1 - (1 - c/n)^k minus the unbiased pass@k."""
    return (1 - (1 - c / n) ** k) - pass_at_k(n, c, k)


def check_2_naive_bias(fn) -> None:
    """The gap is never positive, and zero for k = 1."""
    for n in (4, 10):
        for c in range(n + 1):
            assert abs(fn(n, c, 1)) < 1e-12, "for k = 1 both estimates are c / n"
            for k in range(2, n + 1):
                gap = fn(n, c, k)
                expected = (1 - (1 - c / n) ** k) - pass_at_k(n, c, k)
                assert abs(gap - expected) < 1e-12 and gap <= 1e-12, (
                    f"n={n}, c={c}, k={k}: gap {gap}"
                )
