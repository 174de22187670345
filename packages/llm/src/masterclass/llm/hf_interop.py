"""# Interoperability with Hugging Face Llama

A LLaMA-style `LanguageModel` and Hugging Face's `LlamaForCausalLM` are the same function with
differently named weights. Converting is therefore a table of names (`llama_links`, read and
checked in both directions by the transformer chapter's `hf_weights.py`) plus three layout facts:

1. our attention has one fused `qkv` matrix, HF has `q_proj`, `k_proj`, `v_proj` (rows stacked in
   that order); the FFN's `gate`, `up`, `down` are HF's `gate_proj`, `up_proj`, `down_proj`;
2. HF rotates with the half-split pairing; a model configured with `rope_interleaved=True` has its
   query and key rows permuted on the way (`rope.interleaved_to_half_split`), exactly what the
   script that converts Meta's original checkpoints to HF does;
3. a tied model shares `tok_emb` and `lm_head`, which HF expresses as `tie_word_embeddings`.

`to_hf_llama` builds the HF model from our config and copies the weights; `from_hf_llama` goes
back. The test checks that the logits agree both ways in float32. HF `transformers` is imported
inside the functions: it is a reference for tests and an exit door for users, not a dependency of
the model.

The HF-named state dict of a model with grouped-query attention (4 query heads, 2 key/value heads
of 4 dims) shows the fused projection cut into its three parts:

>>> from masterclass.llm.model import LanguageModel
>>> cfg = LMConfig.llama(vocab_size=32, d_model=16, n_layers=1, n_heads=4, n_kv_heads=2)
>>> sd = llama_state_dict(LanguageModel(cfg))
>>> {k.split(".")[-2]: tuple(v.shape) for k, v in sd.items() if "self_attn" in k}
{'q_proj': (16, 16), 'k_proj': (8, 16), 'v_proj': (8, 16), 'o_proj': (16, 16)}

## Exercises

1. Write `split_qkv(qkv, n_heads, n_kv_heads, head_dim)`: HF's `q_proj`, `k_proj`, `v_proj`
   weights from our fused `qkv`. Check it: `uv run pytest --exercise llm.hf_interop`.
2. Write `fuse_qkv(q, k, v)`: the inverse. Why is fusing them faster on a GPU? Check it:
   `uv run pytest --exercise llm.hf_interop`.
"""

from __future__ import annotations

from typing import Any

import torch

from masterclass.llm.config import LMConfig
from masterclass.llm.model import LanguageModel
from masterclass.llm.rope import half_split_to_interleaved, interleaved_to_half_split
from masterclass.transformer.hf_weights import Link, load_weights, ours_to_theirs


# Export starts from the config: every choice of ours that Llama cannot express is listed in one
# error.
def llama_config_kwargs(config: LMConfig) -> dict[str, Any]:
    """`transformers.LlamaConfig` keyword arguments equivalent to `config` (or a clear error)."""
    problems = []
    if config.ffn != "swiglu":
        problems.append(f"ffn={config.ffn!r} (Llama uses 'swiglu')")
    if config.norm != "rmsnorm":
        problems.append(f"norm={config.norm!r} (Llama uses 'rmsnorm')")
    if config.pos != "rope":
        problems.append(f"pos={config.pos!r} (Llama uses 'rope')")
    if config.rope_scaling == "ntk":
        problems.append("rope_scaling='ntk' (HF has only the dynamic variant)")
    if config.norm_position != "pre":
        problems.append(f"norm_position={config.norm_position!r} (Llama is pre-norm)")
    if config.sliding_window is not None:
        problems.append("sliding_window (Llama attends to the whole prefix)")
    if problems:
        raise ValueError("this config has no LlamaForCausalLM equivalent: " + "; ".join(problems))
    # RoPE scaling in HF's `rope_parameters` form; under YaRN, HF's context length is the original
    # one times the factor.
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": config.rope_base}
    max_pos = config.max_seq_len
    if config.rope_scaling == "linear":
        rope.update(rope_type="linear", factor=config.rope_scaling_factor)
    elif config.rope_scaling == "yarn":
        rope.update(
            rope_type="yarn",
            factor=config.rope_scaling_factor,
            original_max_position_embeddings=config.max_seq_len,
        )
        max_pos = int(config.max_seq_len * config.rope_scaling_factor)
    # The rest is a renaming of the fields.
    return dict(
        vocab_size=config.vocab_size,
        hidden_size=config.d_model,
        intermediate_size=config.d_ff,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_kv_heads,
        head_dim=config.head_dim,
        hidden_act="silu",
        max_position_embeddings=max_pos,
        rms_norm_eps=config.norm_eps,
        tie_word_embeddings=config.tie_embeddings,
        rope_parameters=rope,
        attention_bias=config.bias,
        mlp_bias=config.bias,
        attention_dropout=config.dropout,
    )


