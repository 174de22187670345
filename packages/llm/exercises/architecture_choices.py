r"""# Exercises: Architecture choices

The two norms side by side (RMSNorm drops LayerNorm's mean and bias), and what tying saves."""

import torch
import torch.nn.functional as F

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel


def solution_1_rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    r"""$x / \sqrt{\overline{x^2} + \epsilon} \odot g$ over the last dimension."""
    return x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps) * weight


def check_1_rms_norm(fn) -> None:
    """Compare with `torch.nn.functional.rms_norm`, value and gradient."""
    g = torch.Generator().manual_seed(0)
    for shape, eps in [((3, 8), 1e-5), ((2, 4, 16), 1e-6), ((5, 1), 1e-5)]:
        x = (torch.randn(*shape, generator=g, dtype=torch.float64) * 3).requires_grad_(True)
        w = torch.randn(shape[-1], generator=g, dtype=torch.float64)
        got, want = fn(x, w, eps), F.rms_norm(x, (shape[-1],), w, eps)
        # float64: agreement to 1e-10 (only the order of the mean's sum differs).
        assert torch.allclose(got, want, atol=1e-10), (
            f"shape {shape}: max error {(got - want).abs().max().item():.2e}; divide by the root "
            "mean square, no mean subtracted"
        )
        (gg,) = torch.autograd.grad(got.sum(), x)
        (gw,) = torch.autograd.grad(want.sum(), x)
        assert torch.allclose(gg, gw, atol=1e-10), "the gradient differs from torch's rms_norm"


def solution_2_layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float
) -> torch.Tensor:
    r"""$(x - \bar x) / \sqrt{\mathrm{Var}(x) + \epsilon} \odot g + b$, biased variance."""
    mean = x.mean(dim=-1, keepdim=True)
    var = (x - mean).pow(2).mean(dim=-1, keepdim=True)
    return (x - mean) * torch.rsqrt(var + eps) * weight + bias


def check_2_layer_norm(fn) -> None:
    """Compare with `torch.nn.functional.layer_norm`, value and gradient."""
    g = torch.Generator().manual_seed(1)
    for shape, eps in [((3, 8), 1e-5), ((2, 4, 16), 1e-6)]:
        x = (torch.randn(*shape, generator=g, dtype=torch.float64) + 2).requires_grad_(True)
        w = torch.randn(shape[-1], generator=g, dtype=torch.float64)
        b = torch.randn(shape[-1], generator=g, dtype=torch.float64)
        got, want = fn(x, w, b, eps), F.layer_norm(x, (shape[-1],), w, b, eps)
        # float64: agreement to 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"shape {shape}: max error {(got - want).abs().max().item():.2e} (the variance is "
            "the biased one, divided by n)"
        )
        (gg,) = torch.autograd.grad(got.sum(), x)
        (gw,) = torch.autograd.grad(want.sum(), x)
        assert torch.allclose(gg, gw, atol=1e-10), "the gradient differs from torch's layer_norm"


def solution_3_tying_saves(vocab_size: int, d_model: int) -> int:
    r"""The output head is a second $V \times d$ matrix; tying shares it with the embedding."""
    return vocab_size * d_model


def check_3_tying_saves(fn) -> None:
    """Build the model untied and tied and count the difference."""
    for V, d in [(256, 64), (1000, 32), (50, 48)]:
        cfg = dict(vocab_size=V, d_model=d, n_layers=1, n_heads=4)
        untied = LanguageModel(LMConfig.llama(**cfg)).num_parameters()
        tied = LanguageModel(LMConfig.llama(**cfg, tie_embeddings=True)).num_parameters()
        got = fn(V, d)
        assert got == untied - tied, f"V={V}, d={d}: got {got}, tying saves {untied - tied}"
