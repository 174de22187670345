r"""# Exercises: Direct preference optimisation: DPO, IPO and the hinge loss

The gradient of the DPO loss in the margin, and the margin IPO aims for."""

import math

import torch

from masterclass.training.dpo import dpo_loss


def solution_1_dpo_margin_grad(beta: float, h: float) -> float:
    # d/dh of -log sigmoid(beta h) = -beta sigmoid(-beta h)
    return -beta / (1 + math.exp(beta * h))


def check_1_dpo_margin_grad(fn) -> None:
    for beta, h in [(0.1, 0.0), (0.5, 3.0), (1.0, -2.0)]:
        x = torch.tensor([h], dtype=torch.float64, requires_grad=True)
        z = torch.zeros(1, dtype=torch.float64)
        (want,) = torch.autograd.grad(dpo_loss(x, z, z, z, beta=beta)[0], x)
        got = fn(beta, h)
        assert abs(got - want.item()) < 1e-9, (
            f"dpo_margin_grad({beta}, {h}) = {got}, want {want.item()}"
        )


def solution_2_ipo_optimum(beta: float) -> float:
    return 1 / (2 * beta)


def check_2_ipo_optimum(fn) -> None:
    for beta in (0.1, 0.5, 2.0):
        h = fn(beta)
        z = torch.zeros(1, dtype=torch.float64)
        at = dpo_loss(torch.tensor([h], dtype=torch.float64), z, z, z, beta=beta, loss_type="ipo")[
            0
        ]
        for d in (-1e-3, 1e-3):
            near = torch.tensor([h + d], dtype=torch.float64)
            assert dpo_loss(near, z, z, z, beta=beta, loss_type="ipo")[0] > at, (
                f"ipo_optimum({beta}) = {h} is not the minimiser of the IPO loss"
            )
