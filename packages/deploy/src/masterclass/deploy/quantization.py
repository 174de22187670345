r"""# Weight-only integer quantization, from scratch

A trained model's weights are float32: 4 bytes each. Stored as 8-bit integers with one float
scale per row they take a quarter of the memory and of the memory *bandwidth*, and at batch 1
token-by-token decoding is bandwidth-bound: every step reads every weight once. This chapter
builds **weight-only** quantization: weights are stored as integers, activations stay in
floating point, and the weight is expanded back on the fly.

**Symmetric quantization.** For a group of weights $w_1..w_n$ and $b$ bits, let
$q_{\max} = 2^{b-1} - 1$ (127 for int8, 7 for int4) and
$$s = \frac{\max_i |w_i|}{q_{\max}},\qquad q_i = \operatorname{clamp}\big(\operatorname{round}(w_i / s), -q_{\max}, q_{\max}\big),
\qquad \hat w_i = s\,q_i .$$
Zero maps to zero exactly (no zero-point, unlike *asymmetric* quantization
$\hat w = s(q - z)$, which suits one-sided ranges such as post-ReLU activations), and the
rounding error is bounded: $|w_i - \hat w_i| \le s/2$.

**Granularity** is the choice of groups sharing one scale:

- *per tensor*: one $s$ for the whole matrix; a single outlier row inflates $s$ for all rows;
- *per output channel*: one $s_j$ per row $j$ of $W \in \mathbb R^{C_{out} \times C_{in}}$, the
  standard for int8 weights (and what onnxruntime's per-channel mode does);
- *per group*: rows split into blocks of $g$ inputs (e.g. 32 or 128) each with its own scale
  (llama.cpp's `Q8_0`/`Q4_0`, GPTQ/AWQ's `g128`); needed for 4 bits, where 15 levels per row
  are too few.

Each extra bit halves the error. On a layer whose rows differ in scale (as trained layers'
rows do), per-channel scales are worth almost two bits over one scale per tensor, and groups of
32 a little more:

![relative output error of a quantized layer against bits, per tensor, per channel and per group](figures/quantization_error.png)

**Error bound of a linear layer.** With per-row scales $s_j$, output $j$ of
$y = \hat W x$ differs from the float one by
$$|y_j - \hat y_j| = \Big|\sum_i (w_{ji} - \hat w_{ji}) x_i\Big| \le \frac{s_j}{2}\,\lVert x\rVert_1 ,$$
a worst case the tests check; in practice errors cancel and the typical error is
$\approx s_j \lVert x\rVert_2 / \sqrt{12}$ (uniform rounding noise of variance $s^2/12$).

**Computing with per-row scales.** Since $\hat W = \operatorname{diag}(s) Q$,
$\hat W x = s \odot (Q x)$: the product runs on the integer matrix and one multiply per output
applies the scales. With groups the scales vary along a row, and the weight is dequantized
block by block instead. In eager PyTorch on a CPU there is no int8 matrix kernel for this, so
`Int8Linear` converts $Q$ to float at every call: it saves memory but is *slower* than the
float layer (`bench/decode.py` shows it). The speed comes from runtimes with integer kernels, such
as onnxruntime's `MatMulInteger` (`llm_export.py`).

`quantize_int8(model)` replaces every `nn.Linear` (the LM head included, tied or not) by
`Int8Linear` and, optionally, every `nn.Embedding` by `Int8Embedding` (one scale per token row).
`quantize(model, bits=4, group_size=32)` gives the 4-bit grouped variant, stored one value per
`int8` for clarity (a real kernel packs two per byte).

Left out: activation quantization and calibration (the ONNX chapter, `llm_export.py`, uses
onnxruntime's dynamic int8 quantization of activations), error-compensating methods (GPTQ, AWQ,
SmoothQuant: `gptq_awq.py`), and packed int4 kernels.

## Exercises

1. Write `quantize_rows(w, bits)`: symmetric round-to-nearest quantization of a matrix with one
   scale per row, returning `(q, scale)` with `q` int8 and `scale` `(C_out, 1)` (an all-zero row
   gets scale 1). Check it: `uv run pytest --exercise deploy.quantization`
2. Write `integer_matmul(q, scale, x)`: $y = s \odot (Q x)$ for integer activations `x` (B, C_in),
   with the product done exactly in integers and the scales applied once per output. Check it:
   `uv run pytest --exercise deploy.quantization`
3. Write `error_bound(scale, x)`: the worst-case error $\frac{s_j}{2}\lVert x\rVert_1$ of each
   output of a per-row quantized layer for the input vector `x`. Check it against the error of
   `Int8Linear`: `uv run pytest --exercise deploy.quantization`
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "Int8Embedding",
    "Int8Linear",
    "dequantize_weight",
    "model_bytes",
    "quantize",
    "quantize_int8",
    "quantize_weight",
]


# ## Quantizing one matrix
#
# The scales are computed in float32 from the float weight. A group that is all zeros would
# get $s = 0$ and a division by zero; its scale is set to 1 (any value works: every $q_i$ is 0).
def quantize_weight(
    w: Tensor, *, bits: int = 8, group_size: int | None = None
) -> tuple[Tensor, Tensor]:
    """Symmetric round-to-nearest quantization of a matrix, per row or per row-group.

    Args:
        w: (C_out, C_in) float weight.
        bits: 2..8; values lie in [-(2^(bits-1) - 1), 2^(bits-1) - 1].
        group_size: inputs sharing a scale within a row (None: the whole row); must divide C_in.

    Returns:
        `q` (C_out, C_in) int8 and `scale` (C_out, G) float32 with G = C_in / group_size (1 when
        per row), such that `w ≈ scale[:, g] * q` for the columns of group g.
    """
    # Shapes and ranges first: int8 storage holds at most 8 bits, and groups must tile the row.
    if w.dim() != 2:
        raise ValueError(f"w must be a (C_out, C_in) matrix, got shape {tuple(w.shape)}")
    if not 2 <= bits <= 8:
        raise ValueError(f"bits must be in [2, 8], got {bits}")
    c_out, c_in = w.shape
    g = c_in if group_size is None else group_size
    if g < 1 or c_in % g:
        raise ValueError(f"group_size={group_size} must divide the input width {c_in}")
    # Symmetric absmax: $s = \max|w| / q_{max}$ per group, $q = \mathrm{round}(w / s)$. The grid
    # drops $-2^{b-1}$, so it is symmetric around 0 and 0 is exact.
    qmax = 2 ** (bits - 1) - 1
    groups = w.detach().float().reshape(c_out, c_in // g, g)  # (C_out, G, g)
    scale = groups.abs().amax(dim=-1) / qmax  # (C_out, G)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    q = torch.clamp(torch.round(groups / scale[..., None]), -qmax, qmax)  # (C_out, G, g)
    return q.to(torch.int8).reshape(c_out, c_in), scale


# The inverse map; the number of groups is read off the scale's shape.
def dequantize_weight(q: Tensor, scale: Tensor) -> Tensor:
    """The float matrix (C_out, C_in) that `q` (C_out, C_in) and `scale` (C_out, G) stand for."""
    c_out, c_in = q.shape
    n_groups = scale.shape[1]
    groups = q.float().reshape(c_out, n_groups, c_in // n_groups)  # (C_out, G, g)
    return (groups * scale[..., None]).reshape(c_out, c_in)


# Integers and scales are buffers, not parameters: they move with `.to()` and are saved in the
# state dict, but no optimizer sees them.
class Int8Linear(nn.Module):
    """A linear layer with integer weights and float scales: `y = (Q x) * s + b`.

    Buffers: `weight_int8` (C_out, C_in) int8, `scale` (C_out, G) float32, optional `bias`
    (C_out,) float. Input (..., C_in) float, output (..., C_out) of the input's dtype.
    """

    def __init__(self, q: Tensor, scale: Tensor, bias: Tensor | None, bits: int = 8) -> None:
        super().__init__()
        self.in_features, self.out_features, self.bits = q.shape[1], q.shape[0], bits
        self.register_buffer("weight_int8", q)
        self.register_buffer("scale", scale)
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, *, bits: int = 8, group_size: int | None = None
    ) -> Int8Linear:
        """Quantize a float `nn.Linear`."""
        q, scale = quantize_weight(linear.weight, bits=bits, group_size=group_size)
        return cls(q, scale, linear.bias, bits)

    # The forward pass keeps weights as integers when it can: with one scale per row, the scale
    # multiplies the output; with groups it cannot factor out, so the weight is dequantized.
    @property
    def weight(self) -> Tensor:
        """The dequantized float32 weight (C_out, C_in), for code that inspects `.weight`."""
        return dequantize_weight(self.weight_int8, self.scale)

    def forward(self, x: Tensor) -> Tensor:
        """`x` (..., C_in) -> (..., C_out)."""
        if self.scale.shape[1] == 1:
            # Per-row scales factor out of the product: y = s ⊙ (Q x).
            y = F.linear(x, self.weight_int8.to(x.dtype)) * self.scale[:, 0].to(x.dtype)
        else:
            y = F.linear(x, dequantize_weight(self.weight_int8, self.scale).to(x.dtype))
        return y if self.bias is None else y + self.bias.to(x.dtype)

    # What `print(model)` shows for the layer.
    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bits={self.bits}, groups={self.scale.shape[1]}, bias={self.bias is not None}"
        )


# Embeddings are the other large matrix of a small model (V x d); int8 rows cut them by four.
class Int8Embedding(nn.Module):
    """An embedding table with one int8 row and one float scale per token.

    A lookup gathers rows, so the scale is per *row* (per token), the embedding's "output
    channel". Input (...) int64 ids, output (..., C) float32.
    """

    def __init__(self, q: Tensor, scale: Tensor) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = q.shape
        self.register_buffer("weight_int8", q)
        self.register_buffer("scale", scale)  # (V, 1)

    @classmethod
    def from_embedding(cls, emb: nn.Embedding) -> Int8Embedding:
        """Quantize a float `nn.Embedding` (per-row int8)."""
        q, scale = quantize_weight(emb.weight, bits=8)
        return cls(q, scale)

    # A lookup dequantizes only the rows it gathers: each row times its own scale.
    @property
    def weight(self) -> Tensor:
        """The dequantized float32 table (V, C)."""
        return dequantize_weight(self.weight_int8, self.scale)

    def forward(self, idx: Tensor) -> Tensor:
        """`idx` (...) -> (..., C)."""
        return self.weight_int8[idx].float() * self.scale[idx]  # (..., C) * (..., 1)


# ## Rewriting a model
#
# The module tree is walked and each float layer swapped in place for its quantized twin. A tied
# weight (embedding and LM head sharing one matrix) is quantized twice, once per role: the
# head gets per-output-channel scales, the embedding per-row scales, which for the shared matrix
# happen to be the same rows.
def quantize(
    model: nn.Module,
    *,
    bits: int = 8,
    group_size: int | None = None,
    embeddings: bool = True,
) -> nn.Module:
    """Replace every `nn.Linear` (and `nn.Embedding` when `embeddings`) in place; return `model`.

    Embeddings are always int8 per row; `bits` and `group_size` apply to linear layers.
    """
    # Recursion over children: a float layer is replaced, anything else is searched inside.
    for name, child in list(model.named_children()):
        if isinstance(child, nn.Linear):
            setattr(model, name, Int8Linear.from_linear(child, bits=bits, group_size=group_size))
        elif isinstance(child, nn.Embedding) and embeddings:
            setattr(model, name, Int8Embedding.from_embedding(child))
        else:
            quantize(child, bits=bits, group_size=group_size, embeddings=embeddings)
    return model


# The preset that the capstone and the server use: 8 bits, one scale per output row.
def quantize_int8(model: nn.Module, *, embeddings: bool = True) -> nn.Module:
    """Int8 weight-only, per-output-channel symmetric quantization of `model`, in place.

    >>> m = quantize_int8(torch.nn.Sequential(torch.nn.Linear(4, 3)))
    >>> m[0].weight_int8.dtype, tuple(m[0].scale.shape)
    (torch.int8, (3, 1))
    """
    return quantize(model, bits=8, group_size=None, embeddings=embeddings)


def model_bytes(model: nn.Module) -> int:
    """Bytes of all distinct parameters and buffers (a tied matrix counts once)."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if t.data_ptr() not in seen:
            seen.add(t.data_ptr())
            total += t.numel() * t.element_size()
    return total
