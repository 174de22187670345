r"""# Conditional computation: spending less compute on easy tokens

A dense transformer spends the same FLOPs on every token, whether it completes `import` after
`from os ` or solves the hard part of a sentence. Conditional computation lets the input decide how
much of the network to run. Two complementary forms are here:

**Early exit** (depth per token at inference; Schuster et al., 2022, *CALM*; Elbayad et al., 2020).
Reading the residual stream after layer $\ell$ through the final norm and the output head gives a
next-token distribution $p^{(\ell)}$ (the "logit lens"). If its confidence $\max_i p^{(\ell)}_i$
exceeds a threshold $\lambda$ the token stops there; its hidden state is copied upward, so later
tokens can still attend to it at every layer (CALM's state propagation). The fraction of
(token, layer) pairs skipped is the compute saved; the price is agreement with the full model,
measured against it.

**Mixture-of-depths** (depth per token in training; Raposo et al., 2024). In a routed block a
linear router scores every token, and only the top $\lceil cT \rceil$ per sequence ($c$ = capacity,
e.g. 1/8) go through attention and FFN; the rest ride the residual stream unchanged. The block's
update is multiplied by the router score, which is how the router learns. The compute is static
and known in advance (capacity $c$ of the block's FLOPs, and $c^2$ of its attention scores), unlike
early exit. Routing by top-k over the sequence peeks at future tokens; the paper trains a small
causal predictor for sampling, left out here, as is early exit with a trained confidence head.

**Measured**: a 4-layer byte-level model trained for 300 steps, 16 held-out windows of 64 bytes;
"spent" is the share of block compute (mean exit layer over $L$), "agreement" the share of
positions whose prediction equals the full model's. The curve is drawn from the committed output
of `bench/studies.py --only context,exit` (`bench/results/studies_context_exit.txt`, whose first
line is the command that made it):

![Early exit: agreement with the full model against block compute spent, one point per threshold](figures/study_early_exit.png)

The curve bends: low thresholds save most of the compute and lose a large share of the
predictions; from the middle thresholds up, agreement is close to 1 while a fifth or less of the
block compute is saved. (The exit heads are the final head reused, never trained for shallow layers;
CALM trains them, which moves the curve up.)

**Mixture-of-depths' compute, derived.** Let a dense block cost $m$ FLOPs per token in its matrix
products and $a = 4 T H D$ in its attention scores and weighted sum. A routed block at capacity
$c$ runs its matrix products for $cT$ tokens ($c\,m$ per token of the sequence) and attention among
those $cT$ tokens only ($c^2 a$). With a share $r$ of the blocks routed, the whole stack costs

$$ \frac{(1 - r)(m + a) + r\,(c\,m + c^2 a)}{m + a} $$

of the dense one: static, known before any input arrives, unlike early exit's. With $c = 1/8$ on
every second block ($r = 1/2$) that is just under $\tfrac12 (1 + c)$, the value for matrix
products alone: attention, which shrinks by $c^2$ rather than $c$, is a small share at $T = 64$:

>>> from masterclass.llm import LanguageModel, LMConfig
>>> cfg = LMConfig.llama(vocab_size=256, d_model=64, n_layers=4, n_heads=4, max_seq_len=64)
>>> mod = MixtureOfDepthsLM(LanguageModel(cfg), capacity=0.125, every=2)
>>> round(mod.block_flops_fraction(64), 3), 0.5 * (1 + 0.125)
(0.555, 0.5625)

## Exercises

1. Write `exit_layers(confidence, threshold)`: from each token's confidence after each layer
   `(L, N)`, the layer at which it exits (1-based; $L$ when it never does). Check it:
   `uv run pytest --exercise llm.conditional_compute`.
2. Write `mod_choice(scores, capacity)`: the positions a mixture-of-depths block routes, the top
   $\lceil cT \rceil$ router scores of each sequence in sequence order. Why must they be sorted?
   Check it: `uv run pytest --exercise llm.conditional_compute`.
3. Write `mod_fraction(matmul, attention, capacity, routed_share)`: the stack's FLOPs relative to
   the dense one, the formula derived above. Show that routing every block gives a fraction
   between $c^2$ and $c$: which end do long contexts approach, and why? Check it: `uv run pytest --exercise llm.conditional_compute`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from masterclass.llm.model import Block, LanguageModel
from masterclass.llm.rope import rope_cos_sin

# ## Early exit
#
# The pass runs layer by layer over the whole sequence. After each layer (but the last) the exit
# head is applied to tokens still running; those that pass the threshold are frozen. A frozen
# token's state is carried unchanged to the next layers, where it still serves as a key and value.


@torch.no_grad()
def early_exit_forward(
    model: LanguageModel, idx: Tensor, threshold: float
) -> tuple[Tensor, Tensor]:
    """Logits `(B, T, V)` with confidence-based early exit, and each token's exit layer `(B, T)`
    (1-based; `n_layers` = ran the whole model). `threshold > 1` never exits: the full model."""
    model.eval()
    B, T = idx.shape
    L = len(model.blocks)
    x = model._embed(idx, 0)  # (B, T, d_model)
    rope = model._rope(0, T, idx.device)
    masks = model._layer_masks(0, T, idx.device, always=False)
    exit_layer = torch.full((B, T), L, dtype=torch.long, device=idx.device)
    running = torch.ones(B, T, dtype=torch.bool, device=idx.device)
    logits = torch.empty(B, T, model.config.vocab_size, device=idx.device)
    # Each layer updates only the running tokens; the exit head (final norm and output layer) then
    # decides which of them leave. The last layer gives every token still running its logits.
    for layer, block in enumerate(model.blocks):
        x = torch.where(
            running[..., None], block(x, rope, masks[layer], None, layer), x
        )  # frozen states carried up
        layer_logits = model.lm_head(model.norm(x))  # (B, T, V)
        if layer == L - 1:
            logits[running] = layer_logits[running]
            break
        confident = layer_logits.softmax(dim=-1).amax(dim=-1) >= threshold  # (B, T)
        exiting = running & confident
        logits[exiting] = layer_logits[exiting]
        exit_layer[exiting] = layer + 1
        running = running & ~confident
    return logits, exit_layer


# The trade-off at one threshold: the share of layers run, and how often the answer matches the
# full model's.
def early_exit_savings(model: LanguageModel, idx: Tensor, threshold: float) -> dict[str, float]:
    """Compute saved and agreement with the full model at one threshold.

    `layers_fraction`: mean exit layer / L (the share of block compute spent);
    `agreement`: share of positions whose argmax equals the full model's.
    """
    with torch.no_grad():
        full = model(idx).argmax(dim=-1)
    logits, exit_layer = early_exit_forward(model, idx, threshold)
    return {
        "threshold": threshold,
        "layers_fraction": exit_layer.float().mean().item() / len(model.blocks),
        "agreement": (logits.argmax(dim=-1) == full).float().mean().item(),
    }


# ## Mixture-of-depths
#
# `MoDBlock` wraps an ordinary `Block`. The selected tokens are gathered *in their original order*,
# so causal attention among them is plain causal attention, and each keeps its own rotary position
# (the rotation tables are built per sequence from the gathered positions).


class MoDBlock(nn.Module):
    """A `Block` that processes only the top `capacity` fraction of tokens of each sequence."""

    def __init__(self, block: Block, d_model: int, capacity: float) -> None:
        super().__init__()
        if not 0.0 < capacity <= 1.0:
            raise ValueError(f"capacity must be in (0, 1], got {capacity}")
        self.block, self.capacity = block, capacity
        self.router = nn.Linear(d_model, 1, bias=False)

    def forward(
        self, x: Tensor, inv_freq: Tensor | None, interleaved: bool = False
    ) -> tuple[Tensor, Tensor]:
        """Update the chosen tokens of `x` `(B, T, C)`; returns the new `x` and the chosen positions `(B, k)`."""
        B, T, C = x.shape
        k = max(1, math.ceil(self.capacity * T))
        # The router scores every token; the top `k`, sorted back into sequence order, are gathered.
        scores = self.router(x).squeeze(-1)  # (B, T)
        chosen = scores.topk(k, dim=-1).indices.sort(dim=-1).values  # (B, k) in sequence order
        picked = x.gather(1, chosen[..., None].expand(B, k, C))  # (B, k, C)
        # Each chosen token keeps its own rotary position. The block's residual update is scaled by
        # the router's sigmoid, which gives the router a gradient, and added back in place.
        rope = None
        if inv_freq is not None:
            cos, sin = rope_cos_sin(chosen, inv_freq, interleaved=interleaved)  # (B, k, D) each
            rope = (cos[:, None], sin[:, None])  # (B, 1, k, D): one table per sequence
        update = (
            self.block(picked, rope, None, None, 0) - picked
        )  # (B, k, C) the block's residual update
        weight = torch.sigmoid(scores.gather(1, chosen))[..., None]  # (B, k, 1) router gate
        return x.scatter_add(1, chosen[..., None].expand(B, k, C), weight * update), chosen


# The model wraps a `LanguageModel` and routes every `every`-th block; a routed block is the same
# module, so the weights are shared with the dense model.
class MixtureOfDepthsLM(nn.Module):
    """`LanguageModel` whose every `every`-th block is a `MoDBlock` of the given capacity."""

    def __init__(self, model: LanguageModel, capacity: float = 0.125, every: int = 2) -> None:
        super().__init__()
        self.model, self.capacity = model, capacity
        self.routed = nn.ModuleDict(
            {
                str(i): MoDBlock(b, model.config.d_model, capacity)
                for i, b in enumerate(model.blocks)
                if i % every == every - 1
            }
        )

    # The forward pass reuses the dense model's parts: embeddings, rotary tables, masks, the final
    # norm and the head.
    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Same contract as `LanguageModel.forward`."""
        m = self.model
        T = idx.shape[1]
        x = m._embed(idx, 0)  # (B, T, d_model)
        rope = m._rope(0, T, idx.device)
        masks = m._layer_masks(0, T, idx.device, always=False)
        inv_freq = m.inv_freq if m.config.pos == "rope" else None
        # Routed blocks take the raw rotary frequencies and build per-sequence tables from the
        # chosen positions; the others run as in the dense model.
        for i, block in enumerate(m.blocks):
            if str(i) in self.routed:
                x, _ = self.routed[str(i)](x, inv_freq, m.config.rope_interleaved)
            else:
                x = block(x, rope, masks[i], None, i)
        logits = m.lm_head(m.norm(x))  # (B, T, V)
        if targets is None:
            return logits
        loss = nn.functional.cross_entropy(
            logits.float().flatten(0, 1), targets.flatten(), ignore_index=-100
        )
        return logits, loss

    # The compute, counted with the conventions of `LanguageModel.flops_per_token`.
    def block_flops_fraction(self, seq_len: int) -> float:
        """FLOPs of all blocks relative to the dense model at context `seq_len` (forward pass).

        A routed block costs $c$ of the dense block's matrix products and $c^2$ of its attention
        scores; the count uses `LanguageModel.flops_per_token`'s conventions.
        """
        c = self.model.config
        per_block_matmul = 2 * sum(
            p.numel() for n, p in self.model.blocks[0].named_parameters() if p.dim() == 2
        )
        per_block_attn = 4 * seq_len * c.n_heads * c.head_dim
        dense = c.n_layers * (per_block_matmul + per_block_attn)
        k = math.ceil(self.capacity * seq_len) / seq_len
        n_routed = len(self.routed)
        routed = n_routed * (k * per_block_matmul + k * k * per_block_attn)
        return ((c.n_layers - n_routed) * (per_block_matmul + per_block_attn) + routed) / dense
