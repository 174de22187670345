r"""# GPTQ, AWQ, SmoothQuant and packed int4

Round-to-nearest (RTN, `quantization.py`) treats every weight alone: each one moves to its
nearest grid point, and the errors of one row add up in the output. But a layer is judged by its
*outputs* $y = W x$ on real inputs, and inputs are far from isotropic: a few channels carry large
activations, many are nearly silent. This chapter builds three methods that use a little
calibration data to quantize for the outputs, and the packed int4 storage they all share.

**The layer objective.** With calibration inputs $X \in \mathbb R^{N \times C_{in}}$ and
$H = X^\top X$, the output error of a quantized weight $\hat W$ is
$$\lVert X W^\top - X \hat W^\top\rVert_F^2 = \operatorname{tr}\big(\Delta H \Delta^\top\big),
\qquad \Delta = W - \hat W ,$$
a sum over rows $\Delta_j H \Delta_j^\top$: rows are independent, and $H$ alone (not $X$) is
needed. `layer_error(w, w_hat, H)` computes it.

**GPTQ** (Frantar et al., 2022) quantizes a row one column at a time and, after each column,
changes the *not yet quantized* columns to cancel the error it made. Derivation: for a quadratic
$\delta H \delta^\top$, forcing coordinate $i$ of the row to move by $e_i = w_i - q_i$ and
choosing the other free coordinates optimally (Optimal Brain Surgeon) gives the update
$$\delta_F = -\frac{w_i - q_i}{[H_F^{-1}]_{ii}}\,[H_F^{-1}]_{F, i},$$
where $F$ is the set of columns still free (column $i$ included) and $H_F^{-1}$ is the inverse
of $H$ restricted to $F$. Walking the columns left to right, $F = \{i, \dots, C_{in}-1\}$, and
the rows $i$ of those shrinking inverses are exactly the rows of the upper Cholesky factor $U$
of $H^{-1}$ ($H^{-1} = U^\top U$) scaled by $U_{ii}$: so one Cholesky replaces all the inverse
updates, and with $d_i = U_{ii}$ the step is
$$e = (w_{:,i} - q_{:,i}) / d_i,\qquad W_{:,i:} \mathrel{-}= e\,U_{i,i:} .$$
Two practical details. *Damping*: $H$ is singular whenever a channel is dead (always zero) or
$N < C_{in}$, and the Cholesky fails; a dead channel gets $H_{ii} = 1$ (its weights are
irrelevant and set to zero) and $\lambda = 1\%$ of the mean diagonal is added to all of it,
making $H$ positive definite. *Groups*: the scale of a group of $g$ columns is computed when the
walk reaches the group, from the already-updated weights. With $H = I$, $U = I/\sqrt{1+\lambda}$
is diagonal, no error moves anywhere, and GPTQ *is* RTN, bit for bit (a test checks it).

**AWQ** (Lin et al., 2023): the weights that matter are those meeting large activations. Scale
input channel $k$ up by $s_k > 1$ before quantizing, and the input down by the same factor:
$\hat W = Q(W \operatorname{diag}(s))\operatorname{diag}(s)^{-1}$, so $y = Q(W s)(x / s)$. The
relative rounding error of a scaled-up weight is smaller, while the group's scale barely moves
as long as few channels are scaled. AWQ takes $s = a^\alpha$ with $a_k$ the activation
magnitude of channel $k$ (here its RMS over the calibration tokens, $\sqrt{H_{kk}/N}$ up to a
constant), normalized so that $\sqrt{\max s \min s} = 1$, and grid-searches $\alpha \in [0, 1]$
per layer for the smallest $\operatorname{tr}(\Delta H \Delta^\top)$. At $\alpha = 0$, $s = 1$ and
AWQ equals RTN exactly; since $\alpha = 0$ is on the grid, the searched error is never above
RTN's on any layer. In a deployed model $1/s$ is folded into the preceding RMSNorm's gain; here
`ScaledLinear` divides the input explicitly.

**SmoothQuant** (Xiao et al., 2022) quantizes activations too (W8A8: int8 weights *and* int8
activations, so the product runs on integer units). Activations have outlier channels a hundred
times larger than the rest, which ruins a per-token int8 scale; weights do not. The identity
$x W^\top = (x / s)(W \operatorname{diag}(s))^\top$ moves difficulty from activations to
weights with
$$s_k = \frac{\max |X_{:,k}|^{\alpha}}{\max |W_{:,k}|^{1-\alpha}},\qquad \alpha = 0.5 ,$$
which equalizes the two ranges per channel. `W8A8Linear` then quantizes the smoothed input per
token (dynamic, symmetric int8), multiplies integers exactly in int32 and rescales.

**Packing int4.** A 4-bit value needs half a byte. `pack_int4` stores $q + 8 \in [0, 15]$ of two
neighbouring columns in one `uint8` (even column in the low nibble, odd in the high one);
`unpack_int4` undoes it exactly. A g128 layer costs $4 + 16/128 = 4.125$ bits per weight (a
float16 scale per group), against 32 for float32.

References: Frantar, Ashkboos, Hoefler, Alistarh, *GPTQ: Accurate Post-Training Quantization for
Generative Pre-trained Transformers* (2022), https://arxiv.org/abs/2210.17323; Lin et al.,
*AWQ: Activation-aware Weight Quantization* (2023), https://arxiv.org/abs/2306.00978; Xiao et
al., *SmoothQuant* (2022), https://arxiv.org/abs/2211.10438; Frantar & Alistarh, *Optimal Brain
Compression* (2022), https://arxiv.org/abs/2208.11580.

On a trained capstone model (the default preset's run), `bench/quant_methods.py` tables every
method's bits per weight, size, perplexity against fp32 and forward time, in groups of 128 and
of 64; its outputs are `bench/results/quant_methods.txt` and `bench/results/quant_methods_g64.txt`,
each with the command that made it on its first line.

Left out: GPTQ's lazy block updates and act-order (a speed and accuracy refinement), sequential
calibration (every layer here is calibrated on the float model's inputs, not on the already
quantized model's), AWQ's weight clipping search, asymmetric (zero-point) grids, and real int4
matrix kernels.

>>> _ = torch.manual_seed(0)
>>> w = torch.randn(4, 16)
>>> q, scale = quantize_weight(w, bits=4, group_size=8)
>>> torch.equal(gptq_quantize(w, torch.eye(16), bits=4, group_size=8)[0], q)
True
>>> torch.equal(unpack_int4(pack_int4(q)), q), pack_int4(q).shape
(True, torch.Size([4, 8]))

## Exercises

1. Write `pack(q)` that packs an int8 matrix with values in [-8, 7] and an even number of
   columns into uint8, two values per byte (even column low nibble, value + 8).
   Check it: `uv run pytest --exercise deploy.gptq_awq`
2. Write `output_error(w, w_hat, x)` returning $\lVert x w^\top - x \hat w^\top\rVert_F^2$ computed
   through $H = x^\top x$ only, as $\operatorname{tr}(\Delta H \Delta^\top)$.
   Check it: `uv run pytest --exercise deploy.gptq_awq`
3. Write `smooth_scales(act_max, w, alpha)` returning SmoothQuant's per-channel scales
   $s_k = a_k^\alpha / \max_j |w_{jk}|^{1-\alpha}$.
   Check it: `uv run pytest --exercise deploy.gptq_awq`
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from masterclass.deploy.pruning import _block_linears, calibration_stats
from masterclass.deploy.quantization import Int8Linear, dequantize_weight, quantize_weight

__all__ = [
    "ScaledLinear",
    "W8A8Linear",
    "awq_quantize",
    "gptq_quantize",
    "layer_error",
    "pack_int4",
    "quantize_model",
    "smoothquant_linear",
    "unpack_int4",
]


# ## Packed int4
#
# Values in [-8, 7] are shifted to [0, 15] and two columns share a byte.
def pack_int4(q: Tensor) -> Tensor:
    """(C_out, C_in) int8 values in [-8, 7], C_in even -> (C_out, C_in / 2) uint8."""
    if q.dim() != 2 or q.shape[1] % 2:
        raise ValueError(f"q must be a matrix with an even number of columns, got {tuple(q.shape)}")
    if q.numel() and (q.min() < -8 or q.max() > 7):
        raise ValueError(f"q must hold int4 values in [-8, 7], got [{q.min()}, {q.max()}]")
    u = (q.to(torch.int16) + 8).to(torch.uint8)  # (C_out, C_in) in [0, 15]
    return u[:, 0::2] | (u[:, 1::2] << 4)


# Unpacking reads the low nibble as the even column and the high one as the odd column, then
# interleaves them back.
def unpack_int4(packed: Tensor) -> Tensor:
    """(C_out, C_in / 2) uint8 -> (C_out, C_in) int8, the exact inverse of `pack_int4`."""
    if packed.dtype != torch.uint8:
        raise TypeError(f"packed must be uint8, got {packed.dtype}")
    low = (packed & 0x0F).to(torch.int8) - 8
    high = (packed >> 4).to(torch.int8) - 8
    return torch.stack([low, high], dim=-1).reshape(packed.shape[0], -1)


# The objective every method here minimises: with $H = X^\top X$ from calibration inputs, the
# trace is $\lVert X W^\top - X \hat W^\top \rVert^2$, the squared error of the layer's outputs.
def layer_error(w: Tensor, w_hat: Tensor, H: Tensor) -> float:
    r"""$\operatorname{tr}((W - \hat W) H (W - \hat W)^\top)$: the calibration output error."""
    d = (w.detach().double() - w_hat.detach().double()).reshape(w.shape[0], -1)
    return float(((d @ H.detach().double()) * d).sum())


def _check(w: Tensor, H: Tensor) -> None:
    if w.dim() != 2:
        raise ValueError(f"w must be a (C_out, C_in) matrix, got shape {tuple(w.shape)}")
    c = w.shape[1]
    if H.shape != (c, c):
        raise ValueError(
            f"H must be ({c}, {c}) for w of shape {tuple(w.shape)}, got {tuple(H.shape)}"
        )


# ## GPTQ
#
# The walk runs in float64 on a copy. Scales come from `quantize_weight` on the group's current
# columns, and a column is rounded in float32 exactly as `quantize_weight` rounds it, so that with
# no error feedback (H = I) the integers are RTN's bit for bit.
@torch.no_grad()
def gptq_quantize(
    w: Tensor, H: Tensor, *, bits: int = 4, group_size: int | None = None, damp: float = 0.01
) -> tuple[Tensor, Tensor]:
    """GPTQ of `w` (C_out, C_in) for the input Hessian `H` (C_in, C_in); returns `(q, scale)` as
    `quantize_weight` does (int8 values, (C_out, G) float32 scales)."""
    _check(w, H)
    if damp < 0:
        raise ValueError(f"damp must be >= 0, got {damp}")
    c_out, c_in = w.shape
    g = c_in if group_size is None else group_size
    quantize_weight(w[:1], bits=bits, group_size=group_size)  # validates bits and group_size
    qmax = 2 ** (bits - 1) - 1
    W = w.detach().double().clone()
    H = H.detach().double().clone()
    # Dead channels: their weights never matter; give them a unit curvature so H stays invertible.
    dead = torch.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    # Dampening adds `damp` times the mean curvature to the diagonal, for a well-conditioned
    # inverse; the upper Cholesky factor U of $H^{-1}$ holds, in row i, how column i's error is
    # spread over the columns after it.
    H += damp * torch.diag(H).mean() * torch.eye(c_in, dtype=H.dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    q = torch.zeros(c_out, c_in, dtype=torch.int8)
    scales = torch.zeros(c_out, c_in // g)
    # Left to right, one column at a time: round it, then correct the remaining columns.
    for i in range(c_in):
        if i % g == 0:
            # A new group: its scale from the weights as the walk has updated them so far.
            scales[:, i // g] = quantize_weight(W[:, i : i + g].float(), bits=bits)[1][:, 0]
        s = scales[:, i // g]
        qi = torch.clamp(torch.round(W[:, i].float() / s), -qmax, qmax)  # (C_out,)
        q[:, i] = qi.to(torch.int8)
        # Spread this column's error over the columns to its right.
        err = (W[:, i] - qi.double() * s.double()) / U[i, i]  # (C_out,)
        W[:, i:] -= err[:, None] * U[i, i:][None, :]
    return q, scales


# ## AWQ
#
# The scales are normalized so that their geometric mid-range is 1; then the search over alpha
# quantizes the scaled weight with RTN and scores the unscaled result on H.
@torch.no_grad()
def awq_quantize(
    w: Tensor,
    H: Tensor,
    *,
    bits: int = 4,
    group_size: int | None = None,
    alphas: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, float]:
    """AWQ of `w` (C_out, C_in): returns `(q, scale, s, alpha)` with `q, scale` the RTN of
    `w * s` and `s` (C_in,) the input scales, so the effective weight is `deq(q, scale) / s`.

    `alphas` is the search grid (default 0, 0.05, ..., 1); `tensor([0.])` gives plain RTN."""
    _check(w, H)
    # A channel's activation magnitude is $\sqrt{H_{jj}}$ (its RMS over calibration tokens, up to
    # a constant); silent channels borrow the smallest nonzero one, so `s` stays finite.
    grid = torch.linspace(0, 1, 21) if alphas is None else alphas
    a = torch.diag(H.double()).clamp_min(0).sqrt()  # (C_in,) activation magnitude
    a = torch.where(a > 0, a, a[a > 0].min() if (a > 0).any() else torch.ones_like(a))
    # Grid search over $s = a^\alpha$: scale salient input channels up before rounding, so they
    # lose less precision; keep the alpha of the smallest output error.
    best = None
    for alpha in grid.tolist():
        s = a**alpha
        s = s / (s.max() * s.min()).sqrt()
        q, scale = quantize_weight((w.double() * s).float(), bits=bits, group_size=group_size)
        err = layer_error(w, dequantize_weight(q, scale).double() / s, H)
        if best is None or err < best[0]:
            best = (err, q, scale, s.float(), alpha)
    return best[1], best[2], best[3], best[4]


# Dividing the input by `s` undoes the weight's scaling exactly: $(W s)(x / s) = W x$. A real
# kernel folds `1 / s` into the previous layer's norm; here it stays visible.
class ScaledLinear(nn.Module):
    """`y = inner(x / s)`: AWQ's input scaling kept explicit. Input (..., C_in) -> (..., C_out)."""

    def __init__(self, inner: nn.Module, s: Tensor) -> None:
        super().__init__()
        self.inner = inner
        self.register_buffer("s", s)  # (C_in,)

    def forward(self, x: Tensor) -> Tensor:
        """`inner(x / s)` for `x` (..., C_in)."""
        return self.inner(x / self.s.to(x.dtype))


