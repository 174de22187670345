r"""# LoRA: low-rank adaptation

Fine-tuning every weight of a model costs as much optimizer memory as pretraining it. **LoRA**
(Hu et al., 2021, *LoRA: Low-Rank Adaptation of Large Language Models*,
[arXiv:2106.09685](https://arxiv.org/abs/2106.09685)) freezes the pretrained weight
$W \in \mathbb{R}^{d_{out} \times d_{in}}$ and learns a low-rank update beside it:

$$ h = W x + \frac{\alpha}{r}\, B A x, \qquad A \in \mathbb{R}^{r \times d_{in}},\;
   B \in \mathbb{R}^{d_{out} \times r},\; r \ll \min(d_{in}, d_{out}). $$

Only $A$ and $B$ are trained: $r(d_{in} + d_{out})$ numbers per matrix instead of
$d_{in} d_{out}$. The bet, supported by the paper's measurements, is that the *change* a
fine-tune needs has low intrinsic rank.

**Initialisation.** $A$ is drawn like an `nn.Linear` weight (Kaiming-uniform) and $B = 0$, so at
the start $BA = 0$ and the adapted model *is* the pretrained one; the gradients are
$\partial\mathcal{L}/\partial B = \tfrac{\alpha}{r}\, g\, (Ax)^\top$ (non-zero) and
$\partial\mathcal{L}/\partial A = \tfrac{\alpha}{r} B^\top g\, x^\top$ (zero at step 0), so $B$
moves first. The scale $\alpha/r$ keeps the update's size comparable across ranks (rsLoRA,
Kalajdzievski, 2023, argues for $\alpha/\sqrt r$; `rslora=True`).

**Merge and unmerge.** For inference the update folds into the weight,
$W' = W + \tfrac{\alpha}{r} BA$: the merged layer is a plain linear map with no extra latency,
and its outputs equal the unmerged ones (to rounding). Unmerging subtracts the same product
and restores $W$ (to rounding, $10^{-15}$ relative in float64), so one base model can switch
between adapters.

This implementation is checked against Hugging Face `peft`'s LoRA with copied weights: same
outputs, same gradients, same merged weights.

**A worked example.** Adapting a $32 \times 64$ layer at rank 2 trains $2(64 + 32) = 192$
numbers instead of 2,048. At the start the layer is the base layer exactly; the first backward
pass reaches $B$ but not $A$ (the derivation above); a trained update $\tfrac{\alpha}{r}BA$ has
rank $r$; merging leaves the outputs unchanged and unmerging gives the weight back, both to
float32 rounding.

>>> _ = torch.manual_seed(0)
>>> layer = LoRALinear(nn.Linear(64, 32), r=2, alpha=4.0)
>>> x = torch.randn(3, 64)
>>> torch.equal(layer(x), layer.base(x))  # B = 0
True
>>> sum(p.numel() for p in layer.parameters() if p.requires_grad)
192
>>> layer(x).square().sum().backward()
>>> float(layer.lora_A.grad.abs().max()), bool(layer.lora_B.grad.abs().max() > 0)
(0.0, True)
>>> with torch.no_grad():
...     _ = layer.lora_B.normal_()  # as if trained
>>> int(torch.linalg.matrix_rank(layer.delta_weight()))
2
>>> before, weight = layer(x), layer.base.weight.clone()
>>> layer.merge(); torch.allclose(layer(x), before, atol=1e-5)
True
>>> layer.unmerge(); torch.allclose(layer.base.weight, weight, atol=1e-6)
True

Left out: LoRA on embeddings and convolutions, dropout on the adapter input (a one-liner),
QLoRA's 4-bit base weights, DoRA's magnitude/direction split.

## Exercises

1. Write `lora_param_count(d_in, d_out, r)`, the number of trained numbers of one adapted
   matrix. Check it: `uv run pytest --exercise training.lora`
2. Write `merged_weight(W, A, B, alpha, r)` returning $W + \tfrac{\alpha}{r}BA$. Check it:
   `uv run pytest --exercise training.lora`
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["LoRALinear", "apply_lora", "lora_parameters", "merge_lora", "unmerge_lora"]


# The adapter holds the original layer and two small matrices; the base weight is frozen, so an
# optimizer given all parameters still trains only A and B.
class LoRALinear(nn.Module):
    """An `nn.Linear` with a frozen weight and a trainable rank-`r` update."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, *, rslora: bool = False) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        if r < 1:
            raise ValueError(f"r must be >= 1, got {r}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.r, self.alpha = r, alpha
        self.scaling = alpha / math.sqrt(r) if rslora else alpha / r
        # A starts random and B at zero, so B A = 0: the wrapped layer initially computes exactly
        # what the base layer did, and training starts from the pre-trained model.
        w = base.weight
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.lora_B = nn.Parameter(
            torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype)
        )
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.merged = False

    # The update is applied as two thin matrix products, $(x A^\top) B^\top$, never as the full
    # $d_{out} \times d_{in}$ matrix $BA$: that is where the memory and compute saving lies.
    def forward(self, x: Tensor) -> Tensor:
        """`(..., d_in) -> (..., d_out)`."""
        out = self.base(x)
        if self.merged:
            return out
        return out + (x @ self.lora_A.T) @ self.lora_B.T * self.scaling  # (..., d_out)

    # Merging adds the scaled B A into the base weight, so inference costs nothing extra; unmerging
    # subtracts it again, to continue training.
    def delta_weight(self) -> Tensor:
        r"""$\tfrac{\alpha}{r} BA$, `(d_out, d_in)`."""
        return self.lora_B @ self.lora_A * self.scaling

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the update into the base weight (idempotent)."""
        if not self.merged:
            self.base.weight += self.delta_weight()
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out of the base weight again (idempotent)."""
        if self.merged:
            self.base.weight -= self.delta_weight()
            self.merged = False


# ## Adapting a model
#
# Every `nn.Linear` whose qualified name ends with one of `targets` is wrapped; every other
# parameter is frozen. For `llm`'s model the attention projections are `qkv` and `o_proj`, the
# feed-forward ones `up`, `gate` and `down`.


def apply_lora(
    model: nn.Module,
    targets: Sequence[str] = ("qkv", "o_proj"),
    *,
    r: int = 8,
    alpha: float = 16.0,
    rslora: bool = False,
) -> nn.Module:
    """Wrap the target linear layers of `model` in `LoRALinear`, in place; freeze the rest."""
    for p in model.parameters():
        p.requires_grad_(False)
    # Match by the last part of the module name (`qkv` in `blocks.0.attn.qkv`); targets that match
    # nothing fail rather than train nothing.
    names = [
        name
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear) and any(name.split(".")[-1] == t for t in targets)
    ]
    if not names:
        raise ValueError(f"no nn.Linear in the model is named one of {list(targets)}")
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, LoRALinear(getattr(parent, child), r, alpha, rslora=rslora))
    return model


# The helpers walk every `LoRALinear` in the model: its adapters for the optimizer, or a merge (and
# its inverse) of each.
def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable adapter matrices of `model` (pass these to the optimizer)."""
    return [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.lora_A, m.lora_B)]


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every adapter of `model` into its base weight."""
    for m in model.modules():
        if isinstance(m, LoRALinear):
            m.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Undo `merge_lora`."""
    for m in model.modules():
        if isinstance(m, LoRALinear):
            m.unmerge()
    return model
