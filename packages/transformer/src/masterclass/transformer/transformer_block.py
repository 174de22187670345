r"""# The transformer block and where its layer norms go

A transformer is a stack of identical blocks. Each block has two (or, in a decoder that reads an
encoder, three) sub-layers, each wrapped in a residual connection and a normalization:

1. multi-head self-attention, which mixes positions;
2. (decoder of an encoder-decoder only) cross-attention to the encoder's output;
3. the position-wise feed-forward network, which transforms each position.

**Layer normalization** (Ba et al., 2016) rescales each position's vector to zero mean and unit
variance over its $C$ channels, then applies a learned gain $\gamma$ and bias $\beta$:
$\operatorname{LN}(x) = \gamma \odot (x - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta$. Unlike batch
normalization it needs no statistics across the batch, so it behaves the same at training and at
inference and with a batch of one token. RMSNorm (Zhang & Sennrich, 2019) drops the mean and
$\beta$; T5 and LLaMA use it. Both are Module 3's (`masterclass.nn.normalization`).

Where the normalization sits matters more than which one it is:

$$
\text{post-norm:}\quad x \leftarrow \operatorname{LN}\bigl(x + F(x)\bigr)
\qquad\qquad
\text{pre-norm:}\quad x \leftarrow x + F\bigl(\operatorname{LN}(x)\bigr).
$$

The original Transformer and BERT are post-norm; GPT-2, T5 and every recent LLM are pre-norm. In
pre-norm the residual stream $x$ is a plain sum $x_L = x_0 + \sum_\ell F_\ell(\cdot)$, so the
gradient reaches every layer through an identity path. In post-norm every layer's output passes
through a normalization, whose Jacobian rescales the gradient at each of the $L$ layers; Xiong et
al. (2020, *On Layer Normalization in the Transformer Architecture*) show that at initialization the
gradients of the last layers are then large, which is why post-norm needs a learning-rate warm-up
and pre-norm trains without one. A pre-norm stack needs a final normalization after the last
block, since its residual stream is never normalized otherwise.

**The measured note.** Xiong et al.'s analysis predicts that at initialization the gradient of the
*last* block is independent of the depth $L$ in post-norm, and shrinks like $1/\sqrt{L}$ in
pre-norm, so that a post-norm model takes relatively larger steps on its top layers the deeper it
is, which is what the warm-up compensates. `layer_gradient_norms` measures it on small random-init
language models, and the figure plots it: pre-norm's gradient norms fall gently with depth and are
smaller at the top of a deeper stack, post-norm's stay at the same size whatever the depth, so the
post/pre ratio at the last layer grows with $L$ (the figure, drawn when the site is built, shows
the gap widening). The effect is mild at the width and depth of this course's models, which train in both
placements with Adam without warm-up; Xiong et al. report that post-norm trained without warm-up
falls far behind for their translation Transformer and for BERT, which are wider and deeper.
`test_post_norm_top_gradient_does_not_shrink_with_depth` checks it.

![Gradient norm per block at initialization, pre- vs post-norm, for several depths](figures/norm_placement.png)

The block below is equal to `torch.nn.TransformerEncoderLayer` and `TransformerDecoderLayer` (in
both placements) with copied weights.

A block maps the residual stream to a stream of the same shape, which is what lets blocks stack:

>>> block = TransformerBlock(BlockConfig(d_model=16, n_heads=2, d_ff=32))
>>> block(torch.zeros(2, 5, 16), is_causal=True).shape
torch.Size([2, 5, 16])

Left out: DeepNorm and other rescaled residuals; sandwich norm (a norm on both sides).

## Exercises

1. Write `pre_norm(x, attn, ffn, norm_attn, norm_ffn)`: a pre-norm block from its parts (given
   as callables). Write out $x_L$ for a stack: why does every block get an identity path to the
   loss? Check it: `uv run pytest --exercise transformer.transformer_block`.
2. Write `post_norm(x, attn, ffn, norm_attn, norm_ffn)`: the same block, post-norm. Why does a
   post-norm stack need no final normalization? Check it:
   `uv run pytest --exercise transformer.transformer_block`.
"""

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from masterclass.nn.dropout import Dropout
from masterclass.nn.normalization import LayerNorm, RMSNorm
from masterclass.transformer.feedforward import FeedForward
from masterclass.transformer.multi_head_attention import MultiHeadAttention

__all__ = ["BlockConfig", "TransformerBlock", "layer_gradient_norms", "make_norm"]


