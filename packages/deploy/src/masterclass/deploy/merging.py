r"""# Model merging: linear, SLERP, task arithmetic, TIES and DARE

Two models fine-tuned from one base on different tasks can often be *added* into one model that
does both, with no training at all: the weights of fine-tunes of one pre-trained model stay in one
basin of the loss, where straight (or great-circle) paths between them keep the loss low.
Merging is arithmetic on state dicts, tensor by tensor; this chapter builds the five methods that
`mergekit` made standard and a `merge_folders` that merges Hugging Face folders.

**Linear** (model soups, Wortsman et al., 2022): $\theta = \sum_i w_i \theta_i / \sum_i w_i$.

**SLERP** interpolates two tensors along the great circle between their directions instead of the
chord. Flatten both, let $\hat a = a / \lVert a\rVert$, $\hat b = b / \lVert b\rVert$ and
$\cos\Omega = \hat a \cdot \hat b$; then
$$ \operatorname{slerp}(t; a, b) = \frac{\sin((1-t)\Omega)}{\sin\Omega}\, a
   + \frac{\sin(t\Omega)}{\sin\Omega}\, b .$$
*Why it keeps the norm.* Take unit vectors and write $b = \cos\Omega\, \hat a + \sin\Omega\, u$
with $u \perp \hat a$ a unit vector (Gram–Schmidt). The coefficient of $\hat a$ is
$[\sin((1-t)\Omega) + \sin(t\Omega)\cos\Omega] / \sin\Omega$; expanding
$\sin((1-t)\Omega) = \sin\Omega\cos(t\Omega) - \cos\Omega\sin(t\Omega)$ it is $\cos(t\Omega)$, and
the coefficient of $u$ is $\sin(t\Omega)$. So the result is $\cos(t\Omega)\hat a + \sin(t\Omega) u$:
a unit vector at angle $t\Omega$ from $\hat a$, moving at constant angular speed. The chord
$(1-t)\hat a + t\hat b$ instead has squared norm $1 - 2t(1-t)(1 - \cos\Omega)$, which sags in
the middle: averaging two orthogonal weight vectors shrinks them by $1/\sqrt 2$. (As in
`mergekit`, the coefficients are applied to the raw tensors, so the norm is kept exactly when the
two norms are equal.) *Endpoints*: at $t = 0$ the coefficients are $\sin\Omega / \sin\Omega = 1$
and $\sin 0 = 0$, both exact in floating point, so the result is $a$ bit for bit (and $b$ at
$t = 1$). *Near-parallel fallback*: when $|\cos\Omega| > 0.9995$ ($\Omega < 1.8°$) both
$\sin$'s in the coefficients are tiny and $\Omega = \arccos(\cos\Omega)$ is ill-conditioned (an
error $\delta$ in the cosine moves $\Omega$ by about $\delta / \Omega$); but
$\sin((1-t)\Omega)/\sin\Omega = (1-t)\,[1 + \tfrac{\Omega^2}{6}(1 - (1-t)^2) + O(\Omega^4)]$, so
there the great circle and the chord differ by less than $\Omega^2/6 \approx 10^{-4}$ relative,
and plain linear interpolation is used. The antipodal case $\cos\Omega \approx -1$ falls back too:
its great circle is not unique. Fine-tunes of one base are nearly parallel *as whole tensors*,
so SLERP earns its keep between models that have drifted far apart.

**Task arithmetic** (Ilharco et al., 2023): a fine-tune's *task vector* is $\tau_i = \theta_i -
\theta_0$. Adding task vectors adds skills: $\theta = \theta_0 + \lambda \sum_i w_i \tau_i$.

**TIES** (Yadav et al., 2023) removes the two kinds of interference of that sum. (1) *Trim*: most
entries of a task vector are small noise; keep each $\tau_i$'s top $k = \lfloor \rho\, n\rfloor$
entries by magnitude (density $\rho$), zero the rest. (2) *Elect sign*: where the trimmed vectors
disagree in sign, adding them cancels both; per entry, elect the sign of the total mass
$$ \gamma = \operatorname{sign}\Big(\sum_i w_i \hat\tau_i\Big) \quad (\gamma = +1 \text{ where the sum is } 0),$$
the direction in which the models together pushed hardest: a large move by one model outvotes
small opposite moves by two (which a majority count would not). (3) *Disjoint mean*: average only
the entries that agree with $\gamma$,
$$ \tau = \frac{\sum_i w_i \hat\tau_i\, [\operatorname{sign}\hat\tau_i = \gamma]}
               {\sum_i w_i\, [\operatorname{sign}\hat\tau_i = \gamma]} ,$$
so a trimmed (zero) entry neither votes nor dilutes the mean; $\theta = \theta_0 + \lambda\tau$.

![Left: the norm along the linear path sags (to 0.71 at 90 degrees) while SLERP's stays at 1. Right: the share of sign conflicts among entries two task vectors both keep falls as TIES trims harder](figures/merging.png)

The figure's right panel is why trimming comes first: two task vectors that share a skill but
carry independent noise disagree in sign on a large share of their entries; trimmed hard,
mostly the shared, large moves survive, and the conflicts fall with the density.

**DARE** (Yu et al., 2024): drop each entry of $\tau_i$ with probability $1 - p$ and rescale the
survivors, $\tilde\tau = m \odot \tau / p$ with $m_j \sim \text{Bernoulli}(p)$, so that
$\mathbb E[\tilde\tau] = \tau$: the merge is unbiased, and at $p = 0.1$ ninety percent of every
task vector can go with little loss. `mergekit` rescales instead by the $L_1$ ratio
$\lVert\tau\rVert_1 / \lVert m \odot \tau\rVert_1$: since
$\mathbb E \lVert m\odot\tau\rVert_1 = p\lVert\tau\rVert_1$ this factor is about $1/p$, and it
restores the total mass exactly instead of on average. Both are here (`rescale="l1"`, the
default, or `"density"`). The dropped vectors are then combined linearly (DARE-linear) or by
TIES's sign election (DARE-TIES).

References: Wortsman et al., 2022, *Model soups* ([arXiv:2203.05482](https://arxiv.org/abs/2203.05482));
Shoemake, 1985, *Animating rotation with quaternion curves* (SLERP); Ilharco et al., 2023,
*Editing Models with Task Arithmetic* ([arXiv:2212.04089](https://arxiv.org/abs/2212.04089));
Yadav et al., 2023, *TIES-Merging* ([arXiv:2306.01708](https://arxiv.org/abs/2306.01708));
Yu et al., 2024, *Language Models are Super Mario* (DARE,
[arXiv:2311.03099](https://arxiv.org/abs/2311.03099)); Goddard et al., 2024, *Arcee's MergeKit*
([arXiv:2403.13257](https://arxiv.org/abs/2403.13257)).

Left out: per-layer parameter schedules (a `t` that varies with depth), merging models with
different vocabularies or architectures (frankenmerges, tokenizer surgery), Fisher- and
RegMean-weighted merges, and evolutionary search over merge parameters.

>>> a, b = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
>>> slerp(0.5, a, b), linear_merge([a, b], [0.5, 0.5])
(tensor([0.7071, 0.7071]), tensor([0.5000, 0.5000]))

Two task vectors from a zero base: plain addition lets the opposite moves of the first and third
entries cancel; TIES keeps the dominant move, averages the shared one, and trims the noise.

>>> base = torch.zeros(4)
>>> tuned = [torch.tensor([3.0, 1.0, -1.0, 0.1]), torch.tensor([-1.0, 1.0, 2.0, 0.2])]
>>> task_arithmetic(base, tuned, [1.0, 1.0])
tensor([2.0000, 2.0000, 1.0000, 0.3000])
>>> ties_merge(base, tuned, [1.0, 1.0], density=0.75)
tensor([3., 1., 2., 0.])

## Exercises

1. Write `slerp_coefficients(t, cos_omega)` returning the pair of SLERP coefficients
   $(\sin((1-t)\Omega)/\sin\Omega,\ \sin(t\Omega)/\sin\Omega)$ of two unit vectors, and
   $(1-t, t)$ when $|\cos\Omega| > 0.9995$. Check it: `uv run pytest --exercise deploy.merging`
2. Write `elect_sign(deltas)` for stacked task vectors `(n_models, ...)`: the bool mask of the
   entries whose sign equals the sign of the column sum ($+$ where the sum is 0).
   Check it: `uv run pytest --exercise deploy.merging`
3. Write `trim(delta, density)`: keep the `max(1, int(density * numel))` entries of largest
   magnitude, zero the others. Check it: `uv run pytest --exercise deploy.merging`
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from masterclass.infra.atomic import atomic_directory

# The public names; `METHODS` lists the methods `merge_tensors` and `merge_folders` accept.
__all__ = [
    "METHODS",
    "dare_sparsify",
    "linear_merge",
    "merge_folders",
    "merge_tensors",
    "slerp",
    "task_arithmetic",
    "ties_merge",
    "trim_magnitude",
]

METHODS = ("linear", "slerp", "task_arithmetic", "ties", "dare_linear", "dare_ties")


# Every merge checks its inputs first: one weight per model, and floating tensors of one shape
# (merging an integer buffer, such as a position index, would be meaningless).
def _check_weights(weights: Sequence[float], n: int) -> Tensor:
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.numel() != n:
        raise ValueError(f"weights must have one entry per model ({n}), got {list(w.tolist())}")
    return w


def _check_same(tensors: Sequence[Tensor]) -> None:
    if not tensors:
        raise ValueError("need at least one tensor to merge, got none")
    shape = tensors[0].shape
    for t in tensors:
        if t.shape != shape:
            raise ValueError(
                f"tensors must have one shape, got {tuple(shape)} and {tuple(t.shape)}"
            )
        if not t.is_floating_point():
            raise TypeError(f"merging needs floating-point tensors, got {t.dtype}")


# ## Linear and SLERP
#
# Everything is computed in float64 and cast back to the inputs' dtype at the end: the merged
# tensor is then the exact merge rounded once.
def linear_merge(
    tensors: Sequence[Tensor], weights: Sequence[float], *, normalize: bool = True
) -> Tensor:
    r"""$\sum_i w_i x_i$ (divided by $\sum_i w_i$ when `normalize`), for tensors of one shape."""
    _check_same(tensors)
    w = _check_weights(weights, len(tensors))
    out = sum(wi * x.double() for wi, x in zip(w, tensors))
    if normalize:
        if w.sum().abs() < 1e-12:
            raise ValueError(f"weights sum to 0 ({w.tolist()}); pass normalize=False")
        out = out / w.sum()
    return out.to(tensors[0].dtype)


# The cosine is taken between the *normalized* flattened tensors (an all-zero tensor keeps norm 1
# so that nothing divides by zero), and clamped to $[-1, 1]$ against rounding before `acos`.
def slerp(
    t: float, v0: Tensor, v1: Tensor, *, dot_threshold: float = 0.9995, eps: float = 1e-8
) -> Tensor:
    """Spherical interpolation from `v0` (t = 0) to `v1` (t = 1), over the whole flattened tensor;
    linear interpolation when the two are within `dot_threshold` of (anti)parallel."""
    _check_same([v0, v1])
    if not 0 <= t <= 1:
        raise ValueError(f"t must be in [0, 1] (0 gives v0, 1 gives v1), got {t}")
    # The angle between the two directions, from the cosine of the normalized vectors.
    a, b = v0.double().flatten(), v1.double().flatten()  # (n,)
    na, nb = a.norm(), b.norm()
    na = torch.where(na > eps, na, torch.ones_like(na))
    nb = torch.where(nb > eps, nb, torch.ones_like(nb))
    dot = float(((a / na) * (b / nb)).sum().clamp(-1, 1))
    # Near-parallel vectors make $\sin\Omega$ tiny and the ratio unstable: interpolate linearly.
    # The coefficients apply to the raw vectors, so their norms interpolate too.
    if abs(dot) > dot_threshold:
        c0, c1 = 1 - t, t
    else:
        omega = torch.tensor(dot, dtype=torch.float64).acos()
        c0 = float(torch.sin((1 - t) * omega) / torch.sin(omega))
        c1 = float(torch.sin(t * omega) / torch.sin(omega))
    return (c0 * a + c1 * b).reshape(v0.shape).to(v0.dtype)


# ## Task vectors, trimmed and dropped
#
# TIES keeps the top $k$ magnitudes of each task vector; ranks are taken on float32 magnitudes,
# as `mergekit` does, so that the same entries survive.
def trim_magnitude(delta: Tensor, density: float) -> Tensor:
    """Keep the `max(1, int(density * numel))` entries of `delta` of largest magnitude."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1] (the fraction kept), got {density}")
    if density == 1:
        return delta.clone()
    k = max(1, int(density * delta.numel()))
    keep = delta.abs().flatten().float().argsort(descending=True, stable=True)[:k]  # (k,)
    mask = torch.zeros(delta.numel(), dtype=delta.dtype)
    mask[keep] = 1
    return delta * mask.view_as(delta)


