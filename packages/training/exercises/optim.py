r"""# Exercises: AdamW as a `torch.optim.Optimizer`

AdamW's update with its bias corrections and decoupled weight decay, checked against
`torch.optim.AdamW`; the cubic Newton–Schulz iteration, checked against the SVD's polar factor
$U V^\top$; and one Muon step, checked against `torch.optim.Muon`."""

import math

import numpy as np
import torch

from masterclass.training.optim import newton_schulz


def solution_1_adamw_step(
    theta: np.ndarray,
    grad: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    t: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
    weight_decay: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Step `t` (1-based) of AdamW; returns `(theta, m, v)`.

    $m \leftarrow \beta_1 m + (1-\beta_1) g$, $v \leftarrow \beta_2 v + (1-\beta_2) g^2$, then
    $\theta \leftarrow (1 - \eta\lambda)\theta - \eta\,\hat m / (\sqrt{\hat v} + \epsilon)$ with
    $\hat m = m / (1 - \beta_1^t)$ and $\hat v = v / (1 - \beta_2^t)$. The decay multiplies the
    weights; it never enters the moments.
    """
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad * grad
    m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
    theta = (1 - lr * weight_decay) * theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta, m, v


def check_1_adamw_step(fn) -> None:
    """Twelve steps beside `torch.optim.AdamW` in float64, for three settings of the
    hyper-parameters (weight decay included, so an L2 penalty added to the gradient fails)."""
    settings = [
        (1e-2, (0.9, 0.999), 1e-8, 0.1),
        (5e-2, (0.85, 0.95), 1e-6, 0.5),
        (3e-3, (0.8, 0.99), 1e-8, 0.0),
    ]
    for seed, (lr, betas, eps, wd) in enumerate(settings):
        rng = np.random.default_rng(seed)
        theta = rng.normal(size=(3, 4))
        p = torch.nn.Parameter(torch.tensor(theta.copy()))
        ref = torch.optim.AdamW([p], lr=lr, betas=betas, eps=eps, weight_decay=wd, foreach=False)
        m, v = np.zeros_like(theta), np.zeros_like(theta)
        for t in range(1, 13):
            grad = rng.normal(size=theta.shape) * (1 + t % 3)
            p.grad = torch.tensor(grad.copy())
            ref.step()
            theta, m, v = (
                np.asarray(a, dtype=np.float64)
                for a in fn(theta, grad, m, v, t, lr, betas, eps, wd)
            )
            want = p.detach().numpy()
            # The same formula in float64 with a different order of operations: rounding only,
            # so 1e-10 relative is generous (float64's epsilon is 2e-16).
            assert np.allclose(theta, want, rtol=1e-10, atol=1e-12), (
                f"lr={lr}, betas={betas}, weight_decay={wd}, step {t}: off by "
                f"{np.abs(theta - want).max():.2e} from torch.optim.AdamW (bias corrections use "
                "the 1-based step; the decay is (1 - lr * weight_decay) * theta, not a gradient term)"
            )


def solution_2_newton_schulz_cubic(m: torch.Tensor, steps: int) -> torch.Tensor:
    r"""$X_0 = M / \lVert M \rVert_F$, then `steps` times $X \leftarrow \tfrac32 X - \tfrac12 X X^\top X$."""
    x = m / torch.linalg.matrix_norm(m)
    for _ in range(steps):
        x = 1.5 * x - 0.5 * (x @ x.T) @ x
    return x


def _conditioned(rows: int, cols: int, smallest: float, seed: int) -> torch.Tensor:
    # A random matrix U diag(s) V^T whose singular values lie in [smallest, 1] times a scale.
    g = torch.Generator().manual_seed(seed)
    k = min(rows, cols)
    u, _ = torch.linalg.qr(torch.randn(rows, k, generator=g, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(cols, k, generator=g, dtype=torch.float64))
    s = torch.logspace(math.log10(smallest), 0.0, k, dtype=torch.float64)
    return 3.0 * u @ torch.diag(s) @ v.T


def check_2_newton_schulz_cubic(fn) -> None:
    """A few steps must equal the chapter's `newton_schulz` with coefficients (1.5, -0.5, 0) in
    float64; fifty steps must reach the polar factor `U V^T` of the SVD (wide, tall, square)."""
    for seed, (rows, cols) in enumerate([(4, 7), (9, 3), (5, 5)]):
        m = _conditioned(rows, cols, 0.05, seed)
        for steps in (1, 3):
            want = newton_schulz(m, steps, (1.5, -0.5, 0.0), dtype=torch.float64)
            got = torch.as_tensor(fn(m.clone(), steps), dtype=torch.float64)
            # Matrix products in float64, in a possibly different order: rounding only.
            assert torch.allclose(got, want, atol=1e-12), (
                f"{rows}x{cols}, {steps} step(s): off by {(got - want).abs().max():.2e} from "
                "the iteration X <- 1.5 X - 0.5 X X^T X started at M / ||M||_F"
            )
        u, _, vt = torch.linalg.svd(m, full_matrices=False)
        polar = u @ vt
        got = torch.as_tensor(fn(m.clone(), 50), dtype=torch.float64)
        # The smallest normalised singular value (about 0.03) grows by 1.5x per step until it
        # nears 1, then converges quadratically: after 50 steps only rounding is left.
        assert torch.allclose(got, polar, atol=1e-10), (
            f"{rows}x{cols}: after 50 steps the result is {(got - polar).abs().max():.2e} from "
            "U V^T; the cubic should converge to the polar factor exactly"
        )


def solution_3_muon_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    buf: torch.Tensor,
    lr: float,
    momentum: float,
    weight_decay: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""One Muon step of a matrix `(A, B)` with Nesterov momentum; returns `(param, buf)`.

    $B \leftarrow \mu B + (1-\mu) G$; $O = \mathrm{NS}((1-\mu) G + \mu B)$ (the chapter's
    `newton_schulz`); $W \leftarrow (1 - \eta\lambda) W - 0.2\sqrt{\max(A, B)}\,\eta\, O$.
    """
    buf = momentum * buf + (1 - momentum) * grad
    update = newton_schulz((1 - momentum) * grad + momentum * buf).to(param.dtype)
    scale = 0.2 * math.sqrt(max(param.shape))
    return (1 - lr * weight_decay) * param - lr * scale * update, buf


def check_3_muon_step(fn) -> None:
    """Six steps beside `torch.optim.Muon` (`adjust_lr_fn="match_rms_adamw"`, Nesterov) on a
    wide and a tall matrix."""
    lr, mu, wd = 0.02, 0.95, 0.1
    for seed, shape in enumerate([(16, 64), (48, 8)]):
        g = torch.Generator().manual_seed(seed)
        w0 = torch.randn(shape, generator=g)
        p = torch.nn.Parameter(w0.clone())
        ref = torch.optim.Muon(
            [p], lr=lr, momentum=mu, weight_decay=wd, nesterov=True, adjust_lr_fn="match_rms_adamw"
        )
        w, buf = w0.clone(), torch.zeros(shape)
        for step in range(1, 7):
            grad = torch.randn(shape, generator=g)
            p.grad = grad.clone()
            ref.step()
            w, buf = (
                torch.as_tensor(a, dtype=torch.float32)
                for a in fn(w, grad.clone(), buf, lr, mu, wd)
            )
            change = (p.detach() - w0).abs().max()
            err = (w - p.detach()).abs().max()
            # Both orthogonalise in bfloat16; float32 rounding in the momentum (a lerp or a
            # sum) can flip a few bf16 roundings, which we measured at under 1e-5 of the change
            # of the weights. A missing Nesterov look-ahead is off by 2% at the first step, a
            # missing scale or decay by 30% or more: 0.1% separates them with room to spare.
            assert err <= 1e-3 * change, (
                f"{shape[0]}x{shape[1]}, step {step}: off by {err:.2e} from torch.optim.Muon, "
                f"whose weights moved by {change:.2e} (momentum lerp, Nesterov look-ahead, "
                "decay (1 - lr * wd), rate 0.2 * sqrt(max(A, B)) * lr)"
            )
