r"""# Exercises: Custom layers and losses with hand-written backward passes

The two backward passes the chapter derives, written as plain tensor code, and a new
`torch.autograd.Function` of your own, each checked against PyTorch's autograd and `gradcheck`."""

import torch
import torch.nn.functional as F


def solution_1_rmsnorm_backward(
    x: torch.Tensor, weight: torch.Tensor, g: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    r"""$\bar x = r u - \frac{r^3}{D} x \sum_i u_i x_i$ with $u = g \odot w$; $\bar w = \sum g x r$.

    Shapes: x and g `(..., D)`, weight `(D,)`; returns `(grad_x (..., D), grad_w (D,))`.
    """
    d = x.shape[-1]
    r = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1)
    u = g * weight  # (..., D)
    grad_x = r * u - (r**3 / d) * x * (u * x).sum(dim=-1, keepdim=True)  # (..., D)
    grad_w = (g * x * r).reshape(-1, d).sum(dim=0)  # (D,)
    return grad_x, grad_w


def check_1_rmsnorm_backward(fn) -> None:
    """Compare with autograd through `torch.nn.functional.rms_norm` (float64)."""
    gen = torch.Generator().manual_seed(0)
    for shape, eps in [((4, 6), 1e-6), ((2, 3, 5), 1e-5), ((1, 1), 1e-6), ((3, 8), 0.5)]:
        x = torch.randn(shape, dtype=torch.float64, generator=gen) * 2
        w = torch.randn(shape[-1], dtype=torch.float64, generator=gen)
        g = torch.randn(shape, dtype=torch.float64, generator=gen)
        xr, wr = x.clone().requires_grad_(), w.clone().requires_grad_()
        want_x, want_w = torch.autograd.grad(F.rms_norm(xr, (shape[-1],), wr, eps), (xr, wr), g)
        got_x, got_w = fn(x.clone(), w.clone(), g.clone(), eps)
        # float64, a few dozen flops per entry: 1e-10 is far above rounding, far below any bug.
        for name, got, want in (("grad_x", got_x, want_x), ("grad_w", got_w, want_w)):
            assert got.shape == want.shape, (
                f"x {shape}: {name} has shape {tuple(got.shape)}, want {tuple(want.shape)}"
            )
            err = (got - want).abs().max().item()
            assert err < 1e-10, (
                f"x {shape}, eps {eps}: {name} off by {err:.2e} from autograd through "
                "F.rms_norm (did you keep the term from r depending on x?)"
            )


def solution_2_smoothed_ce_grad(
    logits: torch.Tensor, targets: torch.Tensor, smoothing: float
) -> torch.Tensor:
    r"""$\partial\mathcal{L}/\partial z = (p - q)/B$, $q = (1-\varepsilon)\,\mathrm{onehot}(y)
    + \varepsilon/V$.

    Shapes: logits `(B, V)`, targets `(B,)` int64; returns `(B, V)`.
    """
    b, v = logits.shape
    p = torch.softmax(logits, dim=-1)  # (B, V)
    q = torch.full_like(p, smoothing / v)  # (B, V)
    q[torch.arange(b), targets] += 1.0 - smoothing
    return (p - q) / b


def check_2_smoothed_ce_grad(fn) -> None:
    """Compare with autograd through `F.cross_entropy(..., label_smoothing=ε)` (float64)."""
    gen = torch.Generator().manual_seed(1)
    for b, v, smoothing in [(4, 5, 0.1), (1, 3, 0.0), (6, 10, 0.5), (3, 2, 1.0)]:
        z = torch.randn(b, v, dtype=torch.float64, generator=gen) * 3
        y = torch.randint(0, v, (b,), generator=gen)
        zr = z.clone().requires_grad_()
        (want,) = torch.autograd.grad(F.cross_entropy(zr, y, label_smoothing=smoothing), zr)
        got = fn(z.clone(), y.clone(), smoothing)
        err = (got - want).abs().max().item()
        # float64; the closed form and the composed backward differ by rounding only.
        assert err < 1e-12, (
            f"B={b}, V={v}, smoothing={smoothing}: off by {err:.2e} from autograd (the smoothing "
            "mass is spread over all V classes, the target's included; the mean divides by B)"
        )


class _SiLU(torch.autograd.Function):
    r"""$y = x\,\sigma(x)$; $\bar x = g\,\sigma(x)\,(1 + x(1 - \sigma(x)))$."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        """Save only the input: the sigmoid is recomputed in the backward."""
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, g: torch.Tensor) -> torch.Tensor:
        r"""The derivative of $x\sigma(x)$ by the product rule."""
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return g * s * (1 + x * (1 - s))


def solution_3_silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU (swish) through a custom `torch.autograd.Function` with a hand-written backward."""
    return _SiLU.apply(x)


def check_3_silu(fn) -> None:
    """A custom Function's output, `gradcheck`, and value and gradient against `F.silu`."""
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    y = fn(x)
    assert isinstance(y.grad_fn, torch.autograd.function.BackwardCFunction), (
        f"the output's grad_fn is {type(y.grad_fn).__name__}: compute it with a subclass of "
        "torch.autograd.Function and its .apply"
    )
    assert torch.autograd.gradcheck(fn, (x,), raise_exception=False), (
        "gradcheck failed: the backward disagrees with finite differences"
    )
    for scale in (1.0, 5.0, 30.0):
        xs = (torch.randn(20, dtype=torch.float64, generator=gen) * scale).requires_grad_()
        got = fn(xs)
        want = F.silu(xs)
        # float64; the same function written two ways: rounding only.
        err = (got - want).abs().max().item()
        assert err < 1e-12, f"inputs of scale {scale}: value off by {err:.2e} from F.silu"
        g = torch.randn(20, dtype=torch.float64, generator=gen)
        (got_g,) = torch.autograd.grad(got, xs, g)
        (want_g,) = torch.autograd.grad(want, xs, g)
        err = (got_g - want_g).abs().max().item()
        assert err < 1e-12, f"inputs of scale {scale}: gradient off by {err:.2e} from F.silu's"
