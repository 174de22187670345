r"""# Memory management: what backward keeps, and how to keep less

Training memory has four parts: the parameters, their gradients, the optimizer state (two
moments for AdamW), and the **activations saved for backward**. The first three are fixed by the
model; the last grows with batch size $B$ and sequence length $T$ and is what runs out first.
Autograd saves, for every operation, exactly the tensors its backward formula needs: a linear
layer $y = xW^\top$ has $\partial L/\partial W = (\partial L/\partial y)^\top x$, so it saves its
input $x$; $\mathrm{silu}(g) = g\,\sigma(g)$ is built from a product, so it saves both factors.

**Counting what is saved.** `torch.autograd.graph.saved_tensors_hooks(pack, unpack)` calls
`pack(t)` for every tensor an operation saves, while the forward runs. `SavedTensorCounter` records
the *storage* behind each one (a view shares its base's memory, so two saved views of one tensor
cost the memory once) and skips parameters (they live anyway). The sum of the distinct storages'
sizes is the activation memory the graph holds.

**The analytic count.** For a LLaMA-style pre-norm block (RMSNorm, attention with the fused
`qkv` projection and RoPE, SwiGLU FFN) over $N = BT$ tokens, reading the operations one at a
time (derivation in the comments of `decoder_saved_bytes`), the fp32 block saves

$$ \text{per layer} = 4 \big( 12\,N d + 4\,N d_{ff} + N (H + 2) \big) \ \text{bytes} \quad (H_{kv} = H), $$

that is $12$ activations of width $d$, four of width $d_{ff}$ and a few per-token scalars
(normalization statistics and the attention's log-sum-exp). Nothing of size $T^2$: the fused
attention recomputes the score matrix in backward instead of saving it.

**Checkpointing.** Activation checkpointing (Chen et al., 2016) saves only a block's *input*
and recomputes the block's forward during backward: $12Nd + 4Nd_{ff}$ per layer becomes $Nd$,
for about one extra forward pass (a third more compute). `checkpoint_module` wraps a block with
`torch.utils.checkpoint`; `Recompute` does the same from scratch as an autograd function.
Recomputation runs the same kernels on the same inputs, so on a CPU the gradients are bitwise
equal to the plain model's.

**In-place operations.** `x.relu_()` writes into `x`'s memory; if autograd saved `x` for a
backward formula, that formula would read the wrong numbers. Every tensor carries a version
counter bumped by each in-place write; a saved tensor remembers its version, and backward
refuses (`RuntimeError: ... modified by an inplace operation`) when they differ.
`inplace_hazard` shows it. In-place ops save memory only where nothing saved the overwritten value.

**The CUDA caching allocator.** `cudaMalloc` and `cudaFree` synchronise the device and cost
tens of microseconds, so PyTorch never returns freed GPU memory to the driver: it keeps the blocks
in per-stream pools (small blocks under 1 MB, large ones above) and reuses them. So
`torch.cuda.memory_allocated()` (tensors alive) is below `torch.cuda.memory_reserved()` (what the
allocator holds), fragmentation can make an allocation fail while the sum of free blocks is large
enough (`PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True` maps memory in growable segments to
avoid it), and `torch.cuda.memory._record_memory_history()` with `torch.cuda.memory._snapshot()`
records every block with the stack that allocated it (view it at pytorch.org/memory_viz). The
`gpu`-marked test takes such a snapshot. On the CPU the equivalent number is the process's
resident set size, which `peak_rss_during` samples.

References: Chen et al., 2016, [Training Deep Nets with Sublinear Memory
Cost](https://arxiv.org/abs/1604.06174); Korthikanti et al., 2022, [Reducing Activation
Recomputation in Large Transformer Models](https://arxiv.org/abs/2205.05198) (the same counting
for GPT blocks); PyTorch, [Understanding CUDA memory
usage](https://pytorch.org/docs/stable/torch_cuda_memory.html).

Left out: selective checkpointing (recompute only the cheap operations), offloading saved tensors
to host memory (`torch.autograd.graph.save_on_cpu`), and ZeRO-style sharding of the other three
parts.

>>> lin = torch.nn.Linear(8, 4)
>>> with SavedTensorCounter(lin.parameters()) as counter:
...     y = lin(torch.randn(3, 8)).sum()
>>> counter.bytes  # the (3, 8) fp32 input, the only non-parameter tensor linear saves
96

## Exercises

1. Write `saved_bytes_of_mlp(n, d, f)`: the bytes a two-layer fp32 MLP `Linear(d, f)`, ReLU,
   `Linear(f, d)` (no bias) saves for backward on an `(n, d)` input that requires no gradient.
   Check it: `uv run pytest --exercise perf.memory`
2. Write `checkpointed_saved_bytes(n, d, layers)`: what a stack of `layers` residual blocks saves
   when every block is checkpointed with `checkpoint_module` (only each block's `(n, d)` fp32 input).
   Check it: `uv run pytest --exercise perf.memory`
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

__all__ = [
    "Recompute",
    "SavedTensorCounter",
    "checkpoint_module",
    "decoder_saved_bytes",
    "inplace_hazard",
    "peak_rss_during",
    "rss_bytes",
]


# ## Counting saved tensors
#
# The pack hook sees each saved tensor once per save. Two operations often save the same tensor
# (the input of a norm is saved by its first multiply and by the mean of squares), and a view
# shares its base's storage, so the counter keys on the storage's address and counts each storage's
# full size once. The addresses stay valid while the forward runs: a saved tensor is kept alive by
# the graph, so its memory cannot be reused by another saved tensor.
class SavedTensorCounter:
    """Context manager that records the distinct storages autograd saves for backward.

    `exclude` lists tensors (usually `model.parameters()`) whose storages are not counted.
    After the block: `bytes` (distinct storages, the memory held), `packed` (number of saves).
    """

    def __init__(self, exclude: Iterable[Tensor] = ()) -> None:
        self._excluded = {t.untyped_storage().data_ptr() for t in exclude}
        self._storages: dict[int, int] = {}
        self.packed = 0
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)

    # Pack counts the save and records the storage's size under its address; it returns `t`
    # itself, so autograd keeps the tensor exactly as it would without the hooks.
    def _pack(self, t: Tensor) -> Tensor:
        self.packed += 1
        storage = t.untyped_storage()
        if storage.data_ptr() not in self._excluded:
            self._storages[storage.data_ptr()] = storage.nbytes()
        return t

    @staticmethod
    def _unpack(t: Tensor) -> Tensor:
        return t

    # `bytes` sums the distinct storages; entering and leaving the block installs and removes the
    # hooks.
    @property
    def bytes(self) -> int:
        """Total size in bytes of the distinct saved storages."""
        return sum(self._storages.values())

    def __enter__(self) -> SavedTensorCounter:
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._hooks.__exit__(*exc)


# ## The analytic count for a LLaMA-style decoder
#
# Read the block's forward one operation at a time and write down what each backward needs
# ($N = BT$ tokens, $d$ the width, $f = d_{ff}$, $H$ heads of width $D$, counts in elements):
#
# - **RMSNorm** $y = w \odot x \cdot r$, $r = (\overline{x^2} + \epsilon)^{-1/2}$: the mean of
#   squares and the product save $x$ ($Nd$) and $r$ ($N$); the product with $w$ saves
#   $\hat x = x r$ ($Nd$), and the next linear layer saves $y$ ($Nd$): $3Nd + N$.
# - **Attention**: the fused projection's output $[q;k;v]$ ($N(H + 2H_{kv})D$) is saved by SDPA
#   through its view $v$; RoPE writes the rotated $[q;k]$ into a new tensor
#   ($N(H+H_{kv})D$) saved through $q$ and $k$; SDPA also saves its output $o$ ($NHD$, which
#   `o_proj` saves again through a view) and the log-sum-exp of each score row ($NH$). RoPE's
#   products save only the $\cos, \sin$ tables ($TD$ each, shared by all layers). With grouped
#   keys and values ($H_{kv} < H$), $k$ and $v$ are expanded into new $(NHD)$ copies, which SDPA
#   saves instead of the $[q;k;v]$ tensor.
# - **RMSNorm** again: $3Nd + N$.
# - **SwiGLU** $h = \mathrm{silu}(g) \odot u$ with $g = W_g y$, $u = W_u y$,
#   $\mathrm{silu}(g) = g\,\sigma(g)$: torch's fused SiLU saves only $g$ (its backward
#   recomputes $\sigma(g)$, cheaper than storing it), the product saves $\mathrm{silu}(g)$ and
#   $u$, and the down projection saves $h$: $4Nf$ (the input $y$ was counted by the norm). Written
#   as `g * torch.sigmoid(g)`, SiLU would also keep $\sigma(g)$: $5Nf$.
# - The **residual additions** save nothing: the gradient of a sum is passed through.
#
# With $H_{kv} = H$ and $HD = d$ the block totals $12Nd + 4Nf + (H + 2)N$. Outside the blocks:
# the token ids (int64, saved by the embedding), the RoPE tables, the final norm ($3Nd + N$), the
# log-softmax of the logits ($NV$, saved once for the loss), the int64 targets and the loss's
# scalar weight.
def decoder_saved_bytes(config: Any, batch: int, seq: int) -> dict[str, int]:
    """Bytes saved for backward by one fp32 training forward of a LLaMA-style decoder.

    `config` is any object with `d_model`, `n_layers`, `n_heads`, `n_kv_heads`, `d_ff` and
    `vocab_size` (e.g. `masterclass.llm.LMConfig.llama(...)`); the model runs on `(batch, seq)`
    token ids with targets. Returns `per_layer`, `outside` (embedding, final norm, loss), `total`,
    and `checkpointed`: the total when every block is checkpointed.

    >>> from types import SimpleNamespace
    >>> cfg = SimpleNamespace(d_model=32, n_layers=2, n_heads=4, n_kv_heads=4, d_ff=128, vocab_size=64)
    >>> decoder_saved_bytes(cfg, batch=2, seq=8)["per_layer"]
    57728
    """
    # Check the arguments and read the sizes off the config; a missing field is a `TypeError`
    # that lists every field needed.
    for name, value in (("batch", batch), ("seq", seq)):
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    try:
        d, L, H = config.d_model, config.n_layers, config.n_heads
        H_kv, f, V = config.n_kv_heads or config.n_heads, config.d_ff, config.vocab_size
    except AttributeError as err:
        raise TypeError(
            f"config needs d_model, n_layers, n_heads, n_kv_heads, d_ff and vocab_size; {err}"
        ) from None
    # The per-layer count from the list above, in elements, times 4 bytes for fp32: two norms,
    # attention, and $4Nf$ for SwiGLU. With grouped keys and values, the expanded $k$ and $v$
    # copies ($2NHD$) replace the fused projection's output.
    D, N = d // H, batch * seq
    norm = 3 * N * d + N
    if H_kv == H:
        attention = N * (H + H_kv) * D + N * (H + 2 * H_kv) * D + N * H * D + N * H
    else:
        attention = N * (H + H_kv) * D + 2 * N * H * D + N * H * D + N * H
    per_layer = 4 * (2 * norm + attention + 4 * N * f)
    # ids and targets are int64 (8 bytes); the loss's total weight is one fp32 scalar.
    rope_tables = 4 * 2 * seq * D
    outside = 8 * N + rope_tables + 4 * (norm + N * V) + 8 * N + 4
    # Checkpointed, a block saves only its input $x$ ($Nd$); the RoPE tables are then used only
    # inside the recomputed blocks, so nothing saves them.
    checkpointed = L * 4 * N * d + outside - rope_tables
    return {
        "per_layer": per_layer,
        "outside": outside,
        "total": L * per_layer + outside,
        "checkpointed": checkpointed,
    }


# ## Checkpointing with `torch.utils.checkpoint`
#
# `use_reentrant=False` is the implementation PyTorch recommends: it keeps the block's inputs,
# installs its own saved-tensor hooks that store *nothing* during the forward, and on the first
# unpack during backward reruns the forward to regenerate exactly the tensors that were asked for.
# It supports non-tensor arguments and keyword arguments, which a transformer block needs
# (`rope`, `mask`, the layer index).
class _Checkpointed(nn.Module):
    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, *args: Any) -> Any:
        return checkpoint(self.module, *args, use_reentrant=False)


def checkpoint_module(module: nn.Module) -> nn.Module:
    """Wrap `module` so that its forward is recomputed in backward (`torch.utils.checkpoint`).

    Use it on each block: `model.blocks[i] = checkpoint_module(model.blocks[i])`.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
    return _Checkpointed(module)