# DARE's mask is a Bernoulli($p$) draw per entry. It is drawn with float32 probabilities from a
# `torch.Generator`: the same seed gives the same mask as `torch.manual_seed(seed)` followed by
# `torch.bernoulli` on a float32 tensor, which is how `mergekit` draws it (a float64 probability
# tensor would consume the random stream differently).
def dare_sparsify(
    delta: Tensor, density: float, *, generator: torch.Generator, rescale: str | None = "l1"
) -> Tensor:
    r"""Drop each entry of `delta` with probability `1 - density` and rescale the survivors:
    `"l1"` to the original $L_1$ norm (`mergekit`), `"density"` by $1/p$ (the paper), or None."""
    if not 0 < density <= 1:
        raise ValueError(f"density must be in (0, 1] (the keep probability), got {density}")
    if rescale not in ("l1", "density", None):
        raise ValueError(f"rescale must be 'l1', 'density' or None, got {rescale!r}")
    if density == 1:
        return delta.clone()
    # Drop, then rescale: by $1/p$ the expected value is kept; by the L1 ratio the total
    # magnitude is kept exactly (skipped when either sum is too small to divide by).
    mask = torch.bernoulli(torch.full(delta.shape, density), generator=generator)
    x = delta.float()
    kept = x * mask
    if rescale == "density":
        kept = kept / density
    elif rescale == "l1":
        before, after = x.abs().sum(), kept.abs().sum()
        if before >= 1e-7 and after >= 1e-7:
            kept = kept * (before / after)
    return kept.to(delta.dtype)


