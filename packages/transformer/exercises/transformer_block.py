r"""# Exercises: The transformer block and where its layer norms go

The two placements of the normalization, written from a block's parts and checked against the
chapter's `TransformerBlock` (itself equal to `torch.nn.TransformerEncoderLayer`)."""

import torch

from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock


def solution_1_pre_norm(x, attn, ffn, norm_attn, norm_ffn) -> torch.Tensor:
    r"""$x \leftarrow x + \mathrm{Attn}(\mathrm{LN}(x))$, then $x \leftarrow x + \mathrm{FFN}(\mathrm{LN}(x))$."""
    x = x + attn(norm_attn(x))
    return x + ffn(norm_ffn(x))


def solution_2_post_norm(x, attn, ffn, norm_attn, norm_ffn) -> torch.Tensor:
    r"""$x \leftarrow \mathrm{LN}(x + \mathrm{Attn}(x))$, then $x \leftarrow \mathrm{LN}(x + \mathrm{FFN}(x))$."""
    x = norm_attn(x + attn(x))
    return norm_ffn(x + ffn(x))


def _check(fn, norm_first: bool) -> None:
    torch.manual_seed(0)
    for C, H, norm in [(8, 2, "layernorm"), (16, 4, "rmsnorm")]:
        cfg = BlockConfig(d_model=C, n_heads=H, d_ff=2 * C, norm=norm, norm_first=norm_first)
        block = TransformerBlock(cfg).double().eval()
        x = torch.randn(2, 5, C, dtype=torch.float64)
        want = block(x, is_causal=True)
        got = fn(
            x,
            lambda h, block=block: block.attn(h, is_causal=True),
            block.ffn,
            block.norm_attn,
            block.norm_ffn,
        )
        # float64: 1e-10.
        assert torch.allclose(got, want, atol=1e-10), (
            f"{'pre' if norm_first else 'post'}-norm, C={C}, {norm}: max error "
            f"{(got - want).abs().max().item():.2e}"
        )


def check_1_pre_norm(fn) -> None:
    """Compare with a pre-norm `TransformerBlock`, its parts passed in as callables."""
    _check(fn, norm_first=True)


def check_2_post_norm(fn) -> None:
    """Compare with a post-norm `TransformerBlock`, its parts passed in as callables."""
    _check(fn, norm_first=False)
