r"""# Exercises: Flash attention: exact attention in linear memory

The online softmax, merging two partial attention states, and the softmax backward with $\Delta$."""

import torch


def solution_1_online_softmax(s: torch.Tensor, block: int) -> torch.Tensor:
    """One pass over blocks for the max and denominator, then one to normalize."""
    m, l = torch.tensor(float("-inf"), dtype=s.dtype), torch.tensor(0.0, dtype=s.dtype)
    for chunk in s.split(block):
        m_new = torch.maximum(m, chunk.max())
        l = torch.exp(m - m_new) * l + torch.exp(chunk - m_new).sum()
        m = m_new
    return torch.exp(s - m) / l


def check_1_online_softmax(fn) -> None:
    """Compare with `torch.softmax` on ordinary, huge and block-straddling scores."""
    g = torch.Generator().manual_seed(0)
    cases = [torch.randn(10, generator=g, dtype=torch.float64) for _ in range(3)]
    cases += [torch.tensor([1.0, 1000.0, 2.0, 999.0, -5.0], dtype=torch.float64)]
    cases += [torch.randn(17, generator=g, dtype=torch.float64) * 50]
    for s in cases:
        for block in (1, 3, 4, len(s)):
            got = fn(s.clone(), block)
            want = torch.softmax(s, 0)
            assert torch.isfinite(got).all(), f"non-finite output for scores {s.tolist()}"
            assert torch.allclose(got, want, atol=1e-12), (
                f"block {block}: got {got.tolist()}, torch.softmax gives {want.tolist()}"
            )


def _state(s: torch.Tensor, v: torch.Tensor):
    # The running state of one query row over some keys: max, denominator, unnormalized output.
    m = s.max()
    p = torch.exp(s - m)
    return m, p.sum(), p @ v


def solution_2_combine(m1, l1, o1, m2, l2, o2):
    """Rescale both states to the common maximum and add them."""
    m = torch.maximum(m1, m2)
    a, b = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, a * l1 + b * l2, a * o1 + b * o2


def check_2_combine(fn) -> None:
    """Split the keys of one query in two; the merged state must give the full attention row."""
    g = torch.Generator().manual_seed(1)
    for split in (1, 4, 7):
        s = torch.randn(8, generator=g, dtype=torch.float64) * 10
        v = torch.randn(8, 3, generator=g, dtype=torch.float64)
        m, l, o = fn(*_state(s[:split], v[:split]), *_state(s[split:], v[split:]))
        want = torch.softmax(s, 0) @ v
        assert torch.allclose(m, s.max()), f"the merged max must be {s.max().item()}, got {m}"
        assert torch.allclose(o / l, want, atol=1e-12), (
            f"split at {split}: o / l = {(o / l).tolist()}, softmax(s) @ v = {want.tolist()}"
        )


def solution_3_softmax_backward(p: torch.Tensor, dp: torch.Tensor) -> torch.Tensor:
    r"""$dS = P \odot (dP - \Delta)$ with $\Delta_i = \sum_j P_{ij} dP_{ij}$."""
    delta = (p * dp).sum(-1, keepdim=True)  # (T, 1)
    return p * (dp - delta)


def check_3_softmax_backward(fn) -> None:
    """Compare with autograd through `torch.softmax`."""
    g = torch.Generator().manual_seed(2)
    for shape in [(3, 5), (1, 1), (4, 9)]:
        s = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
        dp = torch.randn(shape, generator=g, dtype=torch.float64)
        p = torch.softmax(s, -1)
        (want,) = torch.autograd.grad(p, s, dp)
        got = fn(p.detach(), dp)
        assert torch.allclose(got, want, atol=1e-12), f"shape {shape}: dS differs from autograd"
