r"""# Exercises: Adversarial testing: FGSM and PGD on images, HotFlip and GCG on tokens

A targeted FGSM step, and the HotFlip estimate of one substitution."""

import torch
from torch import nn
from torch.nn import functional as F

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.adversarial import hotflip_scores


def solution_1_targeted_fgsm(
    model: nn.Module, x: torch.Tensor, target: torch.Tensor, eps: float
) -> torch.Tensor:
    """Step against the gradient of the target's loss, clamped to [0, 1]."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(model(x), target), x)
    return torch.clamp(x - eps * g.sign(), 0, 1).detach()


def check_1_targeted_fgsm(fn) -> None:
    """Compare with captum's targeted FGSM."""
    from captum.robust import FGSM

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    x, t = torch.rand(6, 5, dtype=torch.float64), torch.randint(0, 3, (6,))
    ref = FGSM(net, nn.CrossEntropyLoss(reduction="none"), 0.0, 1.0).perturb(
        x, 0.05, t, targeted=True
    )
    got = fn(net, x, t, 0.05)
    assert torch.allclose(got, ref, atol=1e-12), (
        "a targeted step moves *against* the target's loss gradient"
    )


def solution_2_hotflip_gain(
    model: nn.Module, ids: torch.Tensor, position: int, token: int
) -> float:
    """(e_token - e_current) . dL/de at `position`, via the embedding gradient."""
    emb = model.tok_emb(ids[None]).detach().requires_grad_(True)
    handle = model.tok_emb.register_forward_hook(lambda _m, _i, _o: emb)
    try:
        loss = F.cross_entropy(model(ids[None])[:, -1], torch.tensor([0]))
    finally:
        handle.remove()
    (g,) = torch.autograd.grad(loss, emb)
    w = model.tok_emb.weight.detach()
    return float((w[token] - w[ids[position]]) @ g[0, position])


def check_2_hotflip_gain(fn) -> None:
    """Compare with `hotflip_scores` for target token 0."""
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=30, d_model=16, n_layers=1, n_heads=2)).eval()
    ids = torch.randint(0, 30, (5,))
    scores = hotflip_scores(model, ids, 0)
    for pos, tok in [(0, 3), (2, 17), (4, 29)]:
        got = fn(model, ids, pos, tok)
        expected = float(scores[pos, tok])
        assert abs(got - expected) < 1e-5, (
            f"position {pos}, token {tok}: expected {expected:.6f}, got {got}"
        )
