r"""# A decoder-only language model

The model every later module trains, quantizes, exports and serves. One `LMConfig` selects the
variant: multi-head, grouped-query or multi-query attention; a GELU, SiLU, ReLU², SwiGLU or GeGLU
feed-forward; RMSNorm or LayerNorm, before or after each sub-layer; rotary, ALiBi, learned or no
positions; full, sliding-window or interleaved local/global attention; tied or untied
embeddings; biases; dropout. With `LMConfig.llama()` its logits equal Hugging Face's
`LlamaForCausalLM` with the same weights (`hf_interop.py`).

Each of the $L$ blocks is pre-norm (Xiong et al., 2020): the residual stream $x$ is only ever added
to, and each sub-layer reads a normalized copy,

$$ x \leftarrow x + \operatorname{Attn}(\operatorname{Norm}(x)), \qquad
   x \leftarrow x + \operatorname{FFN}(\operatorname{Norm}(x)), $$

then a final norm and the output projection give logits over the $V$ tokens. (The post-norm
block of the 2017 Transformer, $x \leftarrow \operatorname{Norm}(x + \operatorname{Attn}(x))$, is
`norm_position="post"`, kept for `architecture_choices.py`.)

The forward pass returns logits `(B, T, V)`; given `targets` `(B, T)` it returns
`(logits, loss)` with the mean cross-entropy. Keys and values of the cache are stored after the
rotary rotation, `(L, B, H_kv, T, D)` in the pure-tensor path.

The model has three entry points that share every line of the block:

- `forward(idx, targets=None)`: a training/evaluation pass over whole sequences;
- `forward_with_past(idx, past_keys, past_values)`: the incremental step as a pure function of
  tensors (keys and values in, keys and values out), which `torch.onnx.export` traces with dynamic
  batch, sequence and past lengths;
- `decode(idx, cache)`: the same step against a mutable `kv_cache` object (static or paged), which
  `generate.py` drives.

Attention runs in torch's fused `F.scaled_dot_product_attention`: it is the production speed path,
proven equal to the from-scratch attention of the transformer chapter by that chapter's tests, and
`flash_attention.py` derives the algorithm inside it. Norms use torch's fused `nn.RMSNorm` /
`nn.LayerNorm` for the same reason. The feed-forward network is the transformer chapter's
`FeedForward` (plain or gated, with the activation named by `LMConfig.ffn`).

## Exercises

1. Write `alibi_slopes(n_heads)`: the geometric slopes $2^{-8h/H}$, with the paper's rule for a
   head count that is not a power of two. Check it: `uv run pytest --exercise llm.model`.
2. Write `repeat_kv(k, n_heads)`: expand `(B, H_kv, T, D)` keys to `(B, H, T, D)` so that
   consecutive query heads share a key/value head, as `Attention` does for GQA. The checker
   compares the attention it gives with PyTorch's `enable_gqa=True`. Check it:
   `uv run pytest --exercise llm.model`.
3. Write `forward_flops(config, seq_len)`: the forward FLOPs per token ($2$ per weight of every
   matrix product, plus $4THD$ per layer for attention). At which context length does attention
   cost as much as the matrix products for the default config? Check it:
   `uv run pytest --exercise llm.model`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.llm.config import LMConfig
from masterclass.llm.context_window import scaled_rope_inv_freq
from masterclass.llm.rope import apply_rope, rope_cos_sin
from masterclass.transformer.feedforward import FeedForward

if TYPE_CHECKING:
    from collections.abc import Callable

    from masterclass.llm.kv_cache import KVCache

    KVUpdate = Callable[[int, Tensor, Tensor], tuple[Tensor, Tensor]]


# `LMConfig.ffn` names an FFN; the transformer chapter's `FeedForward` takes an activation and a
# gate switch. GELU is GPT-2's tanh approximation, also the GELU of GeGLU in Gemma and T5 v1.1.
FFN_ACTIVATION = {
    "swiglu": ("silu", True),
    "geglu": ("gelu_tanh", True),
    "gelu": ("gelu_tanh", False),
    "silu": ("silu", False),
    "relu2": ("relu2", False),
}


def _norm(config: LMConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.d_model, eps=config.norm_eps)
    return nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)


# ## ALiBi slopes
#
# ALiBi (Press et al., 2022) adds no embedding at all: head $h$ subtracts $m_h\,(i - j)$ from the
# score of query $i$ on key $j$, a linear penalty on distance, with slopes
# $m_h = 2^{-8h/H}$ for $h = 1..H$ (a geometric sequence, so some heads look far and some near).


def alibi_slopes(n_heads: int) -> Tensor:
    """ALiBi slopes $2^{-8h/H}$, shape `(H,)`, for any number of heads.

    >>> alibi_slopes(4).tolist()
    [0.25, 0.0625, 0.015625, 0.00390625]
    """

    # For H not a power of two the paper takes the slopes of the next power down and interleaves
    # every other slope of the next power up.
    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    p = 2 ** math.floor(math.log2(n_heads))
    slopes = power_of_two(p) + power_of_two(2 * p)[0::2][: n_heads - p]
    return torch.tensor(slopes)


class Attention(nn.Module):
    """Causal self-attention with $H$ query heads and $H_{kv}$ key/value heads (MHA, GQA, MQA)."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = (
            config.n_heads,
            config.n_kv_heads,
            config.head_dim,
        )
        # One fused projection for queries, keys and values: rows [q (H D); k (H_kv D); v (H_kv D)].
        self.qkv = nn.Linear(
            config.d_model, (self.n_heads + 2 * self.n_kv_heads) * self.head_dim, bias=config.bias
        )
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.d_model, bias=config.bias)
        self.rope_interleaved = config.rope_interleaved
        self.dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        mask: Tensor | None,
        kv_update: KVUpdate | None,
        layer: int,
    ) -> Tensor:
        """Attend from `x` `(B, T, d_model)`; `mask` is None (plain causal over `x` alone), a bool
        `(T, T_k)` mask or a float `(H, T, T_k)` bias; `kv_update(layer, k, v)` returns all keys and
        values including the past ones."""
        B, T, _ = x.shape
        H, H_kv, D = self.n_heads, self.n_kv_heads, self.head_dim
        # One matrix product gives the queries, keys and values of all heads, split by head count.
        qkv = self.qkv(x).view(B, T, H + 2 * H_kv, D).transpose(1, 2)  # (B, H + 2 H_kv, T, D)
        qk, v = qkv.split([H + H_kv, H_kv], dim=1)  # (B, H + H_kv, T, D), (B, H_kv, T, D)
        # Queries and keys are rotated by the same angles, so one call rotates both.
        if rope is not None:
            qk = apply_rope(qk, *rope, interleaved=self.rope_interleaved)
        q, k = qk.split([H, H_kv], dim=1)  # (B, H, T, D), (B, H_kv, T, D)
        if kv_update is not None:
            k, v = kv_update(layer, k, v)  # (B, H_kv, T_past + T, D)
        # A single decoding step sees every stored key, so the H / H_kv query heads that share a
        # key/value head can be stacked as H / H_kv "positions" of one head: attention over the
        # cache without copying it H / H_kv times.
        if T == 1 and mask is None and kv_update is not None and H_kv != H:
            q = q.reshape(B, H_kv, H // H_kv, D)  # (B, H_kv, H / H_kv, D): heads h = g * rep + r
            y = F.scaled_dot_product_attention(q, k, v)  # (B, H_kv, H / H_kv, D)
            return self.resid_dropout(self.o_proj(y.reshape(B, 1, H * D)))  # (B, 1, d_model)
        # Grouped-query attention: each key/value head serves H / H_kv query heads. Expanding is a
        # view until the reshape; it keeps the graph exportable to ONNX (SDPA's `enable_gqa` is not).
        if H_kv != H:
            T_k = k.shape[2]
            k = (
                k[:, :, None].expand(B, H_kv, H // H_kv, T_k, D).reshape(B, H, T_k, D)
            )  # (B, H, T_k, D)
            v = (
                v[:, :, None].expand(B, H_kv, H // H_kv, T_k, D).reshape(B, H, T_k, D)
            )  # (B, H, T_k, D)
        # SDPA's causal flag serves only when there is no explicit mask, no past and more than one
        # query; the heads are then merged back into the channels.
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            is_causal=mask is None and T > 1 and kv_update is None,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, T, D)
        y = y.transpose(1, 2).reshape(B, T, H * D)  # (B, T, H D)
        return self.resid_dropout(self.o_proj(y))  # (B, T, d_model)


# A block is the two sub-layers, attention then feed-forward, each with its own norm.
class Block(nn.Module):
    """One pre-norm transformer block: attention then FFN, each added to the residual stream."""

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.attn_norm = _norm(config)
        self.attn = Attention(config)
        self.ffn_norm = _norm(config)
        self.post_norm = config.norm_position == "post"
        activation, gated = FFN_ACTIVATION[config.ffn]
        self.ffn = FeedForward(
            config.d_model, config.d_ff, activation, gated, config.bias, config.dropout
        )

    # Pre-norm adds each sub-layer's output on the normalized stream to the stream itself;
    # post-norm normalizes after each addition.
    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        mask: Tensor | None,
        kv_update: KVUpdate | None,
        layer: int,
    ) -> Tensor:
        """`(B, T, d_model) -> (B, T, d_model)`."""
        if self.post_norm:  # the original Transformer: normalize after each residual addition
            x = self.attn_norm(x + self.attn(x, rope, mask, kv_update, layer))
            return self.ffn_norm(x + self.ffn(x))
        x = x + self.attn(self.attn_norm(x), rope, mask, kv_update, layer)
        return x + self.ffn(self.ffn_norm(x))


# The model: embeddings, the blocks, a final norm and the output head, optionally tied to the
# token embeddings.
class LanguageModel(nn.Module):
    """Decoder-only language model configured by `LMConfig`.

    >>> model = LanguageModel(LMConfig(vocab_size=50, d_model=32, n_layers=2, n_heads=4))
    >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 50])
    """

    def __init__(self, config: LMConfig) -> None:
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = (
            nn.Embedding(config.max_seq_len, config.d_model) if config.pos == "learned" else None
        )
        self.drop = nn.Dropout(config.dropout)
        # The trunk is the blocks and a final norm; the head maps back to the vocabulary and, tied,
        # is the embedding matrix itself.
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.norm = _norm(config)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.tok_emb.weight
        # Positions: the learned table above, rotary frequencies (rescaled for a longer context if
        # the config asks), or ALiBi slopes; the last two are buffers, not parameters.
        if config.pos == "rope":
            inv_freq, rope_scale = scaled_rope_inv_freq(
                config.head_dim,
                config.rope_base,
                config.rope_scaling,
                config.rope_scaling_factor,
                config.max_seq_len,
            )
            self.register_buffer("inv_freq", inv_freq, persistent=False)
            self.rope_scale = rope_scale
        if config.pos == "alibi":
            self.register_buffer("slopes", alibi_slopes(config.n_heads), persistent=False)
        self.apply(self._init_weights)
        # GPT-2's scaled init: each residual branch's output projection gets std / sqrt(2L), so that
        # the variance of the residual stream stays O(1) after the 2L additions.
        for block in self.blocks:
            for proj in (block.attn.o_proj, block.ffn.down):
                nn.init.normal_(proj.weight, std=config.init_std / math.sqrt(2 * config.n_layers))

    def _init_weights(self, module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=self.config.init_std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=self.config.init_std)

    # ## Positions and masks for a chunk of $T$ new tokens after $T_{past}$ cached ones
    #
    # The new queries sit at positions $T_{past} .. T_{past}+T-1$ and may see keys $0 ..$ their own
    # position. Everything is computed from `arange`s of the two lengths, so that the traced graph of
    # `forward_with_past` stays valid for any lengths (it always builds the mask: a branch on a
    # length would freeze that length into the graph). Plain causal attention without a past needs
    # no mask at all (SDPA's `is_causal`), and a single new token with no window sees every key.

    def _rope(self, t_past: int, t: int, device: torch.device) -> tuple[Tensor, Tensor] | None:
        if self.config.pos != "rope":
            return None
        positions = torch.arange(t, device=device) + t_past  # (T,)
        return rope_cos_sin(
            positions,
            self.inv_freq,
            interleaved=self.config.rope_interleaved,
            scale=self.rope_scale,
        )

    # The mask is causal, optionally limited to the last `window` keys. With ALiBi it becomes an
    # additive bias, minus slope times distance, with $-\infty$ where attention is not allowed.
    def _mask(
        self, t_past: int, t: int, device: torch.device, always: bool, window: int | None = None
    ) -> Tensor | None:
        alibi = self.config.pos == "alibi"
        if not always and not alibi and window is None:
            return None
        q_pos = torch.arange(t, device=device)[:, None] + t_past  # (T, 1)
        k_pos = torch.arange(t_past + t, device=device)[None, :]  # (1, T_k)
        allowed = k_pos <= q_pos  # (T, T_k) causal
        if window is not None:
            allowed = allowed & (k_pos > q_pos - window)  # (T, T_k) only the last `window` keys
        if not alibi:
            return allowed
        distance = (q_pos - k_pos).to(torch.float32)  # (T, T_k)
        bias = -self.slopes[:, None, None] * distance  # (H, T, T_k)
        return bias.masked_fill(~allowed, float("-inf"))

    # Layers with the same window share one mask, built once per forward pass.
    def layer_windows(self) -> list[int | None]:
        """The attention window of each layer (None = global); see `LMConfig.layer_windows`."""
        return self.config.layer_windows()

    def _layer_masks(
        self, t_past: int, t: int, device: torch.device, always: bool
    ) -> list[Tensor | None]:
        masks: dict[int | None, Tensor | None] = {}
        windows = self.layer_windows()
        for w in set(windows):
            masks[w] = self._mask(t_past, t, device, always, w)
        return [masks[w] for w in windows]

    # Token embeddings, plus learned positions shifted by the past length when the model has them.
    def _embed(self, idx: Tensor, t_past: int) -> Tensor:
        x = self.tok_emb(idx)  # (B, T, d_model)
        if self.pos_emb is not None:
            t = idx.shape[1]
            if not torch.compiler.is_compiling() and t_past + t > self.config.max_seq_len:
                raise ValueError(
                    f"learned positions cover {self.config.max_seq_len} tokens, got {t_past + t}; "
                    f"raise LMConfig.max_seq_len or use pos='rope'"
                )
            x = x + self.pos_emb(torch.arange(t, device=idx.device) + t_past)  # (B, T, d_model)
        return self.drop(x)

    # The trunk every path shares: embed, rotary angles, one mask per distinct window, the blocks,
    # the final norm.
    def _run(
        self,
        idx: Tensor,
        t_past: int,
        kv_update: KVUpdate | None,
        always_mask: bool,
        no_mask: bool = False,
    ) -> Tensor:
        if idx.dim() != 2 or idx.dtype not in (torch.int64, torch.int32):
            raise ValueError(
                f"idx must be an integer tensor of shape (B, T), got {idx.dtype} {tuple(idx.shape)}"
            )
        t = idx.shape[1]
        x = self._embed(idx, t_past)  # (B, T, d_model)
        rope = self._rope(t_past, t, idx.device)
        if no_mask:  # a bounded cache already holds exactly the keys a single new token may see
            masks: list[Tensor | None] = [None] * len(self.blocks)
        else:
            masks = self._layer_masks(t_past, t, idx.device, always_mask)
        for layer, block in enumerate(self.blocks):
            x = block(x, rope, masks[layer], kv_update, layer)
        return self.norm(x)  # (B, T, d_model)

    # Training and plain inference: no past, so causal attention needs no mask unless a window or
    # ALiBi asks for one.
    def forward(self, idx: Tensor, targets: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor]:
        """Logits `(B, T, V)` for token ids `idx` `(B, T)`.

        With `targets` `(B, T)` (the next token at each position; -100 = ignore) it returns
        `(logits, loss)`, the mean cross-entropy computed in float32.
        """
        logits = self.lm_head(self._run(idx, 0, None, always_mask=False))  # (B, T, V)
        if targets is None:
            return logits
        loss = F.cross_entropy(
            logits.float().view(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100
        )
        return logits, loss

    # The exportable path: the past comes in as tensors, and the `kv_update` callback collects
    # each layer's extended keys and values to return them as tensors too.
    def forward_with_past(
        self, idx: Tensor, past_keys: Tensor, past_values: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One incremental step as a pure function of tensors (the ONNX-exportable path).

        `idx` `(B, T)`, `past_keys`/`past_values` `(L, B, H_kv, T_past, D)` with `T_past` >= 0.
        Returns logits `(B, T, V)` and the keys/values `(L, B, H_kv, T_past + T, D)` after the step.
        Keys are stored after the rotary rotation, as in HF's cache.
        """
        new_keys: list[Tensor] = []
        new_values: list[Tensor] = []

        def concat_past(layer: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            k = torch.cat((past_keys[layer], k), dim=2)  # (B, H_kv, T_past + T, D)
            v = torch.cat((past_values[layer], v), dim=2)  # (B, H_kv, T_past + T, D)
            new_keys.append(k)
            new_values.append(v)
            return k, v

        # The mask is always built here (`always_mask`), so one traced graph serves every length.
        h = self._run(idx, past_keys.shape[3], concat_past, always_mask=True)  # (B, T, d_model)
        return self.lm_head(h), torch.stack(new_keys), torch.stack(new_values)

    # The cached path: the `KVCache` takes each layer's new keys and values through `update`. A
    # bounded (rolling) cache holds exactly the keys one new token may see, so it needs no mask.
    def decode(self, idx: Tensor, cache: KVCache, *, last_only: bool = False) -> Tensor:
        """Feed `idx` `(B, T)` after the `cache.length` tokens stored in `cache`; returns logits
        `(B, T, V)` (or `(B, 1, V)` with `last_only`) and advances the cache by `T`."""
        t = idx.shape[1]
        bounded = getattr(cache, "bounded", False)
        if bounded and (t > 1 or self.config.pos == "alibi"):
            raise ValueError(
                "a bounded (rolling) cache is fed one token at a time and does not support ALiBi; "
                f"got T={t}, pos={self.config.pos!r}"
            )
        h = self._run(idx, cache.length, cache.update, always_mask=t > 1, no_mask=bounded)
        cache.advance(t)
        if last_only:
            h = h[:, -1:]  # (B, 1, d_model)
        return self.lm_head(h)

    # ## Counting parameters and FLOPs
    #
    # A matrix product with a $(m \times n)$ weight costs $2mn$ FLOPs per token (a multiply and an
    # add per weight), so the forward pass costs $2N_{matmul}$ per token, where $N_{matmul}$ counts
    # the weights of every linear layer including the output projection (the embedding lookup and
    # the norms are not products). Attention adds $QK^\top$ and the weighted sum of values:
    # $2 \cdot 2\, T\, H D$ per layer for a context of $T$ (Kaplan et al., 2020, count the full
    # context; a causal kernel does half). The backward pass costs twice the forward, hence the
    # familiar $C \approx 6ND$ for training.

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Number of distinct parameters (a tied matrix counts once); `non_embedding` drops the
        token and position embedding tables (the convention of scaling-law papers)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.tok_emb.weight.numel()
            if self.pos_emb is not None:
                n -= self.pos_emb.weight.numel()
        return n

    # The count follows the formula above: the weights of every linear layer, the output
    # projection included, then the attention term of each layer.
    def flops_per_token(self, seq_len: int | None = None, *, training: bool = True) -> int:
        r"""FLOPs per token at context `seq_len` (default `max_seq_len`): forward + backward
        ($3\times$ the forward) when `training`, else the forward pass alone."""
        c = self.config
        t = c.max_seq_len if seq_len is None else seq_len
        matmul = c.vocab_size * c.d_model  # output projection
        for block in self.blocks:
            matmul += block.attn.qkv.weight.numel() + block.attn.o_proj.weight.numel()
            matmul += sum(m.weight.numel() for m in block.ffn.modules() if isinstance(m, nn.Linear))
        forward = 2 * matmul + c.n_layers * 4 * t * c.n_heads * c.head_dim
        return 3 * forward if training else forward