# ## Combining task vectors
#
# The sign election and the disjoint mean, on the stacked, weighted task vectors
# $w_i\hat\tau_i$ (positive weights leave the signs alone). An entry no model kept has divisor 0;
# it is set to 1 so that the mean there is 0.
def _combine(
    base: Tensor, deltas: list[Tensor], w: Tensor, *, consensus: bool, normalize: bool, lam: float
) -> Tensor:
    d = torch.stack([wi * x.double() for wi, x in zip(w, deltas)])  # (n, ...)
    wb = w.reshape(-1, *([1] * base.dim()))  # (n, 1, ...)
    # TIES: per entry, the sign of the summed vectors wins; only models that agree with it are
    # summed, and the divisor is the sum of their weights (the disjoint mean).
    if consensus:
        gamma = torch.where(d.sum(0) >= 0, 1.0, -1.0).double()  # (...) the elected sign
        agree = (d.sign() == gamma).double()  # (n, ...)
        mixed, divisor = (d * agree).sum(0), (wb * agree).sum(0)
        divisor = torch.where(divisor == 0, torch.ones_like(divisor), divisor)
    else:
        # Without consensus: the plain weighted sum, divided (if asked) by the total weight.
        mixed, divisor = d.sum(0), w.sum().expand(base.shape)
        divisor = torch.where(divisor.abs() < 1e-8, torch.ones_like(divisor), divisor)
    if normalize:
        mixed = mixed / divisor
    return (base.double() + lam * mixed).to(base.dtype)


