r"""# Exercises: Maximum likelihood estimation, in closed form and numerically, with standard errors

The Fisher information of logistic regression, and the standard error of a Poisson rate, both
checked against the curvature autograd measures."""

import numpy as np
import torch


def solution_1_logistic_fisher(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""$\mathcal I(w) = X^\top\operatorname{diag}(p_i(1 - p_i))X$ with $p = \sigma(Xw)$."""
    p = 1 / (1 + np.exp(-x @ w))
    return x.T @ (x * (p * (1 - p))[:, None])


def check_1_logistic_fisher(fn) -> None:
    """Compare with the Hessian of the logistic negative log-likelihood by `torch.autograd`."""
    rng = np.random.default_rng(0)
    for n, d in [(20, 2), (50, 4), (5, 1)]:
        x, w = rng.normal(size=(n, d)), rng.normal(size=d)
        y = torch.tensor((rng.uniform(size=n) < 0.5).astype(float))
        xt = torch.tensor(x)

        def nll(wt, xt=xt, y=y):
            z = xt @ wt
            return (torch.nn.functional.softplus(z) - y * z).sum()

        want = torch.autograd.functional.hessian(nll, torch.tensor(w)).numpy()
        got = np.asarray(fn(w.copy(), x.copy()), dtype=float)
        assert np.allclose(got, want, atol=1e-10), (
            f"n={n}, d={d}: off by {np.abs(got - want).max():.2e} from the autograd Hessian "
            "(it does not depend on y)"
        )


def solution_2_poisson_standard_error(x: np.ndarray) -> float:
    r"""$\hat\lambda = \bar x$ and $\mathcal I(\hat\lambda) = N/\hat\lambda$: s.e. $\sqrt{\hat\lambda/N}$."""
    return float(np.sqrt(np.mean(x) / len(x)))


def check_2_poisson_standard_error(fn) -> None:
    r"""Compare with $1/\sqrt{\ell''(\hat\lambda)}$, the second derivative taken by autograd."""
    rng = np.random.default_rng(1)
    for lam, n in [(3.0, 40), (0.5, 200), (20.0, 10)]:
        x = rng.poisson(lam, size=n).astype(float)
        xt = torch.tensor(x)
        lam_hat = torch.tensor(float(x.mean()))

        def nll(lt, xt=xt):
            return (lt - xt * torch.log(lt)).sum()

        curvature = torch.autograd.functional.hessian(nll, lam_hat.double()).item()
        want = 1 / np.sqrt(curvature)
        got = fn(x.copy())
        assert np.isclose(got, want, rtol=1e-10), (
            f"lambda {lam}, N={n}: got {got}, 1 / sqrt(Fisher information) = {want}"
        )
