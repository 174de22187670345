r"""# Exercises: Scaled dot-product attention

Attention from its formula, the causal mask, and the measurement behind the $1/\sqrt{D}$ scale."""

import math

import torch
import torch.nn.functional as F


def solution_1_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""$\operatorname{softmax}(QK^\top / \sqrt D) V$ for `(T, D)` inputs."""
    scores = q @ k.T / math.sqrt(q.shape[-1])  # (T, S)
    return torch.softmax(scores, dim=-1) @ v


def _qkv(seed: int, T: int = 5, D: int = 4):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(T, D, generator=g, dtype=torch.float64) for _ in range(3)]


def check_1_attention(fn) -> None:
    """Compare with `F.scaled_dot_product_attention`."""
    for seed in range(3):
        q, k, v = _qkv(seed)
        want = F.scaled_dot_product_attention(q[None], k[None], v[None])[0]
        got = fn(q, k, v)
        assert torch.allclose(got, want, atol=1e-12), f"seed {seed}: differs from SDPA"


def solution_2_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    r"""Mask the scores above the diagonal with $-\infty$ before the softmax."""
    T = q.shape[0]
    scores = q @ k.T / math.sqrt(q.shape[-1])
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    return torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1) @ v


def check_2_causal_attention(fn) -> None:
    """Compare with `F.scaled_dot_product_attention(..., is_causal=True)`."""
    for seed in range(3):
        q, k, v = _qkv(seed)
        want = F.scaled_dot_product_attention(q[None], k[None], v[None], is_causal=True)[0]
        got = fn(q, k, v)
        assert torch.allclose(got, want, atol=1e-12), f"seed {seed}: differs from causal SDPA"


def solution_3_score_std(D: int, n: int) -> float:
    r"""The sample standard deviation of $q^\top k$ over `n` random pairs."""
    g = torch.Generator().manual_seed(0)
    q = torch.randn(n, D, generator=g, dtype=torch.float64)
    k = torch.randn(n, D, generator=g, dtype=torch.float64)
    return float((q * k).sum(-1).std())


def check_3_score_std(fn) -> None:
    r"""The measured spread must be close to $\sqrt D$ (a sum of D products of unit variance)."""
    for D in (4, 16, 64):
        got = fn(D, 20000)
        assert abs(got / math.sqrt(D) - 1) < 0.05, f"D={D}: std {got:.3f}, sqrt(D) = {D**0.5:.3f}"
