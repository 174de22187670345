r"""# Encoder-decoder transformers: T5

T5 (Raffel et al., 2020, *Exploring the Limits of Transfer Learning with a Unified Text-to-Text
Transformer*) keeps the original Transformer's two stacks: an **encoder** reads the input with
bidirectional attention, a **decoder** writes the output causally, and every decoder block reads the
encoder's output through **cross-attention** (queries from the decoder, keys and values from the
encoder). Every task becomes text to text: "translate English to German: ..." → "...".

What T5 changed, each visible in the code below:

- **Relative position buckets** instead of absolute positions. Each head adds a learned scalar
  $b_h(\text{bucket}(j - i))$ to the score of query $i$ and key $j$. Offsets are bucketed: the
  first half of the buckets are exact offsets $0..7$ (for 32 buckets, bidirectional), the second
  half cover $8..\text{max\_distance}$ logarithmically, and farther keys share the last bucket. Near
  positions are told apart precisely, far ones coarsely; the bias is computed once, by the first
  block, and shared by all blocks of the stack. The encoder's buckets are bidirectional (separate
  buckets for left and right), the decoder's only look left.
- **No score scaling**: scores are $q \cdot k$ without $1/\sqrt{D}$ (the initialization of $W^Q$
  absorbs it).
- **T5 LayerNorm** is RMSNorm: $x / \sqrt{\overline{x^2} + \epsilon} \cdot \gamma$, no mean, no bias,
  and no biases anywhere in the model. Pre-norm, with a final norm on each stack.
- **Shared embeddings**: one $V \times C$ table for the encoder input, the decoder input and the
  output projection, which multiplies the decoder output by $C^{-1/2}$ first (the original T5).

**Span corruption**, T5's pretraining objective: replace random spans of the input (15% of the
tokens, mean span length 3) each by a single sentinel token, and train the decoder to output each
sentinel followed by the tokens it replaced:

    input:  Thank you <X> me to your party <Y> week .
    target: <X> for inviting <Y> last <Z>

The model loads the weights of Hugging Face's `T5ForConditionalGeneration` and gives the same
logits (`test_t5.py`).

Left out: the key/value cache for decoding, T5 v1.1's untied output layer (Hugging Face 5 always
ties the output layer to the embeddings).

## Exercises

1. Write `bucket(offset, n_buckets, max_distance)`: T5's bucket of one relative offset
   (bidirectional). Which offsets share a bucket with offset 100 when there are 32 buckets and
   the maximum distance is 128? Check it: `uv run pytest --exercise transformer.t5`.
2. Write `shift_right(labels, start_id, pad_id)`: the decoder inputs for teacher forcing. Check
   it: `uv run pytest --exercise transformer.t5`.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.nn.dropout import Dropout
from masterclass.nn.normalization import RMSNorm
from masterclass.transformer.attention import causal_mask
from masterclass.transformer.hf_weights import Link, load_weights
from masterclass.transformer.transformer_block import BlockConfig, TransformerBlock

__all__ = [
    "RelativePositionBias",
    "T5Config",
    "T5ForConditionalGeneration",
    "relative_position_bucket",
    "shift_right",
    "span_corruption",
]


# The configuration; the defaults are T5-small's.
@dataclass
class T5Config:
    """Hyper-parameters of a T5 model (Hugging Face's `T5Config` names in comments)."""

    vocab_size: int = 32128  # V (vocab_size)
    d_model: int = 512  # C (d_model)
    d_kv: int = 64  # per-head width D, independent of C / H (d_kv)
    d_ff: int = 2048  # feed-forward width (d_ff)
    n_layers: int = 6  # encoder blocks (num_layers)
    n_decoder_layers: int = 6  # decoder blocks (num_decoder_layers)
    n_heads: int = 8  # H (num_heads)
    n_buckets: int = 32  # relative position buckets (relative_attention_num_buckets)
    max_distance: int = (
        128  # offsets beyond share the last bucket (relative_attention_max_distance)
    )
    eps: float = 1e-6  # RMSNorm epsilon (layer_norm_epsilon)
    feed_forward: str = "relu"  # "relu" (T5) or "gated-gelu" (T5 v1.1) (feed_forward_proj)
    dropout: float = 0.0  # residual and embedding dropout (dropout_rate)
    scale_decoder_outputs: bool = True  # multiply by C^-1/2 before the tied output layer
    pad_token_id: int = 0  # (pad_token_id)
    decoder_start_token_id: int = 0  # first decoder input (decoder_start_token_id)


# ## Relative position buckets
#
# The offset $n = j - i$ (key minus query). Bidirectionally, half the buckets are for $n > 0$ and
# half for $n \le 0$, and $|n|$ is bucketed within each half; causally only $n \le 0$ occurs and
# $-n$ is bucketed. Within a half of $N$ buckets, offsets below $N/2$ are exact, and larger ones get
# $N/2 + \lfloor \log(|n| / (N/2)) / \log(\text{max\_distance} / (N/2)) \cdot (N/2) \rfloor$,
# clipped to the last bucket.
def relative_position_bucket(
    relative_position: Tensor,
    bidirectional: bool = True,
    n_buckets: int = 32,
    max_distance: int = 128,
) -> Tensor:
    """Bucket index of each offset `j - i`; same shape as the input, values in `[0, n_buckets)`.

    >>> relative_position_bucket(torch.tensor([-100, -3, 0, 3, 100]), n_buckets=32, max_distance=128).tolist()
    [15, 3, 0, 19, 31]
    """
    buckets = torch.zeros_like(relative_position)
    if bidirectional:
        n_buckets //= 2
        buckets = buckets + (relative_position > 0).long() * n_buckets
        n = relative_position.abs()
    else:
        n = (-relative_position).clamp(min=0)
    max_exact = n_buckets // 2
    # `clamp(min=1)` keeps the log finite where the exact branch is taken anyway.
    log_ratio = torch.log(n.clamp(min=1).float() / max_exact) / math.log(max_distance / max_exact)
    large = max_exact + (log_ratio * (n_buckets - max_exact)).long()
    large = large.clamp(max=n_buckets - 1)
    return buckets + torch.where(n < max_exact, n, large)


# The learned side: one scalar per (bucket, head), looked up for every (query, key) offset.
class RelativePositionBias(nn.Module):
    """One learned scalar per (bucket, head), returned as an additive attention bias.

    `forward(T, S)` returns `(1, H, T, S)`: the bias of query `i` and key `j` in each head.
    """

    def __init__(
        self, n_buckets: int, max_distance: int, n_heads: int, bidirectional: bool
    ) -> None:
        super().__init__()
        self.n_buckets, self.max_distance, self.bidirectional = (
            n_buckets,
            max_distance,
            bidirectional,
        )
        self.bias = nn.Embedding(n_buckets, n_heads)  # (n_buckets, H)

    # The offset $j - i$ of every (query, key) pair, bucketed and looked up: one bias per head.
    def forward(self, T: int, S: int) -> Tensor:
        """Bias `(1, H, T, S)` for `T` queries at positions `0..T-1` and `S` keys at `0..S-1`."""
        device = self.bias.weight.device
        offset = torch.arange(S, device=device)[None, :] - torch.arange(T, device=device)[:, None]
        buckets = relative_position_bucket(
            offset, self.bidirectional, self.n_buckets, self.max_distance
        )
        return self.bias(buckets).permute(2, 0, 1)[None]  # (1, H, T, S)


class _T5Stack(nn.Module):
    # An encoder or decoder stack: blocks sharing one position bias, then a final RMSNorm.
    def __init__(self, cfg: T5Config, n_layers: int, decoder: bool) -> None:
        super().__init__()
        gated = cfg.feed_forward.startswith("gated-")
        activation = "gelu_tanh" if cfg.feed_forward == "gated-gelu" else cfg.feed_forward
        # T5's block: pre-RMSNorm, no biases, unscaled scores (`attn_scale=1.0`), and a head width
        # `d_kv` set apart from the model width.
        block = BlockConfig(
            d_model=cfg.d_model,
            n_heads=cfg.n_heads,
            d_ff=cfg.d_ff,
            d_head=cfg.d_kv,
            activation=activation.removeprefix("gated-"),
            gated=gated,
            norm="rmsnorm",
            norm_eps=cfg.eps,
            norm_first=True,
            bias=False,
            dropout=cfg.dropout,
            attn_scale=1.0,
            cross_attention=decoder,
        )
        # One position bias per stack: bidirectional in the encoder, causal in the decoder.
        self.decoder = decoder
        self.position_bias = RelativePositionBias(
            cfg.n_buckets, cfg.max_distance, cfg.n_heads, bidirectional=not decoder
        )
        self.blocks = nn.ModuleList(TransformerBlock(block) for _ in range(n_layers))
        self.norm = RMSNorm(cfg.d_model, eps=cfg.eps)
        self.dropout = Dropout(cfg.dropout)

    # The bias is computed once per forward pass and given to every block as an additive mask.
    def forward(
        self,
        h: Tensor,
        attention_mask: Tensor | None,
        memory: Tensor | None = None,
        memory_attention_mask: Tensor | None = None,
    ) -> Tensor:
        T = h.shape[1]
        bias = self.position_bias(T, T).to(h.dtype)  # (1, H, T, T)
        if self.decoder:
            # Causality goes into the bias itself: $-\infty$ above the diagonal.
            bias = bias.masked_fill(~causal_mask(T, device=h.device), float("-inf"))
        h = self.dropout(h)
        for block in self.blocks:
            h = block(
                h,
                attention_mask=attention_mask,
                attn_mask=bias,
                memory=memory,
                memory_attention_mask=memory_attention_mask,
            )  # (B, T, C)
        return self.dropout(self.norm(h))


# The full model: one embedding table shared by the encoder, the decoder and the output layer.
class T5ForConditionalGeneration(nn.Module):
    """T5: encoder, decoder with cross-attention, shared embeddings and tied output layer.

    `forward(input_ids (B, S), attention_mask (B, S), decoder_input_ids (B, T), labels (B, T))`
    returns `(logits (B, T, V), loss)`. Without `decoder_input_ids`, they are `shift_right(labels)`.
    """

    def __init__(self, cfg: T5Config) -> None:
        super().__init__()
        if cfg.feed_forward not in ("relu", "gated-gelu", "gelu", "gated-silu"):
            raise ValueError(
                f"feed_forward must be 'relu', 'gelu', 'gated-gelu' or 'gated-silu', got {cfg.feed_forward!r}"
            )
        self.cfg = cfg
        self.shared = nn.Embedding(cfg.vocab_size, cfg.d_model)  # (V, C)
        self.encoder = _T5Stack(cfg, cfg.n_layers, decoder=False)
        self.decoder = _T5Stack(cfg, cfg.n_decoder_layers, decoder=True)

    # Encoding is the shared embedding followed by the encoder stack.
    def encode(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> Tensor:
        """Encoder output `(B, S, C)`."""
        return self.encoder(self.shared(input_ids), attention_mask)

    def forward(
        self,
        input_ids: Tensor,
        attention_mask: Tensor | None = None,
        decoder_input_ids: Tensor | None = None,
        labels: Tensor | None = None,
        decoder_attention_mask: Tensor | None = None,
    ) -> tuple[Tensor, Tensor | None]:
        """Logits `(B, T, V)` of the decoder and, with `labels`, the cross-entropy loss."""
        # Without decoder inputs, teacher-force with the labels shifted right. The encoder output
        # is the memory of every decoder block's cross-attention.
        if decoder_input_ids is None:
            if labels is None:
                raise ValueError("pass decoder_input_ids or labels (which are shifted right)")
            decoder_input_ids = shift_right(
                labels, self.cfg.decoder_start_token_id, self.cfg.pad_token_id
            )
        memory = self.encode(input_ids, attention_mask)  # (B, S, C)
        h = self.decoder(
            self.shared(decoder_input_ids), decoder_attention_mask, memory, attention_mask
        )  # (B, T, C)
        # T5 scales the decoder output by $C^{-1/2}$ before the tied output layer; labels of
        # `-100` are left out of the loss.
        if self.cfg.scale_decoder_outputs:
            h = h * self.cfg.d_model**-0.5
        logits = h @ self.shared.weight.T  # (B, T, V)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=-100)
        return logits, loss

    # The map from our names to Hugging Face's. They nest each block's sub-layers as `layer.0`
    # (self-attention), `layer.1` (cross-attention, decoder only) and the last (feed-forward), and
    # keep the relative position bias in block 0 only.
    def load_hf_state_dict(self, sd: dict[str, Tensor]) -> None:
        """Copy the weights of a Hugging Face `T5ForConditionalGeneration` state dict."""
        gated = self.cfg.feed_forward.startswith("gated-")
        m = {"shared.weight": "shared.weight"}
        for stack, n_layers in (
            ("encoder", self.cfg.n_layers),
            ("decoder", self.cfg.n_decoder_layers),
        ):
            m[f"{stack}.position_bias.bias.weight"] = (
                f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"
            )
            m[f"{stack}.norm.weight"] = f"{stack}.final_layer_norm.weight"
            # Per block: the attention sub-layers (self, and cross in the decoder) with their
            # norms, then the feed-forward, whose index is the number of sub-layers before it.
            for i in range(n_layers):
                hf, us = f"{stack}.block.{i}.layer.", f"{stack}.blocks.{i}."
                sub = [("attn", "norm_attn", "0.SelfAttention")]
                if stack == "decoder":
                    sub.append(("cross", "norm_cross", "1.EncDecAttention"))
                for ours, norm, theirs in sub:
                    for r, hr in (("q", "q"), ("k", "k"), ("v", "v"), ("out", "o")):
                        m[f"{us}{ours}.{r}_proj.weight"] = f"{hf}{theirs}.{hr}.weight"
                    m[f"{us}{norm}.weight"] = f"{hf}{theirs.split('.')[0]}.layer_norm.weight"
                ff = f"{hf}{len(sub)}."
                if gated:
                    m[f"{us}ffn.gate.weight"] = f"{ff}DenseReluDense.wi_0.weight"
                    m[f"{us}ffn.up.weight"] = f"{ff}DenseReluDense.wi_1.weight"
                else:
                    m[f"{us}ffn.up.weight"] = f"{ff}DenseReluDense.wi.weight"
                m[f"{us}ffn.down.weight"] = f"{ff}DenseReluDense.wo.weight"
                m[f"{us}norm_ffn.weight"] = f"{ff}layer_norm.weight"
        # Both stacks' `embed_tokens` and the output layer are Hugging Face's tied copies of
        # `shared`: checked equal (an untied T5 v1.1 head is refused), not read.
        tied = {
            "encoder.embed_tokens.weight": "shared.weight",
            "decoder.embed_tokens.weight": "shared.weight",
            "lm_head.weight": "shared.weight",
        }
        links = [Link(o, t) for o, t in m.items()]
        load_weights(self, sd, links, tied, hint=" (is feed_forward the same?)")


# Teacher forcing: the decoder reads the targets shifted one step right, behind a start token;
# ignored positions (`-100`) become padding.
def shift_right(labels: Tensor, decoder_start_token_id: int, pad_token_id: int) -> Tensor:
    """Decoder inputs for teacher forcing: `[start] + labels[:-1]`, with `-100` replaced by padding.

    >>> shift_right(torch.tensor([[5, 6, -100]]), decoder_start_token_id=0, pad_token_id=0).tolist()
    [[0, 5, 6]]
    """
    shifted = torch.full_like(labels, decoder_start_token_id)
    shifted[:, 1:] = labels[:, :-1]
    return shifted.masked_fill(shifted == -100, pad_token_id)


# ## Span corruption
#
# T5's noise mask is built so that the counts are exact, not just right on average: with $L$
# tokens, $n = \operatorname{round}(L \cdot \text{density})$ are noise, in
# $s = \operatorname{round}(n / \text{mean span})$ spans. The $n$ noise tokens are cut into $s$
# non-empty spans at random, the $L - n$ kept tokens likewise, and the spans alternate, kept first.
# Sentinels count down from the top of the vocabulary (`<extra_id_0>` is the last id), as in T5.
def _random_partition(total: int, parts: int, generator: torch.Generator | None) -> Tensor:
    # `parts` positive integers summing to `total`: choose `parts - 1` distinct cut points.
    cuts = torch.randperm(total - 1, generator=generator)[: parts - 1].sort().values + 1
    edges = torch.cat([torch.tensor([0]), cuts, torch.tensor([total])])
    return edges.diff()


# The corruption draws both sets of span lengths, then interleaves them.
def span_corruption(
    tokens: Tensor,
    sentinel_start_id: int,
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """T5's span-corruption of one sequence `tokens` `(L,)`.

    Args:
        tokens: `(L,)` token ids.
        sentinel_start_id: id of the first sentinel `<extra_id_0>`; sentinel `k` is
            `sentinel_start_id - k`.
        noise_density: fraction of tokens to corrupt.
        mean_span_length: average length of a corrupted span.
        generator: source of randomness.

    Returns:
        `(inputs, targets)`: the input with each noise span replaced by its sentinel, and the
        sentinels each followed by the span they replaced, ending with one more sentinel.
    """
    if tokens.dim() != 1:
        raise ValueError(
            f"span_corruption works on one sequence (L,), got shape {tuple(tokens.shape)}"
        )
    # Exact counts: at least one noise token and one kept token, and no more spans than either
    # side can fill with one token each.
    L = tokens.shape[0]
    n_noise = min(max(round(L * noise_density), 1), L - 1)
    n_spans = max(round(n_noise / mean_span_length), 1)
    if L < 2 or n_spans > min(n_noise, L - n_noise):
        raise ValueError(f"sequence of {L} tokens is too short for span corruption")
    noise_lengths = _random_partition(n_noise, n_spans, generator)
    keep_lengths = _random_partition(L - n_noise, n_spans, generator)
    # Alternate the spans: the input keeps each kept span and puts a sentinel where the noise span
    # after it was; the target lists each sentinel followed by the tokens it hides.
    inputs, targets, pos = [], [], 0
    for k in range(n_spans):
        keep, noise = int(keep_lengths[k]), int(noise_lengths[k])
        sentinel = torch.tensor([sentinel_start_id - k])
        inputs += [tokens[pos : pos + keep], sentinel]
        targets += [sentinel, tokens[pos + keep : pos + keep + noise]]
        pos += keep + noise
    targets.append(torch.tensor([sentinel_start_id - n_spans]))
    return torch.cat(inputs), torch.cat(targets)
