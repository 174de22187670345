r"""# Debugging and profiling ML code

Three questions come up in every training run that misbehaves, and this chapter gives each a
tool that the later packages reuse.

**Is the gradient right?** Compare it with central differences,

$$\frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2\varepsilon},$$

whose truncation error is $O(\varepsilon^2)$ (the $\varepsilon^2 f'''/6$ term of the Taylor
series) and whose rounding error is $O(u / \varepsilon)$ for machine epsilon $u$; in float64,
$\varepsilon \approx 10^{-6}$ balances the two at about $10^{-10}$. In float32 the same balance
sits near $10^{-3}$, which is why gradient checks run in float64. Adding the two terms,
$E(\varepsilon) = \varepsilon^2 |f'''|/6 + u|f|/\varepsilon$, and setting
$E'(\varepsilon) = 0$ gives the best step, $\varepsilon^* = (3u|f|/|f'''|)^{1/3}$; the measured
errors follow the model's V on both sides of it:

![Error of a central difference against the step, float64 and float32](figures/finite_differences.png)

`torch.autograd.gradcheck` does the same, column by column of the Jacobian; `gradient_check` below
checks one random vector–Jacobian product per input, which costs one backward pass and catches
the same bugs with probability one.

**Where did the first NaN come from?** A NaN poisons everything downstream, so the useful
answer is the *first* tensor that went non-finite. `NonFiniteHunter` puts a forward hook on every
submodule (hooks fire in execution order) and a gradient hook on every module output (those fire
in backward order), and records the first module whose output or output-gradient contains
NaN/inf. `torch.autograd.detect_anomaly` answers the same question per autograd op, at a large
cost in speed; `anomaly_report` shows its message. Note that anomaly mode checks the *backward*
functions, so it names the last op a forward NaN flowed through (say `TanhBackward0`), not the op
that created it (`LogBackward0`); the forward hooks above name the origin. On our own engine (the
[`Tensor`](tensor.md) of the first chapters) the recorded graph is already in forward order, so
`first_nonfinite_node` just scans it.

**Where does the time go?** `cprofile_top` profiles Python (which function, how often),
`torch_profile_top` profiles PyTorch's operators (`aten::addmm`, `aten::mm`, ...). The first
finds interpreter overhead, the second finds the kernels; `bench/mlp_step.py` uses both.

Left out: memory profiling and CUDA timelines (Module 4: [memory](../perf/memory.md) and
[profiling](../perf/profiling.md)).

## Exercises

1. Write `central_difference(f, x, eps)`: the central-difference gradient of a scalar function
   `f` of a float64 array `x`, of the shape of `x`, leaving `x` unchanged. Check it (against
   `torch.autograd.grad`, at a step where a one-sided difference is too coarse):
   `uv run pytest --exercise autograd.debugging`.
2. Write `optimal_step(u, f0, f3)`: the step $\varepsilon^*$ that minimises the error model
   $E(\varepsilon)$ above, for machine epsilon `u`, $f(x)$ = `f0` and $f'''(x)$ = `f3`. Check it
   (against scipy's minimiser of $E$): `uv run pytest --exercise autograd.debugging`.
3. Write `first_nonfinite_module(model, x)`: run `model(x)` with a forward hook on every submodule
   and return the name (as in `named_modules()`) of the first one whose output holds a NaN or an
   inf, or None; remove the hooks afterwards. Check it:
   `uv run pytest --exercise autograd.debugging`.
"""

from __future__ import annotations

import cProfile
import pstats
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from masterclass.autograd.tensor import Tensor, _topological_order


# Central differences one coordinate at a time, perturbing a copy of `x` in place and restoring
# each entry after its two evaluations.
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6):
    """Central-difference gradient of a scalar function of one float64 array.

    >>> g = numerical_gradient(lambda a: float((a**2).sum()), np.array([1.0, -2.0]))
    >>> np.allclose(g, [2.0, -4.0])
    True
    """
    x = np.array(x, dtype=np.float64)
    out = np.zeros_like(x)
    flat, gflat = x.reshape(-1), out.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f(x)
        flat[i] = old - eps
        minus = f(x)
        flat[i] = old
        gflat[i] = (plus - minus) / (2.0 * eps)
    return out


