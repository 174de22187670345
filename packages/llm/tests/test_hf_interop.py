"""Our LLaMA-style model against Hugging Face `LlamaForCausalLM` with copied weights, both ways."""

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.hf_interop import from_hf_llama, to_hf_llama

TINY = dict(vocab_size=97, d_model=64, n_layers=2, n_heads=4, max_seq_len=64)
CONFIGS = [
    dict(),  # multi-head attention
    dict(n_kv_heads=2),  # grouped-query
    dict(n_kv_heads=1, tie_embeddings=True),  # multi-query, tied
    dict(bias=True, rope_base=500.0),  # attention_bias and mlp_bias
    dict(rope_interleaved=True, n_kv_heads=2),  # needs the RoPE row permutation
    dict(rope_scaling="linear", rope_scaling_factor=2.0),  # position interpolation
    dict(rope_scaling="yarn", rope_scaling_factor=4.0),  # YaRN frequencies and attention factor
]

# Both models run the same float32 operations in a possibly different order (fused qkv vs three
# projections, SDPA backends): logits of size O(1) agree to ~1e-6; 1e-5 leaves margin.
TOL = dict(atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("overrides", CONFIGS)
def test_logits_equal_hf_llama_both_ways(overrides, perturb):
    torch.manual_seed(0)
    model = perturb(LanguageModel(LMConfig.llama(**TINY, **overrides))).eval()
    hf = to_hf_llama(model)
    idx = torch.randint(0, 97, (2, 80))  # longer than max_seq_len: RoPE scaling is exercised
    with torch.no_grad():
        ours = model(idx)
        torch.testing.assert_close(hf(idx).logits, ours, **TOL)
        back = from_hf_llama(hf, rope_interleaved=model.config.rope_interleaved)
        torch.testing.assert_close(back(idx), ours, **TOL)
    assert back.config == model.config


def test_gradients_equal_hf_llama(perturb):
    # Same loss, same weights: the gradient of every HF weight must equal the matching slice of
    # ours (float32 backward, 1e-5 relative to gradients of size ~1e-2..1).
    torch.manual_seed(1)
    model = perturb(LanguageModel(LMConfig.llama(**TINY, n_kv_heads=2)))
    hf = to_hf_llama(model)
    idx = torch.randint(0, 97, (2, 16))
    hf(idx, labels=idx).loss.backward()
    # HF shifts labels by one inside; ours takes next-token targets as given, so shift them here.
    logits = model(idx)
    torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, 97), idx[:, 1:].reshape(-1)
    ).backward()
    hf_grads = dict(hf.named_parameters())
    qkv = model.blocks[1].attn.qkv.weight.grad
    torch.testing.assert_close(
        qkv[:64], hf_grads["model.layers.1.self_attn.q_proj.weight"].grad, atol=1e-5, rtol=1e-4
    )
    torch.testing.assert_close(
        qkv[64:96], hf_grads["model.layers.1.self_attn.k_proj.weight"].grad, atol=1e-5, rtol=1e-4
    )
    torch.testing.assert_close(
        model.tok_emb.weight.grad, hf_grads["model.embed_tokens.weight"].grad, atol=1e-5, rtol=1e-4
    )
    torch.testing.assert_close(
        model.blocks[0].ffn.down.weight.grad,
        hf_grads["model.layers.0.mlp.down_proj.weight"].grad,
        atol=1e-5,
        rtol=1e-4,
    )


def test_non_llama_config_is_rejected():
    with pytest.raises(ValueError, match="no LlamaForCausalLM equivalent"):
        to_hf_llama(LanguageModel(LMConfig.gpt2(**TINY)))
