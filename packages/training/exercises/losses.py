r"""# Exercises: Loss functions of language-model training

Label-smoothed cross-entropy by hand, and the closed-form gradient of the z-loss."""

import torch
import torch.nn.functional as F


def solution_1_smoothed_nll(
    logits: torch.Tensor, targets: torch.Tensor, eps: float
) -> torch.Tensor:
    logp = logits.log_softmax(dim=-1)  # (N, V)
    nll = -logp.gather(1, targets[:, None])[:, 0]  # (N,)
    return ((1 - eps) * nll - eps * logp.mean(dim=-1)).mean()


def check_1_smoothed_nll(fn) -> None:
    g = torch.Generator().manual_seed(0)
    for eps in (0.0, 0.1, 0.3):
        logits = torch.randn(6, 9, generator=g, dtype=torch.float64)
        targets = torch.randint(0, 9, (6,), generator=g)
        want = F.cross_entropy(logits, targets, label_smoothing=eps)
        got = fn(logits, targets, eps)
        assert torch.allclose(torch.as_tensor(got, dtype=torch.float64), want, atol=1e-9), (
            f"smoothed_nll with eps={eps} gave {float(got):.6f}, torch gives {want.item():.6f}"
        )


def solution_2_z_loss_grad(logits: torch.Tensor) -> torch.Tensor:
    return 2 * torch.logsumexp(logits, -1) * logits.softmax(-1)


def check_2_z_loss_grad(fn) -> None:
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        z = (torch.randn(7, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
        (want,) = torch.autograd.grad(torch.logsumexp(z, -1) ** 2, z)
        got = fn(z.detach())
        assert torch.allclose(torch.as_tensor(got, dtype=torch.float64), want, atol=1e-9), (
            f"z_loss_grad gave {got}, autograd gives {want}"
        )
