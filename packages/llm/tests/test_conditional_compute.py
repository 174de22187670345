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


def test_intermediate_threshold_matches_token_by_token_hand_computation(perturb):
    # A threshold at the median of the first layer's confidences: about half the tokens exit at
    # layer 1, the rest run on while attending to the frozen states. The reference walks the tokens
    # one by one with plain Python conditions (float32, same block calls: 1e-6).
    model = perturb(LanguageModel(LMConfig.llama(**TINY))).eval()
    B, T, L = 2, 10, 4
    idx = torch.randint(0, 97, (B, T), generator=torch.Generator().manual_seed(3))
    rope = model._rope(0, T, idx.device)
    with torch.no_grad():
        first = model.blocks[0](model.tok_emb(idx), rope, None, None, 0)
        conf1 = model.lm_head(model.norm(first)).softmax(-1).amax(-1)
    threshold = conf1.flatten().median().item()
    ref_logits = torch.zeros(B, T, 97)
    ref_exit = torch.zeros(B, T, dtype=torch.long)
    frozen = [[False] * T for _ in range(B)]
    with torch.no_grad():
        x = model.tok_emb(idx)
        for layer in range(L):
            new = model.blocks[layer](x, rope, None, None, layer)
            x = torch.stack(
                [
                    torch.stack([x[b, t] if frozen[b][t] else new[b, t] for t in range(T)])
                    for b in range(B)
                ]
            )
            layer_logits = model.lm_head(model.norm(x))
            for b in range(B):
                for t in range(T):
                    if frozen[b][t]:
                        continue
                    p_max = layer_logits[b, t].softmax(-1).max().item()
                    if layer == L - 1 or p_max >= threshold:
                        ref_logits[b, t] = layer_logits[b, t]
                        ref_exit[b, t] = layer + 1
                        frozen[b][t] = True
    logits, exit_layer = early_exit_forward(model, idx, threshold)
    assert 0 < (exit_layer == 1).sum() < B * T  # a genuine mix, not a trivial threshold
    assert torch.equal(exit_layer, ref_exit)
    torch.testing.assert_close(logits, ref_logits, atol=1e-6, rtol=1e-6)
    stats = early_exit_savings(model, idx, threshold)
    assert stats["layers_fraction"] == pytest.approx(ref_exit.float().mean().item() / L)
    with torch.no_grad():
        full = model(idx).argmax(-1)
    assert stats["agreement"] == pytest.approx(
        (ref_logits.argmax(-1) == full).float().mean().item()
    )
