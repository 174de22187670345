r"""# Figure: the tiles of causal flash attention

Which $(B_q \times B_k)$ tiles of the score matrix the forward computes, masks or skips, and the
running maximum of one query row as key tiles arrive."""

import matplotlib.colors
import matplotlib.figure
import numpy as np
import torch

from masterclass.llm.flash_attention import flash_attention, naive_attention


def figure() -> matplotlib.figure.Figure:
    """Left: the tile grid for T = 16, blocks of 4. Right: one row's online max and denominator."""
    T, block = 16, 4
    n = T // block
    grid = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            grid[i, j] = 0 if j > i else (1 if j == i else 2)  # skipped, masked, full
    fig = matplotlib.figure.Figure(figsize=(9.5, 3.8))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.imshow(grid, cmap=matplotlib.colors.ListedColormap(["white", "#fdd0a2", "#6baed6"]))
    for i in range(n):
        for j in range(n):
            text = ["skipped", "masked", "full"][int(grid[i, j])]
            left.text(j, i, text, ha="center", va="center", fontsize=8)
    left.set_xticks(
        range(n), [f"keys {block * j}-{block * j + block - 1}" for j in range(n)], fontsize=7
    )
    left.set_yticks(
        range(n), [f"q {block * i}-{block * i + block - 1}" for i in range(n)], fontsize=7
    )
    left.set_title(
        f"causal tiles, T = {T}, blocks of {block}:\n{int((grid > 0).sum())} of {n * n} computed",
        fontsize=10,
    )
    # One query row's running state: the max only grows, the denominator is rescaled when it does.
    g = torch.Generator().manual_seed(3)
    s = torch.randn(T, generator=g, dtype=torch.float64) * 3
    m, l, ms, ls = -np.inf, 0.0, [], []
    for chunk in s.split(block):
        m_new = max(m, float(chunk.max()))
        l = np.exp(m - m_new) * l + float(torch.exp(chunk - m_new).sum())
        m = m_new
        ms.append(m)
        ls.append(l)
    steps = range(1, n + 1)
    right.plot(steps, ms, "o-", label="running max m")
    right.plot(steps, ls, "s-", label="running denominator l")
    right.axhline(float(s.max()), ls="--", color="C0", lw=0.8)
    right.set_xticks(list(steps))
    right.set_xlabel("key tiles seen")
    q = k = v = torch.randn(1, 1, T, 8, generator=g, dtype=torch.float64)
    err = (
        (
            flash_attention(q, k, v, causal=True, block_q=block, block_k=block)
            - naive_attention(q, k, v, causal=True)
        )
        .abs()
        .max()
    )
    right.set_title(
        f"one query row's online softmax\n(max |flash - naive| = {float(err):.1e})", fontsize=10
    )
    right.legend()
    fig.tight_layout()
    return fig
