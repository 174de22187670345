r"""# Exercises: Weight initialization

Kaiming's standard deviation and Xavier's uniform bound, checked draw for draw against
`torch.nn.init` with the same generator."""

import math

import torch


def solution_1_kaiming_std(fan_in: int, negative_slope: float = 0.0) -> float:
    r"""$\sigma = g/\sqrt{n_{in}}$ with the LeakyReLU gain $g = \sqrt{2/(1 + a^2)}$."""
    return math.sqrt(2.0 / (1 + negative_slope**2)) / math.sqrt(fan_in)


def check_1_kaiming_std(fn) -> None:
    """Draw with `normal_(0, std)` and with `kaiming_normal_(mode="fan_in")`: the same tensor."""
    for shape, a in [((64, 32), 0.0), ((16, 3, 5, 5), 0.0), ((10, 200), 0.2), ((8, 8), 1.0)]:
        want = torch.nn.init.kaiming_normal_(
            torch.empty(shape, dtype=torch.float64),
            a=a,
            nonlinearity="leaky_relu",
            generator=torch.Generator().manual_seed(0),
        )
        fan_in = math.prod(shape[1:])
        std = fn(fan_in, a)
        got = torch.empty(shape, dtype=torch.float64).normal_(
            0.0, std, generator=torch.Generator().manual_seed(0)
        )
        assert torch.allclose(got, want, rtol=1e-12), (
            f"weight {shape}, slope {a}: std {std}, torch draws with "
            f"{float(want.std()):.4f} (empirical); sigma^2 = 2 / ((1 + a^2) fan_in)"
        )


def solution_2_xavier_bound(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    r"""$a = g\sqrt{6/(n_{in} + n_{out})}$: $U(-a, a)$ has variance $a^2/3 = 2g^2/(n_{in} + n_{out})$."""
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


def check_2_xavier_bound(fn) -> None:
    """Draw with `uniform_(-a, a)` and with `xavier_uniform_`: the same tensor."""
    for shape, gain in [((64, 32), 1.0), ((16, 3, 3, 3), 5 / 3), ((7, 300), 2.0)]:
        want = torch.nn.init.xavier_uniform_(
            torch.empty(shape, dtype=torch.float64),
            gain=gain,
            generator=torch.Generator().manual_seed(1),
        )
        field = math.prod(shape[2:])
        a = fn(shape[1] * field, shape[0] * field, gain)
        got = torch.empty(shape, dtype=torch.float64).uniform_(
            -a, a, generator=torch.Generator().manual_seed(1)
        )
        assert torch.allclose(got, want, rtol=1e-12), (
            f"weight {shape}, gain {gain}: bound {a}, torch's largest draw is "
            f"{float(want.abs().max()):.4f}; a uniform U(-a, a) has variance a^2 / 3"
        )
