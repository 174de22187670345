r"""# Profiling and optimizing a training step

Optimizing without measuring is guessing. `torch.profiler` records every ATen operator a step
runs, with its input shapes (`record_shapes`), the memory it allocates (`profile_memory`) and,
for matrix products and a few element-wise operators, the floating point operations it performs
(`with_flops`). `profile_step` runs a step function under it and returns the totals, the table
of the most expensive operators, and a Chrome trace (open it in `chrome://tracing` or
[Perfetto](https://ui.perfetto.dev)) that shows each operator on a time line.

**Checking the profiler against arithmetic.** A linear layer with an $m \times n$ weight costs
$2mn$ FLOPs per token forward (a multiply and an add per weight), and twice that backward (one
product for the input's gradient, one for the weight's). Summed over the $N$ weights of all the
matrix products and $T$ tokens, a training step costs

$$ C \approx 6 N T \quad \text{FLOPs} $$

(Kaplan et al., 2020, Section 2.1). $N$ excludes the embedding table (a lookup, not a product)
but includes an untied output projection; attention's $QK^\top$ and $PV$ products add
$\approx 12\,L\,T\,d$ per token more, which a fused attention kernel hides from the profiler.
For the capstone's model the profiler's count of `aten::mm` agrees with $6NT$ to a tenth of a
percent: that is how one trusts either number, and the basis of *model FLOPs utilisation*
(achieved FLOP/s over the hardware's peak).

**The worked optimization** (`bench/profile_step.py`) times the capstone's training step with
one change at a time against the plain fp32 step with the from-scratch AdamW, in the same run,
after checking each variant's loss and parameters against the plain step:

- **a fused optimizer**: the from-scratch AdamW runs a handful of element-wise kernels per
  parameter tensor; `torch.optim.AdamW(fused=True)` does the whole update of every tensor in one
  kernel (`foreach=True`: a few kernels over lists of tensors), so fewer passes over memory;
- **bf16 autocast**: matrix products in bfloat16 (8-bit mantissa), accumulated in fp32, on CPUs
  with bf16 instructions twice the arithmetic per cycle and half the bytes moved;
- **`torch.compile`**: TorchDynamo captures the model's graph, Inductor fuses the element-wise
  chains (RMSNorm, RoPE, SwiGLU) into single loops and writes C++/OpenMP code for them;
- **intra-op threads**: `torch.set_num_threads` sets how many cores one operator uses.

Results on this machine are in `bench/results/profile_step.txt`, measured, never typed here.

**What the capstone took from it.** The changes interact, so the combinations are timed too:
bf16 autocast together with `torch.compile` (the compiled graph fuses the casts that autocast
adds around every matrix product), at one thread and at all of them. The capstone's training
stage (`masterclass.capstone.train`, "Compilation") times exactly these candidates on its own
first steps and keeps the fastest, because which one wins depends on the chip and on how busy
it is. Two details matter once a compiled step is used for real training rather than timed:
Inductor writes the compiling process's thread count into its C++ loops unless
`cpp.dynamic_threads` is set, and its own embedding backward adds with atomic operations, so two
runs on two threads part in the last bits; `training.loop.compiled_loss` handles both.

**A profile that pointed at the optimizer.** On a 2-core AMD EPYC without AVX-512 (AVX2 only, like
most laptops) the capstone's fp32 step took 0.9-1.2 s. One profiled step
(`capstone/bench/throughput.py --profile`) showed where the time went: 200 `aten::addmm` calls on
matrices of 128 rows held 42% of the profiled time, at 1.5-4 ms each, while the model's own
products (the 30 GFLOP the profiler counts), on matrices of 4,096 rows, took 3-5 ms each. Products
on 32 times fewer rows, and no wider, that take as long are not running at fp32's speed. They are
the Newton–Schulz iteration's products, which Muon's reference runs in bfloat16; a CPU without
AVX-512 has no fast bf16 product, and torch computes it in a scalar fallback. Iterated in float32
there (`masterclass.training.optim.Muon`, `native_bf16`), the optimizer takes a few hundredths of a
second and the whole step became 2.2 times shorter, measured side by side in one run (row `fp32,
Newton-Schulz in bf16` of that script, `capstone/bench/results/throughput.txt`). The lesson is the
chapter's first sentence: profile the whole step, optimizer included, on the machine that will run
it; a choice made for a GPU can be the slowest thing on a CPU.

References: Kaplan et al., 2020, [Scaling Laws for Neural Language
Models](https://arxiv.org/abs/2001.08361); PyTorch, [Profiler
recipe](https://pytorch.org/tutorials/recipes/recipes/profiler_recipe.html); Ansel et al., 2024,
[PyTorch 2](https://doi.org/10.1145/3620665.3640366).

Left out: GPU kernels and CUDA graphs (the same profiler with `ProfilerActivity.CUDA`), the
profiler's schedule for long runs (`wait`, `warmup`, `active`), and TensorBoard's viewer.

>>> lin = torch.nn.Linear(16, 8, bias=False)
>>> x = torch.randn(4, 16, requires_grad=True)
>>> prof = profile_step(lambda: lin(x).sum().backward())
>>> prof.matmul_flops == 6 * 16 * 8 * 4  # forward 2NT, backward 4NT
True

## Exercises

1. Write `mlp_training_flops(n, d, f)`: the matmul FLOPs `profile_step` counts for one forward
   and backward of `Linear(d, f)`, ReLU, `Linear(f, d)` (no bias) on an `(n, d)` input that does
   not require grad (the first layer then needs no input gradient).
   Check it: `uv run pytest --exercise perf.profiling`
2. Write `model_flops_utilisation(flops, seconds, peak_flops)`: the fraction of the hardware's
   peak a step reaches.
   Check it: `uv run pytest --exercise perf.profiling`
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.profiler import ProfilerActivity, profile

__all__ = ["StepProfile", "profile_step", "six_n_t", "time_step", "training_step"]


@dataclass
class StepProfile:
    """What `profile_step` measured over the profiled steps."""

    # FLOPs the profiler attributes to every operator (products and element-wise ones).
    flops: int
    # FLOPs of the matrix products alone (`aten::mm`, `addmm`, `bmm`, `matmul`), comparable to 6NT.
    matmul_flops: int
    # CPU time of all operators, in microseconds (self time, so nothing is counted twice).
    cpu_time_us: float
    # Bytes allocated by operators (self, summed; the profiler's CPU memory column).
    allocated_bytes: int
    # The operators by self CPU time, with shapes: `torch.profiler`'s own table.
    table: str
    # Where the Chrome trace was written (None: not written).
    trace_path: str | None


# ## One training step, written generically
#
# Any module mapping inputs `x` to logits `(..., V)` and integer targets `y` `(...)`. The loss is
# computed in fp32 even under autocast: the log-sum-exp over a large vocabulary is where bf16's
# 8-bit mantissa would lose the most. `set_to_none=True` frees the gradients instead of filling
# them with zeros (one memory pass fewer).
def training_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: Tensor,
    y: Tensor,
    *,
    autocast_dtype: torch.dtype | None = None,
) -> Tensor:
    """One step: forward, cross-entropy against `y`, backward, `optimizer.step()`; returns the loss."""
    if autocast_dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"autocast_dtype must be None, bfloat16 or float16, got {autocast_dtype}")
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
        logits = model(x)  # (..., V)
    loss = F.cross_entropy(logits.float().flatten(0, -2), y.flatten())
    loss.backward()
    optimizer.step()
    return loss.detach()


# The $6NT$ rule: 2 FLOPs per weight per token forward (a multiply and an add), twice that in
# backward.
def six_n_t(n_params: int, tokens: int) -> int:
    """The training-FLOPs estimate $6NT$ for $N$ matrix-product weights and $T$ tokens."""
    if n_params <= 0 or tokens <= 0:
        raise ValueError(f"n_params and tokens must be positive, got {n_params}, {tokens}")
    return 6 * n_params * tokens


# ## Profiling
#
# A warm-up step first: the first call of an operator pays for one-time work (allocator pools,
# kernel selection, lazy initialisation) that is not what a training run spends its time on.
# The profiler's events are then summed by operator name; FLOPs are attached to the operator
# that does the arithmetic (`aten::mm`), not to its callers (`aten::linear`, `aten::matmul`),
# so the sum counts each product once.
_MATMULS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")


def profile_step(
    step: Callable[[], Any],
    *,
    warmup: int = 1,
    steps: int = 1,
    trace_path: str | os.PathLike | None = None,
    row_limit: int = 12,
) -> StepProfile:
    """Profile `steps` calls of `step()` after `warmup` unprofiled ones (CPU activity)."""
    if not callable(step):
        raise TypeError(f"step must be callable, got {type(step).__name__}")
    if warmup < 0 or steps < 1:
        raise ValueError(f"need warmup >= 0 and steps >= 1, got warmup={warmup}, steps={steps}")
    # Warm up unprofiled, then record CPU time, input shapes, memory and FLOPs over `steps` calls.
    for _ in range(warmup):
        step()
    with profile(
        activities=[ProfilerActivity.CPU], record_shapes=True, profile_memory=True, with_flops=True
    ) as prof:
        for _ in range(steps):
            step()
    # Sum the events by operator name. Only the matmul kernels count as matmul FLOPs, and frees
    # (negative memory usage) are left out, so `allocated_bytes` is what was allocated.
    events = prof.key_averages()
    if trace_path is not None:
        trace_path = os.fspath(trace_path)
        prof.export_chrome_trace(trace_path)
    return StepProfile(
        flops=int(sum(e.flops for e in events)),
        matmul_flops=int(sum(e.flops for e in events if e.key in _MATMULS)),
        cpu_time_us=float(sum(e.self_cpu_time_total for e in events)),
        allocated_bytes=int(sum(max(e.self_cpu_memory_usage, 0) for e in events)),
        table=prof.key_averages(group_by_input_shape=True).table(
            sort_by="self_cpu_time_total", row_limit=row_limit
        ),
        trace_path=trace_path,
    )


# ## Timing
#
# Wall-clock time of whole steps, the median of `repeat` after `warmup` (the median resists the
# occasional step slowed by another process on a shared machine). On a GPU one must call
# `torch.cuda.synchronize()` before reading the clock, since kernels run asynchronously; on the
# CPU every operator has finished when it returns. Only benchmark scripts time; tests never do.
def time_step(step: Callable[[], Any], *, warmup: int = 2, repeat: int = 5) -> float:
    """Median seconds of one `step()` call over `repeat` calls after `warmup` calls."""
    if not callable(step):
        raise TypeError(f"step must be callable, got {type(step).__name__}")
    if repeat < 1:
        raise ValueError(f"repeat must be >= 1, got {repeat}")
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    for _ in range(warmup):
        step()
    sync()
    # Each timed call ends with a synchronise, so the clock stops only once the work has finished.
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
