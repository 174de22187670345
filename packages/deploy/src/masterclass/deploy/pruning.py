r"""# Pruning: magnitude, Wanda, SparseGPT, 2:4, structured neurons and heads

Pruning sets weights to zero. Unstructured zeros shrink a model only when stored sparsely and
speed it up only with sparse kernels; *semi-structured* 2:4 sparsity (two non-zeros in every
group of four consecutive inputs) has hardware support on NVIDIA GPUs since Ampere (about
$1.5$–$2\times$ for the matrix products); *structured* pruning removes whole neurons or heads, so
the remaining matrices are simply smaller and every runtime is faster. Which weights to drop is
the question, and the methods differ in what they look at.

**Magnitude** (Han et al., 2015): drop the weights of smallest $|W_{ij}|$, either per tensor
(one threshold for the matrix, *global*) or per output row (each row keeps the same number).

**Wanda** (Sun et al., 2024): a weight's effect on the output is $W_{ij} x_j$, so its score is
$$ S_{ij} = |W_{ij}| \cdot \lVert X_{:,j}\rVert_2 ,$$
with $X$ the layer's inputs on a few calibration tokens, and the comparison is *per output row*.
Derivation: removing $W_{ij}$ changes output $i$ by $-W_{ij} x_j$, whose mean square over the
calibration tokens is $W_{ij}^2 \lVert X_{:,j}\rVert_2^2 / n$; Wanda drops the smallest. Inputs
with large activations (LLMs have a few "outlier" features) protect their weights even when the
weights are small. No weight update, one forward pass.

**SparseGPT** (Frantar & Alistarh, 2023) also *updates* the remaining weights to compensate.
For one row $w$ and inputs $X$, the layer-wise loss is $\lVert w X^\top - \hat w X^\top\rVert^2 =
(w - \hat w) H (w - \hat w)^\top$ with $H = X^\top X$. The Optimal Brain Surgeon result (LeCun
et al., 1990; Hassibi & Stork, 1993): removing weight $q$ and re-optimizing the others costs
$$ \frac{w_q^2}{[H^{-1}]_{qq}}, \qquad \text{with the update } \delta = -\frac{w_q}{[H^{-1}]_{qq}}\, H^{-1}_{:,q} .$$
SparseGPT walks the columns left to right (as GPTQ does for quantization): each column's pruned
entries are zeroed and their error $e = w_q / [H^{-1}]_{qq}$ is spread over the columns to the
right through the row $q$ of the upper Cholesky factor of $H^{-1}$ (which equals the inverse
Hessian of the columns still free, restricted as the walk proceeds). The mask is chosen from
$w^2 / [\operatorname{chol}(H^{-1})]_{qq}^2$, per row here. A damping term $\lambda I$,
$\lambda = 1\%$ of the mean diagonal, keeps $H$ invertible (dead inputs make it singular);
**with $H = I$ every diagonal is equal and the off-diagonals vanish, so there is no update and
SparseGPT is exactly magnitude pruning** (the tests check this bitwise).

**2:4.** In each group of four consecutive inputs of a row keep the two of highest score (any
score above: magnitude, Wanda's, SparseGPT's).

**Structured neuron pruning.** FFN neuron $j$ contributes $\text{down}_{:,j}\, h_j$; its
importance is $\lVert \text{down}_{:,j}\rVert_2 \cdot \lVert h_j\rVert_2$ over calibration tokens
(Wanda's score for a whole column of `down`). `prune_ffn_neurons` keeps the top fraction and
rebuilds `up`, `gate` and `down` as smaller `nn.Linear`s: a real, dense, faster model
(`bench/pruning.py` times it).

**Structured head pruning.** Head $h$ adds $Z_h W_h^\top$ to the residual stream ($Z_h$ its
attention output, $W_h$ its columns of `o_proj`); its score is the norm of that contribution on
calibration tokens, $\lVert Z_h W_h^\top\rVert_F = \sqrt{\operatorname{tr}(W_h H_{hh} W_h^\top)}$,
read from the diagonal block of `o_proj`'s input Hessian. Derivation of the equality: $\lVert A
\rVert_F^2 = \operatorname{tr}(A^\top A)$ and $(Z_h W_h^\top)^\top Z_h W_h^\top = W_h Z_h^\top Z_h
W_h^\top$ with $Z_h^\top Z_h = H_{hh}$. Removing head $h$ changes the block's output by exactly
$-Z_h W_h^\top$, so the score is the size of the damage (of this layer; later layers see a
changed input). `prune_attention_heads` removes the lowest-scoring heads' rows of the fused
`qkv` projection and columns of `o_proj`; under grouped-query attention it removes the same
number of query heads from every key/value group, so the key/value heads and the KV cache stay.

References: Han et al., 2015, *Learning both Weights and Connections*
([arXiv:1506.02626](https://arxiv.org/abs/1506.02626)); Sun et al., 2024, *A Simple and Effective
Pruning Approach for Large Language Models* (Wanda, [arXiv:2306.11695](https://arxiv.org/abs/2306.11695));
Frantar & Alistarh, 2023, *SparseGPT* ([arXiv:2301.00774](https://arxiv.org/abs/2301.00774));
Mishra et al., 2021, *Accelerating Sparse Deep Neural Networks* (2:4,
[arXiv:2104.08378](https://arxiv.org/abs/2104.08378)).

Left out: calibration on *pruned* inputs layer by layer (we take every layer's inputs from one
pass of the dense model), gradient-based (Taylor) head scores, removing whole key/value groups
under GQA (and so per-layer cache shapes), sparse storage formats and kernels, and fine-tuning
after pruning.

## Exercises

1. Write `row_prune_mask(scores, sparsity)`: a bool mask that keeps, in each row, the
   `cols - int(cols * sparsity)` highest scores. Check it: `uv run pytest --exercise deploy.pruning`
2. Write `obs_cost(w, hinv_diag)`: the Optimal Brain Surgeon cost $w_q^2/[H^{-1}]_{qq}$ of removing
   each weight. Check it: `uv run pytest --exercise deploy.pruning`
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn

__all__ = [
    "calibration_stats",
    "head_scores",
    "magnitude_prune",
    "prune_attention_heads",
    "prune_ffn_neurons",
    "prune_model",
    "semi_structured_mask",
    "sparsegpt_prune",
    "wanda_prune",
]


def _check_sparsity(sparsity: float) -> None:
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")


# ## Masks from scores
#
# A mask is True where a weight is kept. Per row: each row drops its `int(cols * sparsity)`
# smallest scores. 2:4: each group of four consecutive inputs keeps its two largest.
def row_mask(scores: Tensor, sparsity: float) -> Tensor:
    """Keep the highest scores of each row of `scores` `(rows, cols)`."""
    _check_sparsity(sparsity)
    k = int(scores.shape[1] * sparsity)
    mask = torch.ones_like(scores, dtype=torch.bool)
    if k:
        drop = scores.argsort(dim=1, stable=True)[:, :k]  # (rows, k)
        mask.scatter_(1, drop, False)
    return mask


# The 2:4 pattern is what sparse tensor cores accelerate: within every four weights, two zeros.
# Reshaping to (rows, groups, m) turns it into a per-group top-n.
def semi_structured_mask(scores: Tensor, n: int = 2, m: int = 4) -> Tensor:
    """Keep the `n` highest scores in every group of `m` consecutive inputs (2:4 by default).

    >>> semi_structured_mask(torch.tensor([[4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 6.0, 1.0]])).int()
    tensor([[1, 0, 1, 0, 0, 1, 1, 0]], dtype=torch.int32)
    """
    rows, cols = scores.shape
    if cols % m or not 0 < n <= m:
        raise ValueError(f"need 0 < n <= m and cols divisible by m, got n={n}, m={m}, cols={cols}")
    groups = scores.reshape(rows, cols // m, m)
    keep = groups.argsort(dim=-1, descending=True, stable=True)[..., :n]  # (rows, G, n)
    mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, keep, True)
    return mask.reshape(rows, cols)


# The baseline: prune by |w| alone. The scope sets who competes with whom; a global threshold
# lets some layers lose far more weights than others.
def magnitude_prune(
    weights: Tensor | Iterable[Tensor], sparsity: float, *, scope: str = "row"
) -> list[Tensor]:
    """Masks for magnitude pruning: `scope="row"` (per output row), `"tensor"` (one threshold per
    tensor) or `"global"` (one threshold across all the given tensors)."""
    _check_sparsity(sparsity)
    ws = [weights] if isinstance(weights, Tensor) else list(weights)
    if scope == "row":
        return [row_mask(w.abs(), sparsity) for w in ws]
    if scope not in ("tensor", "global"):
        raise ValueError(f"scope must be 'row', 'tensor' or 'global', got {scope!r}")
    # Per group: flatten all magnitudes, drop the k smallest, cut the mask back into tensors.
    groups = [[w] for w in ws] if scope == "tensor" else [ws]
    masks = []
    for group in groups:
        flat = torch.cat([w.abs().flatten() for w in group])
        k = int(flat.numel() * sparsity)
        keep = torch.ones_like(flat, dtype=torch.bool)
        if k:
            keep[flat.argsort(stable=True)[:k]] = False
        start = 0
        for w in group:
            masks.append(keep[start : start + w.numel()].view_as(w))
            start += w.numel()
    return masks


# Wanda's score $|W_{ij}| \cdot \lVert X_{:,j} \rVert$: a small weight on a loud input can matter
# more than a large weight on a quiet one. No weight update, only a better mask.
def wanda_prune(
    w: Tensor, input_norm: Tensor, sparsity: float, *, n_m: tuple | None = None
) -> Tensor:
    """Wanda mask for `w` `(out, in)` from the inputs' column norms `input_norm` `(in,)`."""
    if input_norm.shape != (w.shape[1],):
        raise ValueError(
            f"input_norm must have shape ({w.shape[1]},), got {tuple(input_norm.shape)}"
        )
    scores = w.abs() * input_norm[None, :]
    return semi_structured_mask(scores, *n_m) if n_m else row_mask(scores, sparsity)