# The report: the worst error of each checked input, and whether all were within tolerance.
@dataclass
class GradCheckReport:
    """Result of `gradient_check`: the largest absolute error per input and the verdict."""

    max_abs_error: list[float]  # one per input that requires grad
    passed: bool


# The check: a random projection turns any output into a scalar, so one backward pass gives the
# analytical gradient of every input.
def gradient_check(
    fn: Callable[..., torch.Tensor],
    inputs: Sequence[torch.Tensor],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> GradCheckReport:
    r"""Check autograd's vector–Jacobian product of `fn` against central differences.

    `inputs` should be float64 tensors; those with `requires_grad=True` are checked. A random
    projection $w$ turns any output into the scalar $w^\top f(x)$, whose gradient autograd and
    central differences must agree on within `atol + rtol * |numeric|`.
    """
    for x in inputs:
        if x.dtype != torch.float64:
            raise TypeError(f"gradient_check: inputs must be float64, got {x.dtype} {x.shape}")
    with torch.no_grad():
        out = fn(*inputs)
    w = torch.randn(out.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    # Analytical side: one backward pass.
    leaves = [x.detach().clone().requires_grad_(x.requires_grad) for x in inputs]
    checked = [x for x in leaves if x.requires_grad]
    analytic = torch.autograd.grad((fn(*leaves) * w).sum(), checked, allow_unused=True)
    # Numerical side: central differences of the same projected scalar, one checked input at a
    # time, the others held fixed.
    errors, passed = [], True
    for x, a in zip(checked, analytic, strict=True):
        a = torch.zeros_like(x) if a is None else a

        def _scalar(arr: np.ndarray, x: torch.Tensor = x) -> float:
            args = [torch.from_numpy(arr) if y is x else y.detach() for y in leaves]
            with torch.no_grad():
                return float((fn(*args) * w).sum())

        numeric = numerical_gradient(_scalar, x.detach().numpy(), eps)
        err = np.abs(a.numpy() - numeric)
        errors.append(float(err.max(initial=0.0)))
        passed &= bool((err <= atol + rtol * np.abs(numeric)).all())
    return GradCheckReport(errors, passed)


# Hunting non-finite values: a forward hook checks every module's output, and a tensor hook on
# that output checks its gradient during backward.
@dataclass
class NonFiniteEvent:
    """Where a non-finite value first appeared."""

    phase: str  # "forward" (a module's output) or "backward" (the gradient of a module's output)
    module: str  # dotted name from `named_modules()` ("" is the root module)
    shape: tuple[int, ...]
    n_nan: int
    n_inf: int


# The hunter keeps its events in time order, so `first` is where the trouble began.
@dataclass
class NonFiniteHunter:
    """Context manager reporting the first module whose output or output-gradient is non-finite.

    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LogSigmoid())
    >>> with NonFiniteHunter(net) as hunter:
    ...     _ = net(torch.full((1, 2), float("nan")))
    >>> hunter.first.module, hunter.first.phase
    ('0', 'forward')
    """

    model: torch.nn.Module
    raise_on_first: bool = False  # raise FloatingPointError at the first event instead of recording
    events: list[NonFiniteEvent] = field(default_factory=list)
    _handles: list = field(default_factory=list)

    @property
    def first(self) -> NonFiniteEvent | None:
        """The first event in time order, or None if everything stayed finite."""
        return self.events[0] if self.events else None

    # An event is recorded for any floating-point tensor holding a NaN or an inf; with
    # `raise_on_first`, the first one also raises.
    def _check(self, phase: str, name: str, t: object) -> None:
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            return
        finite = torch.isfinite(t)
        if bool(finite.all()):
            return
        event = NonFiniteEvent(
            phase, name, tuple(t.shape), int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        )
        self.events.append(event)
        if self.raise_on_first and len(self.events) == 1:
            raise FloatingPointError(
                f"non-finite {phase} value in module '{name}' (shape {event.shape}): "
                f"{event.n_nan} NaN, {event.n_inf} inf"
            )

    # Entering installs a forward hook on every module, which in turn hooks the gradient of each
    # output; leaving removes the forward hooks.
    def __enter__(self) -> NonFiniteHunter:
        for name, module in self.model.named_modules():
            # Check the output now and, if it will receive a gradient, hook that gradient too.
            def _hook(_m, _inputs, output, name: str = name) -> None:
                outputs = output if isinstance(output, tuple | list) else (output,)
                for out in outputs:
                    self._check("forward", name, out)
                    if isinstance(out, torch.Tensor) and out.requires_grad:
                        out.register_hook(lambda g, name=name: self._check("backward", name, g))

            self._handles.append(module.register_forward_hook(_hook))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def first_nonfinite_node(root: Tensor) -> tuple[str, tuple[int, ...]] | None:
    """On our engine: the first op (in forward order) whose output is non-finite.

    Returns `(op name, shape)` (`"leaf"` for an input), or None if every value in the graph of
    `root` is finite. The graph is the one recorded for autograd, so only tensors that require
    grad are visited.
    """
    # The topological order puts every tensor after the tensors it was computed from: the
    # forward order, so the first non-finite node is where the trouble started.
    for node in _topological_order(root):
        if not np.isfinite(node.data).all():
            return (node.grad_fn or "leaf", node.shape)
    return None


def anomaly_report(loss_fn: Callable[[], torch.Tensor]) -> str | None:
    """Run `loss_fn().backward()` under `torch.autograd.detect_anomaly`; return the error
    message naming the backward function that produced NaN, or None if none did."""
    # Anomaly mode also warns with the forward traceback of the culprit; the message suffices here.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with torch.autograd.detect_anomaly(check_nan=True):
                loss_fn().backward()
    except RuntimeError as err:
        return str(err)
    return None


# cProfile times Python function calls; each row is `(name (file:line), calls, seconds)`, sorted
# by the chosen time.
def cprofile_top(
    fn: Callable[[], object], top: int = 10, sort: str = "cumulative"
) -> list[tuple[str, int, float]]:
    """Profile `fn()` with cProfile; return `(function, calls, seconds)` rows, largest first.

    `sort="cumulative"` counts time spent in a function *and everything it calls* (which caller
    is expensive); `sort="tottime"` counts only time inside the function's own body (which leaf
    does the work: often a NumPy built-in such as `matmul`).
    """
    if sort not in ("cumulative", "tottime"):
        raise ValueError(f"cprofile_top: sort must be 'cumulative' or 'tottime', got {sort!r}")
    # Run `fn` under the profiler, then read the stats: each key is `(file, line, name)`, each
    # value `(primitive calls, calls, own time, cumulative time, callers)`.
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():
        seconds = cumtime if sort == "cumulative" else tottime
        rows.append((f"{name} ({filename.rsplit('/', 1)[-1]}:{line})", calls, seconds))
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:top]


# torch's profiler sees operators, not Python functions: self CPU time per op is what the kernels
# cost.
def torch_profile_top(fn: Callable[[], object], top: int = 10) -> list[tuple[str, int, float]]:
    """Profile `fn()` with `torch.profiler` on the CPU; return `(operator, calls, self CPU
    microseconds)` rows sorted by self time, the view that shows which kernels cost most."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    with torch.profiler.profile(activities=activities) as prof:
        fn()
    rows = [(e.key, e.count, e.self_cpu_time_total) for e in prof.key_averages()]
    rows.sort(key=lambda r: r[2], reverse=True)
    return rows[:top]
