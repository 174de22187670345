r"""# Exercises: Knowledge distillation: logits at a temperature, hidden states, and sequences

The temperature-scaled KL of logit distillation and its closed-form gradient, against torch."""

import torch
import torch.nn.functional as F


def solution_1_soft_kl(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> torch.Tensor:
    log_q = torch.log_softmax(student_logits / T, dim=-1)
    log_p = torch.log_softmax(teacher_logits / T, dim=-1)
    return T**2 * (log_p.exp() * (log_p - log_q)).sum(-1)


def check_1_soft_kl(fn) -> None:
    # Against F.kl_div with reduction="none", summed over the vocabulary, in float64.
    torch.manual_seed(0)
    for T in (0.5, 1.0, 4.0):
        s, t = torch.randn(6, 9, dtype=torch.float64), 3 * torch.randn(6, 9, dtype=torch.float64)
        got = fn(s, t, T)
        want = T**2 * F.kl_div(
            F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True, reduction="none"
        ).sum(-1)
        assert got.shape == (6,), f"one value per row, got shape {tuple(got.shape)}"
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12), f"T={T}: {got} vs {want}"


def solution_2_kd_logit_grad(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> torch.Tensor:
    return T * (torch.softmax(student_logits / T, -1) - torch.softmax(teacher_logits / T, -1))


def check_2_kd_logit_grad(fn) -> None:
    # Against autograd of T^2 * KL summed over rows.
    torch.manual_seed(1)
    for T in (0.5, 2.0, 8.0):
        s = torch.randn(4, 7, dtype=torch.float64, requires_grad=True)
        t = torch.randn(4, 7, dtype=torch.float64)
        loss = T**2 * F.kl_div(
            F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True, reduction="sum"
        )
        (want,) = torch.autograd.grad(loss, s)
        got = fn(s.detach(), t, T)
        assert torch.allclose(got, want, rtol=1e-10, atol=1e-12), f"T={T}: gradient is off"
