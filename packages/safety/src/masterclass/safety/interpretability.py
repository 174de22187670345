r"""# Interpretability: attributions, the logit lens, direct logit attribution and patching

Interpretability asks *why* a model gave an output. This chapter has two families of tools.

**Attribution to the input.** *Saliency* (Simonyan et al., 2014) is the gradient
$\partial f_c / \partial x$ of the target logit: which input features a small change would move the
output most. Gradients saturate, though, so *integrated gradients* (Sundararajan et al., 2017)
integrate them along the straight path from a baseline $x'$ (all zeros, a pad token) to $x$:

$$ \mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1
   \frac{\partial f\big(x' + \alpha (x - x')\big)}{\partial x_i} \, d\alpha . $$

*Completeness* follows from the fundamental theorem of calculus along the path $\gamma(\alpha) =
x' + \alpha(x - x')$: $\frac{d}{d\alpha} f(\gamma(\alpha)) = \sum_i \partial_i f(\gamma(\alpha))
(x_i - x'_i)$, so $\sum_i \mathrm{IG}_i = f(x) - f(x')$. The attributions account for the whole
change of output. The integral is computed with $n$-point Gauss-Legendre quadrature (exact for
polynomials of degree $2n - 1$), captum's default; the completeness error measures the quadrature.

**Reading the residual stream.** In a pre-norm transformer every sub-layer *adds* to one residual
stream, so the final stream is a sum of parts (Elhage et al., 2021):

$$ x_L = e + \sum_{l} a_l + \sum_l m_l , $$

embedding $e$, attention outputs $a_l$ and MLP outputs $m_l$. The logits are $W_U \,
\mathrm{norm}(x_L)$. The norm is not linear, but once its scale $s = 1 / \sqrt{\overline{x_L^2} +
\epsilon}$ is *frozen* at its value on the full stream it is: $\mathrm{RMSNorm}(x_L) = g \odot s
\sum_k c_k$. So the logits split exactly into one term per component, $W_U (g \odot s\, c_k)$: the
**direct logit attribution** of $c_k$. (LayerNorm also subtracts the mean, which is linear too, and
adds its bias, one more term.)

The **logit lens** (nostalgebraist, 2020) applies the final norm and unembedding to the stream after
each layer, showing the prediction forming layer by layer. **Activation patching** (Meng et al.,
2022; Wang et al., 2023) runs a corrupted input but writes in the clean run's activation at one
place: how much of the clean behaviour returns says how much that place carries. Because a block
sees only the stream, patching the entire clean stream after any layer restores the clean logits
exactly, a check that the patching is wired right. A **linear probe** (Alain and Bengio, 2016) asks
whether a property can be read off the stream linearly.

## References

- K. Simonyan, A. Vedaldi, A. Zisserman, *Deep Inside Convolutional Networks*, 2014, [arXiv:1312.6034](https://arxiv.org/abs/1312.6034).
- M. Sundararajan, A. Taly, Q. Yan, *Axiomatic Attribution for Deep Networks*, ICML 2017, [arXiv:1703.01365](https://arxiv.org/abs/1703.01365).
- N. Elhage et al., *A Mathematical Framework for Transformer Circuits*, 2021, [transformer-circuits.pub](https://transformer-circuits.pub/2021/framework/index.html).
- nostalgebraist, *interpreting GPT: the logit lens*, 2020, [LessWrong](https://www.lesswrong.com/posts/AcKRB8wDpdaN6v6ru/interpreting-gpt-the-logit-lens).
- K. Meng et al., *Locating and Editing Factual Associations in GPT*, 2022, [arXiv:2202.05262](https://arxiv.org/abs/2202.05262).
- G. Alain, Y. Bengio, *Understanding intermediate layers using linear classifier probes*, 2016, [arXiv:1610.01644](https://arxiv.org/abs/1610.01644).

Left out: SHAP, attention rollout, sparse autoencoders, path patching; the induction head, the
circuit these tools find first, has its own chapter (`induction_heads.py`).

![Integrated gradients of a small image classifier](figures/attribution_map.png)

>>> import torch
>>> f = lambda x: (x**2).sum(1, keepdim=True)   # f(x) = sum x_i^2: IG_i = x_i^2 exactly
>>> [round(v, 4) for v in integrated_gradients(f, torch.tensor([[1.0, 2.0]]), target=0)[0].tolist()]
[1.0, 4.0]

## Exercises

1. Write `solution_1_riemann_ig(f, x, target, n_steps)`: integrated gradients with the left
   Riemann sum $\frac1n\sum_{k=0}^{n-1}$ and a zero baseline. Check it:
   `uv run pytest --exercise safety.interpretability`.
2. Write `solution_2_top_component(model, idx, token)`: the name of the residual component whose
   direct logit attribution to `token` at the last position is largest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from masterclass.llm import LanguageModel

Forward = Callable[[Tensor], Tensor]


# ## Saliency
#
# One backward pass of the target output, summed over the batch so that each example's gradient lands
# on its own input (examples do not interact in eval mode).


def saliency(f: Forward, x: Tensor, target: int) -> Tensor:
    r"""$\partial f(x)_{:, target} / \partial x$, same shape as `x` `(B, ...)`; `f` maps `(B, ...) -> (B, K)`."""
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(x)[:, target].sum(), x)
    return g


# ## Integrated gradients by Gauss-Legendre quadrature
#
# The nodes $u_k$ and weights $w_k$ of `leggauss(n)` integrate on $[-1, 1]$; the map $\alpha =
# (u + 1)/2$ moves them to $[0, 1]$ and halves the weights. All $n$ points along the path go through
# the model as one batch of $n B$ inputs.


def _path_nodes(n_steps: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method == "gausslegendre":
        u, w = np.polynomial.legendre.leggauss(n_steps)
        return 0.5 * (u + 1), 0.5 * w
    if method == "riemann_trapezoid":
        alphas = np.linspace(0, 1, n_steps)
        w = np.full(n_steps, 1.0 / (n_steps - 1))
        w[[0, -1]] *= 0.5
        return alphas, w
    raise ValueError(f"method must be 'gausslegendre' or 'riemann_trapezoid', got {method!r}")


# $\mathrm{IG}_i = (x_i - x'_i) \sum_k w_k\, \partial_i f(x' + \alpha_k (x - x'))$: the weights
# and nodes broadcast over a leading path axis, which is folded into the batch for one call.
def integrated_gradients(
    f: Forward,
    x: Tensor,
    baseline: Tensor | None = None,
    *,
    target: int,
    n_steps: int = 50,
    method: str = "gausslegendre",
) -> Tensor:
    """Integrated gradients of output `target` of `f` at `x` `(B, ...)`, same shape as `x`."""
    if n_steps < 2:
        raise ValueError(f"n_steps must be >= 2, got {n_steps}")
    # Nodes and weights as (n, 1, ...) tensors; the n points of every example's path are one
    # batch of n B inputs, reshaped back to (n, B, ...) for the weighted sum.
    baseline = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    alphas, weights = _path_nodes(n_steps, method)
    shape = (n_steps,) + (1,) * x.dim()
    a = torch.as_tensor(alphas, dtype=x.dtype).view(shape)  # (n, 1, ...)
    w = torch.as_tensor(weights, dtype=x.dtype).view(shape)  # (n, 1, ...)
    path = (baseline + a * (x - baseline)).reshape(n_steps * x.shape[0], *x.shape[1:])  # (n B, ...)
    grads = saliency(f, path, target).view(n_steps, *x.shape)  # (n, B, ...)
    return (x - baseline) * (w * grads).sum(0)


# Completeness is IG's axiom: attributions sum to the output's change from baseline to input.
# What remains is the quadrature error, which says whether `n_steps` was enough.
def completeness_error(
    f: Forward, x: Tensor, attributions: Tensor, baseline: Tensor | None = None, *, target: int
) -> Tensor:
    r"""$|\sum_i \mathrm{IG}_i - (f(x) - f(x'))|$ per example, `(B,)`."""
    baseline = torch.zeros_like(x) if baseline is None else baseline.expand_as(x)
    with torch.no_grad():
        delta = f(x)[:, target] - f(baseline)[:, target]  # (B,)
    return (attributions.flatten(1).sum(1) - delta).abs()


# ## The residual stream's parts
#
# Forward hooks record what each sub-layer adds: the token (and learned position) embedding, and the
# outputs of every block's `attn` and `ffn` modules, which a pre-norm block adds to the stream as
# they are. A hook on each block records the stream after it. Nothing in the model changes.


def _check_readable(model: LanguageModel) -> None:
    if model.config.norm_position != "pre":
        raise ValueError(
            "the residual stream is a sum of parts only with norm_position='pre'; "
            f"got {model.config.norm_position!r}"
        )
    if model.training and model.config.dropout > 0:
        raise ValueError("call model.eval() first: dropout makes the decomposition random")


# Hooks are always removed, even when the forward pass raises, so a failed call leaves the model
# as it was.
@contextlib.contextmanager
def _hooks(pairs: list[tuple[nn.Module, Callable]]) -> Iterator[None]:
    handles = [module.register_forward_hook(fn) for module, fn in pairs]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


# Each hook stores its module's output under a name; the names' insertion order is the order in
# which the forward pass adds the parts to the stream.
def residual_components(model: LanguageModel, idx: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    """Logits `(B, T, V)` and the stream's parts `{name: (B, T, d_model)}`, in the order added.

    Names: `embed`, `pos` (learned positions only), `attn.{l}`, `ffn.{l}`; they sum to the final stream.
    """
    _check_readable(model)
    parts: dict[str, Tensor] = {}

    def keep(name: str) -> Callable:
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            parts[name] = output.detach()

        return hook

    # The learned position embedding has shape (T, d_model); broadcast it over the batch so
    # every part has the same shape.
    pairs: list[tuple[nn.Module, Callable]] = [(model.tok_emb, keep("embed"))]
    if model.pos_emb is not None:
        pairs.append((model.pos_emb, keep("pos")))
    for layer, block in enumerate(model.blocks):
        pairs += [(block.attn, keep(f"attn.{layer}")), (block.ffn, keep(f"ffn.{layer}"))]
    with _hooks(pairs), torch.no_grad():
        logits = model(idx)
    if "pos" in parts:
        parts["pos"] = parts["pos"].expand_as(parts["embed"])  # (B, T, d_model)
    return logits, parts


# The stream after each block is a running sum of the parts, so no second hook set is needed.
def residual_stream(model: LanguageModel, idx: Tensor) -> list[Tensor]:
    """The stream after the embedding and after each block: `L + 1` tensors `(B, T, d_model)`."""
    _, parts = residual_components(model, idx)
    x = parts["embed"] + parts.get("pos", 0)
    stream = [x]
    for layer in range(len(model.blocks)):
        x = x + parts[f"attn.{layer}"] + parts[f"ffn.{layer}"]
        stream.append(x)
    return stream


# ## The logit lens
#
# Decode each intermediate stream with the *final* norm and unembedding. At the last layer this is
# exactly the model's output; earlier layers show what the model "would say" if it stopped there.


def logit_lens(model: LanguageModel, idx: Tensor) -> Tensor:
    """Logits read off the stream after each layer, `(L + 1, B, T, V)`; the last are the model's."""
    with torch.no_grad():
        return torch.stack([model.lm_head(model.norm(x)) for x in residual_stream(model, idx)])


# ## Direct logit attribution
#
# Freeze the final norm at the full stream: RMSNorm's scale $s$, or LayerNorm's mean and scale.
# Each part then passes through the same linear map, and its image is its share of the logits.


def direct_logit_attribution(model: LanguageModel, idx: Tensor) -> tuple[list[str], Tensor, Tensor]:
    """Names, per-part logit contributions `(N, B, T, V)` and logits `(B, T, V)`; the parts sum to
    the logits (LayerNorm's bias is one more part, `norm.bias`)."""
    logits, parts = residual_components(model, idx)
    names = list(parts)
    stacked = torch.stack([parts[n] for n in names])  # (N, B, T, d_model)
    x = stacked.sum(0)  # (B, T, d_model) the final stream
    # RMSNorm is linear once its scale $1/\mathrm{rms}(x)$ is fixed from the full stream.
    norm = model.norm
    if isinstance(norm, nn.RMSNorm):
        eps = norm.eps if norm.eps is not None else torch.finfo(x.dtype).eps
        scale = torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)  # (B, T, 1)
        normed = stacked * scale * norm.weight  # (N, B, T, d_model)
    else:
        # LayerNorm: centring is linear too (each part minus its own mean); the bias belongs to
        # no part, so it becomes one.
        scale = torch.rsqrt(x.var(-1, unbiased=False, keepdim=True) + norm.eps)  # (B, T, 1)
        centred = stacked - stacked.mean(-1, keepdim=True)  # (N, B, T, d_model)
        normed = centred * scale * norm.weight  # (N, B, T, d_model)
        if norm.bias is not None:
            names.append("norm.bias")
            normed = torch.cat([normed, norm.bias.expand_as(x)[None]])  # (N + 1, B, T, d_model)
    with torch.no_grad():
        contributions = model.lm_head(normed)  # (N, B, T, V)
    return names, contributions, logits


# ## Activation patching
#
# Run the corrupted input with a hook on block `layer` that overwrites its output (the stream after
# it) at `positions` with the clean run's value. The hook returns the new output, which replaces the
# block's result for everything downstream.


def patch_residual(
    model: LanguageModel,
    clean_idx: Tensor,
    corrupt_idx: Tensor,
    layer: int,
    positions: list[int] | None = None,
) -> Tensor:
    """Logits `(B, T, V)` of `corrupt_idx` with the clean stream after block `layer` patched in
    at `positions` (None: all positions)."""
    if clean_idx.shape != corrupt_idx.shape:
        raise ValueError(
            f"clean and corrupt inputs must have one shape, got {tuple(clean_idx.shape)} "
            f"and {tuple(corrupt_idx.shape)}"
        )
    if not 0 <= layer < len(model.blocks):
        raise ValueError(f"layer must be in [0, {len(model.blocks)}), got {layer}")
    # The clean stream after block `layer` is index `layer + 1` (index 0 is the embedding).
    _check_readable(model)
    clean = residual_stream(model, clean_idx)[layer + 1]  # (B, T, d_model)
    where = slice(None) if positions is None else positions

    def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> Tensor:
        patched = output.clone()
        patched[:, where] = clean[:, where]
        return patched

    with _hooks([(model.blocks[layer], hook)]), torch.no_grad():
        return model(corrupt_idx)


def logit_difference(logits: Tensor, good: int, bad: int) -> Tensor:
    """`logits[:, -1, good] - logits[:, -1, bad]`, `(B,)`: the usual patching metric."""
    return logits[:, -1, good] - logits[:, -1, bad]


# ## A linear probe
#
# L2-regularised logistic regression, $\min_{w,b} \frac1n\sum_i \log(1 + e^{-y_i(w^\top h_i + b)})
# + \frac{\lambda}{2}\lVert w\rVert^2$ with $y_i \in \{-1, +1\}$, fitted by L-BFGS in float64.
# The objective is strictly convex, so the solution is unique and any good solver finds it.


def fit_linear_probe(
    features: Tensor, labels: Tensor, *, l2: float = 1e-2, max_iter: int = 200
) -> tuple[Tensor, Tensor]:
    """Weights `(d,)` and bias `()` of a logistic probe on `features` `(n, d)`, `labels` `(n,)` in {0, 1}."""
    if features.dim() != 2 or labels.shape != features.shape[:1]:
        raise ValueError(
            f"features must be (n, d) and labels (n,), got {tuple(features.shape)}, {tuple(labels.shape)}"
        )
    # Start from zero; L-BFGS with a strong Wolfe line search and tight tolerances runs until
    # the unique optimum is reached (or `max_iter` is spent).
    h = features.detach().double()
    y = labels.double() * 2 - 1  # (n,) in {-1, +1}
    w = torch.zeros(h.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [w, b],
        max_iter=max_iter,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )

    # $\log(1 + e^{-z})$ is `softplus(-z)`, which does not overflow for large margins.
    def closure() -> Tensor:
        opt.zero_grad()
        loss = nn.functional.softplus(-y * (h @ w + b)).mean() + 0.5 * l2 * w.dot(w)
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def probe_accuracy(features: Tensor, labels: Tensor, w: Tensor, b: Tensor) -> float:
    """Fraction of `labels` the probe predicts."""
    pred = (features.double() @ w + b) > 0
    return float((pred == labels.bool()).double().mean())
