r"""# Exercises: Tiny training runs: the experiment harness of the study chapters

The learning-rate schedule of every study run, and the batches of next-byte targets."""

import math
import warnings

import torch

from masterclass.llm.tiny_runs import random_batch


def solution_1_lr_at(step: int, steps: int, peak: float) -> float:
    r"""Linear warm-up over the first `steps // 10` steps, then cosine decay from `peak` to
    $0.1 \times$ `peak` at the last step."""
    warmup = max(1, steps // 10)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def check_1_lr_at(fn) -> None:
    """Compare with PyTorch's own schedulers chained the same way: `LinearLR` for the warm-up,
    then `CosineAnnealingLR` down to `eta_min = 0.1 peak`, via `SequentialLR`."""
    for steps, peak in [(20, 1e-3), (200, 3e-3), (57, 0.5)]:
        warmup = steps // 10
        param = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([param], lr=peak)
        sched = torch.optim.lr_scheduler.SequentialLR(
            opt,
            [
                torch.optim.lr_scheduler.LinearLR(
                    opt, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1
                ),
                torch.optim.lr_scheduler.CosineAnnealingLR(
                    opt, T_max=steps - warmup, eta_min=0.1 * peak
                ),
            ],
            milestones=[warmup],
        )
        for step in range(steps):
            want = opt.param_groups[0]["lr"]
            got = fn(step, steps, peak)
            # torch updates the rate recursively: agreement to 1e-9 relative.
            assert math.isclose(got, want, rel_tol=1e-9), (
                f"steps={steps}, step {step}: lr {got:.6g}, want {want:.6g} (warm-up for "
                f"{warmup} steps, then cosine to 0.1 x peak)"
            )
            with warnings.catch_warnings():  # no optimizer step: only the rate is under test
                warnings.simplefilter("ignore", UserWarning)
                sched.step()


def solution_2_batch(
    data: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows of `seq_len + 1` bytes: inputs are the first `seq_len`, targets the last."""
    starts = torch.randint(0, data.numel() - seq_len, (batch_size,), generator=generator)
    windows = torch.stack([data[s : s + seq_len + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def check_2_batch(fn) -> None:
    """Every row must be a contiguous stretch of the data with the next byte as its target; the
    shapes must be those of the chapter's `random_batch`."""
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 256, (300,), generator=g)
    for B, T in [(1, 4), (4, 16), (8, 299)]:
        x, y = fn(data, B, T, torch.Generator().manual_seed(B))
        wx, wy = random_batch(data, B, T, torch.Generator().manual_seed(B))
        assert x.shape == wx.shape and y.shape == wy.shape, (
            f"shapes {tuple(x.shape)}, {tuple(y.shape)}, want {tuple(wx.shape)} twice"
        )
        for b in range(B):
            window = torch.cat([x[b, :1], y[b]])  # (T + 1,)
            assert torch.equal(x[b, 1:], y[b, :-1]), (
                f"row {b}: targets are not inputs shifted by one"
            )
            found = any(torch.equal(data[s : s + T + 1], window) for s in range(data.numel() - T))
            assert found, f"row {b}: not a contiguous window of the data"