# ## SparseGPT for one layer
#
# In float64 for the Cholesky factorizations. Inputs that were always zero ("dead") have a zero
# row and column in $H$; their diagonal is set to 1 (their weights never mattered) before
# damping, so the factorization never fails.
@torch.no_grad()
def sparsegpt_prune(
    w: Tensor,
    H: Tensor,
    sparsity: float,
    *,
    damp: float = 0.01,
    n_m: tuple[int, int] | None = None,
) -> Tensor:
    r"""The pruned and compensated weight (same shape and dtype as `w` `(out, in)`) for the
    input Hessian `H` $= X^\top X$ `(in, in)`."""
    _check_sparsity(sparsity)
    _, cols = w.shape
    if H.shape != (cols, cols):
        raise ValueError(
            f"H must be ({cols}, {cols}) for w of shape {tuple(w.shape)}, got {tuple(H.shape)}"
        )
    # Dead inputs, damping, and the upper Cholesky factor of $H^{-1}$, exactly as in GPTQ; its
    # diagonal `d` scales both the OBS score $w^2 / d^2$ and each column's error.
    W = w.detach().double().clone()
    H = H.detach().double().clone()
    dead = torch.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    H += damp * torch.diag(H).mean() * torch.eye(cols, dtype=H.dtype)
    Hinv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    d = torch.diag(Hinv)  # (cols,)
    # Unstructured: the mask is chosen once from the OBS scores. 2:4: each group of four columns
    # is chosen when the walk reaches it, from weights already updated by the columns before.
    if n_m is None:
        mask = row_mask(W**2 / d[None, :] ** 2, sparsity)
    else:
        n, m = n_m
        if cols % m:
            raise ValueError(f"cols ({cols}) must be divisible by m={m} for n:m sparsity")
        mask = torch.zeros_like(W, dtype=torch.bool)
    # The column walk: zero the pruned entries of column i, spread their error to the right.
    for i in range(cols):
        if n_m is not None and i % m == 0:
            group = W[:, i : i + m] ** 2 / d[None, i : i + m] ** 2
            mask[:, i : i + m] = semi_structured_mask(group, n, m)
        col = W[:, i]
        q = torch.where(mask[:, i], col, torch.zeros_like(col))
        err = (col - q) / d[i]  # (rows,)
        W[:, i:] -= err[:, None] * Hinv[i, i:][None, :]
        W[:, i] = q
    return W.to(w.dtype)


