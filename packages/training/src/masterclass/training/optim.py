r"""# AdamW as a `torch.optim.Optimizer`

Module 1 wrote AdamW once, as a pure step function over any array type
(`masterclass.linalg.optimizers.adamw_step`): given $\theta_{t-1}$, $g_t$ and the state
$(m_{t-1}, v_{t-1}, t-1)$ it returns

$$\theta_t = (1 - \eta\lambda)\,\theta_{t-1}
   - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon},\quad
   m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 .$$

PyTorch's training machinery (learning-rate setters, gradient clipping, `state_dict()` for
checkpoints, data-parallel wrappers) expects a `torch.optim.Optimizer`: an object that holds
*parameter groups* (lists of parameters sharing hyper-parameters), a per-parameter `state`
dict, and a `step()` that updates the parameters in place from their `.grad`. This file is the
thin adapter between the two: `step()` hands each parameter, its gradient and its state to
`adamw_step` and writes the result back. One algorithm, one implementation: there is no AdamW
arithmetic here.

Parameter groups matter for AdamW because weight decay should apply to matrices but not to
gains and biases (a decayed RMSNorm gain drifts towards zero for no benefit);
`param_groups_for_weight_decay` builds the two groups the usual way, by dimension.

## Muon: orthogonalised momentum for the weight matrices

AdamW scales each coordinate of the gradient by its own running RMS. Muon (Jordan et al., 2024,
*Muon: An optimizer for hidden layers*, https://kellerjordan.github.io/posts/muon/; Liu et al.,
2025, *Muon is Scalable for LLM Training*, https://arxiv.org/abs/2502.16982) treats a weight
matrix as a matrix: it keeps a momentum $B_t = \mu B_{t-1} + (1-\mu) G_t$ and replaces the
update by the nearest semi-orthogonal matrix. If $M = U S V^\top$ is the SVD of the (Nesterov)
momentum $M = (1-\mu) G_t + \mu B_t$, the update is
$$ O = U V^\top = \arg\min_{O^\top O = I} \lVert O - M \rVert_F , $$
the *polar factor* of $M$ (Module 1's SVD chapter): every singular direction of the update moves
by the same amount, so the rare directions that a few large singular values would drown out get
their share. Computing an SVD per step is slow; Newton–Schulz iterations get there with matrix
products only. Normalise $X_0 = M / \lVert M \rVert_F$ (so every singular value is in $(0, 1]$)
and iterate an odd polynomial,
$$ X_{k+1} = a X_k + b (X_k X_k^\top) X_k + c (X_k X_k^\top)^2 X_k
   = U\, p(S_k)\, V^\top,\qquad p(s) = a s + b s^3 + c s^5 . $$
Because $X X^\top X = U S^3 V^\top$, each step applies the scalar polynomial $p$ to every singular
value and leaves $U$ and $V$ alone, so the question is only which $p$ drives all of $(0, 1]$
towards 1 in few steps. The cubic $p(s) = \tfrac32 s - \tfrac12 s^3$ converges to exactly 1 but
slowly for small $s$ (its slope at 0 is 1.5); Jordan's quintic $(a, b, c) = (3.4445, -4.7750,
2.0315)$ has slope 3.4 at 0 and after five steps leaves every singular value in about $[0.7, 1.2]$:
not $U V^\top$, but as good in practice and three times cheaper. Keller Jordan's reference runs
the iteration in bfloat16, and so does `torch.optim.Muon`: the polynomial is forgiving, and on a
GPU, or a CPU with AVX512-BF16 or AMX, a bf16 product is several times faster than an fp32 one. A
CPU without AVX-512, most laptops' AVX2, has no fast bf16 product at all: torch computes it
in a scalar fallback, some hundred times slower than fp32 (0.8 against 86 GFLOP/s for a
1024-square product on a 2-core AMD EPYC). There, five iterations on each of the capstone model's
20 hidden matrices took 0.9 s of a 1.1 s training step, measured with `torch.profiler` (Module 4's
[profiling chapter](../perf/profiling.md)); in fp32 they take 0.05 s. So `Muon` iterates in
bfloat16 where the hardware multiplies bf16 fast (`native_bf16`) and in float32 elsewhere, unless
`ns_dtype` says otherwise.
The update's RMS depends on the shape, $\lVert U V^\top \rVert_F / \sqrt{AB} = 1/\sqrt{\max(A,B)}$,
so Liu et al. scale the learning rate by $0.2 \sqrt{\max(A, B)}$: the update then has AdamW's
typical RMS of 0.2 and Muon uses AdamW's learning rate and weight decay unchanged
(`adjust_lr="match_rms_adamw"`).

Muon is for the matrices inside the network. Embeddings (a lookup, not a linear map of the input),
the output head and the vectors (gains, biases) stay with AdamW; `muon_param_groups` splits them
that way and `Muon` runs both kinds of group, so one optimizer object serves the loop, the
learning-rate schedule and the checkpoints. The tests compare every step with
`torch.optim.Muon` (matrices) and with `AdamW` (the rest).

Left out: fused/foreach multi-tensor kernels (torch's speed trick of updating all parameters in a
few large kernels), AMSGrad, sparse gradients, and Muon for convolutions (flattened kernels).

## Exercises

1. Write `adamw_step(theta, grad, m, v, t, lr, betas, eps, weight_decay)` for numpy arrays: one
   AdamW step at the 1-based step `t`, returning `(theta, m, v)`, with the bias corrections and
   the decoupled decay of the formula above (the decay multiplies $\theta$; it never enters
   $m$ or $v$, which is what separates AdamW from Adam with an L2 penalty; Module 1's
   [optimizers chapter](../linalg/optimizers.md) derives both). Check it:
   `uv run pytest --exercise training.optim`
2. Write `newton_schulz_cubic(m, steps)`: normalise by the Frobenius norm, then iterate
   $X \leftarrow \tfrac32 X - \tfrac12 X X^\top X$. The checker compares a few steps with
   `newton_schulz(m, steps, (1.5, -0.5, 0.0), dtype=torch.float64)` and fifty with the polar
   factor $U V^\top$ of the [SVD](../linalg/svd.md). Check it:
   `uv run pytest --exercise training.optim`
3. Write `muon_step(param, grad, buf, lr, momentum, weight_decay)` for one matrix, returning
   `(param, buf)`: the momentum, the Nesterov look-ahead, `newton_schulz`, the decay and the
   rate $0.2\sqrt{\max(A, B)}\,\eta$, equal to `torch.optim.Muon` over six steps. Check it:
   `uv run pytest --exercise training.optim`
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from masterclass.linalg.optimizers import AdamState, adamw_init, adamw_step

__all__ = [
    "AdamW",
    "Muon",
    "muon_param_groups",
    "native_bf16",
    "newton_schulz",
    "param_groups_for_weight_decay",
]


# The optimizer class is a thin shell around Module 1's pure `adamw_step`: PyTorch's `Optimizer`
# supplies parameter groups, state storage and `state_dict`, and the step delegates the arithmetic.
class AdamW(torch.optim.Optimizer):
    """AdamW whose update is `masterclass.linalg.optimizers.adamw_step`.

    Same arguments and defaults as `torch.optim.AdamW`; `state_dict()` holds, per parameter,
    `exp_avg`, `exp_avg_sq` (tensors like the parameter) and `step` (an int), so it round-trips
    through `torch.load(weights_only=True)`.

    >>> p = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = AdamW([p], lr=0.1, weight_decay=0.0)
    >>> p.grad = torch.tensor([3.0]); opt.step()
    >>> round(p.item(), 6)  # the first Adam step has length lr
    0.9
    """

    # Every hyper-parameter goes into `defaults`, which fills in any key a parameter group leaves
    # out; the step reads the values from the group, so the schedule can change `lr` per group.
    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    # `step` runs under `no_grad`: the update itself must not be recorded by autograd. The pure
    # step function returns new tensors; `copy_` writes them into the existing parameter and
    # state tensors so that anything holding a reference (a DDP bucket, a tied weight) sees them.
    @torch.no_grad()
    def step(self, closure=None):
        """Take one AdamW step for every parameter that has a gradient; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("AdamW does not support sparse gradients")
                _adamw_update(p, self.state[p], group)
        return loss


