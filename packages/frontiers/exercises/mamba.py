r"""# Exercises: Mamba: selective state spaces

The associative operator behind the parallel scan, initial states, and the size of the decoding state."""

import torch

from masterclass.frontiers.mamba import MambaArgs, MambaCache, sequential_scan


def solution_1_blelloch_combine(left, right):
    (a1, b1), (a2, b2) = left, right
    return a1 * a2, a2 * b1 + b2


def check_1_blelloch_combine(fn) -> None:
    g = torch.Generator().manual_seed(0)
    a, b = (
        torch.rand(2, 5, generator=g, dtype=torch.float64),
        torch.randn(2, 5, generator=g, dtype=torch.float64),
    )
    # Folding the combine over the sequence must give the last state of the recurrence.
    acc = (a[:, 0], b[:, 0])
    for t in range(1, 5):
        acc = fn(acc, (a[:, t], b[:, t]))
    want = sequential_scan(a, b)[:, -1]
    assert torch.allclose(acc[1], want), "folding combine over the steps does not give h_T"
    p, q, r = [(torch.rand(3, generator=g), torch.randn(3, generator=g)) for _ in range(3)]
    lhs, rhs = fn(fn(p, q), r), fn(p, fn(q, r))
    assert all(torch.allclose(x, y) for x, y in zip(lhs, rhs, strict=True)), (
        "combine is not associative"
    )


def solution_2_scan_with_initial_state(a, b, h0):
    b = b.clone()
    b[:, 0] = b[:, 0] + a[:, 0] * h0
    return sequential_scan(a, b)


def check_2_scan_with_initial_state(fn) -> None:
    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(2, 9, 3, generator=g), torch.randn(2, 9, 3, generator=g)
    h0 = torch.randn(2, 3, generator=g)
    h, want = h0, []
    for t in range(9):
        h = a[:, t] * h + b[:, t]
        want.append(h)
    got = fn(a, b, h0)
    assert torch.allclose(got, torch.stack(want, 1), atol=1e-6), (
        "states differ from the loop from h0"
    )


def solution_3_cache_bytes(d_model, n_layers, d_state, d_conv, expand):
    return 4 * n_layers * expand * d_model * (d_conv + d_state)


def check_3_cache_bytes(fn) -> None:
    for d, n, s, c, e in [(32, 2, 16, 4, 2), (768, 24, 16, 4, 2), (64, 3, 8, 3, 1)]:
        cache = MambaCache.empty(MambaArgs(d_model=d, n_layers=n, d_state=s, d_conv=c, expand=e), 1)
        want = sum(t.numel() * t.element_size() for t in cache.conv + cache.ssm)
        got = fn(d, n, s, c, e)
        assert got == want, f"cache_bytes({d}, {n}, {s}, {c}, {e}) = {got}, the cache holds {want}"
