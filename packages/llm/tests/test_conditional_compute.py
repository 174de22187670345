"""Early exit and mixture-of-depths against the dense model and hand-built references."""

import pytest
import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.conditional_compute import (
    MixtureOfDepthsLM,
    MoDBlock,
    early_exit_forward,
    early_exit_savings,
)
from masterclass.llm.rope import rope_cos_sin

TINY = dict(vocab_size=97, d_model=64, n_layers=4, n_heads=4, max_seq_len=64)


def test_no_exit_equals_full_model(perturb):
    # threshold > 1 can never be met: exactly the dense forward (float32, same ops: 1e-6).
    model = perturb(LanguageModel(LMConfig.llama(**TINY))).eval()
    idx = torch.randint(0, 97, (2, 12))
    logits, exit_layer = early_exit_forward(model, idx, threshold=1.1)
    with torch.no_grad():
        torch.testing.assert_close(logits, model(idx), atol=1e-6, rtol=1e-6)
    assert (exit_layer == 4).all()


def test_threshold_zero_exits_after_first_layer(perturb):
    # Every token exits at layer 1: the logits are the head applied to the first block's output.
    model = perturb(LanguageModel(LMConfig.llama(**TINY))).eval()
    idx = torch.randint(0, 97, (2, 9))
    logits, exit_layer = early_exit_forward(model, idx, threshold=0.0)
    with torch.no_grad():
        x = model.tok_emb(idx)
        x = model.blocks[0](x, model._rope(0, 9, idx.device), None, None, 0)
        ref = model.lm_head(model.norm(x))
    torch.testing.assert_close(logits, ref, atol=1e-6, rtol=1e-6)
    assert (exit_layer == 1).all()
    stats = early_exit_savings(model, idx, 0.0)
    assert stats["layers_fraction"] == pytest.approx(0.25)


def test_mod_block_equals_block_on_gathered_tokens(perturb):
    # Reference: run the plain block on the chosen tokens with their own RoPE positions, one
    # sequence at a time, and add sigmoid(score) times the update (float32: 1e-5).
    model = perturb(LanguageModel(LMConfig.llama(**TINY))).eval()
    mod = MoDBlock(model.blocks[1], 64, capacity=0.5)
    x = torch.randn(2, 10, 64)
    with torch.no_grad():
        out, chosen = mod(x, model.inv_freq)
        for b in range(2):
            pos = chosen[b]
            sub = x[b : b + 1, pos]
            rope = rope_cos_sin(pos, model.inv_freq)
            update = model.blocks[1](sub, rope, None, None, 0) - sub
            w = torch.sigmoid(mod.router(x[b, pos]))  # (k, 1)
            expected = x[b].clone()
            expected[pos] += w * update[0]
            torch.testing.assert_close(out[b], expected, atol=1e-5, rtol=1e-5)
    assert chosen.shape == (2, 5)


def test_mod_lm_trains_and_counts_flops():
    torch.manual_seed(0)
    lm = MixtureOfDepthsLM(LanguageModel(LMConfig.llama(**TINY)), capacity=0.25, every=2)
    idx = torch.randint(0, 97, (2, 16))
    _, loss = lm(idx, idx)
    loss.backward()
    assert all(r.router.weight.grad is not None for r in lm.routed.values())
    # Half of the blocks at capacity 1/4: matmuls (1 + 1/4)/2 and attention (1 + 1/16)/2 of dense.
    frac = lm.block_flops_fraction(16)
    assert 0.5 * (1 + 1 / 16) < frac < 0.5 * (1 + 1 / 4) + 1e-9
    full = MixtureOfDepthsLM(LanguageModel(LMConfig.llama(**TINY)), capacity=1.0)
    assert full.block_flops_fraction(16) == pytest.approx(1.0)