# Every choice the chapter compares is a field of one config: the norm and its placement, the
# activation and gating, biases, dropout, the attention scale.
@dataclass
class BlockConfig:
    """The shape and choices of one transformer block."""

    d_model: int = 64  # width C of the residual stream
    n_heads: int = 4  # attention heads H
    d_ff: int = 256  # hidden width of the feed-forward network
    d_head: int | None = None  # per-head width D (default d_model // n_heads)
    activation: str = "gelu"  # feed-forward activation, a key of feedforward.ACTIVATIONS
    gated: bool = False  # gated (GLU-family) feed-forward network
    norm: str = "layernorm"  # "layernorm" or "rmsnorm"
    norm_eps: float = 1e-5  # epsilon of the normalization
    norm_first: bool = True  # pre-norm (True) or post-norm (False)
    bias: bool = True  # biases in the linear layers (and LayerNorm)
    dropout: float = 0.0  # dropout on each sub-layer's output (residual dropout)
    attn_dropout: float = 0.0  # dropout on the attention weights
    attn_scale: float | None = None  # score scale; None is 1/sqrt(D) (T5 uses 1.0)
    cross_attention: bool = False  # add a cross-attention sub-layer (encoder-decoder decoder)


# The norm by name, so that a config string picks the module.
def make_norm(kind: str, d: int, eps: float, bias: bool = True) -> nn.Module:
    """Module 3's `LayerNorm` or `RMSNorm` by name."""
    if kind == "layernorm":
        return LayerNorm(d, eps=eps, bias=bias)
    if kind == "rmsnorm":
        return RMSNorm(d, eps=eps)
    raise ValueError(f"unknown norm {kind!r}; choose 'layernorm' or 'rmsnorm'")


