r"""# Exercises: Attention in sequence-to-sequence models: Bahdanau and Luong

Bahdanau's additive score and Luong's dot score with a padding mask, each written as tensor
code and checked against the chapter's modules and PyTorch."""

import math

import torch
import torch.nn.functional as F

from masterclass.nn.seq2seq_attention import AdditiveAttention


def solution_1_additive_attention(
    query: torch.Tensor,
    keys: torch.Tensor,
    w_query: torch.Tensor,
    w_key: torch.Tensor,
    b_key: torch.Tensor,
    v: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$e_j = v^\top\tanh(W_s s + W_h h_j + b)$, $\alpha = \mathrm{softmax}(e)$, $c = \sum_j \alpha_j h_j$."""
    hidden = torch.tanh((query @ w_query.T)[:, None, :] + keys @ w_key.T + b_key)  # (B, S, A)
    weights = torch.softmax(hidden @ v, dim=-1)  # (B, S)
    return torch.einsum("bs,bsk->bk", weights, keys), weights


def check_1_additive_attention(fn) -> None:
    """Compare with the chapter's `AdditiveAttention`, weights copied out of it."""
    g = torch.Generator().manual_seed(0)
    for B, S, Q, K, A in [(2, 5, 3, 4, 6), (1, 1, 2, 2, 2), (3, 7, 4, 3, 5)]:
        torch.manual_seed(S)
        attn = AdditiveAttention(Q, K, A).double()
        query = torch.randn(B, Q, generator=g, dtype=torch.float64)
        keys = torch.randn(B, S, K, generator=g, dtype=torch.float64)
        with torch.no_grad():
            want_c, want_w = attn(query, keys)
            got_c, got_w = fn(
                query.clone(),
                keys.clone(),
                attn.w_query.weight.clone(),
                attn.w_key.weight.clone(),
                attn.w_key.bias.clone(),
                attn.v.weight[0].clone(),
            )
        # float64; rounding only.
        assert torch.allclose(got_w, want_w, atol=1e-12), (
            f"B={B}, S={S}: attention weights off by {(got_w - want_w).abs().max():.2e}"
        )
        assert torch.allclose(got_c, want_c, atol=1e-12), (
            f"B={B}, S={S}: context off by {(got_c - want_c).abs().max():.2e}"
        )


def solution_2_dot_attention(
    query: torch.Tensor, keys: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    r"""Context $\sum_j \alpha_j h_j$ with $\alpha = \mathrm{softmax}(s^\top h_j)$ over unmasked $j$."""
    scores = torch.einsum("bd,bsd->bs", query, keys).masked_fill(~mask, -math.inf)
    return torch.einsum("bs,bsd->bd", torch.softmax(scores, dim=-1), keys)


def check_2_dot_attention(fn) -> None:
    """Compare with `F.scaled_dot_product_attention(scale=1)`, padding positions masked out."""
    g = torch.Generator().manual_seed(1)
    for B, S, D in [(2, 6, 4), (3, 3, 2), (1, 8, 5)]:
        query = torch.randn(B, D, generator=g, dtype=torch.float64)
        keys = torch.randn(B, S, D, generator=g, dtype=torch.float64)
        lengths = torch.randint(1, S + 1, (B,), generator=g)
        mask = torch.arange(S)[None, :] < lengths[:, None]  # (B, S): True = a real token
        want = F.scaled_dot_product_attention(
            query[:, None, :], keys, keys, attn_mask=mask[:, None, :], scale=1.0
        )[:, 0]
        got = fn(query.clone(), keys.clone(), mask.clone())
        assert torch.allclose(got, want, atol=1e-12), (
            f"B={B}, S={S}, lengths {lengths.tolist()}: off by {(got - want).abs().max():.2e}; "
            "masked keys get score -inf before the softmax (weight exactly 0)"
        )