# ## Calibration statistics of a model
#
# Forward hooks on every linear layer of the blocks collect, from one pass over calibration
# tokens, each layer's input column norms (Wanda, neuron and head scores), $H = X^\top X$
# (SparseGPT, and GPTQ/AWQ in `gptq_awq.py`) and the per-channel maximum $\max |X_{:,k}|$
# (SmoothQuant): one pass, one set of hooks, for every calibration-based method of the module.
def _block_linears(model: nn.Module) -> dict[str, nn.Linear]:
    return {
        n: m
        for n, m in model.named_modules()
        if n.startswith("blocks.") and isinstance(m, nn.Linear)
    }


@torch.no_grad()
def calibration_stats(model: nn.Module, tokens: Tensor) -> dict[str, dict[str, Tensor]]:
    r"""`{layer name: {"norm": (in,), "H": (in, in), "max": (in,)}}` (float64) from running
    `model` on `tokens` `(B, T)`: input column norms, $X^\top X$ and per-channel $\max|X|$."""
    stats: dict[str, dict[str, Tensor]] = {}
    hooks = []
    for name, lin in _block_linears(model).items():
        # Each hook accumulates sums over all the tokens it sees (the default argument binds this
        # layer's name); nothing per token is kept, so memory is (in, in) per layer.
        def hook(mod, args, out, name=name):
            x = args[0].reshape(-1, args[0].shape[-1]).double()  # (B T, in)
            s = stats.setdefault(
                name, {"H": 0.0, "sq": 0.0, "max": torch.zeros(x.shape[1], dtype=x.dtype)}
            )
            s["H"] = s["H"] + x.T @ x
            s["sq"] = s["sq"] + (x**2).sum(0)
            s["max"] = torch.maximum(s["max"], x.abs().amax(0))

        hooks.append(lin.register_forward_hook(hook))
    # One forward pass, hooks removed even on failure; the column norm is $\sqrt{\sum x^2}$.
    try:
        model.eval()
        model(tokens)
    finally:
        for h in hooks:
            h.remove()
    return {n: {"norm": s["sq"].sqrt(), "H": s["H"], "max": s["max"]} for n, s in stats.items()}