# The block builds one attention (two with cross-attention) and a feed-forward network from the
# config.
class TransformerBlock(nn.Module):
    """One transformer block: self-attention, optional cross-attention, feed-forward network.

    Each sub-layer $F$ is applied as `x + dropout(F(norm(x)))` (pre-norm) or
    `norm(x + dropout(F(x)))` (post-norm).

    Shapes: `x (B, T, C)`, `memory (B, S, C)` → `(B, T, C)`.
    """

    def __init__(self, cfg: BlockConfig) -> None:
        super().__init__()
        self.cfg = cfg

        # Two small factories, so that every attention and every norm of the block is built alike.
        def attention() -> MultiHeadAttention:
            return MultiHeadAttention(
                cfg.d_model,
                cfg.n_heads,
                bias=cfg.bias,
                dropout=cfg.attn_dropout,
                d_head=cfg.d_head,
                scale=cfg.attn_scale,
            )

        def norm() -> nn.Module:
            return make_norm(cfg.norm, cfg.d_model, cfg.norm_eps, cfg.bias)

        # Each sub-layer has its own norm; the cross-attention pair exists only in a decoder block.
        self.attn, self.norm_attn = attention(), norm()
        if cfg.cross_attention:
            self.cross, self.norm_cross = attention(), norm()
        else:
            self.cross, self.norm_cross = None, None
        self.ffn = FeedForward(cfg.d_model, cfg.d_ff, cfg.activation, cfg.gated, cfg.bias)
        self.norm_ffn = norm()
        self.dropout = Dropout(cfg.dropout)

    # The residual wrapper is the one place where the two placements differ.
    def _sublayer(self, x: Tensor, norm: nn.Module, f) -> Tensor:
        if self.cfg.norm_first:
            return x + self.dropout(f(norm(x)))
        return norm(x + self.dropout(f(x)))

    # The forward pass hands each attention its masks: padding and extra masks of `x` to
    # self-attention, those of `memory` to cross-attention.
    def forward(
        self,
        x: Tensor,
        attention_mask: Tensor | None = None,
        attn_mask: Tensor | None = None,
        is_causal: bool = False,
        memory: Tensor | None = None,
        memory_attention_mask: Tensor | None = None,
        memory_attn_mask: Tensor | None = None,
    ) -> Tensor:
        """Apply the block.

        Args:
            x: `(B, T, C)`.
            attention_mask: `(B, T)` padding mask of `x`, nonzero on real tokens.
            attn_mask: extra self-attention mask or additive bias, broadcastable to `(B, H, T, T)`.
            is_causal: causal self-attention.
            memory: `(B, S, C)` encoder output, required by a block with cross-attention.
            memory_attention_mask: `(B, S)` padding mask of `memory`.
            memory_attn_mask: extra cross-attention mask or bias, broadcastable to `(B, H, T, S)`.
        """
        # Self-attention first, inside the residual wrapper like every sub-layer.
        x = self._sublayer(
            x,
            self.norm_attn,
            lambda h: self.attn(
                h, attn_mask=attn_mask, attention_mask=attention_mask, is_causal=is_causal
            ),
        )
        # In a decoder block, cross-attention takes its queries from the stream and its keys and
        # values from the encoder output; the feed-forward network comes last.
        if self.cross is not None:
            if memory is None:
                raise ValueError("this block has cross-attention: pass the encoder output `memory`")
            x = self._sublayer(
                x,
                self.norm_cross,
                lambda h: self.cross(
                    h,
                    memory,
                    attn_mask=memory_attn_mask,
                    attention_mask=memory_attention_mask,
                ),
            )
        return self._sublayer(x, self.norm_ffn, self.ffn)

    # ## Loading torch's layers
    #
    # `nn.TransformerEncoderLayer` names its parts `self_attn`, `linear1`/`linear2` and
    # `norm1`/`norm2` (plus `multihead_attn` and `norm3` in the decoder layer); copying them is a
    # renaming.
    @classmethod
    def from_torch(
        cls, layer: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer, activation: str
    ) -> "TransformerBlock":
        """Build a block with the weights of a torch `TransformerEncoderLayer`/`DecoderLayer`."""
        decoder = isinstance(layer, nn.TransformerDecoderLayer)
        cfg = BlockConfig(
            d_model=layer.linear1.in_features,
            n_heads=layer.self_attn.num_heads,
            d_ff=layer.linear1.out_features,
            activation=activation,
            norm_eps=layer.norm1.eps,
            norm_first=layer.norm_first,
            cross_attention=decoder,
        )
        # Build a block of the same shape, then bring the parts over: the attentions through
        # `from_torch`, the norms and the two feed-forward layers by copying. In torch's decoder
        # layer `norm2` belongs to the cross-attention and `norm3` to the feed-forward network.
        block = cls(cfg).to(layer.linear1.weight.dtype)
        block.attn = MultiHeadAttention.from_torch(layer.self_attn)
        norms = [block.norm_attn, block.norm_ffn]
        torch_norms = [layer.norm1, layer.norm3 if decoder else layer.norm2]
        if decoder:
            block.cross = MultiHeadAttention.from_torch(layer.multihead_attn)
            norms.append(block.norm_cross)
            torch_norms.append(layer.norm2)
        with torch.no_grad():
            for ours, theirs in zip(norms, torch_norms):
                ours.weight.copy_(theirs.weight)
                ours.bias.copy_(theirs.bias)
            block.ffn.up.load_state_dict(layer.linear1.state_dict())
            block.ffn.down.load_state_dict(layer.linear2.state_dict())
        return block


# ## Measuring the gradient through depth
#
# A language model of `n_layers` blocks, random tokens, one forward and backward pass: the norm of
# each block's gradient (all its parameters together) at initialization. No training is needed for
# the effect, which is a property of the initial network.
def layer_gradient_norms(
    norm_first: bool, n_layers: int, d_model: int = 32, vocab: int = 64, seed: int = 0
) -> list[float]:
    """Gradient norm of each block of a random-init causal LM, first block first.

    The model is embedding → `n_layers` blocks → (final LayerNorm if pre-norm) → linear head; the
    loss is next-token cross-entropy on a fixed batch of 8 random sequences of 16 tokens.
    """
    torch.manual_seed(seed)
    cfg = BlockConfig(d_model=d_model, n_heads=4, d_ff=4 * d_model, norm_first=norm_first)
    emb = nn.Embedding(vocab, d_model)
    blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(n_layers))
    final = LayerNorm(d_model) if norm_first else nn.Identity()
    head = nn.Linear(d_model, vocab)
    # One batch of random tokens, one forward and one backward pass; a block's gradient norm is
    # taken over all its parameters at once.
    g = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, vocab, (8, 17), generator=g)  # (B, T+1)
    h = emb(tokens[:, :-1])  # (B, T, C)
    for block in blocks:
        h = block(h, is_causal=True)
    logits = head(final(h))  # (B, T, V)
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), tokens[:, 1:].reshape(-1))
    loss.backward()
    return [torch.cat([p.grad.flatten() for p in b.parameters()]).norm().item() for b in blocks]
