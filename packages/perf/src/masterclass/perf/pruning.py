r"""# Pruning: zeroing weights, and removing channels

A trained network has many weights near zero whose removal barely changes its outputs (LeCun et
al., 1990; Han et al., 2015). Pruning sets them to zero. Two kinds differ in what that buys:

- **Unstructured pruning** zeroes individual weights, the ones of smallest magnitude
  $|w_{ij}|$ (the L1 criterion). It keeps accuracy best, but a matrix with scattered zeros is
  still a dense matrix: nothing gets faster unless a sparse kernel (or 2:4 sparse tensor cores)
  exploits the pattern, and nothing gets smaller unless it is stored sparsely.
- **Structured pruning** removes whole rows or columns: an output channel of a linear layer is
  a row of $W_1$, and once it is zero the matching column of the next layer $W_2$ multiplies only
  zeros. Deleting both makes the matrices genuinely smaller, so the model is faster with dense
  kernels.

**PyTorch's API.** `torch.nn.utils.prune.l1_unstructured(module, "weight", amount)` keeps the
original as the parameter `weight_orig`, adds a buffer `weight_mask`, and recomputes
`weight = weight_orig * weight_mask` in a forward pre-hook; `prune.remove` folds the mask in
for good. `amount` as a float is a fraction, and the number of weights pruned is
$\mathrm{round}(\text{amount} \cdot n)$. `prune.ln_structured(..., n=2, dim=0)` zeroes the rows
of smallest L2 norm. The API *masks*; it never removes anything.

**From scratch.** `l1_unstructured_mask` sorts $|w|$ and zeroes the $k$ smallest, equal to
PyTorch's mask exactly (for weights without ties in magnitude). `remove_ffn_channels` deletes
hidden units of a feed-forward network: rows of the up (and gate) projection and columns of the
down projection. Because an FFN's hidden units are summed independently,

$$ W_2\,\phi(W_1 x) = \sum_j W_2[:, j]\, \phi(W_1[j] \cdot x) $$

(and the same with the gate $\phi(W_g[j]\cdot x)\,(W_u[j] \cdot x)$ for SwiGLU), the smaller
network computes exactly what the dense one computes with those units' weights zeroed:
a zeroed unit contributes $\phi(0)\cdot$ something $= 0$ for ReLU, SiLU and GELU. The benchmark
`bench/pruning.py` measures the latency drop on `llm`'s model.

References: LeCun, Denker and Solla, 1990, *Optimal Brain Damage*; Han et al., 2015,
[Learning both Weights and Connections](https://arxiv.org/abs/1506.02626); Li et al., 2017,
[Pruning Filters for Efficient ConvNets](https://arxiv.org/abs/1608.08710); PyTorch, [Pruning
tutorial](https://pytorch.org/tutorials/intermediate/pruning_tutorial.html).

Left out: iterative pruning with fine-tuning, global (cross-layer) thresholds, second-order
criteria (OBS, SparseGPT), 2:4 semi-structured sparsity, and pruning attention heads.

>>> w = torch.tensor([[0.5, -0.1], [2.0, 0.05]])
>>> l1_unstructured_mask(w, 0.5)
tensor([[1., 0.],
        [1., 0.]])

## Exercises

1. Write `sparsity(module)`: the fraction of exactly-zero entries over all the `weight`
   parameters of a module's linear layers (after `prune.remove`).
   Check it: `uv run pytest --exercise perf.pruning`
2. Write `l2_row_mask(weight, amount)`: the `(out, in)` mask that zeroes the
   $\mathrm{round}(\text{amount}\cdot \text{out})$ rows of smallest L2 norm, equal to
   `prune.ln_structured(..., n=2, dim=0)`'s mask.
   Check it: `uv run pytest --exercise perf.pruning`
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["l1_unstructured_mask", "num_to_prune", "remove_ffn_channels"]


# ## How many to prune
#
# PyTorch's convention, kept so the masks agree: a float is a fraction of the elements, rounded
# to the nearest integer; an int is a count.
def num_to_prune(amount: float | int, n: int) -> int:
    """The number of the `n` elements that `amount` (fraction in [0, 1] or count) prunes."""
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise TypeError(f"amount must be a float fraction or an int count, got {amount!r}")
    if isinstance(amount, float):
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"amount as a fraction must be in [0, 1], got {amount}")
        return round(amount * n)
    if not 0 <= amount <= n:
        raise ValueError(f"amount as a count must be in [0, {n}], got {amount}")
    return amount


# ## The L1 (magnitude) mask
#
# Sort the magnitudes, take the indices of the $k$ smallest, and zero them in a mask of ones.
def l1_unstructured_mask(weight: Tensor, amount: float | int) -> Tensor:
    """Mask (same shape as `weight`) with zeros at the `amount` entries of smallest $|w|$."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a tensor, got {type(weight).__name__}")
    k = num_to_prune(amount, weight.numel())
    mask = torch.ones_like(weight)
    order = torch.argsort(weight.detach().abs().flatten(), stable=True)  # (n,) smallest first
    mask.view(-1)[order[:k]] = 0
    return mask


# ## Removing channels from a feed-forward network
#
# `keep` lists the hidden units that stay. The up (and gate) projections keep those *rows* (their
# output features), the down projection those *columns* (its input features); biases follow their
# rows, and the down projection's bias is untouched (it does not depend on the hidden units).
def _slice_linear(layer: nn.Linear, keep: Tensor, dim: int) -> nn.Linear:
    weight = layer.weight.detach().index_select(dim, keep)
    out_f, in_f = weight.shape
    new = nn.Linear(in_f, out_f, bias=layer.bias is not None)
    new = new.to(device=weight.device, dtype=weight.dtype)
    with torch.no_grad():
        new.weight.copy_(weight)
        if layer.bias is not None:
            new.bias.copy_(layer.bias.detach() if dim == 1 else layer.bias.detach()[keep])
    return new


# The public function checks the layer names and the indices before slicing anything, so a bad
# call leaves `ffn` as it was.
def remove_ffn_channels(ffn: nn.Module, keep: Tensor) -> nn.Module:
    """Delete the hidden units of `ffn` not in `keep` (a 1-D index tensor), in place.

    `ffn` has linear layers `up` and `down` and optionally `gate` (the transformer chapter's
    `FeedForward`, plain or gated); returns `ffn`, now with `len(keep)` hidden units.
    """
    for name in ("up", "down"):
        if not isinstance(getattr(ffn, name, None), nn.Linear):
            raise TypeError(f"ffn needs nn.Linear attributes 'up' and 'down'; missing {name!r}")
    if not isinstance(keep, Tensor) or keep.dim() != 1 or keep.dtype != torch.long:
        raise ValueError("keep must be a 1-D int64 tensor of hidden-unit indices")
    hidden = ffn.up.out_features
    if keep.numel() == 0 or int(keep.min()) < 0 or int(keep.max()) >= hidden:
        raise ValueError(f"keep must hold between 1 and {hidden} indices in [0, {hidden})")
    # Sorted indices keep the surviving units in their original order in every projection.
    keep = keep.sort().values
    ffn.up = _slice_linear(ffn.up, keep, dim=0)
    if getattr(ffn, "gate", None) is not None:
        ffn.gate = _slice_linear(ffn.gate, keep, dim=0)
    ffn.down = _slice_linear(ffn.down, keep, dim=1)
    return ffn
