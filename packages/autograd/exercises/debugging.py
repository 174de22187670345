r"""# Exercises: Debugging and profiling ML code

A central-difference gradient checked against autograd, the step size that balances truncation
against rounding checked against a numerical minimiser, and a forward hook that names the first
module to produce a NaN, checked by stepping through the network by hand."""

import numpy as np
import scipy.optimize
import torch
from torch import nn

from masterclass.autograd.debugging import NonFiniteHunter


def solution_1_central_difference(f, x: np.ndarray, eps: float) -> np.ndarray:
    r"""$\partial_i f \approx (f(x + \varepsilon e_i) - f(x - \varepsilon e_i)) / 2\varepsilon$."""
    x = np.array(x, dtype=np.float64)  # a copy: the caller's array is left alone
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        plus = f(x)
        x[i] = old - eps
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * eps)
    return grad


# The same scalar functions twice: in NumPy for the learner's differences, in torch for autograd.
_A = np.random.default_rng(3).normal(size=(4, 4))
_FUNCTIONS = [
    (
        "sum(sin(x) x^2)",
        lambda a: float((np.sin(a) * a**2).sum()),
        lambda t: (t.sin() * t**2).sum(),
    ),
    (
        "logsumexp(x)",
        lambda a: float(np.log(np.exp(a).sum())),
        lambda t: torch.logsumexp(t.reshape(-1), 0),
    ),
    (
        "sum of x^T A x over rows",
        lambda a: float(((a @ _A) * a).sum()),
        lambda t: ((t @ torch.from_numpy(_A)) * t).sum(),
    ),
]


def check_1_central_difference(fn) -> None:
    """Compare with `torch.autograd.grad` at a step of 1e-4, where a one-sided difference fails."""
    rng = np.random.default_rng(0)
    for name, f_np, f_torch in _FUNCTIONS:
        for shape in [(4,), (3, 4)]:
            x = rng.normal(size=shape)
            before = x.copy()
            got = np.asarray(fn(f_np, x, 1e-4), dtype=np.float64)
            assert np.array_equal(x, before), f"{name}: fn changed its input x; restore each entry"
            xt = torch.tensor(x, requires_grad=True)
            (want,) = torch.autograd.grad(f_torch(xt), xt)
            # Central differences at eps = 1e-4: truncation eps^2 f'''/6 ~ 1e-9, rounding
            # u f / eps ~ 1e-12; a forward difference errs by eps f''/2 ~ 1e-4 and fails.
            err = np.abs(got - want.numpy()).max()
            assert err < 1e-6, (
                f"{name}, x of shape {shape}: off by {err:.2e} from autograd (a one-sided "
                "difference is only first-order accurate: step both ways)"
            )


def solution_2_optimal_step(u: float, f0: float, f3: float) -> float:
    r"""The minimiser of $E(h) = h^2 |f'''| / 6 + u |f| / h$: $h^* = (3u|f| / |f'''|)^{1/3}$."""
    return (3 * u * abs(f0) / abs(f3)) ** (1 / 3)


def check_2_optimal_step(fn) -> None:
    """Compare with scipy's bounded minimiser of the error model, over log h."""
    for u, f0, f3 in [
        (np.finfo(np.float64).eps, np.e, np.e),  # exp at x = 1, float64
        (np.finfo(np.float32).eps, np.e, np.e),  # the same in float32
        (np.finfo(np.float64).eps, 1.0, -8.0),  # a negative third derivative
        (1e-10, 50.0, 0.3),
    ]:

        def model(log_h: float, u: float = u, f0: float = f0, f3: float = f3) -> float:
            h = np.exp(log_h)
            return h**2 * abs(f3) / 6 + u * abs(f0) / h

        best = scipy.optimize.minimize_scalar(
            model, bounds=(-60.0, 5.0), method="bounded", options={"xatol": 1e-10}
        )
        want, got = float(np.exp(best.x)), float(fn(u, f0, f3))
        # The minimiser stops within 1e-10 in log h: a relative 1e-6 is far above that.
        assert abs(got - want) <= 1e-6 * want, (
            f"u={u:.3g}, f={f0:.3g}, f'''={f3:.3g}: got h = {got:.6g}, the error model is "
            f"smallest at h = {want:.6g} (set dE/dh = 0)"
        )


def solution_3_first_nonfinite_module(model: nn.Module, x: torch.Tensor) -> str | None:
    """Run `model(x)` with a forward hook on every submodule; return the name of the first
    module whose output is not finite (None if all are), and remove the hooks."""
    found: list[str] = []

    def hook(name: str):
        def _hook(_module, _inputs, output) -> None:
            if not found and not bool(torch.isfinite(output).all()):
                found.append(name)

        return _hook

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    return found[0] if found else None


class _Log(nn.Module):
    """log(x): NaN for negative inputs, -inf at zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class _Exp(nn.Module):
    """exp(x): inf once x exceeds about 88 in float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.exp(x)


def _random_network(rng: np.random.Generator, nested: bool) -> nn.Sequential:
    choices = [
        lambda: nn.Linear(4, 4),
        lambda: nn.Tanh(),
        lambda: _Log(),
        lambda: _Exp(),
        lambda: nn.ReLU(),
    ]
    layers = [choices[int(rng.integers(0, len(choices)))]() for _ in range(int(rng.integers(3, 7)))]
    if nested:
        return nn.Sequential(nn.Sequential(*layers[:2]), nn.Sequential(*layers[2:]), nn.Tanh())
    return nn.Sequential(*layers)


def check_3_first_nonfinite_module(fn) -> None:
    """Flat networks: step through the layers by hand. Nested ones: the chapter's hunter."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    cases = 0
    for trial in range(12):
        model = _random_network(rng, nested=trial % 3 == 2)
        x = torch.randn(2, 4) * 40
        if trial % 3 != 2:
            want, h = None, x
            for name, layer in model.named_children():
                h = layer(h)
                if not bool(torch.isfinite(h).all()):
                    want = name
                    break
        else:
            with NonFiniteHunter(model) as hunter:
                model(x)
            want = hunter.first.module if hunter.first else None
        cases += want is not None
        got = fn(model, x)
        assert got == want, f"got {got!r}, but the first non-finite output is {want!r} in {model}"
        leftover = [n for n, m in model.named_modules() if m._forward_hooks]
        assert not leftover, f"hooks left on modules {leftover}: remove them after the run"
    assert cases >= 4, "the random networks should produce NaNs in several cases"
