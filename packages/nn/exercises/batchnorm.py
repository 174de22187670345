r"""# Exercises: Batch normalization

The input gradient of batch norm by hand, the running statistics, and folding an eval-mode batch
norm into the linear layer before it."""

import torch
import torch.nn.functional as F


def solution_1_batchnorm_grad_x(
    grad_y: torch.Tensor, x: torch.Tensor, gamma: torch.Tensor, eps: float
) -> torch.Tensor:
    r"""$\frac{\gamma\,\mathrm{rstd}}{m}(m g - \sum g - \hat x \sum g\hat x)$ for `x` `(B, C)`."""
    m = x.shape[0]
    mu, var = x.mean(0), x.var(0, unbiased=False)
    rstd = (var + eps).rsqrt()
    x_hat = (x - mu) * rstd
    return gamma * rstd / m * (m * grad_y - grad_y.sum(0) - x_hat * (grad_y * x_hat).sum(0))


def check_1_batchnorm_grad_x(fn) -> None:
    """Compare with autograd through `F.batch_norm(training=True)`."""
    gen = torch.Generator().manual_seed(0)
    for b, c in [(8, 3), (2, 5), (16, 1)]:
        x = (torch.randn(b, c, generator=gen, dtype=torch.float64) * 2 + 1).requires_grad_(True)
        gamma = torch.randn(c, generator=gen, dtype=torch.float64)
        beta = torch.randn(c, generator=gen, dtype=torch.float64)
        gy = torch.randn(b, c, generator=gen, dtype=torch.float64)
        y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=1e-5)
        (want,) = torch.autograd.grad(y, x, gy)
        got = fn(gy.clone(), x.detach().clone(), gamma.clone(), 1e-5)
        # float64; the closed form and autograd's chain differ by rounding only.
        assert torch.allclose(got, want, atol=1e-10), (
            f"B={b}, C={c}: max error {(got - want).abs().max():.2e}; did you include the paths "
            "through the batch mean and the batch variance?"
        )


def solution_2_running_stats(
    running_mean: torch.Tensor, running_var: torch.Tensor, x: torch.Tensor, momentum: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch `x` `(B, C)` moves the running mean and the *unbiased* variance."""
    mean, var = x.mean(0), x.var(0, unbiased=True)
    return (
        (1 - momentum) * running_mean + momentum * mean,
        (1 - momentum) * running_var + momentum * var,
    )


def check_2_running_stats(fn) -> None:
    """Feed batches through `torch.nn.BatchNorm1d` in training mode and through the candidate."""
    gen = torch.Generator().manual_seed(1)
    for momentum in (0.1, 0.5):
        bn = torch.nn.BatchNorm1d(4, momentum=momentum, dtype=torch.float64)
        mean, var = bn.running_mean.clone(), bn.running_var.clone()
        for _ in range(3):
            x = torch.randn(6, 4, generator=gen, dtype=torch.float64) * 3 + 2
            bn(x)
            mean, var = fn(mean, var, x.clone(), momentum)
            assert torch.allclose(mean, bn.running_mean, atol=1e-12), (
                f"momentum {momentum}: running mean {mean.tolist()}, torch {bn.running_mean.tolist()}"
            )
            assert torch.allclose(var, bn.running_var, atol=1e-12), (
                f"momentum {momentum}: running var off by {(var - bn.running_var).abs().max():.2e}"
                " (torch keeps the unbiased variance, m / (m - 1) times the batch's)"
            )


def solution_3_fold_batchnorm(
    weight: torch.Tensor,
    bias: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$W' = s W$, $b' = s(b - \hat\mu) + \beta$ with $s = \gamma/\sqrt{\hat\sigma^2 + \epsilon}$."""
    s = gamma / (running_var + eps).sqrt()  # (C,)
    return weight * s[:, None], (bias - running_mean) * s + beta


def check_3_fold_batchnorm(fn) -> None:
    """The folded layer must equal `nn.Linear` followed by an eval-mode `nn.BatchNorm1d`."""
    gen = torch.Generator().manual_seed(2)
    for d_in, d_out in [(5, 3), (2, 6)]:
        lin = torch.nn.Linear(d_in, d_out, dtype=torch.float64)
        bn = torch.nn.BatchNorm1d(d_out, dtype=torch.float64)
        with torch.no_grad():
            bn.running_mean.copy_(torch.randn(d_out, generator=gen, dtype=torch.float64))
            bn.running_var.copy_(torch.rand(d_out, generator=gen, dtype=torch.float64) + 0.1)
            bn.weight.copy_(torch.randn(d_out, generator=gen, dtype=torch.float64))
            bn.bias.copy_(torch.randn(d_out, generator=gen, dtype=torch.float64))
        bn.eval()
        x = torch.randn(10, d_in, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            want = bn(lin(x))
            w, b = fn(
                lin.weight.clone(),
                lin.bias.clone(),
                bn.running_mean.clone(),
                bn.running_var.clone(),
                bn.weight.clone(),
                bn.bias.clone(),
                bn.eps,
            )
            got = x @ w.T + b
        assert torch.allclose(got, want, atol=1e-12), (
            f"{d_in}->{d_out}: the folded layer is off by {(got - want).abs().max():.2e}"
        )
