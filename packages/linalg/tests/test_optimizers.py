"""# Tests: optimizers against torch.optim

Reference tests for the optimizer step functions: each runs side by side with `torch.optim`.

Both sides start from the same float64 parameters and, at every step, receive the gradient of the
same smooth loss evaluated at their *own* current parameters. The loss,
$f(x) = \\sum_i \\log\\cosh x_i + \\frac12 x^\\top A x$ with $A$ positive definite, is contracting
under small steps, so rounding differences do not grow chaotically and the two trajectories must
agree to within float64 rounding after 120 steps: we ask for `atol = rtol = 1e-12`, about 1e4 units
of float64's machine epsilon, which leaves room for the different order of operations (torch's fused
`addcdiv`, `lerp`) accumulated over the run but would catch any wrong formula at once.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import optimizers as opt

N_STEPS = 120
TOL = {"rtol": 1e-12, "atol": 1e-12}


def _problem(seed: int = 0, n: int = 6, centre: float = 0.0):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, n))
    a = m @ m.T / n + 0.5 * np.eye(n)  # positive definite

    def grad(x: np.ndarray) -> np.ndarray:
        return np.tanh(x - centre) + a @ (x - centre)

    return rng.normal(size=n), grad


def _run_ours(name, x0, grad, hyper, init_kwargs=None):
    init = getattr(opt, f"{name}_init")
    step = getattr(opt, f"{name}_step")
    x, state = x0.copy(), init(x0, **(init_kwargs or {}))
    path = []
    for _ in range(N_STEPS):
        x, state = step(x, grad(x), state, **hyper)
        path.append(x)
    return np.array(path), state


def _run_torch(torch_cls, x0, grad, hyper):
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    o = torch_cls([p], foreach=False, **hyper)
    path = []
    for _ in range(N_STEPS):
        p.grad = torch.from_numpy(grad(p.detach().numpy().copy()))
        o.step()
        path.append(p.detach().numpy().copy())
    return np.array(path)


CASES = [
    ("sgd", torch.optim.SGD, {"lr": 0.05}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd", torch.optim.SGD, {"lr": 0.05, "momentum": 0.9, "weight_decay": 0.1}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.1}),
    ("adagrad", torch.optim.Adagrad, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.05}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "centered": True}),
    ("rmsprop", torch.optim.RMSprop, {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.1}),
    (
        "rmsprop",
        torch.optim.RMSprop,
        {"lr": 0.005, "momentum": 0.5, "centered": True, "eps": 1e-6},
    ),
    ("adam", torch.optim.Adam, {"lr": 0.05}),
    ("adam", torch.optim.Adam, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1}),
    ("adamw", torch.optim.AdamW, {"lr": 0.05}),
    ("adamw", torch.optim.AdamW, {"lr": 0.05, "betas": (0.85, 0.95), "weight_decay": 0.3}),
]


@pytest.mark.parametrize(("name", "torch_cls", "hyper"), CASES)
def test_matches_torch_optim(name, torch_cls, hyper):
    x0, grad = _problem()
    ours, state = _run_ours(name, x0, grad, hyper)
    ref = _run_torch(torch_cls, x0, grad, hyper)
    np.testing.assert_allclose(ours, ref, **TOL)
    assert state.step == N_STEPS


def test_adagrad_initial_accumulator_matches_torch():
    x0, grad = _problem(seed=1)
    hyper = {"lr": 0.1}
    ours, _ = _run_ours("adagrad", x0, grad, hyper, {"initial_accumulator_value": 0.5})
    ref = _run_torch(
        lambda params, **kw: torch.optim.Adagrad(params, initial_accumulator_value=0.5, **kw),
        x0,
        grad,
        hyper,
    )
    np.testing.assert_allclose(ours, ref, **TOL)


@pytest.mark.parametrize("name", ["sgd", "adagrad", "rmsprop", "adam", "adamw"])
def test_same_function_runs_on_torch_tensors(name):
    # The step functions use only arithmetic, so feeding torch tensors must give the very same
    # numbers as numpy arrays (same float64 operations in the same order: exact to 1e-15).
    x0, grad = _problem(seed=2)
    hyper = {"lr": 0.03, "momentum": 0.9} if name in ("sgd", "rmsprop") else {"lr": 0.03}
    ours_np, _ = _run_ours(name, x0, grad, hyper)
    init, step = getattr(opt, f"{name}_init"), getattr(opt, f"{name}_step")
    x = torch.tensor(x0)
    state = init(x)
    for _ in range(N_STEPS):
        x, state = step(x, torch.from_numpy(grad(x.numpy())), state, **hyper)
        assert isinstance(x, torch.Tensor)
    np.testing.assert_allclose(x.numpy(), ours_np[-1], rtol=1e-15, atol=1e-15)


# Near a minimum, Adam's step $m/\sqrt v$ divides two tiny numbers and its trajectory is chaotic:
# any rounding difference grows until the runs part. The property tests below draw hyperparameters
# at random, including large learning rates, so they put the minimum far away (`centre=20`): the
# runs never reach it and must agree to 1e-10 (a looser bound than above, as some random draws
# make the gradient large).


@settings(max_examples=15, deadline=None)
@given(
    lr=st.floats(1e-4, 0.1),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    wd=st.floats(0.0, 0.5),
    seed=st.integers(0, 1000),
)
def test_adamw_matches_torch_for_random_hyperparameters(lr, beta1, beta2, wd, seed):
    x0, grad = _problem(seed=seed, n=3, centre=20.0)
    hyper = {"lr": lr, "betas": (beta1, beta2), "weight_decay": wd}
    ours, _ = _run_ours("adamw", x0, grad, hyper)
    ref = _run_torch(torch.optim.AdamW, x0, grad, hyper)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(
    lr=st.floats(1e-4, 0.1),
    momentum=st.floats(0.0, 0.95),
    nesterov=st.booleans(),
    wd=st.floats(0.0, 0.5),
    seed=st.integers(0, 1000),
)
def test_sgd_matches_torch_for_random_hyperparameters(lr, momentum, nesterov, wd, seed):
    nesterov = nesterov and momentum > 0
    x0, grad = _problem(seed=seed, n=3, centre=20.0)
    hyper = {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": wd}
    ours, _ = _run_ours("sgd", x0, grad, hyper)
    ref = _run_torch(torch.optim.SGD, x0, grad, hyper)
    np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


def test_steps_are_pure():
    # A step returns new objects and leaves its inputs untouched.
    x = np.array([1.0, -2.0])
    g = np.array([0.5, 0.25])
    state = opt.adam_init(x)
    x_copy, state_copy = x.copy(), tuple(np.copy(s) for s in state[:2])
    opt.adam_step(x, g, state, lr=0.1)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(state.exp_avg, state_copy[0])
    assert state.step == 0


def test_bad_input_raises_clear_errors():
    x = np.zeros(3)
    with pytest.raises(ValueError, match="grad has shape"):
        opt.sgd_step(x, np.zeros(4), opt.sgd_init(x), lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        opt.adam_step(x, x, opt.adam_init(x), lr=-1.0)
    with pytest.raises(ValueError, match="momentum"):
        opt.sgd_step(x, x, opt.sgd_init(x), lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        opt.sgd_step(x, x, opt.sgd_init(x), lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        opt.adamw_step(x, x, opt.adamw_init(x), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="alpha"):
        opt.rmsprop_step(x, x, opt.rmsprop_init(x), alpha=2.0)
