r"""# Exercises: LoRA: low-rank adaptation

Counting what LoRA trains, and folding the update into the weight."""

import torch

from masterclass.training.lora import LoRALinear


def solution_1_lora_param_count(d_in: int, d_out: int, r: int) -> int:
    return r * (d_in + d_out)


def check_1_lora_param_count(fn) -> None:
    for d_in, d_out, r in [(32, 96, 4), (64, 64, 8), (10, 3, 1)]:
        layer = LoRALinear(torch.nn.Linear(d_in, d_out), r, 2 * r)
        want = sum(p.numel() for p in layer.parameters() if p.requires_grad)
        got = fn(d_in, d_out, r)
        assert got == want, f"lora_param_count({d_in}, {d_out}, {r}) = {got}, want {want}"


def solution_2_merged_weight(W, A, B, alpha, r):
    return W + (alpha / r) * B @ A


def check_2_merged_weight(fn) -> None:
    torch.manual_seed(0)
    layer = LoRALinear(torch.nn.Linear(6, 5).double(), 3, 7.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    W, A, B = (t.detach().clone() for t in (layer.base.weight, layer.lora_A, layer.lora_B))
    layer.merge()
    got = torch.as_tensor(fn(W, A, B, 7.0, 3))
    assert torch.allclose(got, layer.base.weight, atol=1e-12), "merged_weight differs from merge()"
