r"""# Exercises: Regularization: weight penalties, decoupled weight decay, early stopping, augmentation

One AdamW step written out, and the stopping rule of early stopping."""

import torch

from masterclass.nn.regularization import EarlyStopping


def solution_1_adamw_step(
    theta: torch.Tensor,
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float,
    weight_decay: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Shrink $\theta$ by $(1 - \eta\lambda)$, then take Adam's step; return `(theta, m, v)`."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    theta = theta * (1 - lr * weight_decay) - lr * m_hat / (v_hat.sqrt() + eps)
    return theta, m, v


def check_1_adamw_step(fn) -> None:
    """Run the candidate for several steps beside `torch.optim.AdamW`; the weights must agree."""
    g = torch.Generator().manual_seed(0)
    for lr, wd in [(1e-2, 0.1), (3e-3, 0.5), (1e-1, 0.0)]:
        p = torch.nn.Parameter(torch.randn(7, generator=g, dtype=torch.float64))
        opt = torch.optim.AdamW([p], lr=lr, weight_decay=wd)
        theta = p.detach().clone()
        m, v = torch.zeros_like(theta), torch.zeros_like(theta)
        for t in range(1, 6):
            grad = torch.randn(7, generator=g, dtype=torch.float64)
            p.grad = grad.clone()
            opt.step()
            theta, m, v = fn(theta, grad, m, v, t, lr, wd)
            # float64, identical arithmetic up to ordering: rounding only, far below 1e-12.
            assert torch.allclose(theta, p.detach(), atol=1e-12), (
                f"lr={lr}, weight_decay={wd}, step {t}: max error "
                f"{(theta - p.detach()).abs().max():.2e} against AdamW (decay the weights with "
                "lr * weight_decay, outside the adaptive step; correct the bias of m and v)"
            )


def solution_2_stopping_step(values: list[float], patience: int, min_delta: float) -> int:
    """Index of the check after which training stops (mode "min"), or -1 if it never does."""
    best, bad = None, 0
    for i, value in enumerate(values):
        if best is None or value < best - min_delta:
            best, bad = value, 0
        else:
            bad += 1
        if bad >= patience:
            return i
    return -1


def check_2_stopping_step(fn) -> None:
    """Compare with the chapter's `EarlyStopping` on seeded noisy validation curves."""
    g = torch.Generator().manual_seed(1)
    cases = [([1.0, 0.9, 0.91, 0.92, 0.93], 3, 0.0), ([1.0, 0.99, 0.98, 0.97], 2, 0.015)]
    for _ in range(6):
        curve = (1 / torch.arange(1, 41) + 0.05 * torch.rand(40, generator=g)).tolist()
        cases.append((curve, int(torch.randint(1, 6, (), generator=g)), 0.01))
    cases.append(([3.0, 2.0, 1.0], 2, 0.0))
    for values, patience, min_delta in cases:
        stopper, want = EarlyStopping(patience=patience, min_delta=min_delta), -1
        for i, value in enumerate(values):
            if stopper.step(value):
                want = i
                break
        got = fn(list(values), patience, min_delta)
        assert got == want, (
            f"patience {patience}, min_delta {min_delta}, values {[round(v, 3) for v in values]}: "
            f"got {got}, EarlyStopping stops after check {want} (an improvement must beat the "
            "best by more than min_delta)"
        )
