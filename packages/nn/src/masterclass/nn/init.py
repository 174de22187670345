r"""# Weight initialization

Before training, the weights decide whether a signal survives the trip through a deep network.
For a linear layer $y = Wx$ with i.i.d. zero-mean weights of variance $\sigma_w^2$ and $n_{in}$
inputs of variance $\mathrm{Var}[x]$,

$$\mathrm{Var}[y_i] = n_{in}\, \sigma_w^2\, \mathrm{Var}[x].$$

Derived: $y_i = \sum_{k=1}^{n_{in}} W_{ik} x_k$ is a sum of $n_{in}$ independent terms, so
variances add, $\mathrm{Var}[y_i] = \sum_k \mathrm{Var}[W_{ik}x_k]$. For independent $W_{ik}$ and
$x_k$ with $E[W_{ik}] = 0$, $\mathrm{Var}[W_{ik}x_k] = E[W_{ik}^2]E[x_k^2] - (E[W_{ik}]E[x_k])^2
= \sigma_w^2 E[x_k^2]$. With zero-mean inputs $E[x_k^2] = \mathrm{Var}[x]$, which gives the line
above. After a ReLU the inputs are not zero-mean, and the second moment is what propagates: if
$z$ is symmetric around 0, $E[\mathrm{relu}(z)^2] = \tfrac12 E[z^2]$ (half the mass is zeroed, the
other half kept), so layer to layer $\mathrm{Var}[z^{(\ell+1)}] = \tfrac12 n_{in}\sigma_w^2
\mathrm{Var}[z^{(\ell)}]$, and the factor is one for $\sigma_w^2 = 2/n_{in}$: He's rule. The same
argument on the backward pass, $\partial L/\partial x = W^\top \partial L/\partial y$, sums over
$n_{out}$ terms and asks for $n_{out}\sigma_w^2 = 1$.

If $n_{in}\sigma_w^2 \neq 1$, activations grow or shrink geometrically with depth, and so do the
gradients on the way back. The classic schemes choose $\sigma_w$ to make the factor one:

- **Xavier/Glorot** (Glorot & Bengio, 2010), for activations linear around 0 (tanh):
  $\sigma_w^2 = 2 / (n_{in} + n_{out})$, a compromise between the forward ($n_{in}$) and backward
  ($n_{out}$) conditions. Uniform version: $U(-a, a)$ with $a = \sqrt{6/(n_{in} + n_{out})}$.
- **Kaiming/He** (He et al., 2015), for ReLU, which zeroes half of its inputs and so halves the
  second moment: $\sigma_w^2 = 2 / n$, with $n = n_{in}$ (`fan_in`, preserves the forward pass)
  or $n_{out}$ (`fan_out`, preserves the backward pass).
- **Orthogonal** (Saxe et al., 2014): $W$ with orthonormal rows or columns preserves the norm of
  every vector exactly, not just on average.

A *gain* $g$ adapts the variance to the nonlinearity ($\sigma_w^2 \propto g^2$):
$g = 1$ for linear/sigmoid, $5/3$ for tanh, $\sqrt 2$ for ReLU, $\sqrt{2/(1+\alpha^2)}$ for
LeakyReLU. For a convolution weight $(C_{out}, C_{in}, k_h, k_w)$,
$n_{in} = C_{in} k_h k_w$ and $n_{out} = C_{out} k_h k_w$.

Each function takes an explicit `generator` and draws exactly as `torch.nn.init` does, so with the
same seed they produce the same tensors, which is what the tests check. The figure pushes a batch
through 50 layers and plots the activation scale per layer for each scheme:

![activation std through depth](figures/init_activation_stats.png)

A worked example: a 512-wide Kaiming layer keeps the second moment of a ReLU network's
pre-activations at about 1, a layer with PyTorch's default $U(\pm 1/\sqrt{n})$ divides it by
about 6.

>>> g = torch.Generator().manual_seed(0)
>>> z = torch.randn(1000, 512, generator=g)
>>> w = kaiming_normal_(torch.empty(512, 512), generator=g)
>>> round(float((torch.relu(z) @ w.T).pow(2).mean()), 1)
1.0
>>> w_default = (torch.rand(512, 512, generator=g) * 2 - 1) / 512**0.5  # variance 1 / (3n)
>>> round(float((torch.relu(z) @ w_default.T).pow(2).mean()), 2)  # (1/2) n / (3n) = 1/6
0.17

Left out: LSUV and data-dependent initialization, fixup/zero-init of residual branches (see
`residual.py` for why residual nets tolerate depth).

## Exercises

1. Write `kaiming_std(fan_in, negative_slope)`: the standard deviation of Kaiming's normal
   initialization (mode `fan_in`) before a LeakyReLU of that slope (0 is a ReLU). Check it:
   `uv run pytest --exercise nn.init`.
2. Write `xavier_bound(fan_in, fan_out, gain)`: the half-width $a$ of Xavier's uniform
   $U(-a, a)$ (derive it from the variance of a uniform). Check it:
   `uv run pytest --exercise nn.init`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain $g$ for `nonlinearity`, as `torch.nn.init.calculate_gain`.

    >>> round(calculate_gain('relu'), 6), round(calculate_gain('tanh'), 6)
    (1.414214, 1.666667)
    """
    # The gain restores the variance a nonlinearity removes: $\sqrt 2$ for ReLU, which zeroes half
    # its inputs, $5/3$ for tanh.
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


