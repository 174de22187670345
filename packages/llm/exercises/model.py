r"""# Exercises: The language model

ALiBi's slopes, grouped-query attention's sharing of key/value heads, and the forward FLOPs."""

import math

import torch
import torch.nn.functional as F

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel, alibi_slopes


def solution_1_alibi_slopes(n_heads: int) -> list[float]:
    r"""$2^{-8h/H}$ for a power of two $H$; otherwise the next power down's slopes, then every
    other slope of the next power up."""

    def power(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    p = 2 ** math.floor(math.log2(n_heads))
    return power(p) + power(2 * p)[0::2][: n_heads - p]


def check_1_alibi_slopes(fn) -> None:
    """Compare with the chapter's `alibi_slopes`, powers of two and not."""
    for n_heads in (1, 2, 4, 6, 8, 12):
        got = [float(s) for s in fn(n_heads)]
        want = alibi_slopes(n_heads).tolist()
        assert len(got) == len(want), f"H={n_heads}: {len(got)} slopes, want {len(want)}"
        assert all(abs(a - b) < 1e-7 for a, b in zip(got, want)), (
            f"H={n_heads}: got {got}, want {want}"
        )


def solution_2_repeat_kv(k: torch.Tensor, n_heads: int) -> torch.Tensor:
    """`(B, H_kv, T, D)` -> `(B, H, T, D)`: query head `h` uses key/value head `h // (H / H_kv)`."""
    return k.repeat_interleave(n_heads // k.shape[1], dim=1)


def check_2_repeat_kv(fn) -> None:
    """Attention with the candidate's expanded keys and values must equal PyTorch's own
    grouped-query attention (`scaled_dot_product_attention(..., enable_gqa=True)`)."""
    g = torch.Generator().manual_seed(0)
    for B, H, H_kv, T, D in [(1, 4, 1, 3, 8), (2, 6, 2, 5, 4), (1, 8, 4, 7, 16), (2, 3, 3, 2, 4)]:
        q = torch.randn(B, H, T, D, generator=g, dtype=torch.float64)
        k = torch.randn(B, H_kv, T, D, generator=g, dtype=torch.float64)
        v = torch.randn(B, H_kv, T, D, generator=g, dtype=torch.float64)
        want = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        k_rep, v_rep = fn(k, H), fn(v, H)
        assert tuple(k_rep.shape) == (B, H, T, D), f"shape {tuple(k_rep.shape)}, want (B, H, T, D)"
        got = F.scaled_dot_product_attention(q, k_rep, v_rep, is_causal=True)
        # float64: only summation order differs.
        assert torch.allclose(got, want, atol=1e-12), (
            f"H={H}, H_kv={H_kv}: attention differs from grouped-query attention; consecutive "
            "query heads share a key/value head"
        )


def solution_3_forward_flops(config: LMConfig, seq_len: int) -> int:
    r"""$2$ FLOPs per weight of every matrix product (attention projections, FFN, output head),
    plus $4 T H D$ per layer for the scores $QK^\top$ and the weighted sum of values."""
    d, D, H, H_kv = config.d_model, config.head_dim, config.n_heads, config.n_kv_heads
    n_ffn = 3 if config.ffn in ("swiglu", "geglu") else 2
    per_layer = (2 * d * H * D + 2 * d * H_kv * D) + n_ffn * d * config.d_ff
    matmul = config.n_layers * per_layer + config.vocab_size * d
    return 2 * matmul + config.n_layers * 4 * seq_len * H * D


def check_3_forward_flops(fn) -> None:
    """Compare with `LanguageModel.flops_per_token(training=False)`, which counts the model's
    real weight matrices."""
    for cfg, t in [
        (LMConfig.llama(vocab_size=64, d_model=32, n_layers=2, n_heads=4), 16),
        (LMConfig.llama(vocab_size=100, d_model=48, n_layers=3, n_heads=6, n_kv_heads=2), 64),
        (LMConfig.gpt2(vocab_size=50, d_model=32, n_layers=1, n_heads=2, max_seq_len=128), 128),
    ]:
        want = LanguageModel(cfg).flops_per_token(t, training=False)
        got = fn(cfg, t)
        assert got == want, f"{cfg.ffn}, H_kv={cfg.n_kv_heads}, T={t}: got {got}, want {want}"