# ## The table of names
#
# One `Link` per tensor (`transformer/hf_weights.py` reads it, checks it and moves the weights, in
# both directions). Only the fused `qkv` is more than a renaming: Hugging Face's three projections
# are its row blocks, of $H D$, $H_{kv} D$ and $H_{kv} D$ rows (unequal under grouped-query
# attention, hence the explicit sizes). A tied model has no `lm_head` parameter of its own.
def llama_links(config: LMConfig) -> list[Link]:
    """The rows relating our `LanguageModel` parameters to HF Llama (or Mistral) names."""
    H, H_kv, D = config.n_heads, config.n_kv_heads, config.head_dim
    links = [
        Link("tok_emb.weight", "model.embed_tokens.weight"),
        Link("norm.weight", "model.norm.weight"),
    ]
    if not config.tie_embeddings:
        links.append(Link("lm_head.weight", "lm_head.weight"))
    # Per layer: the two norms, then the attention and MLP projections, with biases only when
    # the config has them.
    for i in range(config.n_layers):
        ours, theirs = f"blocks.{i}.", f"model.layers.{i}."
        links += [
            Link(ours + "attn_norm.weight", theirs + "input_layernorm.weight"),
            Link(ours + "ffn_norm.weight", theirs + "post_attention_layernorm.weight"),
        ]
        for s in ("weight", "bias") if config.bias else ("weight",):
            qkv = tuple(theirs + f"self_attn.{r}_proj.{s}" for r in "qkv")
            links += [
                Link(ours + f"attn.qkv.{s}", qkv, sizes=(H * D, H_kv * D, H_kv * D)),
                Link(ours + f"attn.o_proj.{s}", theirs + f"self_attn.o_proj.{s}"),
            ]
            for name in ("gate", "up", "down"):
                links.append(Link(ours + f"ffn.{name}.{s}", theirs + f"mlp.{name}_proj.{s}"))
    return links


# HF rotates with the half-split pairing; a model with `rope_interleaved=True` has its query and
# key rows permuted on the way out and back (the RoPE chapter's permutations), around the copy.
def _permute_rope_rows(sd: dict[str, torch.Tensor], config: LMConfig, to_hf: bool) -> None:
    permute = interleaved_to_half_split if to_hf else half_split_to_interleaved
    for i in range(config.n_layers):
        a = f"model.layers.{i}.self_attn."
        for s in ("weight", "bias") if config.bias else ("weight",):
            sd[a + f"q_proj.{s}"] = permute(sd[a + f"q_proj.{s}"], config.n_heads)
            sd[a + f"k_proj.{s}"] = permute(sd[a + f"k_proj.{s}"], config.n_kv_heads)


# Export renames through the table, lists the tied head under HF's name too, and permutes the
# rotary rows when our pairing differs from HF's.
def llama_state_dict(model: LanguageModel) -> dict[str, torch.Tensor]:
    """Our weights under HF Llama (or Mistral) names, query/key rows in half-split order."""
    c = model.config
    tied = {"lm_head.weight": "tok_emb.weight"} if c.tie_embeddings else None
    out = ours_to_theirs(model.state_dict(), llama_links(c), tied)
    if c.tie_embeddings:  # HF's state dict lists the tied head under its own name too
        out["lm_head.weight"] = out["model.embed_tokens.weight"]
    if c.rope_interleaved:
        _permute_rope_rows(out, c, to_hf=True)
    return out


