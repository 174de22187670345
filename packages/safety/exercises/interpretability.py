r"""# Exercises: Interpretability: attributions, the logit lens, direct logit attribution and patching

Integrated gradients with another quadrature rule, and reading the top component off a DLA."""

import torch
from torch import nn

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.interpretability import direct_logit_attribution, integrated_gradients


def solution_1_riemann_ig(f, x: torch.Tensor, target: int, n_steps: int) -> torch.Tensor:
    """Left Riemann sum of the path integral, zero baseline."""
    total = torch.zeros_like(x)
    for k in range(n_steps):
        point = (k / n_steps * x).detach().requires_grad_(True)
        (g,) = torch.autograd.grad(f(point)[:, target].sum(), point)
        total += g / n_steps
    return x * total


def check_1_riemann_ig(fn) -> None:
    """Compare with Gauss-Legendre IG: a left sum of 400 steps is within 1e-2 on a smooth net."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 2)).double()
    x = torch.randn(3, 5, dtype=torch.float64)
    expected = integrated_gradients(net, x, target=1, n_steps=64)
    got = fn(net, x, 1, 400)
    err = float((got - expected).abs().max())
    assert err < 1e-2, f"left-Riemann IG differs from the exact integral by {err:.3g} (want < 1e-2)"


def solution_2_top_component(model: LanguageModel, idx: torch.Tensor, token: int) -> str:
    """The residual part with the largest direct logit attribution to `token` at the last position."""
    names, contributions, _ = direct_logit_attribution(model, idx)
    return names[int(contributions[:, 0, -1, token].argmax())]


def check_2_top_component(fn) -> None:
    """Compare with the argmax of the chapter's attribution, on a model with a planted winner."""
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=20, d_model=16, n_layers=2, n_heads=2)).eval()
    idx = torch.randint(0, 20, (1, 6))
    for token in (0, 7, 13):
        names, contributions, _ = direct_logit_attribution(model, idx)
        expected = names[int(contributions[:, 0, -1, token].argmax())]
        got = fn(model, idx, token)
        assert got == expected, f"token {token}: the top component is {expected!r}, got {got!r}"
