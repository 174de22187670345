r"""# Exercises: Pruning: magnitude, Wanda, SparseGPT, 2:4, structured neurons and heads

Per-row masks and the Optimal Brain Surgeon cost, checked against numpy and a brute-force re-fit."""

import numpy as np
import torch


def solution_1_row_prune_mask(scores: torch.Tensor, sparsity: float) -> torch.Tensor:
    k = int(scores.shape[1] * sparsity)
    mask = torch.ones_like(scores, dtype=torch.bool)
    if k:
        mask.scatter_(1, scores.argsort(dim=1)[:, :k], False)
    return mask


def check_1_row_prune_mask(fn) -> None:
    # Against numpy: each row drops exactly its k smallest scores.
    rng = np.random.default_rng(0)
    for rows, cols, sp in [(4, 10, 0.5), (3, 7, 0.3), (2, 8, 0.0)]:
        s = rng.normal(size=(rows, cols))
        got = fn(torch.tensor(s), sp)
        k = int(cols * sp)
        want = np.ones((rows, cols), dtype=bool)
        for i in range(rows):
            want[i, np.argsort(s[i])[:k]] = False
        assert got.dtype == torch.bool and (got.numpy() == want).all(), f"mask for sparsity {sp}"


def solution_2_obs_cost(w: torch.Tensor, hinv_diag: torch.Tensor) -> torch.Tensor:
    return w**2 / hinv_diag


def check_2_obs_cost(fn) -> None:
    # Against brute force: remove weight q, re-fit the others by least squares on the inputs,
    # and measure the increase of the squared output error.
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5))
    w = rng.normal(size=5)
    H = x.T @ x
    got = fn(torch.tensor(w), torch.tensor(np.diag(np.linalg.inv(H)))).numpy()
    y = x @ w
    for q in range(5):
        keep = [j for j in range(5) if j != q]
        coef, *_ = np.linalg.lstsq(x[:, keep], y, rcond=None)
        want = ((y - x[:, keep] @ coef) ** 2).sum()
        assert abs(got[q] - want) < 1e-8 * max(1, want), (
            f"cost of weight {q}: {got[q]}, want {want}"
        )
