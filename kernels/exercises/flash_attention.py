r"""# Exercises: Flash attention in Triton

What the kernels compute, tile by tile, written in PyTorch: the forward's online softmax with the
log-sum-exp it stores, the backward's $\Delta$, and the backward rebuilt from $L$ alone."""

import math

import torch

from masterclass.kernels.flash_attention import attention_reference

# All checks run in float64 on small random heads; the tiled and the direct computations differ
# only by rounding (~1e-15 relative), so 1e-10 is far above rounding and far below any real error
# (a missing rescale or scale factor changes results at the 1e-2 level or more).
TOL = 1e-10

# (T_q, T_k, D, block_n, causal): key lengths that are and are not multiples of the block, causal
# and not, one block larger than the sequence.
CASES = [
    (5, 12, 8, 4, False),
    (7, 7, 4, 3, True),
    (9, 13, 16, 5, True),
    (3, 10, 8, 16, False),
    (6, 11, 4, 2, True),
]


def _head(t_q: int, t_k: int, d: int, seed: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    q = 2 * torch.randn(t_q, d, generator=g, dtype=torch.float64)
    k = 2 * torch.randn(t_k, d, generator=g, dtype=torch.float64)
    v = torch.randn(t_k, d, generator=g, dtype=torch.float64)
    return q, k, v


def _masked_scores(q: torch.Tensor, k: torch.Tensor, causal: bool) -> torch.Tensor:
    # The direct (T_q, T_k) score matrix with the top-left aligned causal mask: the reference.
    s = q @ k.T / math.sqrt(q.shape[-1])
    if causal:
        s = s.masked_fill(torch.ones_like(s, dtype=torch.bool).triu(1), float("-inf"))
    return s


def solution_1_forward_with_lse(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_n: int, causal: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """The forward kernel of one head: `(O (T_q, D), L (T_q,))` by blocks of `block_n` keys."""
    t_q, d = q.shape
    m = torch.full((t_q,), float("-inf"), dtype=q.dtype)
    l = torch.zeros(t_q, dtype=q.dtype)
    acc = torch.zeros(t_q, d, dtype=q.dtype)
    rows = torch.arange(t_q)
    for start in range(0, k.shape[0], block_n):
        kb, vb = k[start : start + block_n], v[start : start + block_n]
        s = q @ kb.T / math.sqrt(d)  # (T_q, block)
        if causal:
            cols = start + torch.arange(kb.shape[0])
            s = s.masked_fill(cols[None, :] > rows[:, None], float("-inf"))
        m_new = torch.maximum(m, s.max(-1).values)
        p = torch.exp(s - m_new[:, None])
        alpha = torch.exp(m - m_new)
        l = alpha * l + p.sum(-1)
        acc = alpha[:, None] * acc + p @ vb
        m = m_new
    return acc / l[:, None], m + torch.log(l)


def check_1_forward_with_lse(fn) -> None:
    """O against the chapter's `attention_reference`, L against `torch.logsumexp` of the scores."""
    for seed, (t_q, t_k, d, block_n, causal) in enumerate(CASES):
        q, k, v = _head(t_q, t_k, d, seed)
        o, lse = fn(q, k, v, block_n, causal)
        want_o = attention_reference(q[None, None], k[None, None], v[None, None], causal)[0, 0]
        want_lse = torch.logsumexp(_masked_scores(q, k, causal), dim=-1)
        where = f"T_q={t_q}, T_k={t_k}, D={d}, block_n={block_n}, causal={causal}"
        assert tuple(o.shape) == (t_q, d), f"{where}: O has shape {tuple(o.shape)}, want {(t_q, d)}"
        assert tuple(lse.shape) == (t_q,), f"{where}: L has shape {tuple(lse.shape)}, want {(t_q,)}"
        err = (o - want_o).abs().max().item()
        assert err < TOL, (
            f"{where}: O differs from attention_reference by {err:.2e} (did you rescale the "
            "accumulator and the denominator by exp(m - m') when the running max moves?)"
        )
        err = (lse - want_lse).abs().max().item()
        assert err < TOL, (
            f"{where}: L differs from logsumexp of the scores by {err:.2e} (L = m + log l, with "
            "the scores already multiplied by 1/sqrt(D))"
        )


def solution_2_delta(o: torch.Tensor, do: torch.Tensor) -> torch.Tensor:
    r"""$\Delta_i = \sum_d \mathrm{d}O_{id} O_{id}$ for `o`, `do` `(T, D)`; returns `(T,)`."""
    return (do * o).sum(-1)


def check_2_delta(fn) -> None:
    r"""Compare with $\sum_j P_{ij}\,\mathrm{d}P_{ij}$, taking $\mathrm{d}P$ from autograd."""
    for seed, (t_q, t_k, d, _block, causal) in enumerate(CASES):
        q, k, v = _head(t_q, t_k, d, 100 + seed)
        do = torch.randn(t_q, d, generator=torch.Generator().manual_seed(seed), dtype=q.dtype)
        p = torch.softmax(_masked_scores(q, k, causal), dim=-1).requires_grad_()
        o = p @ v
        (dp,) = torch.autograd.grad(o, p, do)  # (T_q, T_k), the gradient the softmax receives
        want = (p * dp).sum(-1).detach()
        got = fn(o.detach(), do)
        assert tuple(got.shape) == (t_q,), f"delta returned shape {tuple(got.shape)}, want {(t_q,)}"
        err = (got - want).abs().max().item()
        assert err < TOL, (
            f"T_q={t_q}, T_k={t_k}, D={d}: delta differs from rowsum(P * dP) by {err:.2e}; "
            "it is the row-wise dot product of dO and O"
        )


def solution_3_backward_from_lse(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    o: torch.Tensor,
    lse: torch.Tensor,
    do: torch.Tensor,
    causal: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`(dQ, dK, dV)` of one head from the saved `O` and `L`, with `P` rebuilt as `exp(S - L)`."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    s = q @ k.T * scale  # (T_q, T_k)
    if causal:
        s = s.masked_fill(torch.ones_like(s, dtype=torch.bool).triu(1), float("-inf"))
    p = torch.exp(s - lse[:, None])
    delta = (do * o).sum(-1)
    dv = p.T @ do
    dp = do @ v.T
    ds = p * (dp - delta[:, None])
    return ds @ k * scale, ds.T @ q * scale, dv


def check_3_backward_from_lse(fn) -> None:
    """The gradients against autograd through the chapter's `attention_reference`."""
    for seed, (t_q, t_k, d, _block, causal) in enumerate(CASES):
        q, k, v = (t.requires_grad_() for t in _head(t_q, t_k, d, 200 + seed))
        do = torch.randn(t_q, d, generator=torch.Generator().manual_seed(seed), dtype=q.dtype)
        o = attention_reference(q[None, None], k[None, None], v[None, None], causal)[0, 0]
        want = torch.autograd.grad(o, (q, k, v), do)
        lse = torch.logsumexp(_masked_scores(q, k, causal), dim=-1).detach()
        got = fn(q.detach(), k.detach(), v.detach(), o.detach(), lse, do, causal)
        for name, a, b in zip(("dQ", "dK", "dV"), got, want, strict=True):
            assert a.shape == b.shape, f"{name} has shape {tuple(a.shape)}, want {tuple(b.shape)}"
            err = (a - b).abs().max().item()
            assert err < TOL, (
                f"T_q={t_q}, T_k={t_k}, D={d}, causal={causal}: {name} differs from autograd by "
                f"{err:.2e} (dS = P * (dP - delta); dQ and dK carry the 1/sqrt(D) scale)"
            )
