r"""# Exercises: PyTorch's own int8 quantization, beside a from-scratch one

PyTorch's symmetric per-channel scale, and measuring what quantization saves on disk."""

import torch
from torch import nn

from masterclass.perf.quantization import dynamic_int8, serialized_bytes


def solution_1_torch_symmetric_scale(w: torch.Tensor) -> torch.Tensor:
    # [-max|w|, max|w|] spread over the 255 steps of [-128, 127].
    return w.abs().amax(dim=1) / 127.5


def check_1_torch_symmetric_scale(fn) -> None:
    for out_f, in_f in [(4, 8), (16, 3)]:
        torch.manual_seed(out_f)
        linear = nn.Linear(in_f, out_f)
        want = dynamic_int8(nn.Sequential(linear))[0].weight().q_per_channel_scales().float()
        got = fn(linear.weight.detach().clone())
        assert torch.allclose(got.float(), want, rtol=1e-6, atol=0), (
            f"torch_symmetric_scale for a ({out_f}, {in_f}) weight: got {got}, PyTorch picks {want}"
        )


def solution_2_compression_ratio(float_model: nn.Module, quantized_model: nn.Module) -> float:
    return serialized_bytes(float_model) / serialized_bytes(quantized_model)


def check_2_compression_ratio(fn) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64))
    quantized = dynamic_int8(model)
    got = fn(model, quantized)
    want = serialized_bytes(model) / serialized_bytes(quantized)
    assert abs(got - want) < 1e-9, f"compression_ratio = {got}, expected {want}"
