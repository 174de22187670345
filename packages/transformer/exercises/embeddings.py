r"""# Exercises: Input embeddings and positional embeddings

BERT's input layer from its three tables, and a demonstration that attention without positions
cannot tell word order apart."""

import torch
import torch.nn.functional as F

from masterclass.transformer.embeddings import Embeddings
from masterclass.transformer.multi_head_attention import MultiHeadAttention


def solution_1_bert_input(ids, types, tokens, positions, segments, gain, bias, eps) -> torch.Tensor:
    r"""$\mathrm{LN}(E[x_t] + P[t] + S[s_t])$ for `ids`, `types` `(B, T)`; tables `(·, C)`."""
    T = ids.shape[1]
    h = tokens[ids] + positions[:T] + segments[types]  # (B, T, C)
    return F.layer_norm(h, (h.shape[-1],), gain, bias, eps)


def check_1_bert_input(fn) -> None:
    """Compare with the chapter's `Embeddings` configured as BERT's (learned positions, two
    segments, LayerNorm with eps 1e-12)."""
    torch.manual_seed(0)
    emb = Embeddings(50, 8, max_positions=16, n_segments=2, norm_eps=1e-12).double().eval()
    with torch.no_grad():
        emb.norm.weight.normal_()
        emb.norm.bias.normal_()
    for B, T in [(1, 3), (2, 7), (3, 16)]:
        ids = torch.randint(0, 50, (B, T))
        types = torch.randint(0, 2, (B, T))
        want = emb(ids, types)
        got = fn(
            ids,
            types,
            emb.tokens.weight.detach(),
            emb.positions.weight.detach(),
            emb.segments.weight.detach(),
            emb.norm.weight.detach(),
            emb.norm.bias.detach(),
            1e-12,
        )
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"(B, T) = {(B, T)}: max error {(got - want).abs().max().item():.2e}"
        )


def solution_2_order_blind(attn, x: torch.Tensor, perm: torch.Tensor) -> bool:
    """True when attention (no positions, no mask) commutes with permuting the tokens:
    `attn(x[:, perm]) == attn(x)[:, perm]`."""
    return bool(torch.allclose(attn(x[:, perm]), attn(x)[:, perm], atol=1e-10))


def check_2_order_blind(fn) -> None:
    """Self-attention without positions is permutation-equivariant (True); with a causal mask,
    position enters through the mask and it no longer is (False)."""
    torch.manual_seed(1)
    mha = MultiHeadAttention(8, 2).double().eval()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    with torch.no_grad():
        plain = fn(mha, x, perm)
        causal = fn(lambda h: mha(h, is_causal=True), x, perm)
    assert plain, "plain self-attention must be found order-blind"
    assert not causal, "causal attention must not be order-blind"