# ## SmoothQuant W8A8
#
# The input is smoothed, then quantized per token to int8 with a dynamic scale; the integer
# product is exact in int32 and one outer product of scales turns it back to float.
class W8A8Linear(nn.Module):
    """Int8 weights (per output channel) and int8 per-token activations.

    Buffers: `weight_int8` (C_out, C_in), `w_scale` (C_out,), `s` (C_in,) smoothing, `bias`."""

    def __init__(self, linear: nn.Linear, s: Tensor) -> None:
        super().__init__()
        q, scale = quantize_weight(linear.weight.detach().float() * s, bits=8)
        self.register_buffer("weight_int8", q)
        self.register_buffer("w_scale", scale[:, 0])
        self.register_buffer("s", s.float())
        b = linear.bias
        self.register_buffer("bias", None if b is None else b.detach().clone())

    # Per token: smooth, quantize with its own absmax scale, multiply in int32, then scale by
    # the token's scale times each output channel's weight scale.
    def forward(self, x: Tensor) -> Tensor:
        """The int8 x int8 product rescaled to float, for `x` (..., C_in) -> (..., C_out)."""
        xs = x.float() / self.s  # (..., C_in)
        x_scale = (xs.abs().amax(-1, keepdim=True) / 127).clamp_min(1e-12)  # (..., 1)
        qx = torch.clamp(torch.round(xs / x_scale), -127, 127).to(torch.int32)
        acc = qx.reshape(-1, qx.shape[-1]) @ self.weight_int8.to(torch.int32).T  # (N, C_out)
        y = acc.reshape(*x.shape[:-1], -1).float() * x_scale * self.w_scale
        return (y if self.bias is None else y + self.bias.float()).to(x.dtype)