# Unstructured pruning of the whole model: zeros in place, shapes unchanged. The statistics are
# taken once, on the unpruned model, and every layer is pruned from them.
@torch.no_grad()
def prune_model(
    model: nn.Module,
    method: str,
    sparsity: float = 0.5,
    *,
    calibration: Tensor | None = None,
    n_m: tuple[int, int] | None = None,
) -> nn.Module:
    """Prune every linear layer of `model`'s blocks in place with `method` in
    `"magnitude"`, `"wanda"`, `"sparsegpt"`; returns `model` (embeddings and LM head untouched)."""
    if method not in ("magnitude", "wanda", "sparsegpt"):
        raise ValueError(f"method must be 'magnitude', 'wanda' or 'sparsegpt', got {method!r}")
    if method != "magnitude" and calibration is None:
        raise ValueError(f"{method} needs calibration tokens (B, T)")
    # Magnitude and Wanda multiply by a mask; SparseGPT also updates the surviving weights.
    stats = calibration_stats(model, calibration) if method != "magnitude" else {}
    for name, lin in _block_linears(model).items():
        w = lin.weight
        if method == "magnitude":
            mask = semi_structured_mask(w.abs(), *n_m) if n_m else row_mask(w.abs(), sparsity)
            w.mul_(mask)
        elif method == "wanda":
            w.mul_(wanda_prune(w, stats[name]["norm"].to(w.dtype), sparsity, n_m=n_m))
        else:
            w.copy_(sparsegpt_prune(w, stats[name]["H"], sparsity, n_m=n_m))
    return model