def to_hf_llama(model: LanguageModel) -> Any:
    """A `transformers.LlamaForCausalLM` computing the same function as `model` (weights copied)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    hf = LlamaForCausalLM(LlamaConfig(**llama_config_kwargs(model.config)))
    state = llama_state_dict(model)
    missing, unexpected = hf.load_state_dict(state, strict=False)
    # HF may list derived buffers (rotary inv_freq) or the tied lm_head as missing; nothing else.
    real_missing = [m for m in missing if "rotary_emb" not in m and m != "lm_head.weight"]
    if real_missing or unexpected:
        raise RuntimeError(
            f"weight mapping mismatch: missing {real_missing}, unexpected {unexpected}"
        )
    hf.to(model.lm_head.weight.dtype)
    return hf.eval()


# The way back starts from the config. HF's RoPE scaling maps onto ours (YaRN's original length is
# our `max_seq_len`); any other rope type is refused.
def config_from_hf_llama(hf_config: Any, *, rope_interleaved: bool = False) -> LMConfig:
    """The `LMConfig` of a `transformers.LlamaConfig`."""
    rope = dict(getattr(hf_config, "rope_parameters", None) or {})
    rope_type = rope.get("rope_type", "default")
    kwargs: dict[str, Any] = {}
    max_len = hf_config.max_position_embeddings
    if rope_type == "linear":
        kwargs.update(rope_scaling="linear", rope_scaling_factor=float(rope["factor"]))
    elif rope_type == "yarn":
        kwargs.update(rope_scaling="yarn", rope_scaling_factor=float(rope["factor"]))
        max_len = int(rope["original_max_position_embeddings"])
    elif rope_type != "default":
        raise ValueError(f"rope_type {rope_type!r} is not supported; use default, linear or yarn")
    # HF may set the head width on its own; ours is always d_model / H. One `bias` switch serves
    # attention and MLP alike.
    head_dim = (
        getattr(hf_config, "head_dim", None)
        or hf_config.hidden_size // hf_config.num_attention_heads
    )
    if head_dim * hf_config.num_attention_heads != hf_config.hidden_size:
        raise ValueError(
            f"head_dim {head_dim} x {hf_config.num_attention_heads} heads != hidden_size "
            f"{hf_config.hidden_size}; LanguageModel needs d_model = H * D"
        )
    if hf_config.attention_bias != hf_config.mlp_bias:
        raise ValueError("LanguageModel has one `bias` switch; attention_bias and mlp_bias differ")
    # Everything else is the LLaMA recipe with HF's sizes.
    return LMConfig.llama(
        vocab_size=hf_config.vocab_size,
        d_model=hf_config.hidden_size,
        n_layers=hf_config.num_hidden_layers,
        n_heads=hf_config.num_attention_heads,
        n_kv_heads=hf_config.num_key_value_heads,
        d_ff=hf_config.intermediate_size,
        rope_base=float(rope.get("rope_theta", 10000.0)),
        rope_interleaved=rope_interleaved,
        max_seq_len=max_len,
        tie_embeddings=bool(hf_config.tie_word_embeddings),
        bias=bool(hf_config.attention_bias),
        norm_eps=hf_config.rms_norm_eps,
        **kwargs,
    )


# Loading builds the config, permutes the rotary rows when the interleaved pairing is wanted, and
# copies through the checked table; HF's tied head is checked equal, not read.
def from_hf_llama(hf_model: Any, *, rope_interleaved: bool = False) -> LanguageModel:
    """A `LanguageModel` computing the same function as a `transformers.LlamaForCausalLM`.

    With `rope_interleaved=True` the result uses the interleaved pairing, its query/key rows
    permuted to match.
    """
    config = config_from_hf_llama(hf_model.config, rope_interleaved=rope_interleaved)
    theirs = dict(hf_model.state_dict())
    if rope_interleaved:
        _permute_rope_rows(theirs, config, to_hf=False)
    tied = {"lm_head.weight": "model.embed_tokens.weight"} if config.tie_embeddings else None
    model = LanguageModel(config).to(hf_model.dtype)
    load_weights(model, theirs, llama_links(config), tied)
    return model.eval()