# The three public methods are `_combine` with different task vectors and switches: raw and
# summed (task arithmetic), trimmed with sign election (TIES), or randomly dropped (DARE).
def task_arithmetic(
    base: Tensor, models: Sequence[Tensor], weights: Sequence[float], *, lam: float = 1.0
) -> Tensor:
    r"""$\theta_0 + \lambda \sum_i w_i (\theta_i - \theta_0)$."""
    _check_same([base, *models])
    w = _check_weights(weights, len(models))
    deltas = [m.double() - base.double() for m in models]
    return _combine(base, deltas, w, consensus=False, normalize=False, lam=lam)


# TIES (Yadav et al., 2023): trimming removes each vector's small, noisy changes; the sign
# election then stops opposite changes from cancelling.
def ties_merge(
    base: Tensor,
    models: Sequence[Tensor],
    weights: Sequence[float],
    *,
    density: float,
    lam: float = 1.0,
    normalize: bool = True,
) -> Tensor:
    """TIES: trim each task vector to `density`, elect signs, take the disjoint mean."""
    _check_same([base, *models])
    w = _check_weights(weights, len(models))
    deltas = [trim_magnitude(m.double() - base.double(), density) for m in models]
    return _combine(base, deltas, w, consensus=True, normalize=normalize, lam=lam)


# DARE drops entries at random instead of trimming; `ties=True` adds TIES' sign election after.
def _dare(
    base: Tensor,
    models: Sequence[Tensor],
    weights: Sequence[float],
    *,
    density: float,
    generator: torch.Generator,
    ties: bool,
    lam: float = 1.0,
    rescale: str | None = "l1",
    normalize: bool = False,
) -> Tensor:
    _check_same([base, *models])
    w = _check_weights(weights, len(models))
    # The task vectors are formed in the tensors' own dtype, as `mergekit` forms them, so that
    # the float32 L1 rescale sees the same numbers.
    deltas = [
        dare_sparsify(m - base, density, generator=generator, rescale=rescale).double()
        for m in models
    ]
    return _combine(base, deltas, w, consensus=ties, normalize=normalize, lam=lam)


