r"""# Exercises: Training an MLP classifier on the engine

Backpropagation through a one-hidden-layer classifier written out by hand, and the grid of
predictions that draws its decision regions. Checked against `torch.autograd`, the engine, and a
loop over points."""

import numpy as np
import torch

from masterclass.autograd import functional as F
from masterclass.autograd.mlp_classifier import make_spirals
from masterclass.autograd.module import mlp
from masterclass.autograd.tensor import Tensor, no_grad


def solution_1_mlp_gradients(
    x: np.ndarray, y: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray
) -> tuple[np.ndarray, ...]:
    r"""Loss and gradients of $\mathrm{CE}(\tanh(x W_1^\top + b_1) W_2^\top + b_2, y)$, by hand.

    x `(B, d)`, y `(B,)` integer labels, w1 `(H, d)`, b1 `(H,)`, w2 `(K, H)`, b2 `(K,)`; returns
    `(loss, dw1, db1, dw2, db2)`, loss the mean over the batch.
    """
    batch = len(y)
    # Forward, keeping what the backward needs.
    h = np.tanh(x @ w1.T + b1)  # (B, H)
    z = h @ w2.T + b2  # (B, K)
    z = z - z.max(axis=1, keepdims=True)  # the shift cancels in log-softmax
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))  # (B, K)
    loss = -logp[np.arange(batch), y].mean()
    # Backward, last op first: softmax minus one-hot, then each layer's VJP.
    dz = np.exp(logp)
    dz[np.arange(batch), y] -= 1.0
    dz /= batch  # (B, K)
    dw2, db2 = dz.T @ h, dz.sum(axis=0)
    dpre = (dz @ w2) * (1.0 - h * h)  # (B, H): through tanh
    dw1, db1 = dpre.T @ x, dpre.sum(axis=0)
    return loss, dw1, db1, dw2, db2


def check_1_mlp_gradients(fn) -> None:
    """Compare the loss and all four gradients with torch's autograd and with the engine's."""
    for seed, (hidden, classes) in enumerate([(8, 3), (5, 2), (16, 4)]):
        rng = np.random.default_rng(seed)
        x, y = make_spirals(10, classes, seed=seed)
        net = mlp([2, hidden, classes], rng, activation="tanh")
        params = [p.data.copy() for p in net.parameters()]  # w1, b1, w2, b2
        leaves = [torch.tensor(p, requires_grad=True) for p in params]
        w1, b1, w2, b2 = leaves
        logits = torch.tanh(torch.tensor(x) @ w1.T + b1) @ w2.T + b2
        loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
        want = [loss.detach().numpy(), *torch.autograd.grad(loss, leaves)]
        F.cross_entropy(net(Tensor(x)), y).backward()
        engine = [p.grad.numpy() for p in net.parameters()]
        got = fn(x.copy(), y.copy(), *(p.copy() for p in params))
        names = ["loss", "dw1", "db1", "dw2", "db2"]
        for name, mine, ref in zip(names, got, want, strict=True):
            mine, ref = np.asarray(mine, dtype=float), np.asarray(ref)
            where = f"hidden {hidden}, {classes} classes: {name}"
            assert mine.shape == ref.shape, f"{where} has shape {mine.shape}, want {ref.shape}"
            # float64 throughout: a few ulps of rounding in sums of at most 30 terms.
            assert np.allclose(mine, ref, atol=1e-12), (
                f"{where} off by {np.abs(mine - ref).max():.2e} from torch (the mean over the "
                "batch divides every gradient by B; tanh' = 1 - tanh^2)"
            )
        for name, mine, eng in zip(names[1:], got[1:], engine, strict=True):
            assert np.allclose(np.asarray(mine, dtype=float), eng, atol=1e-12), (
                f"hidden {hidden}: {name} differs from the engine's backward"
            )


def solution_2_decision_grid(model, lim: float, steps: int) -> np.ndarray:
    """The predicted class at every point of a `steps x steps` grid over `[-lim, lim]^2`.

    Entry `[i, j]` is the class of the point `(xs[j], ys[i])` with
    `xs = ys = np.linspace(-lim, lim, steps)`: rows run along y, as an image does. One forward
    pass over all `steps ** 2` points.
    """
    xs = np.linspace(-lim, lim, steps)
    gx, gy = np.meshgrid(xs, xs)  # (steps, steps) each; gx varies along columns
    points = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (steps * steps, 2)
    with no_grad():
        logits = model(Tensor(points))  # (steps * steps, K)
    return logits.data.argmax(axis=1).reshape(steps, steps)


def check_2_decision_grid(fn) -> None:
    """Compare with a loop that classifies one point at a time, for untrained networks."""
    for seed, (lim, steps) in enumerate([(1.0, 9), (2.5, 12), (0.5, 5)]):
        net = mlp([2, 6, 3], np.random.default_rng(seed), activation="tanh")
        xs = np.linspace(-lim, lim, steps)
        want = np.zeros((steps, steps), dtype=int)
        with no_grad():
            for i, yv in enumerate(xs):
                for j, xv in enumerate(xs):
                    want[i, j] = net(Tensor([[xv, yv]])).data.argmax()
        got = np.asarray(fn(net, lim, steps))
        where = f"lim {lim}, steps {steps}"
        assert got.shape == want.shape, f"{where}: shape {got.shape}, want {want.shape}"
        assert np.array_equal(got, want), (
            f"{where}: {int((got != want).sum())} of {want.size} cells differ from classifying "
            "the points one by one (is the grid transposed? row i is y = ys[i])"
        )
