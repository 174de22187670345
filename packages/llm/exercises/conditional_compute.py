r"""# Exercises: Conditional computation: spending less compute on easy tokens

Early exit's stopping rule, mixture-of-depths' token choice, and its compute in closed form."""

import math

import numpy as np
import torch

from masterclass.llm.conditional_compute import MixtureOfDepthsLM, MoDBlock
from masterclass.llm.config import LMConfig
from masterclass.llm.model import Block, LanguageModel


def solution_1_exit_layers(confidence: torch.Tensor, threshold: float) -> torch.Tensor:
    r"""`confidence` `(L, N)`: $\max_i p^{(\ell)}_i$ of each token after each layer. A token exits
    after the first layer $\ell < L$ whose confidence reaches $\lambda$ (1-based), else at $L$."""
    L = confidence.shape[0]
    hit = confidence[:-1] >= threshold  # (L - 1, N): the last layer always ends the run
    first = torch.where(
        hit.any(dim=0), hit.int().argmax(dim=0) + 1, torch.full_like(hit[0], L, dtype=torch.long)
    )
    return first.long()


def check_1_exit_layers(fn) -> None:
    """Compare with a plain loop over layers, token by token."""
    rng = np.random.default_rng(0)
    for L, N, threshold in [(4, 10, 0.6), (2, 5, 0.5), (6, 20, 0.9), (3, 4, 1.01)]:
        confidence = rng.uniform(0, 1, (L, N))
        want = []
        for n in range(N):
            layer = L
            for ell in range(L - 1):
                if confidence[ell, n] >= threshold:
                    layer = ell + 1
                    break
            want.append(layer)
        got = torch.as_tensor(fn(torch.tensor(confidence), threshold)).tolist()
        assert got == want, (
            f"L={L}, lambda={threshold}: got {got}, want {want} (1-based: exiting after the first "
            "block is layer 1; never exiting is layer L)"
        )


def solution_2_mod_choice(scores: torch.Tensor, capacity: float) -> torch.Tensor:
    r"""The top $\lceil cT \rceil$ positions of each row of router scores `(B, T)`, in sequence order."""
    k = max(1, math.ceil(capacity * scores.shape[1]))
    return scores.topk(k, dim=-1).indices.sort(dim=-1).values


def check_2_mod_choice(fn) -> None:
    """The positions must be those a real `MoDBlock` routes through its block."""
    torch.manual_seed(0)
    cfg = LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=2)
    for B, T, c in [(1, 8, 0.125), (2, 16, 0.25), (3, 10, 0.5), (2, 7, 1.0)]:
        block = MoDBlock(Block(cfg), cfg.d_model, c)
        x = torch.randn(B, T, cfg.d_model)
        with torch.no_grad():
            _, want = block(x, None)
            scores = block.router(x).squeeze(-1)  # (B, T)
        got = torch.as_tensor(fn(scores, c))
        assert got.shape == want.shape, f"shape {tuple(got.shape)}, want (B, ceil(c T))"
        assert torch.equal(got, want), (
            f"B={B}, T={T}, c={c}: got {got.tolist()}, want {want.tolist()}"
        )


def solution_3_mod_fraction(
    matmul: float, attention: float, capacity: float, routed_share: float
) -> float:
    r"""$\frac{(1 - r)(m + a) + r (c m + c^2 a)}{m + a}$, per token of the sequence."""
    m, a, c, r = matmul, attention, capacity, routed_share
    return ((1 - r) * (m + a) + r * (c * m + c * c * a)) / (m + a)


def check_3_mod_fraction(fn) -> None:
    """Compare with `MixtureOfDepthsLM.block_flops_fraction`, feeding the candidate the per-block
    costs the chapter counts: $m$ = 2 FLOPs per block weight, $a = 4 T H D$."""
    for d, L, H, T, c, every in [
        (64, 4, 4, 64, 0.125, 2),
        (32, 6, 2, 128, 0.25, 3),
        (48, 2, 4, 10, 0.5, 1),
    ]:
        model = LanguageModel(LMConfig.llama(vocab_size=32, d_model=d, n_layers=L, n_heads=H))
        mod = MixtureOfDepthsLM(model, capacity=c, every=every)
        m = 2 * sum(p.numel() for p in model.blocks[0].parameters() if p.dim() == 2)
        a = 4 * T * H * (d // H)
        c_eff = math.ceil(c * T) / T  # the capacity after rounding to whole tokens
        got = fn(m, a, c_eff, len(mod.routed) / L)
        want = mod.block_flops_fraction(T)
        assert math.isclose(got, want, rel_tol=1e-12), (
            f"d={d}, L={L}, T={T}, c={c}, every {every}: got {got:.6f}, want {want:.6f}"
        )
