r"""# PyTorch's own int8 quantization, beside a from-scratch one

Module 10 builds weight-only int8 quantization from scratch (`masterclass.deploy.quantization`:
one scale per output row, $s_j = \max_i |w_{ji}| / 127$, $q = \mathrm{round}(w / s)$). This
chapter puts PyTorch's built-in paths beside it on the same model and measures the three things
quantization trades: **size**, **error** and **speed**.

- **Dynamic quantization** (`torch.ao.quantization.quantize_dynamic`): weights are stored int8
  ahead of time; *activations* are quantized on the fly, per batch, with a scale from their
  observed range, so the matrix product itself runs on integers (fbgemm or oneDNN kernels,
  int8 $\times$ int8 accumulated in int32) and the result is rescaled to float:
  $$ y = s_x\, s_w \,(Q_x Q_w^\top) .$$
  With `per_channel_dynamic_qconfig` the weight has one scale per output row like the
  from-scratch one, but PyTorch's symmetric observer divides by $127.5$, spreading
  $[-\max|w|, \max|w|]$ over the 255 steps of $[-128, 127]$.
- **Weight-only int8 with a fused kernel** (`torch._weight_int8pack_mm`, the kernel torchao
  and gpt-fast use on CPUs): exactly the from-scratch format, int8 rows and per-row scales, but
  the dequantization happens inside the matrix product's inner loop, so the float weight is
  never materialized. `Int8PackLinear` wraps it; given deploy's $(Q, s)$ it computes deploy's
  `Int8Linear` output to float rounding.

**Deprecation, plainly.** `torch.ao.quantization` (eager, FX and PT2E flows) warns since
PyTorch 2.10 that it will be removed, and its migration path is the separate
[torchao](https://github.com/pytorch/ao) library (`torchao.quantization.quantize_`), which is not
installed in this course's environment; the quantized-tensor dtypes (`torch.qint8`) are
deprecated too. `dynamic_int8` silences that warning at its one call and says so here. The
int8 weight-only kernel has no such notice: it is what torchao itself calls.

**Measuring.** Size is measured as the bytes of `torch.save(model.state_dict())` (it counts
packed weights that are not parameters); error as the relative $\ell_2$ error of the outputs;
speed in `bench/quantization.py`, which times all three on `llm`'s model at the capstone's size.

References: Jacob et al., 2018, [Quantization and Training of Neural Networks for Efficient
Integer-Arithmetic-Only Inference](https://arxiv.org/abs/1712.05877); PyTorch,
[Quantization](https://pytorch.org/docs/stable/quantization.html); torchao,
[Quantization overview](https://docs.pytorch.org/ao/stable/quantization_overview.html).

Left out: static quantization with calibration, quantization-aware training, and the
PT2E (`torch.export`-based) flow.

>>> q = torch.tensor([[127, -64], [0, 10]], dtype=torch.int8)
>>> layer = Int8PackLinear(q, torch.tensor([0.01, 0.1]))
>>> layer(torch.tensor([[1.0, 1.0]]))
tensor([[0.6300, 1.0000]])

## Exercises

1. Write `torch_symmetric_scale(w)`: the per-row scale PyTorch's per-channel symmetric int8
   observer picks for a `(C_out, C_in)` weight.
   Check it: `uv run pytest --exercise perf.quantization`
2. Write `compression_ratio(float_model, quantized_model)`: the fp32 model's serialized size
   over the quantized one's (use `serialized_bytes`).
   Check it: `uv run pytest --exercise perf.quantization`
"""

from __future__ import annotations

import copy
import io
import warnings

import torch
from torch import Tensor, nn

__all__ = ["Int8PackLinear", "dynamic_int8", "relative_error", "serialized_bytes", "swap_linears"]


# ## PyTorch's dynamic quantization
#
# The module is copied: `quantize_dynamic` swaps submodules, and the float model stays the
# reference. Only `nn.Linear` layers are quantized (an embedding lookup has no product to speed up).
def dynamic_int8(model: nn.Module, *, per_channel: bool = True) -> nn.Module:
    """A copy of `model` with every `nn.Linear` dynamically quantized to int8 (eval only)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    from torch.ao import quantization as tq

    qconfig = tq.per_channel_dynamic_qconfig if per_channel else tq.default_dynamic_qconfig
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        return tq.quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear: qconfig})


# ## Weight-only int8 with the fused kernel
#
# The kernel takes `x` `(M, K)`, the int8 weight `(N, K)` and one scale per output row `(N,)`,
# all on the CPU, and returns `(M, N)` in `x`'s dtype. Leading dimensions are flattened into `M`.
class Int8PackLinear(nn.Module):
    r"""`y = x (s \odot Q)^\top + b` with int8 `q` `(C_out, C_in)` and per-row `scale` `(C_out,)`."""

    def __init__(self, q: Tensor, scale: Tensor, bias: Tensor | None = None) -> None:
        super().__init__()
        if q.dtype != torch.int8 or q.dim() != 2:
            raise ValueError(f"q must be a 2-D int8 tensor, got {q.dtype} {tuple(q.shape)}")
        scale = scale.reshape(-1)
        if scale.numel() != q.shape[0]:
            raise ValueError(
                f"scale must have one value per output row ({q.shape[0]}), got {scale.numel()}; "
                "grouped scales need a dequantizing layer instead"
            )
        # Buffers, not parameters: nothing here is trained, but all of it moves and saves with
        # the module.
        self.register_buffer("weight_int8", q.contiguous())
        self.register_buffer("scale", scale.float().contiguous())
        self.register_buffer("bias", None if bias is None else bias.detach().float().clone())

    # Leading dims fold into the kernel's `M` rows and unfold after; the float32 bias is added
    # last.
    def forward(self, x: Tensor) -> Tensor:
        """`x` `(..., C_in)` float32 -> `(..., C_out)`."""
        lead = x.shape[:-1]
        y = torch._weight_int8pack_mm(x.reshape(-1, x.shape[-1]), self.weight_int8, self.scale)
        y = y.reshape(*lead, -1)  # (..., C_out)
        return y if self.bias is None else y + self.bias


# Swapping layers generically: any module whose class is one of `kinds` is replaced by
# `make(module)`, recursively. (Names in `skip`, e.g. a tied output head, are left alone.)
def swap_linears(model: nn.Module, make, *, skip: tuple[str, ...] = ()) -> nn.Module:
    """Replace every `nn.Linear` of `model` (in place) by `make(linear)`; return `model`."""
    for name, child in list(model.named_children()):
        if name in skip:
            continue
        if isinstance(child, nn.Linear):
            setattr(model, name, make(child))
        else:
            swap_linears(child, make, skip=skip)
    return model


# ## Measuring size and error
def serialized_bytes(model: nn.Module) -> int:
    """Bytes of `torch.save(model.state_dict())`: the size on disk, packed weights included."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*")
        torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def relative_error(y: Tensor, y_ref: Tensor) -> float:
    r"""$\lVert y - y_{ref} \rVert_2 / \lVert y_{ref} \rVert_2$."""
    if y.shape != y_ref.shape:
        raise ValueError(f"shapes differ: {tuple(y.shape)} and {tuple(y_ref.shape)}")
    return ((y.double() - y_ref.double()).norm() / y_ref.double().norm()).item()
