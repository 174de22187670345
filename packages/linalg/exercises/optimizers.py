r"""# Exercises: Optimization algorithms: SGD, AdaGrad, RMSprop, Adam, AdamW

AdaGrad's and RMSprop's steps written out, checked for a run of steps against `torch.optim`."""

import torch


def solution_1_adagrad_step(
    param: torch.Tensor, grad: torch.Tensor, sum_sq: torch.Tensor, lr: float, eps: float = 1e-10
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$G \mathrel{+}= g^2$, $\theta \mathrel{-}= \eta\, g/(\sqrt G + \epsilon)$ (torch's $\epsilon$ placement)."""
    sum_sq = sum_sq + grad * grad
    return param - lr * grad / (sum_sq.sqrt() + eps), sum_sq


def solution_2_rmsprop_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    sq_avg: torch.Tensor,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$v \leftarrow \alpha v + (1-\alpha)g^2$, $\theta \mathrel{-}= \eta\, g/(\sqrt v + \epsilon)$."""
    sq_avg = alpha * sq_avg + (1 - alpha) * grad * grad
    return param - lr * grad / (sq_avg.sqrt() + eps), sq_avg


def _against_torch(fn, make_optimizer, name: str) -> None:
    g = torch.Generator().manual_seed(0)
    for lr in (0.1, 0.01):
        p = torch.nn.Parameter(torch.randn(6, generator=g, dtype=torch.float64))
        opt = make_optimizer([p], lr)
        theta, state = p.detach().clone(), torch.zeros(6, dtype=torch.float64)
        for step in range(1, 9):
            grad = torch.randn(6, generator=g, dtype=torch.float64) * step
            p.grad = grad.clone()
            opt.step()
            theta, state = fn(theta, grad, state, lr)
            # float64 and the same formula: rounding only.
            assert torch.allclose(theta, p.detach(), atol=1e-12), (
                f"lr {lr}, step {step}: off by {(theta - p.detach()).abs().max():.2e} from "
                f"torch.optim.{name} (epsilon is added outside the square root)"
            )


def check_1_adagrad_step(fn) -> None:
    """Run 8 steps beside `torch.optim.Adagrad`."""
    _against_torch(fn, lambda ps, lr: torch.optim.Adagrad(ps, lr=lr), "Adagrad")


def check_2_rmsprop_step(fn) -> None:
    """Run 8 steps beside `torch.optim.RMSprop`."""
    _against_torch(fn, lambda ps, lr: torch.optim.RMSprop(ps, lr=lr), "RMSprop")
