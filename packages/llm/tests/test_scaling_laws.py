"""The scaling-law fit recovers known parameters; the closed-form optimum matches a brute-force
search along the compute constraint."""

import numpy as np
import pytest
import torch

from masterclass.llm.scaling_laws import CHINCHILLA, ScalingLaw, fit_scaling_law, training_flops


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
