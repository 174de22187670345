r"""# TorchScript and `torch.export`: a model without Python

A PyTorch module is Python code; to run it where Python is not welcome (a C++ server, a phone, an
ahead-of-time compiler) its computation must be captured as a *graph*: the list of operators it
runs, with their inputs, outputs and the weights. PyTorch has had three ways to capture it.

- **`torch.jit.trace`** runs the module once on example inputs and records the tensor operations
  it executed. Whatever Python did around them (an `if` on a tensor's value, a loop over a list)
  is *not* recorded: only the path the example took. The graph is right for every input that
  would take that path, and silently wrong for the others.
- **`torch.jit.script`** compiles the module's Python source with its own compiler to
  TorchScript, a statically typed subset of Python, so control flow is kept. The price is the
  subset: no closures, no most of the standard library, type annotations required where inference
  fails; real models rarely script without rewriting.
- **`torch.export`** (PyTorch 2) captures the graph with TorchDynamo, which reads the Python
  bytecode, and records shapes *symbolically* (`dynamic_shapes`), with guards that say for which
  shapes the graph holds. A branch on a tensor's *value* cannot be captured as Python control
  flow; it is an error, not a silent freeze, and the fix is to say it as an operator,
  `torch.cond(pred, true_fn, false_fn, operands)`, which both branches are captured into.

**Deprecation, plainly.** TorchScript (`trace`, `script`, `torch.jit.save/load`) is in
maintenance: since PyTorch 2.10 every call warns `torch.jit.script is deprecated. Please switch to
torch.compile or torch.export`. It is taught here because a great many deployed models and
tutorials use it, and because its failure mode (tracing freezes control flow) is the best
explanation of why `torch.export` is built the way it is. New code should use `torch.export`:
its `ExportedProgram` is saved as a `.pt2` archive and loaded back with `torch.export.load`; the
ONNX exporter (`onnx_export.py`), AOTInductor and ExecuTorch all start from it.

**Where tracing goes wrong.** `SignGate` returns $2x$ when $\sum x > 0$ and $-x$ otherwise.
Traced on a positive example, the graph is `x * 2`, and on a negative input it returns the wrong
sign, while the scripted module and the exported one with `torch.cond` (`CondSignGate`) keep both
branches. The tests show each path round-tripping through save/load and matching eager to
$10^{-6}$, on this gate and on `llm`'s language model.

References: PyTorch, [torch.export](https://pytorch.org/docs/stable/export.html) and
[TorchScript](https://pytorch.org/docs/stable/jit.html); Ansel et al., 2024,
[PyTorch 2](https://doi.org/10.1145/3620665.3640366) (TorchDynamo).

Left out: `torch.jit.freeze` and mobile optimizers, AOTInductor compilation of an exported
program to a shared library, and non-strict export mode.

>>> gate = SignGate()
>>> traced = trace(gate, torch.ones(3))  # traced on a positive input
>>> traced(-torch.ones(3)).tolist(), gate(-torch.ones(3)).tolist()  # the traced branch is frozen
([-2.0, -2.0, -2.0], [1.0, 1.0, 1.0])

## Exercises

1. Write `traced_branch_is_wrong(x_example, x_new)`: True when a trace of `SignGate` on
   `x_example` gives a different answer from eager on `x_new`.
   Check it: `uv run pytest --exercise perf.torchscript`
2. Write `export_with_dynamic_batch(module, example)`: a `torch.export` program of a module taking
   one `(B, C)` input whose batch size $B$ may vary (`torch.export.Dim`).
   Check it: `uv run pytest --exercise perf.torchscript`
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "CondSignGate",
    "SignGate",
    "export",
    "load_exported",
    "load_scripted",
    "max_abs_difference",
    "save_exported",
    "save_scripted",
    "script",
    "trace",
]


# ## A model with data-dependent control flow
#
# The branch depends on the *values* in `x`, not on its shape: exactly what a trace cannot see.
class SignGate(nn.Module):
    """`2x` where `x.sum() > 0`, else `-x` (a Python `if` on a tensor value)."""

    def forward(self, x: Tensor) -> Tensor:
        """`x` of any shape -> the same shape."""
        if x.sum() > 0:
            return x * 2
        return -x


# `torch.cond` is an operator whose two branches are captured as subgraphs; at run time the
# predicate picks one. Both branches must return tensors of the same shape and dtype.
class CondSignGate(nn.Module):
    """`SignGate` with its branch written as `torch.cond`, so `torch.export` can capture it."""

    def forward(self, x: Tensor) -> Tensor:
        """`x` of any shape -> the same shape."""
        return torch.cond(x.sum() > 0, lambda x: x * 2, lambda x: -x, (x,))


def _check_module(module: Any) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")


def _as_tuple(example: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return (example,) if isinstance(example, Tensor) else tuple(example)


# ## The legacy path: TorchScript
#
# Both calls emit a `FutureWarning` (the deprecation); it is silenced here, once, where the
# choice to use the legacy path is made, and said in this chapter's prose instead. The tracer's
# own `TracerWarning`s (e.g. "converting a tensor to a Python boolean") are kept: they are the
# trace telling you that control flow was frozen.
def trace(module: nn.Module, example: Tensor | tuple[Tensor, ...]) -> torch.jit.ScriptModule:
    """`torch.jit.trace` of `module` (in eval mode) on `example` inputs."""
    _check_module(module)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return torch.jit.trace(module.eval(), _as_tuple(example))


def script(module: nn.Module) -> torch.jit.ScriptModule:
    """`torch.jit.script` of `module` (in eval mode): compiles its source, control flow included."""
    _check_module(module)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return torch.jit.script(module.eval())


# A traced or scripted module saves to one archive and loads back without the Python class that
# made it.
def save_scripted(module: torch.jit.ScriptModule, path: str | os.PathLike) -> None:
    """`torch.jit.save`: the graph, the code and the weights in one zip archive."""
    if not isinstance(module, torch.jit.ScriptModule):
        raise TypeError(f"module must come from trace() or script(), got {type(module).__name__}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        torch.jit.save(module, os.fspath(path))


def load_scripted(path: str | os.PathLike) -> torch.jit.ScriptModule:
    """`torch.jit.load` of an archive written by `save_scripted` (loadable from C++ too)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        return torch.jit.load(os.fspath(path))