# ## One entry point for every method
#
# The parameters and their defaults follow `mergekit`'s: `t` for SLERP (from the base toward
# the other model), `weights` per model, `density`, `lam` ($\lambda$), `normalize`, `rescale`,
# and a `generator` for DARE.
def merge_tensors(method: str, base: Tensor | None, models: Sequence[Tensor], **params) -> Tensor:
    """Merge one tensor with `method` in `METHODS` (`base` unused by "linear", where it may be None)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    models = list(models)
    weights = params.pop("weights", [1.0] * len(models))
    if method == "linear":
        return linear_merge(models, weights, normalize=params.pop("normalize", True), **params)
    if base is None:
        raise ValueError(f"{method} needs a base tensor (the model the others were tuned from)")
    # Each method's required parameters are checked here, so a missing one names the method.
    if method == "slerp":
        if len(models) != 1:
            raise ValueError(f"slerp merges the base with exactly one model, got {len(models)}")
        if "t" not in params:
            raise ValueError("slerp needs t in [0, 1] (0 gives the base, 1 the other model)")
        return slerp(params.pop("t"), base, models[0], **params)
    if method == "task_arithmetic":
        return task_arithmetic(base, models, weights, **params)
    if "density" not in params:
        raise ValueError(f"{method} needs density in (0, 1], the fraction of each task vector kept")
    if method == "ties":
        return ties_merge(base, models, weights, **params)
    if "generator" not in params:
        raise ValueError(f"{method} needs generator=torch.Generator().manual_seed(seed)")
    return _dare(base, models, weights, ties=method == "dare_ties", **params)


# ## Merging Hugging Face folders
#
# A folder is a `config.json` and one or more `*.safetensors` files. Every model must hold the
# same tensor names and shapes. Tensors are merged in sorted name order (so DARE's masks follow
# from the seed alone); non-float tensors are copied from the base. The output folder gets the
# base's config and tokenizer files and one `model.safetensors`, and appears atomically.
def _read_folder(folder: str | os.PathLike) -> dict[str, Tensor]:
    path = Path(folder)
    files = sorted(path.glob("*.safetensors"))
    if not (path / "config.json").is_file() or not files:
        raise ValueError(f"{str(path)!r} is not a model folder: need config.json and *.safetensors")
    state: dict[str, Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


# Everything is checked before anything is merged: the method, the base, and that every model
# holds exactly the base's tensor names.
def merge_folders(
    base: str | os.PathLike | None,
    models: Sequence[str | os.PathLike],
    method: str,
    *,
    out: str | os.PathLike,
    seed: int = 0,
    **params,
) -> Path:
    """Merge the HF folders `models` (with `base`) into the folder `out`; returns its path.

    `params` are `merge_tensors`'s (`t`, `weights`, `density`, `lam`, ...); DARE draws its masks
    from `torch.Generator().manual_seed(seed)`."""
    # A linear merge needs no base: the first model's tensors then define the names and shapes.
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if base is None and method != "linear":
        raise ValueError(f"{method} needs the base folder the models were fine-tuned from")
    states = [_read_folder(m) for m in models]
    if not states:
        raise ValueError("models must name at least one folder to merge")
    base_state = _read_folder(base) if base is not None else states[0]
    for folder, s in zip(models, states):
        if s.keys() != base_state.keys():
            diff = sorted(set(s) ^ set(base_state))[:5]
            raise ValueError(f"{str(folder)!r} holds other tensors than the base: {diff}")
    # One generator for the whole merge, consumed in sorted name order.
    generator = torch.Generator().manual_seed(seed)
    merged = {}
    for name in sorted(base_state):
        b = base_state[name]
        if not b.is_floating_point():
            merged[name] = b.clone()
            continue
        extra = {"generator": generator} if method.startswith("dare") else {}
        merged[name] = merge_tensors(
            method, b if base is not None else None, [s[name] for s in states], **params, **extra
        ).contiguous()
    # The output folder: merged weights, and the config and tokenizer of the base (or, for a
    # linear merge without one, of the first model).
    src = Path(base if base is not None else models[0])
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(target) as tmp:
        save_file(merged, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        config = json.loads((src / "config.json").read_text())
        (tmp / "config.json").write_text(json.dumps(config, indent=2))
        for f in src.iterdir():
            if f.name.startswith("tokenizer") or f.name == "generation_config.json":
                shutil.copy2(f, tmp / f.name)
    return target
