"""The scaling-law fit recovers known parameters; the closed-form optimum matches a brute-force
search along the compute constraint."""

import numpy as np
import pytest
import torch

from masterclass.llm.scaling_laws import (
    CHINCHILLA,
    ScalingLaw,
    fit_scaling_law,
    run_grid,
    training_flops,
)
from masterclass.llm.tiny_runs import byte_data


def test_fit_recovers_chinchilla_parameters():
    # Losses generated from Chinchilla's law on a grid of N and D, with 0.1% multiplicative noise:
    # the fit must recover the exponents to 0.02 and E to 2%.
    law = ScalingLaw(**CHINCHILLA)
    n = torch.tensor([1e7, 3e7, 1e8, 3e8, 1e9, 3e9]).repeat_interleave(5)
    d = torch.tensor([1e9, 3e9, 1e10, 3e10, 1e11]).repeat(6)
    g = torch.Generator().manual_seed(0)
    losses = law.loss(n.double(), d.double()) * (
        1 + 1e-3 * torch.randn(30, generator=g, dtype=torch.float64)
    )
    fit = fit_scaling_law(n, d, losses)
    assert fit.alpha == pytest.approx(0.34, abs=0.02)
    assert fit.beta == pytest.approx(0.28, abs=0.02)
    assert pytest.approx(1.69, rel=0.02) == fit.E


def test_compute_optimal_matches_brute_force():
    # Reference: minimize L(N, C / 6N) over a fine log grid of N with numpy; the closed form must
    # land within the grid spacing (0.1%).
    law = ScalingLaw(**CHINCHILLA)
    for flops in (1e19, 1e21, 1e23):
        n_grid = np.logspace(6, 13, 70001)
        loss = law.E + law.A / n_grid**law.alpha + law.B / (flops / (6 * n_grid)) ** law.beta
        n_best = n_grid[np.argmin(loss)]
        n_opt, d_opt = law.compute_optimal(flops)
        assert n_opt == pytest.approx(n_best, rel=1e-3)
        assert training_flops(n_opt, d_opt) == pytest.approx(flops, rel=1e-9)


def test_flops_accounting_matches_the_model(tiny_llama):
    # 6ND: the model's own training FLOPs per token, without the attention term, is 6 N_matmul.
    c = tiny_llama.config
    attention = 3 * c.n_layers * 4 * 32 * c.n_heads * c.head_dim
    n_matmul = sum(
        p.numel() for n, p in tiny_llama.named_parameters() if p.dim() == 2 and "tok_emb" not in n
    )
    assert tiny_llama.flops_per_token(32) - attention == 6 * n_matmul
    assert training_flops(n_matmul, 1000) == 1000 * (tiny_llama.flops_per_token(32) - attention)


def test_grid_rows_count_parameters_and_bytes():
    rows = run_grid(byte_data(20_000, 4_000), widths=(16,), steps=(2,))
    assert rows[0]["D"] == 2 * 16 * 64 and rows[0]["N"] > 0 and rows[0]["val_loss"] > 0
