r"""# Converting checkpoints: one checked copy between naming schemes

Our BERT, GPT-2, T5 and LLaMA compute the same functions as Hugging Face's models of the same
names, but they store the weights under other names and sometimes in another layout. Converting a
checkpoint is therefore a table, not a program: each row says which of our tensors are made from
which of theirs. This chapter is the one place that reads such a table, and the only code in the
course that copies weights between naming schemes (`bert.py`, `t5.py`, `gpt.py` and the LLaMA
interoperability of Module 7 all use it).

A row, a `Link`, relates some of our tensors to some of theirs. Two transformations cover every
conversion in the course, and they are declared on the row, not written as loops:

- **transpose**: Hugging Face's GPT-2 keeps its linear layers as `Conv1D` modules whose weight is
  `(in, out)`, the transpose of `nn.Linear`'s `(out, in)`;
- **split and fuse**: GPT-2 keeps $W^Q, W^K, W^V$ in one fused matrix `c_attn` where we keep three;
  our LLaMA-style model keeps one fused `qkv` matrix where Hugging Face's `LlamaForCausalLM` keeps
  three. A row with several names on one side cuts (or concatenates) along the output dimension.

## Why a split is only a renaming

A linear layer with a fused weight computes every output row independently. Stacking three
weight matrices by rows,

$$
W = \begin{bmatrix} W^Q \\ W^K \\ W^V \end{bmatrix} \in \mathbb{R}^{(d_q + d_k + d_v) \times C},
\qquad
W x = \begin{bmatrix} W^Q x \\ W^K x \\ W^V x \end{bmatrix},
$$

so the first $d_q$ outputs of the fused layer *are* the query projection, the next $d_k$ the keys,
and so on; a bias $b$ splits the same way. Cutting $W$ into row blocks of sizes
$(d_q, d_k, d_v)$ and concatenating them back are inverse operations. A `Conv1D` computes
$y = x W' + b$ with $W' \in \mathbb{R}^{C_{in} \times C_{out}}$, while `nn.Linear` computes
$y = x W^\top + b$; the two agree for every $x$ exactly when $W = W'^\top$. So each row of the table
is a bijection $\phi$ that only moves entries: rows of $W'^\top$ are columns of $W'$, a split moves
blocks. We put every row in *our* layout first and cut there:

$$
\operatorname{cat}_0(\text{ours}_1, \dots, \text{ours}_m)
= \operatorname{cat}_0\big(t(\text{theirs}_1), \dots, t(\text{theirs}_n)\big),
\qquad t(W) = W^\top \text{ if the row transposes, else } W,
$$

with $m = 1$ or $n = 1$. Reading the equation from right to left imports a checkpoint
(`theirs_to_ours`), from left to right exports one (`ours_to_theirs`); since transposition is its
own inverse and splitting undoes concatenation, one table serves both directions and
`ours_to_theirs(theirs_to_ours(sd))` gives `sd` back.

Each entry of GPT-2's `c_attn` below holds the index of its output column, so its colour shows
where the conversion puts it; the last panel is BLOOM's fused layout, which is not a stack of
blocks at all (exercise 2):

![GPT-2's c_attn transposed and split into q, k, v; BLOOM's interleaved rows](figures/weight_layouts.png)

Gradients follow for free. If $\theta_{\text{theirs}} = \phi(\theta_{\text{ours}})$ with $\phi$ a
permutation of entries, the chain rule gives
$\nabla_{\text{ours}} L = \phi^{-1}(\nabla_{\text{theirs}} L)$, because the Jacobian of a
permutation is a permutation matrix $P$ and $P^\top = P^{-1}$. The same table converts gradients,
and anything elementwise that follows them (Adam's moments), with the same code; and because the
operations are `cat`, `split` and `.T`, autograd differentiates straight through a conversion
(Module 7's model tests lean on this).

## A checked copy

The classic bug of weight conversion is silent: a parameter nobody copied keeps its random
initialization, or a tensor of the checkpoint nobody read (a bias, a norm) was needed, and the
model computes something slightly different. So `load_weights` refuses to copy unless

1. every parameter of ours has exactly one source,
2. every source the table names exists in the checkpoint, and every tensor of the checkpoint is
   read, except the **tied** copies declared as such (GPT-2's `lm_head.weight` is the token
   embedding again), which are checked *equal* to their twin instead, since a checkpoint whose
   head was untied cannot be loaded into a tied model,
3. every shape agrees,

and each failure names the tensors, so the error says what the table is missing.

>>> theirs = {"c_attn.weight": torch.arange(12.0).view(2, 6), "c_attn.bias": torch.zeros(6)}
>>> links = [
...     Link(("q.weight", "k.weight", "v.weight"), "c_attn.weight", transpose=True),
...     Link(("q.bias", "k.bias", "v.bias"), "c_attn.bias"),
... ]
>>> ours = theirs_to_ours(theirs, links)
>>> ours["k.weight"].tolist()  # columns 2 and 3 of the (in, out) Conv1D weight
[[2.0, 8.0], [3.0, 9.0]]
>>> torch.equal(ours_to_theirs(ours, links)["c_attn.weight"], theirs["c_attn.weight"])
True

References: the conversion scripts in Hugging Face `transformers`
(`convert_llama_weights_to_hf.py`, which fuses nothing but permutes RoPE rows), and
[Radford et al. (2019)](https://openai.com/research/better-language-models) for GPT-2, whose
original TensorFlow code is why its weights are `(in, out)`.

Left out: per-tensor transformations that are not a transpose or a split (the RoPE row
permutation of LLaMA, `llm/hf_interop.py`, is applied around the copy; BLOOM's head-interleaved
fused `query_key_value` is a permutation, exercise 2), dtype conversion, sharded checkpoints and
lazy loading from `safetensors` files.

## Exercises

1. GPT-2's fused `c_attn`: write `split_c_attn(weight, bias)` that takes the `Conv1D` weight
   `(C, 3C)` and bias `(3C,)` and returns `((w_q, b_q), (w_k, b_k), (w_v, b_v))` in `nn.Linear`
   layout, weights `(C, C)`. Check it: `uv run pytest --exercise transformer.hf_weights`.
2. Not every fused matrix is a stack of blocks: BLOOM's `query_key_value` weight `(3 H D, C)` has
   its rows ordered (head, q/k/v, d), that is, viewed as `(H, 3, D, C)`. Write
   `bloom_qkv_to_stacked(weight, n_heads)`, the same weight with rows ordered (q/k/v, head, d),
   the `[W^Q; W^K; W^V]` stack our models use. Check it:
   `uv run pytest --exercise transformer.hf_weights`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = ["Link", "load_weights", "ours_to_theirs", "theirs_to_ours"]


# ## One row of the table
#
# A row holds names on both sides; a single name is the common case and is accepted as a string.
# At most one side may hold several names: a many-to-many row would need to say which pieces go
# where, and no real conversion needs one. `sizes` says how to cut the concatenated tensor when
# several names share it: the lengths along dimension 0 of our layout, in order (`None` cuts into
# equal pieces, GPT-2's case; grouped-query attention's $H D, H_{kv} D, H_{kv} D$ is not).
@dataclass(frozen=True)
class Link:
    """`cat(ours) == cat(t(theirs))` along dim 0, where `t` transposes when `transpose` is set.

    `ours`, `theirs`: one name or a tuple of names (at most one side with several). `sizes`: the
    lengths along dim 0 of the pieces on the side with several names (None: equal pieces).
    """

    ours: str | tuple[str, ...]
    theirs: str | tuple[str, ...]
    transpose: bool = False
    sizes: tuple[int, ...] | None = None

    # Single names become 1-tuples, so later code sees one shape; a many-to-many row, or sizes of
    # the wrong count, is refused when the row is built.
    def __post_init__(self) -> None:
        """Normalize single names to 1-tuples and reject rows no conversion can follow."""
        for side in ("ours", "theirs"):
            names = getattr(self, side)
            names = (names,) if isinstance(names, str) else tuple(names)
            if not names or not all(isinstance(n, str) for n in names):
                raise TypeError(f"Link.{side} must be a name or a tuple of names, got {names!r}")
            object.__setattr__(self, side, names)
        if len(self.ours) > 1 and len(self.theirs) > 1:
            raise ValueError(
                f"Link {self.ours} <- {self.theirs}: only one side may have several names; "
                "write one Link per fused tensor"
            )
        many = max(len(self.ours), len(self.theirs))
        if self.sizes is not None and len(self.sizes) != many:
            raise ValueError(
                f"Link {self.ours} <- {self.theirs}: sizes {self.sizes} must give one length per "
                f"piece ({many} pieces)"
            )


# ## Moving tensors along one row
#
# Both directions run the same three steps: bring the sources into our layout (transpose theirs
# when importing), concatenate them into the one tensor both sides describe, and cut it into the
# destinations, leaving their layout (transpose back when exporting). Everything is a view or a
# `cat`, so a conversion is differentiable.
def _cut(wire: Tensor, n: int, sizes: tuple[int, ...] | None, where: str) -> list[Tensor]:
    if n == 1:
        return [wire]
    rows = wire.shape[0]
    if sizes is None:
        if rows % n != 0:
            raise ValueError(
                f"{where}: {rows} rows do not split into {n} equal pieces; give Link.sizes"
            )
        sizes = (rows // n,) * n
    if sum(sizes) != rows:
        raise ValueError(f"{where}: sizes {sizes} sum to {sum(sizes)}, the tensor has {rows} rows")
    return list(wire.split(list(sizes), dim=0))


# Transposing is for matrices only: a vector has the same layout on both sides.
def _t(x: Tensor, name: str) -> Tensor:
    if x.dim() != 2:
        raise ValueError(f"{name} has shape {tuple(x.shape)}: only matrices can be transposed")
    return x.T


def _move(link: Link, sd: Mapping[str, Tensor], to_ours: bool) -> dict[str, Tensor]:
    sources, targets = (link.theirs, link.ours) if to_ours else (link.ours, link.theirs)
    pieces = [sd[n] for n in sources]
    if to_ours and link.transpose:
        pieces = [_t(p, n) for p, n in zip(pieces, sources)]
    wire = pieces[0] if len(pieces) == 1 else torch.cat(pieces, dim=0)
    outs = _cut(wire, len(targets), link.sizes, f"{sources} -> {targets}")
    if not to_ours and link.transpose:
        outs = [_t(o, n) for o, n in zip(outs, targets)]
    return dict(zip(targets, outs))


# ## Checking the table against a checkpoint
#
# Before anything moves: every destination is written once, every source exists, every tensor
# of the checkpoint is read or declared tied, and tied copies equal their twins. The lists in the
# messages are cut at five names; the first few are enough to see which pattern the table missed.
def _convert(
    sd: Mapping[str, Tensor],
    links: Sequence[Link],
    tied: Mapping[str, str] | None,
    to_ours: bool,
    hint: str,
) -> dict[str, Tensor]:
    side, other = ("theirs", "ours") if to_ours else ("ours", "theirs")
    read = [n for link in links for n in (link.theirs if to_ours else link.ours)]
    written = [n for link in links for n in (link.ours if to_ours else link.theirs)]
    twice = sorted({n for n in written if written.count(n) > 1})
    if twice:
        raise ValueError(f"the table writes {twice[:5]} more than once; keep one Link each{hint}")
    # Every source must exist, and every tensor of `sd` must be read or declared tied.
    tied = dict(tied or {})
    absent = sorted({n for n in read if n not in sd})
    unread = sorted(set(sd) - set(read) - set(tied))
    if absent or unread:
        raise ValueError(
            f"weight conversion is incomplete: sources missing from the {side} state dict "
            f"{absent[:5]}, tensors of it nobody reads {unread[:5]}{hint}"
        )
    # A tied copy may go unread only if its twin is read and equal to it: an untied checkpoint is
    # refused, never half loaded.
    for copy, twin in tied.items():
        if copy in sd and twin not in read:
            raise ValueError(
                f"{copy} is declared tied to {twin}, which the table does not read{hint}"
            )
        if copy in sd and not torch.equal(sd[copy], sd[twin]):
            raise ValueError(
                f"{copy} is declared tied to {twin} but differs from it: this checkpoint is "
                f"untied; build the {other} model untied{hint}"
            )
    # Every check passed: move each row.
    out: dict[str, Tensor] = {}
    for link in links:
        out.update(_move(link, sd, to_ours))
    return out


# The two public directions differ only in which side of each row is the source.
def theirs_to_ours(
    sd: Mapping[str, Tensor],
    links: Sequence[Link],
    tied: Mapping[str, str] | None = None,
    hint: str = "",
) -> dict[str, Tensor]:
    """Import: their state dict `sd` under our names, following `links`.

    `tied` maps each of their tensors that is a copy of another (`lm_head.weight` ->
    the token embedding) to that twin: it is not read, only checked equal. Raises `ValueError` if
    a source is missing, a tensor of `sd` is not read, a tied copy differs, or a split does not
    fit; `hint` is appended to the message. The results are views of `sd` where possible.
    """
    return _convert(sd, links, tied, to_ours=True, hint=hint)


# Export is the same conversion, read the other way.
def ours_to_theirs(
    sd: Mapping[str, Tensor],
    links: Sequence[Link],
    tied: Mapping[str, str] | None = None,
    hint: str = "",
) -> dict[str, Tensor]:
    """Export: our state dict `sd` under their names; the inverse of `theirs_to_ours`.

    `tied` names our tensors that are copies of another of ours (a tied `lm_head.weight`).
    """
    return _convert(sd, links, tied, to_ours=False, hint=hint)


# ## Loading into a model
#
# The model is the other half of the check: the table must cover every parameter of ours (a tied
# parameter appears once in `named_parameters`, so it is filled once) and name nothing we do not
# have, and every shape must agree. Only then does anything get written, so a failed load leaves
# the model as it was.
def load_weights(
    model: nn.Module,
    sd: Mapping[str, Tensor],
    links: Iterable[Link],
    tied: Mapping[str, str] | None = None,
    hint: str = "",
) -> None:
    """Copy their state dict `sd` into `model`'s parameters, following `links` (checked).

    Raises `ValueError` if a parameter of ours has no source, a link names a parameter we do not
    have, a source is missing from `sd`, a tensor of `sd` is unread (and not in `tied`), a tied
    copy differs from its twin, or a shape differs.
    """
    links = list(links)
    ours = theirs_to_ours(sd, links, tied, hint)
    # The conversion checked the table against `sd`; now check it against the model: the same
    # parameter names on both sides, then the same shapes.
    params = dict(model.named_parameters())
    no_source = sorted(set(params) - set(ours))
    unknown = sorted(set(ours) - set(params))
    if no_source or unknown:
        raise ValueError(
            f"weight conversion is incomplete: ours without a source {no_source[:5]}, names the "
            f"table writes that the model does not have {unknown[:5]}{hint}"
        )
    for name, value in ours.items():
        if params[name].shape != value.shape:
            raise ValueError(
                f"shape mismatch for {name}: ours {tuple(params[name].shape)}, converted "
                f"{tuple(value.shape)}; build the model with the same config{hint}"
            )
    # Only now, with every check passed, is anything written.
    with torch.no_grad():
        for name, value in ours.items():
            params[name].copy_(value)
