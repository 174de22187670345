r"""# Cross-modal attention: text attending to images

Self-attention mixes the tokens of one sequence. *Cross*-attention lets one sequence read another:
the queries come from text, the keys and values from image features (patch embeddings of a vision
encoder), so every text position computes its own weighted summary of the image,

$$ \mathrm{XAttn}(X, Y) = \mathrm{softmax}\!\Big(\frac{(X W_Q)(Y W_K)^\top}{\sqrt{D}}\Big)\, Y W_V\, W_O,
   \qquad X \in \mathbb R^{T \times d_{text}},\ Y \in \mathbb R^{P \times d_{image}}. $$

Row $t$ of the softmax is a distribution over the $P$ patches: an *attention map* saying where in
the image token $t$ looks. No causal mask is needed on the image side (the whole image is
context); the text side stays causal because each text position is computed from its own query
only. The two widths may differ: $W_K, W_V$ map $d_{image}$ to the text model's heads. This is the
encoder-decoder attention of the original Transformer, with an image encoder as the encoder.

**Flamingo's gated cross-attention** (Alayrac et al., 2022). To give a *pretrained* language
model sight without destroying what it knows, Flamingo freezes the LM and inserts, before its
blocks, new layers

$$ x \leftarrow x + \tanh(\alpha)\, \mathrm{XAttn}(\mathrm{LN}(x), Y), \qquad
   x \leftarrow x + \tanh(\beta)\, \mathrm{FFN}(\mathrm{LN}(x)), $$

with scalar gates $\alpha = \beta = 0$ at initialisation. Then $\tanh(0) = 0$ and the new layers
are the identity: the model's logits are *exactly* the LM's, bit for bit (a test checks it with
`torch.equal`). Yet the gates still learn: $\partial x / \partial \alpha = \tanh'(0)\,
\mathrm{XAttn}(\cdot) = \mathrm{XAttn}(\cdot) \ne 0$, so the first gradient step opens them as
far as the data asks. The $\tanh$ bounds each gate in $(-1, 1)$.

`GatedLM` wraps `llm`'s `LanguageModel` this way: it runs the model's own embedding, blocks, norm
and head, and interleaves a `GatedCrossAttention` before every `every`-th block.

References: Vaswani et al., *Attention is all you need*, 2017; Alayrac et al., *Flamingo: a visual
language model for few-shot learning*, 2022, https://arxiv.org/abs/2204.14198; Li et al., BLIP-2,
2023, https://arxiv.org/abs/2301.12597 (a Q-Former in place of Flamingo's Perceiver resampler).

Left out: the Perceiver resampler that compresses many patches to a few latent tokens, per-image
masking for interleaved image-text sequences, and key/value caching of the image side.

>>> xattn = CrossAttention(d_model=16, d_context=8, n_heads=2)
>>> out, weights = xattn(torch.randn(1, 5, 16), torch.randn(1, 9, 8), return_weights=True)
>>> out.shape, weights.shape, bool(torch.allclose(weights.sum(-1), torch.ones(1, 2, 5)))
(torch.Size([1, 5, 16]), torch.Size([1, 2, 5, 9]), True)

## Exercises

1. Write `attention_map(q, k)` returning the softmax weights `(T, P)` of one head for queries
   `(T, D)` and keys `(P, D)`. Check it: `uv run pytest --exercise frontiers.crossmodal`
2. Write `gate_gradient(x, xattn_out, grad_out)`: $\partial L / \partial \alpha$ at $\alpha = 0$
   for $y = x + \tanh(\alpha)\, a$. Check it: `uv run pytest --exercise frontiers.crossmodal`
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# The frozen language model is the course's own; the feed-forward block is the Transformer
# chapter's.
from masterclass.llm.model import LanguageModel
from masterclass.transformer.feedforward import FeedForward


# Cross-attention is attention with queries from one sequence and keys and values from another: `k`
# and `v` map the context's width to the model's, so the two can differ.
class CrossAttention(nn.Module):
    """Multi-head attention from `x` `(B, T, d_model)` to a context `y` `(B, P, d_context)`."""

    def __init__(self, d_model: int, d_context: int, n_heads: int) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_context, d_model, bias=False)
        self.v = nn.Linear(d_context, d_model, bias=False)
        self.o = nn.Linear(d_model, d_model, bias=False)

    # Any context length P works: the output keeps the text's shape, with one attention map over
    # the P features per text position and head.
    def forward(
        self, x: Tensor, y: Tensor, *, return_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """The attended output `(B, T, d_model)`, and with `return_weights` the maps `(B, H, T, P)`."""
        if x.dim() != 3 or y.dim() != 3 or x.shape[0] != y.shape[0]:
            raise ValueError(
                f"x must be (B, T, d_model) and y (B, P, d_context) with the same B, got "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        # Split both sides into heads; queries come from the text, keys and values from the image.
        B, T, _ = x.shape
        P = y.shape[1]
        H, D = self.n_heads, self.head_dim
        q = self.q(x).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = self.k(y).view(B, P, H, D).transpose(1, 2)  # (B, H, P, D)
        v = self.v(y).view(B, P, H, D).transpose(1, 2)  # (B, H, P, D)
        # Every text position sees every patch: no mask.
        weights = (q @ k.transpose(-1, -2) / math.sqrt(D)).softmax(dim=-1)  # (B, H, T, P)
        out = self.o((weights @ v).transpose(1, 2).reshape(B, T, H * D))  # (B, T, d_model)
        return (out, weights) if return_weights else out


class GatedCrossAttention(nn.Module):
    """Flamingo's block: tanh-gated cross-attention then a tanh-gated FFN, gates starting at 0."""

    def __init__(self, d_model: int, d_context: int, n_heads: int) -> None:
        super().__init__()
        self.attn_norm = nn.LayerNorm(d_model)
        self.attn = CrossAttention(d_model, d_context, n_heads)
        self.attn_gate = nn.Parameter(torch.zeros(()))
        self.ffn_norm = nn.LayerNorm(d_model)
        self.ffn = FeedForward(d_model, 4 * d_model, "gelu", bias=False)
        self.ffn_gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        """`(B, T, d_model)` text states attending to `(B, P, d_context)` image features."""
        x = x + torch.tanh(self.attn_gate) * self.attn(self.attn_norm(x), y)
        return x + torch.tanh(self.ffn_gate) * self.ffn(self.ffn_norm(x))


