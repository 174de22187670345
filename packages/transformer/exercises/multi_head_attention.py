r"""# Exercises: Multi-head attention

Splitting channels into heads and back, and the whole multi-head forward pass from its four
weight matrices, against PyTorch's `nn.MultiheadAttention` with the same weights."""

import torch

from masterclass.transformer.multi_head_attention import combine_masks


def solution_1_split_heads(x: torch.Tensor, n_heads: int) -> torch.Tensor:
    """`(B, T, H D)` -> `(B, H, T, D)`: head `h` owns channels `h D .. (h+1) D - 1`."""
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def check_1_split_heads(fn) -> None:
    """Each head's slice must be the channel block that `nn.MultiheadAttention` gives it."""
    g = torch.Generator().manual_seed(0)
    for B, T, H, D in [(1, 3, 2, 2), (2, 5, 4, 3), (1, 1, 1, 8)]:
        x = torch.randn(B, T, H * D, generator=g)
        got = fn(x, H)
        assert tuple(got.shape) == (B, H, T, D), f"shape {tuple(got.shape)}, want {(B, H, T, D)}"
        for h in range(H):
            assert torch.equal(got[:, h], x[..., h * D : (h + 1) * D]), (
                f"head {h} must hold channels {h * D}..{(h + 1) * D - 1}"
            )


def solution_2_mha(x, w_q, w_k, w_v, w_o, n_heads: int, causal: bool) -> torch.Tensor:
    r"""$\mathrm{Concat}_h(\mathrm{softmax}(Q_h K_h^\top / \sqrt D + M) V_h)\, W_O^\top$, each
    $Q_h$ a channel block of $x W_Q^\top$ (no biases)."""
    B, T, C = x.shape
    q, k, v = (solution_1_split_heads(x @ w.T, n_heads) for w in (w_q, w_k, w_v))
    scores = q @ k.transpose(-2, -1) / (C // n_heads) ** 0.5  # (B, H, T, T)
    if causal:
        scores = scores.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
    y = scores.softmax(-1) @ v  # (B, H, T, D)
    return y.transpose(1, 2).reshape(B, T, C) @ w_o.T


def check_2_mha(fn) -> None:
    """Compare with `torch.nn.MultiheadAttention` (batch-first, no bias) on copied weights."""
    torch.manual_seed(0)
    for B, T, C, H, causal in [(1, 4, 8, 2, False), (2, 5, 12, 3, True), (2, 3, 16, 4, True)]:
        ref = torch.nn.MultiheadAttention(C, H, bias=False, batch_first=True).double()
        x = torch.randn(B, T, C, dtype=torch.float64)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1) if causal else None
        want, _ = ref(x, x, x, attn_mask=mask, need_weights=False)
        w_q, w_k, w_v = ref.in_proj_weight.detach().chunk(3)
        got = fn(x, w_q, w_k, w_v, ref.out_proj.weight.detach(), H, causal)
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"(B, T, C, H) = {(B, T, C, H)}, causal={causal}: max error "
            f"{(got - want).abs().max().item():.2e}"
        )


def solution_3_combine(bool_mask: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    r"""One additive mask: $-\infty$ where the boolean mask forbids, plus the float bias."""
    return bias.masked_fill(~bool_mask, float("-inf"))


def check_3_combine(fn) -> None:
    """Compare with the chapter's `combine_masks` for a boolean mask and a float bias."""
    g = torch.Generator().manual_seed(1)
    for T in (3, 5):
        allowed = torch.rand(T, T, generator=g) > 0.3
        bias = torch.randn(T, T, generator=g)
        got, want = fn(allowed, bias), combine_masks(allowed, bias)
        assert torch.equal(torch.isinf(got), torch.isinf(want)), "-inf exactly where forbidden"
        finite = ~torch.isinf(want)
        assert torch.allclose(got[finite], want[finite]), "the bias must be kept where allowed"