# ## Structured: removing FFN neurons
#
# Neuron $j$ of block $\ell$ is row $j$ of `up` (and `gate`) and column $j$ of `down`. Its score
# is $\lVert \text{down}_{:,j}\rVert \cdot \lVert h_j\rVert$ with $h$ the input of `down` on the
# calibration tokens; the kept neurons are copied into smaller layers.
@torch.no_grad()
def prune_ffn_neurons(model: nn.Module, keep: float, calibration: Tensor) -> nn.Module:
    """Keep the `keep` fraction of FFN neurons in every block (physically smaller layers)."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    # Per block: score every neuron, keep the best `n_keep` in their original order.
    stats = calibration_stats(model, calibration)
    for i, block in enumerate(model.blocks):
        ffn = block.ffn
        d_ff = ffn.down.weight.shape[1]
        n_keep = max(1, round(d_ff * keep))
        score = ffn.down.weight.norm(dim=0).double() * stats[f"blocks.{i}.ffn.down"]["norm"]
        idx = score.argsort(descending=True, stable=True)[:n_keep].sort().values  # (n_keep,)

        # New, smaller layers: kept rows of `up` and `gate`, kept columns of `down` (its bias
        # is per output, so it stays whole).
        def rows(lin: nn.Linear, idx: Tensor = idx, n_keep: int = n_keep) -> nn.Linear:
            new = nn.Linear(lin.in_features, n_keep, bias=lin.bias is not None)
            new.weight.copy_(lin.weight[idx])
            if lin.bias is not None:
                new.bias.copy_(lin.bias[idx])
            return new

        down = nn.Linear(n_keep, ffn.down.out_features, bias=ffn.down.bias is not None)
        down.weight.copy_(ffn.down.weight[:, idx])
        if ffn.down.bias is not None:
            down.bias.copy_(ffn.down.bias)
        ffn.up = rows(ffn.up)
        if ffn.gate is not None:
            ffn.gate = rows(ffn.gate)
        ffn.down = down
    return model


# ## Structured: removing attention heads
#
# Head $h$ writes $Z_h W_h^\top$ into the residual stream, with $Z_h$ `(N, D)` its attention
# outputs on the calibration tokens and $W_h$ the `D` columns of `o_proj` that read it. Its
# importance is the norm of that contribution,
# $$ s_h = \lVert Z_h W_h^\top\rVert_F = \sqrt{\operatorname{tr}(W_h H_{hh} W_h^\top)} ,$$
# computed from the `(D, D)` diagonal block $H_{hh}$ of `o_proj`'s input Hessian, which the
# calibration pass already holds (no second pass over the data, no per-token storage).
@torch.no_grad()
def head_scores(model: nn.Module, calibration: Tensor) -> list[Tensor]:
    """Per block, the `(H,)` norms of each attention head's output contribution on `calibration`."""
    stats = calibration_stats(model, calibration)
    scores = []
    for i, block in enumerate(model.blocks):
        attn = block.attn
        H, D = attn.n_heads, attn.head_dim
        w = attn.o_proj.weight.double().view(-1, H, D)  # (d_model, H, D)
        Hm = stats[f"blocks.{i}.attn.o_proj"]["H"].view(H, D, H, D)
        blocks = Hm.diagonal(dim1=0, dim2=2).permute(2, 0, 1)  # (H, D, D): the blocks H_hh
        scores.append(torch.einsum("ohd,hde,ohe->h", w, blocks, w).clamp_min(0).sqrt())
    return scores