# ## Today's path: `torch.export`
#
# `dynamic_shapes` names the axes that may vary, e.g. `{"x": {0: torch.export.Dim("batch")}}`;
# every other axis is specialised to the example's size, and the program refuses inputs that
# break its guards. `strict=True` traces with TorchDynamo and fails loudly on anything it cannot
# capture, such as `SignGate`'s `if`.
def export(
    module: nn.Module,
    example: Tensor | tuple[Tensor, ...],
    dynamic_shapes: Mapping[str, Any] | tuple[Any, ...] | None = None,
) -> torch.export.ExportedProgram:
    """`torch.export.export` of `module` (in eval mode) on `example` inputs."""
    _check_module(module)
    return torch.export.export(
        module.eval(), _as_tuple(example), dynamic_shapes=dynamic_shapes, strict=True
    )


# An exported program is saved with its guards, so the loaded copy refuses the same inputs as the
# original.
def save_exported(program: torch.export.ExportedProgram, path: str | os.PathLike) -> None:
    """`torch.export.save`: the graph, its guards and the weights in a `.pt2` archive."""
    if not isinstance(program, torch.export.ExportedProgram):
        raise TypeError(f"program must come from export(), got {type(program).__name__}")
    torch.export.save(program, os.fspath(path))


def load_exported(path: str | os.PathLike) -> torch.export.ExportedProgram:
    """`torch.export.load`; call `.module()` on the result to run it."""
    return torch.export.load(os.fspath(path))


# Parity is measured in float64, so the comparison adds no rounding of its own.
def max_abs_difference(a: Tensor, b: Tensor) -> float:
    r"""$\max_i |a_i - b_i|$, the parity measure used across this module."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}")
    return (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
