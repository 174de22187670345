r"""# Exercises: Loss functions

The gradient of (label-smoothed) cross-entropy, the stable binary cross-entropy, and Huber's
gradient, each checked against PyTorch."""

import torch
import torch.nn.functional as F

from masterclass.nn.losses import cross_entropy


def solution_1_cross_entropy_grad(
    logits: torch.Tensor, target: torch.Tensor, label_smoothing: float
) -> torch.Tensor:
    r"""$\partial \bar\ell / \partial z = (\mathrm{softmax}(z) - q)/N$ with the smoothed target $q$."""
    n, v = logits.shape
    q = torch.full_like(logits, label_smoothing / v)
    q[torch.arange(n), target] += 1 - label_smoothing
    return (torch.softmax(logits, dim=1) - q) / n


def check_1_cross_entropy_grad(fn) -> None:
    """Compare with autograd through the chapter's `cross_entropy` (mean reduction)."""
    g = torch.Generator().manual_seed(0)
    for n, v, eps in [(4, 3, 0.0), (6, 5, 0.1), (3, 7, 0.5), (5, 2, 1.0)]:
        z = (torch.randn(n, v, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
        t = torch.randint(0, v, (n,), generator=g)
        (want,) = torch.autograd.grad(cross_entropy(z, t, label_smoothing=eps), z)
        got = fn(z.detach().clone(), t.clone(), eps)
        # float64 throughout: the two differ only by rounding, far below 1e-12.
        assert torch.allclose(got, want, atol=1e-12), (
            f"N={n}, V={v}, eps={eps}: max error {(got - want).abs().max():.2e}; the gradient of "
            "the mean loss is (softmax(z) - q) / N, q the smoothed one-hot target"
        )


def solution_2_bce_with_logits(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    r"""Elementwise $\max(z, 0) - z y + \log(1 + e^{-|z|})$."""
    return logits.clamp_min(0) - logits * target + torch.log1p(torch.exp(-logits.abs()))


def check_2_bce_with_logits(fn) -> None:
    """Compare with `F.binary_cross_entropy_with_logits(reduction="none")`, huge logits included."""
    g = torch.Generator().manual_seed(1)
    z = torch.cat(
        [
            torch.randn(20, generator=g, dtype=torch.float64) * 5,
            torch.tensor([1e3, -1e3, 80.0, -80.0, 0.0], dtype=torch.float64),
        ]
    )
    y = torch.rand(len(z), generator=g, dtype=torch.float64)
    y[-5:] = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.5], dtype=torch.float64)
    want = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    got = fn(z.clone(), y.clone())
    assert torch.isfinite(got).all(), (
        f"not finite at logits {z[~torch.isfinite(got)].tolist()}: use the softplus form, never "
        "log(sigmoid(z))"
    )
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12), (
        f"max error {(got - want).abs().max():.2e} against torch"
    )


def solution_3_huber_grad(pred: torch.Tensor, target: torch.Tensor, delta: float) -> torch.Tensor:
    r"""$\partial/\partial \hat y$ of the mean Huber loss: $\mathrm{clip}(r, -\delta, \delta)/n$."""
    return (pred - target).clamp(-delta, delta) / pred.numel()


def check_3_huber_grad(fn) -> None:
    """Compare with autograd through `F.huber_loss` (mean reduction)."""
    g = torch.Generator().manual_seed(2)
    for shape, delta in [((10,), 1.0), ((4, 5), 0.3), ((7,), 2.5)]:
        pred = (torch.randn(shape, generator=g, dtype=torch.float64) * 2).requires_grad_(True)
        target = torch.randn(shape, generator=g, dtype=torch.float64)
        (want,) = torch.autograd.grad(F.huber_loss(pred, target, delta=delta), pred)
        got = fn(pred.detach().clone(), target.clone(), delta)
        assert torch.allclose(got, want, atol=1e-12), (
            f"shape {shape}, delta {delta}: max error {(got - want).abs().max():.2e}; inside "
            "|r| <= delta the gradient is r / n, outside it is delta * sign(r) / n"
        )
