"""Every variant of `LanguageModel` that is not LLaMA, as a whole model, against a reference that
shares none of its code: logits and the gradient of every parameter.

- ALiBi + LayerNorm + GELU + biases + tied embeddings: Hugging Face's `BloomForCausalLM`;
- learned positions + LayerNorm + tied embeddings: Hugging Face's `GPT2LMHeadModel`;
- GeGLU (with RoPE, RMSNorm, grouped-query attention, untied): Hugging Face's `GemmaForCausalLM`;
- ReLU², SiLU, post-norm, no positions, multi-query attention, and ALiBi once more: the model
  written out as formulas in float64 below.

Each Hugging Face model is random-initialized from a tiny config (no download) and run with
`torch.func.functional_call` on parameters *computed from ours* (renamed, transposed, permuted,
rescaled), so autograd carries its gradients back to our parameters' copies: one backward pass
gives the reference gradient of every parameter of ours, whatever the conversion. The LLaMA recipe
has its own test against `LlamaForCausalLM` (`test_hf_interop.py`).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.hf_interop import llama_links
from masterclass.transformer.hf_weights import ours_to_theirs

TINY = dict(vocab_size=97, d_model=64, n_layers=2, n_heads=4, max_seq_len=32)
H, D = 4, 16


def _compare(model, reference, logits_tol, grad_tol):
    """Run ours and `reference(params, idx)` on the same batch and loss; compare logits and the
    gradient of every parameter (a parameter the reference ignores has no gradient: a failure)."""
    g = torch.Generator().manual_seed(0)
    idx = torch.randint(0, 97, (2, 12), generator=g)
    targets = torch.randint(0, 97, (2, 12), generator=g)
    leaves = {n: p.detach().clone().requires_grad_() for n, p in model.named_parameters()}
    logits = model(idx)
    F.cross_entropy(logits.reshape(-1, 97), targets.reshape(-1)).backward()
    ref_logits = reference(leaves, idx)
    F.cross_entropy(ref_logits.reshape(-1, 97), targets.reshape(-1)).backward()
    torch.testing.assert_close(logits, ref_logits, **logits_tol)
    for name, p in model.named_parameters():
        assert leaves[name].grad is not None, f"the reference does not use {name}"
        torch.testing.assert_close(
            p.grad, leaves[name].grad, **grad_tol, msg=lambda m, n=name: f"{n}: {m}"
        )


# Hugging Face's float32 models run the same operations as ours in another order (eager attention
# against SDPA, a fused qkv against three projections): logits of size O(1) agree to ~1e-6, and
# 1e-5 leaves margin; gradients of size 1e-3..1 get 1e-5 absolute and 1e-4 relative.
HF_LOGITS = dict(atol=1e-5, rtol=1e-5)
HF_GRADS = dict(atol=1e-5, rtol=1e-4)


def _bloom_reference(cfg):
    from transformers import BloomConfig, BloomForCausalLM

    hf_cfg = BloomConfig(
        vocab_size=97, hidden_size=64, n_layer=2, n_head=4, layer_norm_epsilon=cfg.norm_eps,
        hidden_dropout=0.0, attention_dropout=0.0, attn_implementation="eager",
    )  # fmt: skip
    hf = BloomForCausalLM(hf_cfg).eval()
    # BLOOM normalizes the embeddings once more before the first block, a layer ours does not
    # have: the reference runs with it replaced by the identity; everything else is BLOOM's code.
    hf.transformer.word_embeddings_layernorm = torch.nn.Identity()

    # BLOOM fuses q, k, v with rows ordered (head, q/k/v, d); ours are (q/k/v, head, d).
    def interleave(w):
        return w.reshape(3, H, D, *w.shape[1:]).transpose(0, 1).reshape(w.shape)

    def forward(ours, idx):
        p = {"transformer.word_embeddings.weight": ours["tok_emb.weight"]}
        for s in ("weight", "bias"):
            p[f"transformer.ln_f.{s}"] = ours[f"norm.{s}"]
            for i in range(2):
                us, hf_ = f"blocks.{i}.", f"transformer.h.{i}."
                p[f"{hf_}input_layernorm.{s}"] = ours[f"{us}attn_norm.{s}"]
                p[f"{hf_}self_attention.query_key_value.{s}"] = interleave(
                    ours[f"{us}attn.qkv.{s}"]
                )
                p[f"{hf_}self_attention.dense.{s}"] = ours[f"{us}attn.o_proj.{s}"]
                p[f"{hf_}post_attention_layernorm.{s}"] = ours[f"{us}ffn_norm.{s}"]
                p[f"{hf_}mlp.dense_h_to_4h.{s}"] = ours[f"{us}ffn.up.{s}"]
                p[f"{hf_}mlp.dense_4h_to_h.{s}"] = ours[f"{us}ffn.down.{s}"]
        return functional_call(hf, p, (idx,)).logits  # lm_head is tied to word_embeddings

    return forward


def test_alibi_layernorm_tied_equals_hf_bloom(perturb):
    # ALiBi's bias is -m_h (i - j) here and +m_h j in BLOOM: they differ by m_h i, the same for
    # every key of a query, which the softmax cancels, so the logits must agree exactly.
    cfg = LMConfig(
        **TINY, pos="alibi", norm="layernorm", ffn="gelu", bias=True, tie_embeddings=True
    )
    model = perturb(LanguageModel(cfg)).eval()
    _compare(model, _bloom_reference(cfg), HF_LOGITS, HF_GRADS)


def test_learned_positions_layernorm_tied_gradients_equal_hf_gpt2(perturb):
    # The logits are compared in test_model.py; here the gradients too. Conv1D stores W^T.
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = LMConfig.gpt2(**TINY)
    model = perturb(LanguageModel(cfg)).eval()
    hf_cfg = GPT2Config(
        vocab_size=97, n_positions=32, n_embd=64, n_layer=2, n_head=4, n_inner=256,
        activation_function="gelu_new", layer_norm_epsilon=cfg.norm_eps, resid_pdrop=0.0,
        embd_pdrop=0.0, attn_pdrop=0.0, attn_implementation="eager",
    )  # fmt: skip
    hf = GPT2LMHeadModel(hf_cfg).eval()

    def forward(ours, idx):
        p = {"transformer.wte.weight": ours["tok_emb.weight"]}
        p["transformer.wpe.weight"] = ours["pos_emb.weight"]
        for s in ("weight", "bias"):
            p[f"transformer.ln_f.{s}"] = ours[f"norm.{s}"]
            for i in range(2):
                us, hf_ = f"blocks.{i}.", f"transformer.h.{i}."
                p[f"{hf_}ln_1.{s}"] = ours[f"{us}attn_norm.{s}"]
                p[f"{hf_}ln_2.{s}"] = ours[f"{us}ffn_norm.{s}"]
                for conv, lin in (("attn.c_attn", "attn.qkv"), ("attn.c_proj", "attn.o_proj"),
                                  ("mlp.c_fc", "ffn.up"), ("mlp.c_proj", "ffn.down")):  # fmt: skip
                    w = ours[f"{us}{lin}.{s}"]
                    p[f"{hf_}{conv}.{s}"] = w.T if s == "weight" else w
        return functional_call(hf, p, (idx,)).logits

    _compare(model, forward, HF_LOGITS, HF_GRADS)


def test_geglu_equals_hf_gemma(perturb):
    # Gemma is LLaMA's layout with a GeGLU MLP (tanh GELU), plus two conventions undone here: its
    # embeddings are multiplied by sqrt(d_model) on the way in (so it gets ours / 8; untied, the
    # output layer is unaffected), and its RMSNorm multiplies by (1 + w) (so it gets w - 1).
    from transformers import GemmaConfig, GemmaForCausalLM

    cfg = LMConfig.llama(**TINY, ffn="geglu", n_kv_heads=2, norm_eps=1e-6)
    model = perturb(LanguageModel(cfg)).eval()
    hf_cfg = GemmaConfig(
        vocab_size=97, hidden_size=64, intermediate_size=cfg.d_ff, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, hidden_act="gelu_pytorch_tanh",
        max_position_embeddings=32, rms_norm_eps=1e-6, tie_word_embeddings=False,
        pad_token_id=None, attn_implementation="eager",
    )  # fmt: skip
    hf = GemmaForCausalLM(hf_cfg).eval()

    def forward(ours, idx):
        p = ours_to_theirs(ours, llama_links(cfg))  # Gemma's names are Llama's
        p["model.embed_tokens.weight"] = p["model.embed_tokens.weight"] / math.sqrt(64)
        for name in p:
            if name.endswith("norm.weight"):
                p[name] = p[name] - 1.0
        return functional_call(hf, p, (idx,)).logits

    _compare(model, forward, HF_LOGITS, HF_GRADS)


# ## The model written out as formulas
#
# No module of ours, no torch.nn layer: matrix products, the norms' and activations' formulas,
# ALiBi's slopes $2^{-8h/H}$ (H = 4 is a power of two) and an explicit causal softmax.
def _gelu_tanh(a):
    return 0.5 * a * (1 + torch.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a**3)))


ACT = {
    "relu2": lambda a: torch.clamp(a, min=0) ** 2,
    "silu": lambda a: a / (1 + torch.exp(-a)),
    "gelu": _gelu_tanh,
    "geglu": _gelu_tanh,
}


def _formula_forward(cfg, w, idx):
    B, T = idx.shape
    H_kv = cfg.n_kv_heads

    def norm(x, name):
        if cfg.norm == "rmsnorm":
            return (
                x / torch.sqrt((x**2).mean(-1, keepdim=True) + cfg.norm_eps) * w[f"{name}.weight"]
            )
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        y = (x - mu) / torch.sqrt(var + cfg.norm_eps) * w[f"{name}.weight"]
        return y + w[f"{name}.bias"] if cfg.bias else y

    def linear(x, name):
        y = x @ w[f"{name}.weight"].T
        return y + w[f"{name}.bias"] if cfg.bias else y

    def attn(x, p):
        qkv = linear(x, p + "attn.qkv")  # (B, T, (H + 2 H_kv) D)
        q, k, v = qkv.split([H * D, H_kv * D, H_kv * D], dim=-1)
        q = q.reshape(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = k.reshape(B, T, H_kv, D).transpose(1, 2).repeat_interleave(H // H_kv, dim=1)
        v = v.reshape(B, T, H_kv, D).transpose(1, 2).repeat_interleave(H // H_kv, dim=1)
        scores = q @ k.transpose(-1, -2) / math.sqrt(D)  # (B, H, T, T)
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        if cfg.pos == "alibi":
            slopes = torch.tensor([2.0 ** (-8 * (h + 1) / H) for h in range(H)], dtype=x.dtype)
            scores = scores - slopes[:, None, None] * (i - j)
        scores = scores.masked_fill(j > i, float("-inf"))
        y = torch.softmax(scores, dim=-1) @ v  # (B, H, T, D)
        return linear(y.transpose(1, 2).reshape(B, T, H * D), p + "attn.o_proj")

    def ffn(x, p):
        up = linear(x, p + "ffn.up")  # (B, T, d_ff)
        gated = cfg.ffn == "geglu"  # GeGLU: gelu(x W_gate) * (x W_up); the others: act(x W_up)
        h = ACT["geglu"](linear(x, p + "ffn.gate")) * up if gated else ACT[cfg.ffn](up)
        return linear(h, p + "ffn.down")

    x = w["tok_emb.weight"][idx]  # (B, T, C)
    if cfg.pos == "learned":
        x = x + w["pos_emb.weight"][:T]
    for layer in range(cfg.n_layers):
        p = f"blocks.{layer}."
        if cfg.norm_position == "pre":
            x = x + attn(norm(x, p + "attn_norm"), p)
            x = x + ffn(norm(x, p + "ffn_norm"), p)
        else:
            x = norm(x + attn(x, p), p + "attn_norm")
            x = norm(x + ffn(x, p), p + "ffn_norm")
    head = w["tok_emb.weight"] if cfg.tie_embeddings else w["lm_head.weight"]
    return norm(x, "norm") @ head.T  # (B, T, V)


FORMULA_VARIANTS = {
    "relu2-rmsnorm-nopos-mqa": dict(ffn="relu2", norm="rmsnorm", pos="none", n_kv_heads=1),
    "silu-layernorm-postnorm-learned-tied": dict(
        ffn="silu",
        norm="layernorm",
        norm_position="post",
        pos="learned",
        bias=True,
        tie_embeddings=True,
    ),
    "geglu-layernorm-alibi-gqa": dict(
        ffn="geglu", norm="layernorm", pos="alibi", bias=True, n_kv_heads=2
    ),
}


@pytest.mark.parametrize("variant", FORMULA_VARIANTS.values(), ids=FORMULA_VARIANTS.keys())
def test_variant_equals_the_formulas_float64(variant, perturb):
    # Both sides in float64: only the order of additions differs, so logits and gradients of
    # size ~1 agree to ~1e-14; 1e-10 leaves four orders of margin and catches any real mistake.
    cfg = LMConfig(**TINY, **variant)
    model = perturb(LanguageModel(cfg)).double().eval()
    tol = dict(atol=1e-10, rtol=1e-10)
    _compare(model, lambda w, idx: _formula_forward(cfg, w, idx), tol, tol)