# ## Wrapping `llm`'s model
#
# The loop below is `LanguageModel`'s own forward pass (embedding, rotary tables, masks, blocks,
# final norm, head), called through its helpers so that nothing of it is copied, with a gated
# cross-attention layer inserted before every `every`-th block.


class GatedLM(nn.Module):
    """`llm`'s `LanguageModel` with gated cross-attention to image features; the LM is frozen."""

    # One gated cross-attention layer per `every` blocks; with the LM frozen, only these layers
    # train, and with their gates at 0 the wrapped model starts out as exactly the LM.
    def __init__(self, lm: LanguageModel, d_context: int, every: int = 1, freeze_lm: bool = True):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.lm, self.every = lm, every
        cfg = lm.config
        n_xattn = math.ceil(cfg.n_layers / every)
        self.xattn = nn.ModuleList(
            GatedCrossAttention(cfg.d_model, d_context, cfg.n_heads) for _ in range(n_xattn)
        )
        if freeze_lm:
            lm.requires_grad_(False)

    # Cross-attention layer `layer // every` runs just before block `layer`, on the text states; the
    # same image features serve every layer.
    def forward(self, idx: Tensor, image: Tensor) -> Tensor:
        """Logits `(B, T, V)` for token ids `idx` `(B, T)` conditioned on `image` `(B, P, d_context)`."""
        lm, T = self.lm, idx.shape[1]
        x = lm._embed(idx, 0)  # (B, T, d_model)
        rope = lm._rope(0, T, idx.device)
        masks = lm._layer_masks(0, T, idx.device, always=False)
        for layer, block in enumerate(lm.blocks):
            if layer % self.every == 0:
                x = self.xattn[layer // self.every](x, image)
            x = block(x, rope, masks[layer], None, layer)
        return lm.lm_head(lm.norm(x))  # (B, T, V)
