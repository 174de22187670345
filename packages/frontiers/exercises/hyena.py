r"""# Exercises: Hyena operators: implicit long convolutions

A causal convolution with conv1d, the decay windows, and the associative-recall data."""

import torch
import torch.nn.functional as F

from masterclass.frontiers.hyena import ImplicitFilter
from masterclass.frontiers.s4d import causal_fft_conv


def solution_1_direct_causal_conv(z, h):
    T, C = z.shape[1], z.shape[2]
    out = F.conv1d(F.pad(z.transpose(1, 2), (T - 1, 0)), h.flip(-1)[:, None], groups=C)
    return out.transpose(1, 2)


def check_1_direct_causal_conv(fn) -> None:
    g = torch.Generator().manual_seed(0)
    z, h = (
        torch.randn(2, 20, 3, generator=g, dtype=torch.float64),
        torch.randn(3, 20, generator=g, dtype=torch.float64),
    )
    got = fn(z, h)
    assert got.shape == (2, 20, 3), f"expected shape (2, 20, 3), got {tuple(got.shape)}"
    assert torch.allclose(got, causal_fft_conv(z, h), atol=1e-10), (
        "differs from the FFT convolution"
    )


def solution_2_decay_window(T, rates):
    return torch.exp(-rates[:, None] * torch.arange(T, dtype=rates.dtype) / T)


def check_2_decay_window(fn) -> None:
    filt = ImplicitFilter(6, 32)
    # The implicit filter with its MLP replaced by ones is exactly the window.
    del filt.mlp
    filt.mlp = lambda pe: torch.ones(pe.shape[0], 6)
    got = fn(32, filt.rates)
    assert torch.allclose(got, filt(32), atol=1e-6), "window differs from the filter's decay"


def solution_3_recall_batch(n, seed):
    g = torch.Generator().manual_seed(seed)
    mapping = torch.rand(n, 10, generator=g).argsort(-1) + 10
    keys = torch.randint(0, 10, (n, 32), generator=g)
    keys[:, -1] = keys[torch.arange(n), torch.randint(0, 31, (n,), generator=g)]
    values = mapping.gather(1, keys)
    seq = torch.stack([keys, values], -1).view(n, 64)
    return seq[:, :-1], values[:, -1]


def check_3_recall_batch(fn) -> None:
    seq, answer = fn(40, 0)
    assert tuple(seq.shape) == (40, 63), f"sequences must be (n, 63), got {tuple(seq.shape)}"
    assert int(seq.max()) < 20 and int(seq.min()) >= 0, "tokens must be in [0, 20)"
    for i in range(40):
        keys, values = seq[i, 0::2].tolist(), seq[i, 1::2].tolist()
        assert all(k < 10 for k in keys) and all(v >= 10 for v in values), "keys < 10 <= values"
        pairs = {}
        for k, v in zip(keys, values, strict=False):
            assert pairs.setdefault(k, v) == v, f"key {k} has two values in sequence {i}"
        assert keys[-1] in pairs and pairs[keys[-1]] == int(answer[i]), (
            f"bad answer in sequence {i}"
        )
