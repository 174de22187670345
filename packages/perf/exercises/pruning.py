r"""# Exercises: Pruning: zeroing weights, and removing channels

Measuring sparsity, and building the structured (row) mask from scratch against PyTorch's."""

import torch
from torch import nn
from torch.nn.utils import prune


def solution_1_sparsity(module: nn.Module) -> float:
    weights = [m.weight for m in module.modules() if isinstance(m, nn.Linear)]
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / sum(w.numel() for w in weights)


def check_1_sparsity(fn) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 5))
    prune.l1_unstructured(net[0], "weight", amount=50)
    prune.l1_unstructured(net[2], "weight", amount=30)
    prune.remove(net[0], "weight")
    prune.remove(net[2], "weight")
    got, want = fn(net), 80 / 300
    assert abs(got - want) < 1e-12, f"sparsity = {got}, expected {want} (80 zeros of 300 weights)"


def solution_2_l2_row_mask(weight: torch.Tensor, amount: float) -> torch.Tensor:
    k = round(amount * weight.shape[0])
    norms = weight.norm(dim=1)  # (out,)
    mask = torch.ones_like(weight)
    mask[norms.argsort()[:k]] = 0
    return mask


def check_2_l2_row_mask(fn) -> None:
    for out_f, in_f, amount in [(8, 5, 0.25), (10, 3, 0.5), (6, 6, 0.0)]:
        torch.manual_seed(out_f)
        layer = nn.Linear(in_f, out_f)
        got = fn(layer.weight.detach().clone(), amount)
        prune.ln_structured(layer, "weight", amount=amount, n=2, dim=0)
        assert torch.equal(got, layer.weight_mask), (
            f"l2_row_mask for a ({out_f}, {in_f}) weight, amount {amount}: rows zeroed differ from "
            "prune.ln_structured(n=2, dim=0)"
        )
