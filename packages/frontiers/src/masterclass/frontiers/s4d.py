r"""# State space models: S4D

A state space model (SSM) is a linear ODE that reads an input signal $u(t)$ into an $N$-dimensional
state $x(t)$ and reads the state out into $y(t)$:

$$ x'(t) = A x(t) + B u(t), \qquad y(t) = C x(t) + D u(t). $$

S4 (Gu et al., 2022) showed that a stack of such layers, one SSM per channel, models sequences of
tens of thousands of steps, where attention is quadratic and RNNs forget. S4D (Gu et al., 2022b)
keeps the essence with a *diagonal* $A$, which makes every step of the derivation below a line of
code. This chapter derives the three views of one S4D layer and checks that they agree.

**Why this $A$: HiPPO and long memory.** HiPPO (Gu et al., 2020) asks which $A, B$ make the state
$x(t)$ the coefficients of the best polynomial approximation of the whole history $u(s), s \le t$,
under a measure that weighs the past. For the uniform measure over $[0, t]$ (HiPPO-LegS) the answer
is a fixed lower-triangular $A$; its state remembers the *whole* history, compressed, instead of
the exponentially forgotten last few steps of a randomly initialised RNN. S4D-Lin is the diagonal
approximation of that matrix's spectrum: $A_n = -\tfrac12 + i \pi n$. The real part $-\tfrac12$
sets a slow, shared decay; the imaginary parts $\pi n$ are frequencies, so the $N$ modes form a
Fourier-like basis of the recent past: the state is a running, decaying spectrum of the input.
Long memory comes from small step sizes $\Delta$: a mode decays as $e^{-\Delta l / 2}$ after $l$
steps, so $\Delta = 10^{-3}$ keeps a thousand-step echo. Each channel learns its own $\Delta$.

**Discretisation (zero-order hold).** A sequence $u_0, u_1, \dots$ is a signal held constant over
steps of length $\Delta$. Over one step the ODE with constant input solves exactly:

$$ x(t + \Delta) = e^{\Delta A} x(t) + \int_0^\Delta e^{sA}\, ds\; B u
   = e^{\Delta A} x(t) + A^{-1}(e^{\Delta A} - I) B u, $$

so with $\bar A = e^{\Delta A}$ and $\bar B = (\bar A - I) A^{-1} B$ the *recurrent view* is

$$ x_k = \bar A x_{k-1} + \bar B u_k, \qquad y_k = C x_k + D u_k. $$

For diagonal $A$ both are elementwise: $\bar A_n = e^{\Delta A_n}$,
$\bar B_n = (e^{\Delta A_n} - 1) B_n / A_n$. This is exactly `scipy.signal.cont2discrete(...,
method="zoh")`, which computes a matrix exponential of a block matrix: the test checks it.

**The convolution view.** Unrolling the recurrence from $x_{-1} = 0$,
$x_k = \sum_{j \le k} \bar A^{k-j} \bar B u_j$, so

$$ y_k = \sum_{j=0}^{k} K_{k-j}\, u_j + D u_k, \qquad K_l = C \bar A^l \bar B
   = \sum_n C_n \bar B_n \bar A_n^{\,l}. $$

The kernel $K$ is a Vandermonde matrix $(\bar A_n^l)_{n,l}$ times the vector $C \odot \bar B$:
$O(NL)$ work, no matrix powers. A causal convolution of length $L$ is then an FFT product in
$O(L \log L)$: training sees the whole sequence at once, like a CNN, while generation runs the
recurrence in $O(N)$ per step, like an RNN.

**The kernel by FFT (S4's generating function).** The DFT of the kernel at the $L$-th roots of
unity $z_k = e^{-2\pi i k / L}$ sums a geometric series in closed form, because $z_k^L = 1$:

$$ \hat K_k = \sum_{l<L} K_l z_k^l = \sum_n C_n \bar B_n \sum_{l<L} (\bar A_n z_k)^l
   = \sum_n C_n \bar B_n \frac{1 - \bar A_n^{L}}{1 - \bar A_n z_k}, $$

a Cauchy kernel; an inverse FFT returns $K$. S4 needs this route because its $A$ is not diagonal
(the Cauchy form survives a low-rank correction); with diagonal $A$ both routes agree.

**Real signals from half the state.** The $A_n$ come in conjugate pairs; S4D keeps one of each pair
and takes $y = 2\,\mathrm{Re}(C x)$, which is the same real output with half the state.

![S4D kernels for several step sizes, and the recurrence's state](figures/ssm_kernels.png)

References: Gu, Johnson, Goel et al., *Combining recurrent, convolutional and continuous-time
models with linear state space layers* (LSSL), 2021; Gu, Dao, Ermon, Rudra, Ré, *HiPPO: recurrent
memory with optimal polynomial projections*, 2020, https://arxiv.org/abs/2008.07669; Gu, Goel, Ré,
*Efficiently modeling long sequences with structured state spaces* (S4), 2022,
https://arxiv.org/abs/2111.00396; Gu, Gupta, Goel, Ré, *On the parameterization and initialization
of diagonal state space models* (S4D), 2022, https://arxiv.org/abs/2206.11893.

Left out: the full HiPPO-LegS matrix and S4's normal-plus-low-rank algorithm, the bilinear
discretisation (an exercise), bidirectional kernels, and the deep S4 network around the layer
(normalisation, GLU, dropout).

>>> layer = S4D(channels=2, state=4, seed=0)
>>> u = torch.randn(1, 16, 2, generator=torch.Generator().manual_seed(0))
>>> bool(torch.allclose(layer(u), layer.recurrent(u), atol=1e-5))
True

## Exercises

1. Write `zoh(A, B, dt)` for complex diagonal `A`, `B` (numpy arrays) returning `(Abar, Bbar)`.
   Check it: `uv run pytest --exercise frontiers.s4d`
2. Write `bilinear(A, B, dt)`, the Tustin discretisation
   $\bar A = (1 - \Delta A/2)^{-1}(1 + \Delta A/2)$, $\bar B = (1 - \Delta A/2)^{-1} \Delta B$,
   for diagonal `A`: it must equal `scipy.signal.cont2discrete(..., method="bilinear")`.
   Check it: `uv run pytest --exercise frontiers.s4d`
3. Write `kernel_by_powers(Abar, Bbar, C, L)` that computes $K_l = 2\,\mathrm{Re}(C \bar A^l \bar B)$
   by running the recurrence on an impulse $u = (1, 0, 0, \dots)$.
   Check it: `uv run pytest --exercise frontiers.s4d`
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def zoh(A: Tensor, B: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
    r"""Zero-order-hold discretisation of a diagonal SSM: $\bar A = e^{\Delta A}$,
    $\bar B = (\bar A - 1) B / A$.

    `A`, `B` complex of any shape; `dt` real, broadcastable to them (one step size per channel).
    """
    if not torch.is_complex(A):
        raise TypeError(
            f"A must be a complex tensor (the diagonal of the state matrix), got {A.dtype}"
        )
    if bool((A == 0).any()):
        raise ValueError("A has a zero eigenvalue: ZOH divides by A; keep Re(A) < 0")
    dtA = dt * A
    Abar = torch.exp(dtA)
    return Abar, (Abar - 1) / A * B


# ## The kernel, two ways
#
# The Vandermonde route raises each $\bar A_n$ to the powers $0 .. L-1$ as $e^{l \Delta A_n}$ (an
# exponential of a product, not a repeated product, so no error accumulates) and contracts with
# $C \odot \bar B$ over the state. The FFT route evaluates the Cauchy sum at the roots of unity and
# inverts the DFT. Both return the real kernel $2\,\mathrm{Re}(\cdot)$, one row per channel.


def kernel_vandermonde(A: Tensor, B: Tensor, C: Tensor, dt: Tensor, L: int) -> Tensor:
    r"""$K_l = 2\,\mathrm{Re} \sum_n C_n \bar B_n \bar A_n^l$, `(H, N)` complex inputs, `dt` `(H, 1)`
    -> `(H, L)` real."""
    # Zero-order hold gives the discrete B; the powers of the discrete A, `exp(dt A l)`, are a
    # Vandermonde matrix. The conjugate modes, not stored, make the kernel real: hence `2 Re`.
    _, Bbar = zoh(A, B, dt)  # (H, N)
    powers = torch.exp(dt[..., None] * A[..., None] * torch.arange(L, device=A.device))  # (H, N, L)
    return 2 * torch.einsum("hn,hnl->hl", C * Bbar, powers).real  # (H, L)


# The same kernel by its DFT: at each root of unity z_k the geometric series over l sums in closed
# form, (1 - Abar^L) / (1 - Abar z_k), so no power beyond the L-th is formed; an inverse FFT
# returns the kernel.
def kernel_fft(A: Tensor, B: Tensor, C: Tensor, dt: Tensor, L: int) -> Tensor:
    r"""The same kernel from its DFT $\hat K_k = \sum_n C_n \bar B_n (1 - \bar A_n^L)/(1 - \bar A_n z_k)$."""
    Abar, Bbar = zoh(A, B, dt)  # (H, N)
    angle = -2 * math.pi * torch.arange(L, device=A.device, dtype=A.real.dtype) / L  # (L,)
    z = torch.polar(torch.ones_like(angle), angle)  # (L,) roots of unity, in A's precision
    numer = C * Bbar * (1 - Abar**L)  # (H, N)
    K_hat = (numer[..., None] / (1 - Abar[..., None] * z)).sum(dim=1)  # (H, L)
    return 2 * torch.fft.ifft(K_hat, dim=-1).real  # (H, L)


# Applying a kernel: a causal convolution by FFT, used by S4D's forward and by Hyena's long filters.
def causal_fft_conv(u: Tensor, K: Tensor) -> Tensor:
    r"""$y_k = \sum_{j \le k} K_{k-j} u_j$ for `u` `(B, T, H)` and `K` `(H, T)`, by FFT.

    Zero-padding to $2T$ turns the FFT's circular convolution into a linear one: the wrapped-around
    terms land in the discarded second half.
    """
    T = u.shape[1]
    n = 2 * T
    U = torch.fft.rfft(u.transpose(1, 2), n=n)  # (B, H, n/2+1)
    Kf = torch.fft.rfft(K, n=n)  # (H, n/2+1)
    return torch.fft.irfft(U * Kf, n=n)[..., :T].transpose(1, 2)  # (B, T, H)


# The layer: the parameters of H independent diagonal SSMs with N complex modes each, plus a skip
# term D per channel.
class S4D(nn.Module):
    r"""One diagonal SSM per channel, `(B, T, H) -> (B, T, H)`, S4D-Lin initialised.

    `forward` runs the convolution view; `recurrent` runs the same map step by step; `step` advances
    a state `(B, H, N)` by one input `(B, H)` for generation.
    """

    def __init__(
        self,
        channels: int,
        state: int = 32,
        *,
        dt_min: float = 1e-3,
        dt_max: float = 1e-1,
        seed: int = 0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if channels <= 0 or state <= 0:
            raise ValueError(f"channels and state must be positive, got {channels}, {state}")
        if not 0 < dt_min <= dt_max:
            raise ValueError(f"need 0 < dt_min <= dt_max, got dt_min={dt_min}, dt_max={dt_max}")
        g = torch.Generator().manual_seed(seed)
        H, N = channels, state
        # S4D-Lin: $A_n = -\tfrac12 + i\pi n$. The real part is stored through a log so that it
        # stays negative (a stable system) whatever the optimiser does.
        self.log_A_real = nn.Parameter(torch.full((H, N), math.log(0.5), dtype=dtype))
        self.A_imag = nn.Parameter((math.pi * torch.arange(N, dtype=dtype)).repeat(H, 1))
        # $B = 1$ and $C \sim \mathcal{CN}(0, 1)$, stored as (real, imaginary) pairs.
        self.B = nn.Parameter(torch.stack([torch.ones(H, N), torch.zeros(H, N)], -1).to(dtype))
        self.C = nn.Parameter(torch.randn(H, N, 2, generator=g, dtype=dtype) * 0.5**0.5)
        # $\log \Delta$ uniform in $[\log \Delta_{min}, \log \Delta_{max}]$: one time scale per channel.
        u = torch.rand(H, 1, generator=g, dtype=dtype)
        self.log_dt = nn.Parameter(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.D = nn.Parameter(torch.randn(H, generator=g, dtype=dtype))

    # The stored parameters become the complex A (real part negative), B and C, and the step sizes.
    def params(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Complex `A`, `B`, `C` `(H, N)` and real `dt` `(H, 1)`."""
        A = torch.complex(-torch.exp(self.log_A_real), self.A_imag)
        return A, torch.view_as_complex(self.B), torch.view_as_complex(self.C), self.log_dt.exp()

    def kernel(self, L: int) -> Tensor:
        """The convolution kernel `(H, L)`."""
        return kernel_vandermonde(*self.params(), L)

    def _check(self, u: Tensor) -> None:
        if u.dim() != 3 or u.shape[-1] != self.D.shape[0]:
            raise ValueError(f"u must have shape (B, T, H={self.D.shape[0]}), got {tuple(u.shape)}")

    # The convolution view for training: one kernel of length T per channel, one FFT convolution,
    # plus the skip term D u.
    def forward(self, u: Tensor) -> Tensor:
        """Convolution view: `(B, T, H) -> (B, T, H)`."""
        self._check(u)
        return causal_fft_conv(u, self.kernel(u.shape[1])) + self.D * u

    # ## The recurrent view
    #
    # The same layer as an RNN: $x_k = \bar A x_{k-1} + \bar B u_k$,
    # $y_k = 2\,\mathrm{Re}(C x_k) + D u_k$. Its cost per step does not grow with the position,
    # which is what makes SSMs attractive for generation.

    def step(self, x: Tensor, u_k: Tensor) -> tuple[Tensor, Tensor]:
        """Advance the complex state `x` `(B, H, N)` by input `u_k` `(B, H)`; returns `(x, y_k)`."""
        A, B, C, dt = self.params()
        Abar, Bbar = zoh(A, B, dt)  # (H, N)
        x = Abar * x + Bbar * u_k[..., None]  # (B, H, N)
        return x, 2 * (C * x).sum(-1).real + self.D * u_k  # (B, H, N), (B, H)

    # The recurrent view runs `step` T times from a zero state and gives the same outputs as
    # `forward` up to rounding.
    def recurrent(self, u: Tensor) -> Tensor:
        """Recurrent view: the same map as `forward`, one step at a time."""
        self._check(u)
        Bsz, T, H = u.shape
        cdtype = torch.complex128 if u.dtype == torch.float64 else torch.complex64
        x = torch.zeros(Bsz, H, self.C.shape[1], dtype=cdtype)  # (B, H, N)
        ys = []
        for k in range(T):
            x, y = self.step(x, u[:, k])
            ys.append(y)
        return torch.stack(ys, dim=1)  # (B, T, H)