# Fan-in and fan-out: how many inputs each output sums over, and how many outputs each input
# feeds.
def fans(tensor: Tensor) -> tuple[int, int]:
    """$(n_{in}, n_{out})$ of a weight `(out, in, *kernel)`: the kernel size multiplies both.

    >>> fans(torch.empty(16, 3, 5, 5))  # (out, in, kh, kw): fan-in 3*25, fan-out 16*25
    (75, 400)
    """
    if tensor.dim() < 2:
        raise ValueError(
            f"fans: need a weight with at least 2 dims, got shape {tuple(tensor.shape)}"
        )
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


# Xavier (Glorot): keeping the variance of activations forward needs $1/n_{in}$, of gradients
# backward $1/n_{out}$; the compromise is $\mathrm{Var}(w) = 2g^2/(n_{in} + n_{out})$.
@torch.no_grad()
def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill with $U(-a, a)$, $a = g\sqrt{6/(n_{in} + n_{out})}$ (variance $2g^2/(n_{in}+n_{out})$)."""
    fan_in, fan_out = fans(tensor)
    a = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return tensor.uniform_(-a, a, generator=generator)


@torch.no_grad()
def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    r"""Fill with $\mathcal{N}(0, 2g^2/(n_{in} + n_{out}))$."""
    fan_in, fan_out = fans(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return tensor.normal_(0.0, std, generator=generator)


# Kaiming (He): a ReLU zeroes half its inputs, so the variance is kept through one fan only,
# $\mathrm{Var}(w) = g^2/n$, with the gain restoring what the nonlinearity removes.
def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fans(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


# A uniform on $(-b, b)$ has variance $b^2/3$, hence the $\sqrt 3$ in the uniform's bound.
@torch.no_grad()
def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill with $U(-b, b)$, $b = \sqrt3\, g/\sqrt{n}$ (a uniform of std $g/\sqrt n$)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return tensor.uniform_(-bound, bound, generator=generator)


# The Gaussian variant draws with that standard deviation directly.
@torch.no_grad()
def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""Fill with $\mathcal{N}(0, g^2/n)$, $n$ = fan-in or fan-out."""
    return tensor.normal_(0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator=generator)


