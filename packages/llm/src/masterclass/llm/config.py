r"""# The model configuration

Every architecture decision of a decoder-only language model fits in one small record: how wide,
how deep, how many query and key/value heads, which feed-forward network, which normalization, which
positional scheme, whether the output projection shares the embedding matrix. This file holds that
record, `LMConfig`, with one comment per field, checks that the choices are consistent, and offers
two named starting points:

- `LMConfig.llama()`: the LLaMA recipe (Touvron et al., 2023): RMSNorm before each sub-layer,
  SwiGLU feed-forward with $d_{ff} \approx \tfrac{8}{3} d_{model}$, rotary positions with the
  half-split pairing that Hugging Face uses, no biases, untied embeddings.
- `LMConfig.gpt2()`: the GPT-2 recipe (Radford et al., 2019): LayerNorm, a GELU MLP with
  $d_{ff} = 4 d_{model}$, learned absolute positions, biases, tied embeddings.

The head dimension is $D = d_{model} / H$. Grouped-query attention (Ainslie et al., 2023) shares
each key/value head among $H / H_{kv}$ query heads: $H_{kv} = H$ is multi-head attention,
$H_{kv} = 1$ is multi-query attention.

The defaults are a small model, 4 layers of width 192 over a 4,096-token vocabulary, small enough
to train on a laptop CPU (the capstone's first default; its `small` preset now trains width 128
in two heads over 2,048 tokens, which takes more steps in the same minutes).

## Exercises

1. Write `gated_d_ff(d_model)`: the SwiGLU hidden width that keeps the parameters of a $4d$ MLP
   ($3 d\, d_{ff} = 2 d \cdot 4d$, so $\tfrac83 d$), rounded up to a multiple of 64. Check it:
   `uv run pytest --exercise llm.config`.
2. Write `llama_parameters(vocab_size, d_model, n_layers, n_heads, n_kv_heads)`: the parameter
   count of `LanguageModel(LMConfig.llama(...))` from the configuration alone. What share is the
   embedding and output head for the default config? Check it:
   `uv run pytest --exercise llm.config`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

FFN_KINDS = ("swiglu", "geglu", "gelu", "silu", "relu2")
NORM_KINDS = ("rmsnorm", "layernorm")
NORM_POSITIONS = ("pre", "post")
POS_KINDS = ("rope", "alibi", "learned", "none")
ROPE_SCALINGS = ("none", "linear", "ntk", "yarn")


@dataclass
class LMConfig:
    """Hyper-parameters of `LanguageModel`; every field is checked when the config is made.

    >>> cfg = LMConfig.llama(d_model=64, n_layers=2, n_heads=4, n_kv_heads=2)
    >>> cfg.head_dim, cfg.d_ff
    (16, 192)
    """

    # Number of token ids $V$ (the tokenizer's vocabulary size).
    vocab_size: int = 4096
    # Width of the residual stream, $d_{model}$.
    d_model: int = 192
    # Number of transformer blocks.
    n_layers: int = 4
    # Number of query heads $H$; must divide d_model.
    n_heads: int = 6
    # Number of key/value heads $H_{kv}$ (None: equal to n_heads); must divide n_heads.
    n_kv_heads: int | None = None
    # Hidden width of the feed-forward network (None: 8/3 d_model rounded up to 64 for gated FFNs, 4 d_model otherwise).
    d_ff: int | None = None
    # Feed-forward kind: "swiglu" | "geglu" (gated) or "gelu" | "silu" | "relu2" (plain two-layer MLP).
    ffn: str = "swiglu"
    # Normalization before each sub-layer and at the end: "rmsnorm" or "layernorm".
    norm: str = "rmsnorm"
    # Where the norm sits: "pre" (x + f(norm(x)), GPT-2 on) or "post" (norm(x + f(x)), the 2017 Transformer).
    norm_position: str = "pre"
    # Positional scheme: "rope" (rotary), "alibi" (linear attention bias), "learned" (absolute) or "none".
    pos: str = "rope"
    # RoPE base $b$: frequencies are $b^{-2i/D}$.
    rope_base: float = 10000.0
    # RoPE pairing: False pairs dimension $i$ with $i + D/2$ (HF Llama), True pairs $2i$ with $2i+1$ (Meta's original).
    rope_interleaved: bool = False
    # RoPE context extension: "none", "linear" (position interpolation), "ntk" (NTK-aware base) or "yarn".
    rope_scaling: str = "none"
    # Context extension factor $s$ = new length / training length (used when rope_scaling != "none").
    rope_scaling_factor: float = 1.0
    # Longest sequence the model is trained on (learned positions need it; RoPE scaling is relative to it).
    max_seq_len: int = 512
    # Share the token embedding matrix with the output projection.
    tie_embeddings: bool = False
    # Add biases to every linear layer (and LayerNorm).
    bias: bool = False
    # Dropout probability on attention weights and residual branches (0 for the LLaMA recipe).
    dropout: float = 0.0
    # Epsilon inside the normalization's square root.
    norm_eps: float = 1e-5
    # Attend only to the last `sliding_window` positions (None: the whole causal prefix).
    sliding_window: int | None = None
    # With sliding_window: every `global_every`-th layer attends globally, the others locally (Gemma-style).
    global_every: int | None = None
    # Standard deviation of the normal initialization of weight matrices.
    init_std: float = 0.02

    def __post_init__(self) -> None:
        """Fill in derived defaults and reject inconsistent choices with a clear message."""
        for name in ("vocab_size", "d_model", "n_layers", "n_heads", "max_seq_len"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"LMConfig.{name} must be a positive int, got {value!r}")
        if self.n_kv_heads is None:
            self.n_kv_heads = self.n_heads
        if self.d_model % self.n_heads != 0:
            raise ValueError(
                f"LMConfig.d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads}); "
                f"pick n_heads among the divisors of {self.d_model}"
            )
        if self.n_kv_heads <= 0 or self.n_heads % self.n_kv_heads != 0:
            raise ValueError(
                f"LMConfig.n_kv_heads ({self.n_kv_heads}) must be a positive divisor of n_heads "
                f"({self.n_heads}): 1 is multi-query, n_heads is multi-head attention"
            )
        # Every string option must name a known choice; RoPE rotates pairs of dimensions, so it
        # needs an even head width.
        _check_choice("ffn", self.ffn, FFN_KINDS)
        _check_choice("norm", self.norm, NORM_KINDS)
        _check_choice("norm_position", self.norm_position, NORM_POSITIONS)
        _check_choice("pos", self.pos, POS_KINDS)
        _check_choice("rope_scaling", self.rope_scaling, ROPE_SCALINGS)
        if self.pos == "rope" and self.head_dim % 2 != 0:
            raise ValueError(
                f"RoPE rotates pairs of dimensions, so the head dim d_model / n_heads must be even, "
                f"got {self.head_dim}"
            )
        if self.d_ff is None:
            if self.ffn in ("swiglu", "geglu"):
                # Gated FFNs have three matrices instead of two; 8/3 d keeps the parameter count of a 4d MLP.
                self.d_ff = 64 * -(-(8 * self.d_model) // (3 * 64))
            else:
                self.d_ff = 4 * self.d_model
        if self.d_ff <= 0:
            raise ValueError(f"LMConfig.d_ff must be positive, got {self.d_ff}")
        # Ranges: dropout in [0, 1), a RoPE base above 1, a scaling factor that only stretches,
        # a positive epsilon and window; `global_every` needs a window to alternate with.
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LMConfig.dropout must be in [0, 1), got {self.dropout}")
        if self.rope_base <= 1.0:
            raise ValueError(f"LMConfig.rope_base must be > 1, got {self.rope_base}")
        if self.rope_scaling_factor < 1.0:
            raise ValueError(
                f"LMConfig.rope_scaling_factor must be >= 1 (it stretches the context), got {self.rope_scaling_factor}"
            )
        if self.norm_eps <= 0:
            raise ValueError(f"LMConfig.norm_eps must be positive, got {self.norm_eps}")
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ValueError(
                f"LMConfig.sliding_window must be a positive int or None, got {self.sliding_window}"
            )

        if self.global_every is not None and (
            self.sliding_window is None or self.global_every <= 0
        ):
            raise ValueError(
                f"LMConfig.global_every ({self.global_every}) needs a positive value and a sliding_window"
            )

    # Derived quantities: the head width, and which layers attend locally.
    @property
    def head_dim(self) -> int:
        """Per-head width $D = d_{model} / H$."""
        return self.d_model // self.n_heads

    def layer_windows(self) -> list[int | None]:
        """The attention window of each layer (None = global): every layer local with
        `sliding_window`, except every `global_every`-th one, which is global.

        >>> LMConfig(n_layers=4, sliding_window=8, global_every=2).layer_windows()
        [8, None, 8, None]
        """
        if self.sliding_window is None:
            return [None] * self.n_layers
        if self.global_every is None:
            return [self.sliding_window] * self.n_layers
        return [
            None if (i + 1) % self.global_every == 0 else self.sliding_window
            for i in range(self.n_layers)
        ]

    # Two named recipes, each a set of defaults that `overrides` can change.
    @classmethod
    def llama(cls, **overrides: Any) -> LMConfig:
        """The LLaMA recipe: RMSNorm, SwiGLU, half-split RoPE, no bias, untied; `overrides` win."""
        base: dict[str, Any] = dict(
            ffn="swiglu",
            norm="rmsnorm",
            pos="rope",
            rope_interleaved=False,
            bias=False,
            tie_embeddings=False,
            dropout=0.0,
            norm_eps=1e-5,
        )
        base.update(overrides)
        return cls(**base)

    @classmethod
    def gpt2(cls, **overrides: Any) -> LMConfig:
        """The GPT-2 recipe: LayerNorm, GELU MLP, learned positions, biases, tied; `overrides` win."""
        base: dict[str, Any] = dict(
            ffn="gelu", norm="layernorm", pos="learned", bias=True, tie_embeddings=True
        )
        base.update(overrides)
        return cls(**base)

    # A round trip through a plain dict, strict on the way back, so that a typo in a JSON file
    # fails loudly.
    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON files and checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LMConfig:
        """Inverse of `to_dict`; unknown keys are an error, not silently dropped."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown LMConfig fields {unknown}; known fields are {sorted(names)}")
        return cls(**d)


def _check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"LMConfig.{name} must be one of {allowed}, got {value!r}")
