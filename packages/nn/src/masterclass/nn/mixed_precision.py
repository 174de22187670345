r"""# Mixed-precision training

Half-precision formats halve memory traffic and run matrix multiplies several times faster on
modern hardware, but they are narrow:

| format | exponent bits | mantissa bits | largest finite | smallest normal |
|---|---|---|---|---|
| float32 | 8 | 23 | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
| bfloat16 | 8 | 7 | $3.4 \times 10^{38}$ | $1.2 \times 10^{-38}$ |
| float16 | 5 | 10 | $65504$ | $6.1 \times 10^{-5}$ |

*Mixed* precision (Micikevicius et al., *Mixed Precision Training*, ICLR 2018) keeps the master
weights, the optimizer state and precision-sensitive ops (reductions, softmax, losses) in float32,
and runs the matrix multiplies in 16 bits. `torch.autocast` does this per op: inside the context,
ops on its "lower precision" list (`linear`, `matmul`, `conv`...) cast their inputs to the low
dtype; ops on its "float32" list run in float32. The weights themselves are never modified.

**bfloat16** has float32's range, so gradients neither overflow nor underflow any more than in
float32: it needs no loss scaling, and it is what CPUs and recent GPUs use.

**float16** has 3 fewer exponent bits: small gradients underflow to zero. *Loss scaling*
multiplies the loss by $S$ before backward, so every gradient is $S$ times larger (and
representable), then divides the float32 gradients by $S$ before the step. A fixed $S$ risks
overflow, so the *dynamic* scaler adapts it:

- if any gradient is `inf`/`nan` after unscaling, **skip the step** and multiply $S$ by the
  backoff factor ($\tfrac12$);
- after `growth_interval` consecutive good steps, multiply $S$ by the growth factor ($2$).

Why scaling changes nothing but the representation, derived. Backpropagation is linear in the
loss: $\nabla_\theta (S L) = S\,\nabla_\theta L$, exactly, at every intermediate tensor. With $S$
a power of two, multiplying and later dividing by $S$ only moves exponents, so every gradient
that stays inside float16's range in between comes back bit-for-bit equal to the unscaled
float32 gradient. What scaling buys is the range: a gradient of $10^{-6}$ is below float16's
smallest normal value $6.1\times10^{-5}$ (as a subnormal it keeps few digits: $10^{-6}$ is stored
as $1.013\times10^{-6}$, below),
while $2^{16}\cdot10^{-6} \approx 0.066$ is a normal float16. The cost is the top of the range:
any value above $65504/S$ overflows, which is what the skip-and-back-off rule detects.

**How coarse bfloat16 is.** Seven stored mantissa bits give a relative spacing of $2^{-7}$
between neighbours, so round-to-nearest makes a relative error of at most $2^{-8} \approx 0.4\%$.
That is fine for activations and matmul inputs (accumulation runs in float32) and bad for
weights: an update smaller than $2^{-8}$ of a weight rounds away, which is why the master
weights stay in float32.

>>> x = torch.tensor([1.0 + 2**-9, 1.0 + 2**-7, 65504.0, 70000.0, 1e-6])
>>> x.to(torch.bfloat16).float().tolist()[:2]  # 1 + 2^-9 rounds to 1; 1 + 2^-7 is a bf16 value
[1.0, 1.0078125]
>>> x.to(torch.float16).float().tolist()[2:4]  # float16 overflows just above 65504
[65504.0, inf]
>>> round(x[4].half().item() / 1e-6, 3), round((x[4] * 2**16).half().item() / 2**16 / 1e-6, 3)
(1.013, 1.0)

`DynamicLossScaler` implements this rule with the interface of `torch.amp.GradScaler` (`scale`,
`unscale_`, `step`, `update`); the tests run both side by side on the same training, including
overflowing steps, and check that they skip the same steps and end with the same scale and
weights. A run in float32 and one under bf16 autocast trace the same loss curve:

![fp32 vs bf16 loss curves](figures/mixed_precision_curves.png)

Left out: float8 training, per-tensor scaling, and keeping batch-norm statistics in float32
(autocast already runs it there).

## Exercises

1. Write `scale_schedule(overflows, init_scale, growth_interval)`: the loss scale after each
   step, given which steps overflowed (growth 2, backoff 1/2). Check it:
   `uv run pytest --exercise nn.mixed_precision`.
2. Write `round_to_bf16(x)` for a float32 tensor with integer bit operations (view it as
   `torch.int32`): keep the top 16 bits, rounding to nearest with ties to even. Check it:
   `uv run pytest --exercise nn.mixed_precision`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# ## What autocast does to a linear layer
#
# The reference computation: cast input, weight and bias to the low dtype, run the op there. The
# result stays in the low dtype; the weights stay float32.


def low_precision_linear(
    x: Tensor, weight: Tensor, bias: Tensor | None, dtype: torch.dtype
) -> Tensor:
    """`F.linear` computed the way autocast computes it: all operands cast to `dtype` first."""
    b = bias.to(dtype) if bias is not None else None
    return nn.functional.linear(x.to(dtype), weight.to(dtype), b)


# ## The dynamic loss scaler


class DynamicLossScaler:
    """Dynamic loss scaling with the rule and interface of `torch.amp.GradScaler`.

    Usage per step: `scaler.scale(loss).backward()`, optionally `scaler.unscale_(opt)` (e.g. to
    clip gradients), `scaler.step(opt)`, `scaler.update()`.
    """

    def __init__(
        self,
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ) -> None:
        # The defaults are GradScaler's: start at $2^{16}$, halve on an overflow, double after
        # 2000 clean steps.
        if growth_factor <= 1.0 or not 0.0 < backoff_factor < 1.0:
            raise ValueError(
                f"need growth_factor > 1 and 0 < backoff_factor < 1, got {growth_factor}, "
                f"{backoff_factor}"
            )
        if init_scale <= 0 or growth_interval < 1:
            raise ValueError("init_scale must be > 0 and growth_interval >= 1")
        self.scale_value = float(init_scale)
        self.growth_factor, self.backoff_factor = growth_factor, backoff_factor
        self.growth_interval = growth_interval
        self.good_steps = 0  # consecutive steps without inf/nan
        self._unscaled: set[int] = set()  # optimizers already unscaled this step
        self._found_inf = False
        self.skipped_steps = 0

    # Scaling the loss by $S$ scales every gradient by $S$, lifting small fp16 gradients above the
    # underflow threshold.
    def get_scale(self) -> float:
        """The current scale $S$."""
        return self.scale_value

    def scale(self, loss: Tensor) -> Tensor:
        r"""$S \cdot$ `loss` (backward of this gives $S$ times the true gradients)."""
        return loss * self.scale_value

    @torch.no_grad()
    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Divide the optimizer's gradients by $S$ in place and note whether any is not finite."""
        if id(optimizer) in self._unscaled:
            raise RuntimeError(
                "unscale_() was already called on this optimizer since the last update()"
            )
        # Multiplying by $1/S$, computed in float64 and rounded to float32, is what GradScaler
        # does; $S$ is a power of two in practice, so the product is exact.
        inv = torch.tensor(1.0 / self.scale_value, dtype=torch.float64).float()
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not torch.isfinite(p.grad).all():
                    self._found_inf = True
                p.grad.mul_(inv.to(p.grad.dtype))
        self._unscaled.add(id(optimizer))

    # A step with an inf or nan gradient is skipped, so an overflow never reaches the weights.
    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Unscale if needed, then step unless a gradient was inf/nan. Returns True if it stepped."""
        if id(optimizer) not in self._unscaled:
            self.unscale_(optimizer)
        if self._found_inf:
            self.skipped_steps += 1
            return False
        optimizer.step()
        return True

    # Back off at once on an overflow; grow only after a run of clean steps.
    def update(self) -> None:
        """Back off after an overflow, or grow after `growth_interval` good steps; reset the step."""
        if self._found_inf:
            self.scale_value *= self.backoff_factor
            self.good_steps = 0
        else:
            self.good_steps += 1
            if self.good_steps == self.growth_interval:
                self.scale_value *= self.growth_factor
                self.good_steps = 0
        self._found_inf = False
        self._unscaled.clear()


# ## fp32 vs mixed precision on one problem
#
# A small regression MLP trained twice from the same initialization and data: once in float32,
# once with its forward pass under `torch.autocast` (bf16 on the CPU, or fp16 with the loss
# scaler on a GPU). The loss curves should agree to within the low format's precision.


def _regression_problem(seed: int) -> tuple[nn.Module, Tensor, Tensor]:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 32), nn.GELU(), nn.Linear(32, 1)
    )
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(256, 8, generator=g)
    y = torch.sin(x.sum(dim=1, keepdim=True)) + 0.5 * x[:, :1]
    return model, x, y


# Two runs from the same weights and data, one in float32 and one under autocast; the loss scaler
# is used only for float16, whose narrow exponent range needs it.
def train_precision_comparison(
    steps: int = 100, seed: int = 0, device: str = "cpu", low_dtype: torch.dtype = torch.bfloat16
) -> tuple[list[float], list[float]]:
    """Loss curves of float32 training and of autocast(`low_dtype`) training, same start and data.

    With `low_dtype=torch.float16` the mixed run uses `DynamicLossScaler`.
    """
    curves = []
    for mixed in (False, True):
        model, x, y = _regression_problem(seed)
        model, x, y = model.to(device), x.to(device), y.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        scaler = DynamicLossScaler(init_scale=2.0**12) if low_dtype == torch.float16 else None
        losses = []
        for _ in range(steps):
            with torch.autocast(device_type=device, dtype=low_dtype, enabled=mixed):
                pred = model(x)
            # The loss is computed in float32 outside the autocast region.
            loss = nn.functional.mse_loss(pred.float(), y)
            opt.zero_grad()
            # With float16 the scaler wraps backward and the step; bf16 and float32 need neither.
            if mixed and scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                loss.backward()
                opt.step()
            losses.append(loss.item())
        curves.append(losses)
    return curves[0], curves[1]


def curve_gap(a: list[float], b: list[float]) -> float:
    r"""Largest gap $\max_t |a_t - b_t|$ between two loss curves, relative to the initial loss $a_0$.

    >>> curve_gap([2.0, 1.0, 0.5], [2.0, 1.2, 0.5])  # the gap 0.2 over the initial loss 2.0
    0.09999999999999998
    """
    return max(abs(u - v) for u, v in zip(a, b, strict=True)) / max(abs(a[0]), math.ulp(1.0))