# Which heads can go depends on the grouping. With grouped-query attention ($H_{kv} < H$) every
# key/value head serves $H / H_{kv}$ query heads, heads $g\,r, \dots, g\,r + r - 1$ for group
# $g$; keeping the same number of query heads in every group (the best-scoring ones, in order)
# keeps that layout, so the keys, values and KV cache are untouched. With plain multi-head
# attention ($H_{kv} = H$) a head is removed with its key and value rows.
def _kept_heads(score: Tensor, n_kv: int, keep: float) -> tuple[Tensor, Tensor]:
    # Grouped: the top `n` query heads within each group of `rep`, as absolute head indices.
    H = score.numel()
    rep = H // n_kv
    if rep > 1:
        n = max(1, round(rep * keep))
        top = score.view(n_kv, rep).argsort(dim=1, descending=True, stable=True)[:, :n]
        q = (torch.arange(n_kv)[:, None] * rep + top.sort(dim=1).values).flatten()  # (n_kv n,)
        return q, torch.arange(n_kv)
    # Multi-head: the top heads overall, and the same indices for keys and values.
    n = max(1, round(H * keep))
    q = score.argsort(descending=True, stable=True)[:n].sort().values  # (n,)
    return q, q


@torch.no_grad()
def prune_attention_heads(model: nn.Module, keep: float, calibration: Tensor) -> nn.Module:
    """Keep the `keep` fraction of attention heads in every block of `model` (an
    `masterclass.llm.LanguageModel`), by `head_scores`; the layers become physically smaller."""
    if not 0 < keep <= 1:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    if getattr(getattr(model, "config", None), "pos", None) == "alibi":
        raise ValueError(
            "prune_attention_heads does not support pos='alibi' (one fixed slope per head); "
            "prune a rope/learned model, or use prune_ffn_neurons"
        )
    # Per block: which query heads (and which key/value heads) stay, as row and column indices.
    scores = head_scores(model, calibration)
    for block, score in zip(model.blocks, scores):
        attn = block.attn
        H, H_kv, D = attn.n_heads, attn.n_kv_heads, attn.head_dim
        q, kv = _kept_heads(score, H_kv, keep)
        # The fused projection's rows are [q heads; k heads; v heads], D rows per head.
        heads = torch.cat([q, H + kv, H + H_kv + kv])
        rows = (heads[:, None] * D + torch.arange(D)).flatten()  # (rows kept,)
        cols = (q[:, None] * D + torch.arange(D)).flatten()  # (n_q D,)
        # Smaller projections with the kept rows (qkv) and columns (o_proj), in the same dtype
        # and device; the head counts are updated to match.
        like = {"dtype": attn.qkv.weight.dtype, "device": attn.qkv.weight.device}
        qkv = nn.Linear(attn.qkv.in_features, rows.numel(), bias=attn.qkv.bias is not None, **like)
        qkv.weight.copy_(attn.qkv.weight[rows])
        if attn.qkv.bias is not None:
            qkv.bias.copy_(attn.qkv.bias[rows])
        o = nn.Linear(
            cols.numel(), attn.o_proj.out_features, bias=attn.o_proj.bias is not None, **like
        )
        o.weight.copy_(attn.o_proj.weight[:, cols])
        if attn.o_proj.bias is not None:
            o.bias.copy_(attn.o_proj.bias)
        attn.qkv, attn.o_proj = qkv, o
        attn.n_heads, attn.n_kv_heads = q.numel(), kv.numel()
    return model
