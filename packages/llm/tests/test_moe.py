"""MoE against HF's Mixtral block and loss, the dense-equivalent check, and capacity dropping
against a token-by-token reference."""

import math

import pytest
import torch
from transformers import MixtralConfig
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    load_balancing_loss_func,
)

from masterclass.llm.moe import MoE, load_balancing_loss, train_router_demo
from masterclass.transformer.feedforward import FeedForward


def _mixtral_copy(moe: MoE, d_model: int, d_ff: int) -> MixtralSparseMoeBlock:
    cfg = MixtralConfig(
        hidden_size=d_model,
        intermediate_size=d_ff,
        num_local_experts=moe.n_experts,
        num_experts_per_tok=moe.top_k,
    )
    block = MixtralSparseMoeBlock(cfg)
    with torch.no_grad():
        block.gate.weight.copy_(moe.router.weight)
        for e, ex in enumerate(moe.experts):
            block.experts.gate_up_proj[e].copy_(torch.cat((ex.gate.weight, ex.up.weight)))
            block.experts.down_proj[e].copy_(ex.down.weight)
    return block.eval()


@pytest.mark.parametrize(("n_experts", "top_k"), [(4, 1), (4, 2), (8, 2)])
def test_matches_hf_mixtral_block(n_experts, top_k):
    # Same float32 operations grouped differently (per-expert batches, index_add): 1e-5.
    torch.manual_seed(0)
    moe = MoE(16, 24, n_experts, top_k)
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        ours, stats = moe(x)
        theirs = _mixtral_copy(moe, 16, 24)(x)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert int(stats.tokens_per_expert.sum()) == 14 * top_k and stats.dropped_fraction == 0.0


def test_aux_loss_matches_hf():
    # Identical formula in float32: 1e-6.
    torch.manual_seed(1)
    logits = torch.randn(50, 8)
    expected = load_balancing_loss_func((logits,), num_experts=8, top_k=2)
    torch.testing.assert_close(load_balancing_loss(logits, 2), expected, atol=1e-6, rtol=1e-6)
    # A perfectly uniform router scores exactly k (= 2): sum_e (k/E)(1/E) E.
    uniform = (
        torch.zeros(8, 8) + torch.eye(8) * 1e-3
    )  # ties broken so each expert is chosen once first
    assert load_balancing_loss(uniform, 1).item() == pytest.approx(1.0, abs=1e-3)


def test_one_expert_top1_equals_dense_ffn():
    # With E = 1, k = 1 the gate weight is exactly 1: bitwise the expert's output (up to float32
    # re-association in index_add onto zeros, i.e. exact).
    torch.manual_seed(2)
    moe = MoE(16, 32, n_experts=1, top_k=1)
    dense = FeedForward(16, 32, "silu", True, False)
    dense.load_state_dict(moe.experts[0].state_dict())
    x = torch.randn(3, 5, 16)
    torch.testing.assert_close(moe(x)[0], dense(x), atol=1e-7, rtol=0)


def test_capacity_drops_tokens_first_come_first_served():
    # Reference: a plain Python loop over tokens in order, filling each expert up to capacity.
    torch.manual_seed(3)
    moe = MoE(8, 16, n_experts=4, top_k=2, capacity_factor=0.5)
    x = torch.randn(1, 20, 8)
    with torch.no_grad():
        out, stats = moe(x)
        _, experts, weights = moe.route(x[0])
        capacity = math.ceil(0.5 * 20 * 2 / 4)
        used = [0] * 4
        ref = torch.zeros(20, 8)
        dropped = 0
        for t in range(20):
            for j in range(2):
                e = int(experts[t, j])
                if used[e] < capacity:
                    used[e] += 1
                    ref[t] += weights[t, j] * moe.experts[e](x[0, t : t + 1])[0]
                else:
                    dropped += 1
    torch.testing.assert_close(out[0], ref, atol=1e-6, rtol=1e-6)
    assert stats.tokens_per_expert.tolist() == used
    assert stats.dropped_fraction == pytest.approx(dropped / 40)
    assert max(used) <= capacity


def test_router_gets_gradients():
    moe = MoE(8, 16, n_experts=4, top_k=2)
    y, stats = moe(torch.randn(2, 3, 8))
    (y.square().mean() + 0.01 * stats.aux_loss).backward()
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_aux_loss_balances_utilisation():
    # The demo router starts biased; with the auxiliary loss the busiest expert's share after
    # training must be lower than without it.
    def final_max_share(aux):
        h = train_router_demo(aux, steps=30).float()[-5:].mean(0)
        return (h / h.sum()).max().item()

    assert final_max_share(0.5) < final_max_share(0.0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="top_k"):
        MoE(8, 16, n_experts=2, top_k=3)
    with pytest.raises(ValueError, match="capacity_factor"):
        MoE(8, 16, n_experts=2, capacity_factor=0)
