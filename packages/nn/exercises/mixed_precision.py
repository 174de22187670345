r"""# Exercises: Mixed-precision training

The dynamic loss scale's schedule, and rounding a float32 to bfloat16 by hand."""

import torch

from masterclass.nn.mixed_precision import DynamicLossScaler


def solution_1_scale_schedule(
    overflows: list[bool], init_scale: float, growth_interval: int
) -> list[float]:
    """The scale after each step's `update()`: halve on overflow, double after a run of good steps."""
    scale, good, out = init_scale, 0, []
    for overflow in overflows:
        if overflow:
            scale, good = scale * 0.5, 0
        else:
            good += 1
            if good == growth_interval:
                scale, good = scale * 2.0, 0
        out.append(scale)
    return out


def check_1_scale_schedule(fn) -> None:
    """Drive the chapter's `DynamicLossScaler` with finite and infinite gradients."""
    g = torch.Generator().manual_seed(0)
    cases = [([False] * 7, 8.0, 3), ([True, True, False, False, False], 1024.0, 2)]
    for _ in range(4):
        n = int(torch.randint(5, 30, (), generator=g))
        cases.append(((torch.rand(n, generator=g) < 0.3).tolist(), 2.0**16, 4))
    for overflows, init, interval in cases:
        p = torch.nn.Parameter(torch.zeros(2))
        opt = torch.optim.SGD([p], lr=0.1)
        scaler = DynamicLossScaler(init_scale=init, growth_interval=interval)
        want = []
        for overflow in overflows:
            p.grad = torch.tensor([float("inf") if overflow else 1.0, 0.0])
            scaler.step(opt)
            scaler.update()
            want.append(scaler.get_scale())
        got = fn(list(overflows), init, interval)
        assert list(got) == want, (
            f"overflows {overflows}, init {init}, interval {interval}: got {list(got)}, the "
            f"scaler goes {want} (an overflow also resets the count of good steps)"
        )


def solution_2_round_to_bf16(x: torch.Tensor) -> torch.Tensor:
    """Keep the top 16 bits of each float32, rounding to nearest, ties to even."""
    bits = x.view(torch.int32)
    lsb = (bits >> 16) & 1  # the last mantissa bit that survives
    rounded = (bits + 0x7FFF + lsb) & ~0xFFFF
    return rounded.view(torch.float32)


def check_2_round_to_bf16(fn) -> None:
    """Compare with `x.to(torch.bfloat16)` on random, tie and extreme float32 values."""
    g = torch.Generator().manual_seed(1)
    x = torch.cat(
        [
            torch.randn(1000, generator=g) * 10.0 ** torch.randint(-30, 30, (1000,), generator=g),
            torch.tensor([1.0, 1.00390625, 1.01171875, -1.00390625, 3.0e38, 1.0e-38, 0.0]),
        ]
    )  # 1 + 2^-8 and 1 + 3 * 2^-8 are exact ties
    want = x.to(torch.bfloat16).to(torch.float32)
    got = fn(x.clone()).to(torch.float32)
    bad = got != want
    assert not bad.any(), (
        f"{int(bad.sum())} values differ, e.g. {x[bad][:3].tolist()} -> {got[bad][:3].tolist()}, "
        f"bf16 gives {want[bad][:3].tolist()} (round to nearest, ties to even)"
    )
