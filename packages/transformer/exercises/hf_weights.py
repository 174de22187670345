r"""# Exercises: Converting checkpoints: one checked copy between naming schemes

Splitting fused weights by hand: GPT-2's `(in, out)` `c_attn`, and BLOOM's head-interleaved rows."""

import torch
from torch import Tensor
from transformers.pytorch_utils import Conv1D


def solution_1_split_c_attn(
    weight: Tensor, bias: Tensor
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    r"""Transpose the `(C, 3C)` Conv1D weight to `(3C, C)`, then cut rows and bias in three."""
    ws = weight.T.chunk(3, dim=0)  # 3 x (C, C)
    bs = bias.chunk(3)  # 3 x (C,)
    return tuple(zip(ws, bs))


def check_1_split_c_attn(fn) -> None:
    """Each `(w, b)` as `x @ w.T + b` must give its block of transformers' own `Conv1D` output."""
    for seed, C in ((0, 4), (1, 6)):
        torch.manual_seed(seed)
        conv = Conv1D(3 * C, C).double()
        torch.nn.init.normal_(conv.weight)
        torch.nn.init.normal_(conv.bias)
        x = torch.randn(5, C, dtype=torch.float64)
        want = conv(x).split(C, dim=-1)  # q, k, v blocks of the fused output
        got = fn(conv.weight.detach().clone(), conv.bias.detach().clone())
        assert len(got) == 3, f"C={C}: return three (weight, bias) pairs, got {len(got)}"
        for name, (w, b), ref in zip("qkv", got, want):
            assert tuple(w.shape) == (C, C), f"C={C}: w_{name} must be (C, C), got {tuple(w.shape)}"
            assert torch.allclose(x @ w.T + b, ref, atol=1e-12), (
                f"C={C}: the {name} projection differs from Conv1D's {name} block; "
                "did you transpose the (in, out) weight before splitting?"
            )


def solution_2_bloom_qkv_to_stacked(weight: Tensor, n_heads: int) -> Tensor:
    r"""Rows (head, q/k/v, d) -> (q/k/v, head, d): view `(H, 3, D, C)`, swap the first two axes."""
    rows, C = weight.shape
    D = rows // (3 * n_heads)
    return weight.view(n_heads, 3, D, C).transpose(0, 1).reshape(rows, C)


def check_2_bloom_qkv_to_stacked(fn) -> None:
    """Compare with the split BLOOM's attention does on the fused output, head by head."""
    for H, D, C in ((2, 3, 4), (4, 2, 8)):
        g = torch.Generator().manual_seed(H)
        weight = torch.randn(3 * H * D, C, generator=g, dtype=torch.float64)
        x = torch.randn(7, C, generator=g, dtype=torch.float64)
        # BloomAttention: fused_qkv.view(..., H, 3, D), then [..., 0, :] is q, 1 is k, 2 is v.
        fused = (x @ weight.T).view(7, H, 3, D)
        want = [fused[:, :, j].reshape(7, H * D) for j in range(3)]  # q, k, v: (7, H D)
        got = fn(weight.clone(), H)
        assert tuple(got.shape) == tuple(weight.shape), (
            f"H={H}: the result must keep the shape {tuple(weight.shape)}, got {tuple(got.shape)}"
        )
        for name, block, ref in zip("qkv", (x @ got.T).split(H * D, dim=-1), want):
            assert torch.allclose(block, ref, atol=1e-12), (
                f"H={H}, D={D}: rows {name} of your stack differ from BLOOM's {name}; rows are "
                "ordered (head, q/k/v, d) in BLOOM"
            )