# SmoothQuant's scale $s_j = a_j^\alpha / w_j^{1-\alpha}$ moves outliers from activations into
# weights: alpha = 0.5 balances the two ranges per channel.
def smoothquant_linear(linear: nn.Linear, act_max: Tensor, alpha: float = 0.5) -> W8A8Linear:
    """The W8A8 layer of `linear` with SmoothQuant scales from per-channel `act_max` (C_in,)."""
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    w_max = linear.weight.detach().abs().amax(0).float().clamp_min(1e-8)  # (C_in,)
    a = act_max.float().clamp_min(1e-8)
    return W8A8Linear(linear, a**alpha / w_max ** (1 - alpha))


# ## Quantizing a model
#
# One calibration pass (the pruning chapter's `calibration_stats`, shared by every calibration
# method) gives every block layer's H and, for SmoothQuant, its per-channel input maximum.
@torch.no_grad()
def quantize_model(
    model: nn.Module,
    method: str,
    *,
    calibration: Tensor | None = None,
    bits: int = 4,
    group_size: int | None = 128,
) -> nn.Module:
    """Replace every linear layer of `model`'s blocks in place with `method` in `"rtn"`,
    `"gptq"`, `"awq"` (weight-only, `bits`, `group_size`) or `"smoothquant"` (W8A8); returns it."""
    if method not in ("rtn", "gptq", "awq", "smoothquant"):
        raise ValueError(f"method must be 'rtn', 'gptq', 'awq' or 'smoothquant', got {method!r}")
    if method != "rtn" and calibration is None:
        raise ValueError(f"{method} needs calibration tokens (B, T)")
    # Each layer is replaced in its parent module by name; calibration statistics were taken
    # from the original model, before any layer changed.
    stats = calibration_stats(model, calibration) if method != "rtn" else {}
    for name, lin in _block_linears(model).items():
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        w = lin.weight
        if method == "rtn":
            new = Int8Linear.from_linear(lin, bits=bits, group_size=group_size)
        elif method == "gptq":
            q, scale = gptq_quantize(w, stats[name]["H"], bits=bits, group_size=group_size)
            new = Int8Linear(q, scale, lin.bias, bits)
        elif method == "awq":
            q, scale, s, _ = awq_quantize(w, stats[name]["H"], bits=bits, group_size=group_size)
            new = ScaledLinear(Int8Linear(q, scale, lin.bias, bits), s)
        else:
            new = smoothquant_linear(lin, stats[name]["max"])
        setattr(parent, attr, new)
    return model