def _adamw_update(p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
    # One parameter's AdamW step in place, from its `.grad`, its state and its group's settings.
    if not state:
        init = adamw_init(p.detach())
        state.update(exp_avg=init.exp_avg, exp_avg_sq=init.exp_avg_sq, step=init.step)
    new_param, new_state = adamw_step(
        p.detach(),
        p.grad,
        AdamState(state["exp_avg"], state["exp_avg_sq"], int(state["step"])),
        lr=float(group["lr"]),
        betas=tuple(group["betas"]),
        eps=group["eps"],
        weight_decay=group["weight_decay"],
    )
    p.copy_(new_param)
    state["exp_avg"].copy_(new_state.exp_avg)
    state["exp_avg_sq"].copy_(new_state.exp_avg_sq)
    state["step"] = new_state.step


# ## Which parameters to decay
#
# The GPT-2/nanoGPT convention: every parameter with two or more dimensions (linear weights,
# embeddings) is decayed; vectors (biases, normalization gains) are not. Tied weights appear once,
# because `named_parameters()` de-duplicates shared tensors.
def param_groups_for_weight_decay(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: matrices with `weight_decay`, vectors with none."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


# ## Muon
#
# `newton_schulz` is the quintic iteration of the chapter's introduction. A tall matrix is
# transposed first so that the Gram matrix $X X^\top$ is the smaller of the two.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    m: torch.Tensor,
    steps: int = 5,
    coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
    eps: float = 1e-7,
    dtype: torch.dtype = torch.bfloat16,
) -> torch.Tensor:
    r"""Approximately orthogonalise the matrix `m` (`U S V^T` -> `U p(S) V^T`, `p(S)` near 1).

    Runs in `dtype` (bfloat16, like Muon's reference) and returns that dtype.

    >>> q = newton_schulz(torch.tensor([[3.0, 0.0], [0.0, 0.5]]), dtype=torch.float64)
    >>> [round(v, 2) for v in torch.linalg.svdvals(q).tolist()]  # both singular values near 1
    [1.04, 0.71]
    """
    if m.ndim != 2:
        raise ValueError(f"newton_schulz needs a matrix, got shape {tuple(m.shape)}")
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    # Work on a copy in the low-precision dtype, transposed when tall so that the Gram matrix below
    # is the smaller of the two.
    a, b, c = coefficients
    tall = m.shape[0] > m.shape[1]
    x = m.to(dtype=dtype, copy=True)
    x = x.T if tall else x
    # Dividing by the Frobenius norm bounds the largest singular value by 1.
    x = x / x.norm().clamp(min=eps)
    # `addmm(C, A, B, beta, alpha)` is beta C + alpha A B in one kernel, rounded once.
    for _ in range(steps):
        gram = x @ x.T  # (A, A), A = the smaller side
        poly = torch.addmm(gram, gram, gram, beta=b, alpha=c)  # b G + c G^2
        x = torch.addmm(x, poly, x, beta=a)  # a X + (b G + c G^2) X
    return x.T if tall else x


# Whether a device has fast bf16 matrix products: a CUDA GPU that reports bf16 support, or a CPU
# on which oneDNN runs its bf16 kernels, i.e. one with AVX-512 (the BW, VL and DQ subsets; the
# products are native with AVX512-BF16 or AMX, and emulated in AVX-512 registers otherwise, still
# near fp32's speed). Anything else (an AVX2 CPU, Apple's MPS here) is treated as not, which
# costs at most fp32's speed. The answer never changes within a process.
@functools.cache
def _native_bf16(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if kind == "cpu":
        return torch.backends.mkldnn.is_available() and bool(
            torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
    return False


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` multiplies bf16 matrices fast (a CUDA GPU with bf16; a CPU with AVX-512).

    >>> native_bf16("meta")
    False
    """
    return _native_bf16(torch.device(device).type)


# Splitting the parameters: matrices of the hidden layers go to Muon; embeddings, the output head
# (any 2-D parameter whose name is in `adam_names`, by default those of `nn.Embedding` modules
# and a module named `lm_head`) and vectors go to AdamW, matrices with weight decay.
def muon_param_groups(
    model: nn.Module, weight_decay: float, adam_names: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Three groups for `Muon`: hidden matrices (Muon), other matrices and vectors (AdamW)."""
    if adam_names is None:
        adam_names = set()
        for name, module in model.named_modules():
            if isinstance(module, nn.Embedding) or name.split(".")[-1] == "lm_head":
                adam_names |= {f"{name}.{n}" if name else n for n, _ in module.named_parameters()}
    # Each trainable parameter lands in exactly one group: vectors (never decayed), 2-D hidden
    # matrices (Muon), and everything else, including embeddings and the head, in AdamW's group.
    adam_names = set(adam_names)
    hidden, other, vectors = [], [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dim() < 2:
            vectors.append(p)
        elif p.dim() == 2 and name not in adam_names:
            hidden.append(p)
        else:
            other.append(p)
    return [
        # Hidden matrices and the other matrices decay; vectors never do, as in AdamW's grouping.
        {"params": hidden, "muon": True, "weight_decay": weight_decay},
        {"params": other, "muon": False, "weight_decay": weight_decay},
        {"params": vectors, "muon": False, "weight_decay": 0.0},
    ]


# One optimizer for the whole model: the groups from `muon_param_groups` say per group which update
# applies, so a checkpoint and a schedule see one object.
class Muon(torch.optim.Optimizer):
    """Muon for the groups marked `"muon": True` (2-D parameters), AdamW for the others.

    `lr` and `weight_decay` are AdamW's: Muon groups scale the rate by `0.2 sqrt(max(A, B))`
    (`adjust_lr="match_rms_adamw"`) or by `sqrt(max(1, A / B))` (`"original"`, Jordan's). The
    state of a Muon parameter is its `momentum_buffer`; AdamW parameters keep AdamW's state.
    `ns_dtype` is the dtype of the Newton-Schulz iteration; `None` (the default) picks bfloat16
    where the parameter's device multiplies bf16 fast (`native_bf16`), float32 elsewhere.

    >>> w = torch.nn.Parameter(torch.eye(2)); v = torch.nn.Parameter(torch.ones(2))
    >>> groups = [{"params": [w], "muon": True}, {"params": [v], "muon": False}]
    >>> opt = Muon(groups, lr=0.1, ns_dtype=torch.float32)  # the same result on every machine
    >>> w.grad = torch.tensor([[1.0, 0.0], [0.0, 0.0]]); v.grad = torch.ones(2); opt.step()
    >>> round(w[0, 0].item(), 3), round(w[1, 1].item(), 3), round(v[0].item(), 3)
    (0.97, 0.99, 0.89)
    """

    # Muon's own settings (momentum, Nesterov, Newton-Schulz steps, the rate rule) and AdamW's
    # (betas, eps) sit side by side in `defaults`: one optimizer serves both kinds of group.
    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        adjust_lr: str = "match_rms_adamw",
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
        weight_decay: float = 0.1,
        ns_dtype: torch.dtype | None = None,
    ) -> None:
        # The checks come before `super().__init__`, so a bad value fails before any group is built.
        if ns_dtype is not None and not ns_dtype.is_floating_point:
            raise ValueError(f"ns_dtype must be a floating-point dtype or None, got {ns_dtype}")
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if adjust_lr not in ("match_rms_adamw", "original"):
            raise ValueError(
                f"adjust_lr must be 'match_rms_adamw' or 'original', got {adjust_lr!r}"
            )
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "nesterov": nesterov,
            "ns_steps": ns_steps,
            "adjust_lr": adjust_lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "muon": False,
        }
        # A Muon group must hold matrices only: orthogonalising a vector has no meaning. The
        # iteration's dtype is a property of the machine, not a hyper-parameter, so it is kept out
        # of the groups (and of `state_dict`).
        super().__init__(params, defaults)
        self.ns_dtype = ns_dtype
        for group in self.param_groups:
            if group["muon"] and any(p.dim() != 2 for p in group["params"]):
                raise ValueError(
                    "a Muon group holds matrices only; put vectors in a group with muon=False"
                )

    # The rate of an (A, B) matrix: `match_rms_adamw` makes the update's RMS match AdamW's, so one
    # `lr` suits both kinds of group; `original` is Keller Jordan's `sqrt(max(1, A / B))`.
    @staticmethod
    def _scaled_lr(lr: float, rule: str, shape: torch.Size) -> float:
        rows, cols = shape
        return lr * (
            0.2 * math.sqrt(max(rows, cols))
            if rule == "match_rms_adamw"
            else math.sqrt(max(1.0, rows / cols))
        )

    @torch.no_grad()
    def step(self, closure=None):
        """One step: Muon on the Muon groups, AdamW on the rest; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        # Each group is routed by its `muon` flag: AdamW groups take exactly the AdamW class's
        # update.
        for group in self.param_groups:
            lr, wd = float(group["lr"]), group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not group["muon"]:
                    _adamw_update(p, state, group)  # the same step the AdamW class takes
                    continue
                # The momentum is an exponential average of the gradients; Nesterov's variant
                # looks one step ahead along it: (1 - mu) g + mu B.
                mu = group["momentum"]
                if not state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.lerp_(p.grad, 1 - mu)
                m = p.grad.lerp(buf, mu) if group["nesterov"] else buf
                # Orthogonalise the momentum, decay the weight (decoupled, as in AdamW), and step by
                # the scaled rate.
                dtype = self.ns_dtype or (
                    torch.bfloat16 if native_bf16(p.device) else torch.float32
                )
                update = newton_schulz(m, steps=group["ns_steps"], dtype=dtype)
                p.mul_(1 - lr * wd)
                p.add_(update.to(p.dtype), alpha=-self._scaled_lr(lr, group["adjust_lr"], p.shape))
        return loss