# ## Checkpointing from scratch
#
# The original (reentrant) algorithm as an autograd function. Its forward runs the block under
# `no_grad`, so no graph is built and nothing is saved except the inputs (`save_for_backward`).
# Its backward detaches the inputs, turns gradients on, runs the block again to build the graph
# it skipped, and backpropagates the incoming gradient through it: parameter gradients accumulate
# into `.grad` as usual, and the input gradients are returned to the outer graph.
class _RecomputeFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, module: nn.Module, n_tensors: int, *args: Any) -> Tensor:
        ctx.module, ctx.n_tensors = module, n_tensors
        ctx.others = args[n_tensors:]
        ctx.save_for_backward(*args[:n_tensors])
        with torch.no_grad():
            return module(*args)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        inputs = [t.detach().requires_grad_(t.requires_grad) for t in ctx.saved_tensors]
        with torch.enable_grad():
            out = ctx.module(*inputs, *ctx.others)
        torch.autograd.backward(out, grad_out)
        # One gradient per argument of `forward`: none for the module and the count.
        return (None, None, *(t.grad for t in inputs), *(None for _ in ctx.others))


class Recompute(nn.Module):
    """From-scratch activation checkpointing of `module`, whose forward returns one tensor.

    The leading tensor arguments are saved; the others (tuples, None, ints) are kept as they are.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be an nn.Module, got {type(module).__name__}")
        self.module = module

    # The leading run of tensor arguments is what gets saved; the rest is kept as it is.
    def forward(self, *args: Any) -> Tensor:
        """Run the wrapped module, saving only the leading tensor arguments for backward."""
        n_tensors = 0
        while n_tensors < len(args) and isinstance(args[n_tensors], Tensor):
            n_tensors += 1
        if n_tensors == 0:
            raise TypeError("Recompute needs at least one leading tensor argument")
        return _RecomputeFunction.apply(self.module, n_tensors, *args)


# ## The in-place hazard
#
# `sigmoid` saves its *output* (its derivative is $\sigma(1-\sigma)$); writing into that output
# in place bumps its version counter, and backward then refuses to use it.
def inplace_hazard() -> str:
    """Run `y = sigmoid(x); y.mul_(2)` and backward; return autograd's error message."""
    x = torch.randn(4, requires_grad=True)
    y = torch.sigmoid(x)
    y.mul_(2)
    try:
        y.sum().backward()
    except RuntimeError as err:
        return str(err)
    raise AssertionError("autograd accepted a modified saved tensor")


# ## Resident memory on the CPU
#
# On Linux `/proc/self/statm` gives the resident pages of the process now; `ru_maxrss` only gives
# the peak since the process started, which cannot be reset, so a peak *during* a call is found by
# sampling the current value from a background thread.
def rss_bytes() -> int:
    """Resident set size of this process in bytes (Linux `/proc/self/statm`)."""
    import os

    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


# The peak during a call is sampled every `interval` seconds and reported above the resident size
# before the call, so memory the process already held does not count.
def peak_rss_during(fn: Callable[[], Any], interval: float = 1e-3) -> tuple[int, Any]:
    """Run `fn()` and return (peak RSS above the RSS before the call, in bytes; `fn`'s result)."""
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}")
    base = rss_bytes()
    peak = base
    done = threading.Event()

    # A daemon thread keeps the running maximum; `done` stops it even when `fn` raises, and one
    # more reading after the call covers an `fn` that ends before the first sample.
    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        result = fn()
        peak = max(peak, rss_bytes())
    finally:
        done.set()
        thread.join()
    return peak - base, result