# ## Orthogonal initialization
#
# Draw a Gaussian matrix $A$ (tall: transpose a wide one), factor $A = QR$, and keep $Q$. The QR
# here is Gram-Schmidt: orthogonalize each column against the previous ones, then normalize.
# Classical Gram-Schmidt loses orthogonality in floating point, so each column is orthogonalized
# *twice* ("CGS2", Giraud et al., 2005), which is as accurate as Householder for full-rank
# matrices and keeps the inner step a matrix-vector product. QR is unique once the diagonal of
# $R$ is positive, which Gram-Schmidt produces; so this $Q$ equals torch's (Householder QR with
# its signs corrected by $\operatorname{sign}(R_{ii})$), making $Q$ Haar-distributed.


def gram_schmidt_qr(a: Tensor) -> tuple[Tensor, Tensor]:
    r"""Thin QR of a tall matrix `a` `(m, n)`, $m \ge n$, by Gram-Schmidt with reorthogonalization; $R_{ii} > 0$."""
    m, n = a.shape
    if m < n:
        raise ValueError(f"gram_schmidt_qr: need a tall matrix (m >= n), got {m}x{n}")
    q = a.clone()  # (m, n): columns become orthonormal in place
    r = a.new_zeros(n, n)
    for j in range(n):
        v = q[:, j]
        for _ in range(2):
            # Remove the components of column j along the first j orthonormal columns.
            c = q[:, :j].T @ v  # (j,)
            v = v - q[:, :j] @ c
            r[:j, j] += c
        r[j, j] = v.norm()
        q[:, j] = v / r[j, j]
    return q, r


# A weight of any shape is filled as a `(rows, cols)` matrix: the QR of a Gaussian in its tall
# orientation, transposed back for a wide weight, then scaled by `gain`.
@torch.no_grad()
def orthogonal_(
    tensor: Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """Fill with a (semi-)orthogonal matrix times `gain`; extra dims are flattened into columns."""
    if tensor.dim() < 2:
        raise ValueError(f"orthogonal_: need at least 2 dims, got shape {tuple(tensor.shape)}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = tensor.new_empty(rows, cols).normal_(0, 1, generator=generator)  # (rows, cols)
    if rows < cols:
        flat = flat.T  # tall (cols, rows)
    q, _ = gram_schmidt_qr(flat.double())
    if rows < cols:
        q = q.T
    tensor.view(rows, cols).copy_(q.to(tensor.dtype))
    return tensor.mul_(gain)


# ## Activation statistics through depth
#
# The experiment behind the figure: push a unit-variance batch through `depth` square layers
# with the chosen initialization and nonlinearity, and record the standard deviation after each.

# Each scheme as it is commonly used: Xavier with gain 1 (as in the paper), Kaiming for ReLU,
# orthogonal with the nonlinearity's gain, and a naive small Gaussian for contrast.
INITS = {
    "normal(0, 0.01)": lambda w, g, nl: w.normal_(0, 0.01, generator=g),
    "xavier_uniform": lambda w, g, nl: xavier_uniform_(w, generator=g),
    "kaiming_normal": lambda w, g, nl: kaiming_normal_(w, nonlinearity="relu", generator=g),
    "orthogonal": lambda w, g, nl: orthogonal_(w, gain=calculate_gain(nl), generator=g),
}


# The experiment: a fresh random square layer at every depth, no biases, and the std measured
# after the nonlinearity.
@torch.no_grad()
def activation_stds(
    init: str,
    nonlinearity: str = "relu",
    depth: int = 50,
    width: int = 256,
    batch: int = 512,
    seed: int = 0,
) -> list[float]:
    """Std of the activations after each of `depth` layers `width` x `width` (no biases)."""
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {sorted(INITS)}")
    acts = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda t: t}
    if nonlinearity not in acts:
        raise ValueError(f"nonlinearity must be one of {sorted(acts)}, got {nonlinearity!r}")
    act = acts[nonlinearity]
    # One generator draws the batch and every weight, so a seed fixes the whole curve.
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, width, generator=g)  # (B, width)
    stds = []
    for _ in range(depth):
        w = INITS[init](torch.empty(width, width), g, nonlinearity)
        x = act(x @ w.T)
        stds.append(x.std().item())
    return stds
