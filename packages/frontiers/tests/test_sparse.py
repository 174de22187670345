"""Reference tests for sparse models: Switch capacity and dropping, dropless limit, expert choice,
and expert parallelism over two gloo processes."""

import pytest
import torch

from masterclass.frontiers.sparse import expert_choice_moe, run_expert_parallel, switch_moe


def _x(seed=0, B=3, T=10, C=8):
    return torch.randn(B, T, C, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _switch_reference(moe, x, capacity):
    """Token by token, in order: the expert's gate times its output, or 0 once the expert is full."""
    flat = x.reshape(-1, x.shape[-1])
    # The router's softmax runs in float32, as in llm's MoE (stable under bf16); so does ours.
    probs = moe.router(flat).float().softmax(-1).to(flat.dtype)
    used = [0] * moe.n_experts
    rows = []
    for n in range(flat.shape[0]):
        e = int(probs[n].argmax())
        if capacity is None or used[e] < capacity:
            used[e] += 1
            rows.append(probs[n, e] * moe.experts[e](flat[n]))
        else:
            rows.append(torch.zeros_like(flat[n]))
    return torch.stack(rows).view_as(x)


@pytest.mark.parametrize("factor", [0.5, 1.0, 1.25, None])
def test_switch_capacity_and_dropping_match_a_token_loop(factor):
    torch.manual_seed(0)
    moe = switch_moe(8, 16, 4, factor).double()
    x = _x()
    y, stats = moe(x)
    capacity = None if factor is None else -(-int(factor * 30) // 4)
    # float64, same operations on the same rows: 1e-12.
    torch.testing.assert_close(y, _switch_reference(moe, x, capacity), atol=1e-12, rtol=0)
    if factor == 0.5:
        assert stats.dropped_fraction > 0


def test_dropless_equals_capacity_to_infinity():
    torch.manual_seed(1)
    moe = switch_moe(8, 16, 4, None).double()
    x = _x(1)
    dropless, _ = moe(x)
    # capacity_factor = E already gives C = N: no expert can overflow, the output is bit-identical.
    for factor in (4.0, 100.0):
        moe.capacity_factor = factor
        y, stats = moe(x)
        assert stats.dropped_fraction == 0.0 and torch.equal(y, dropless)


def test_expert_choice_equals_dense_masked_reference_value_and_gradient():
    torch.manual_seed(2)
    moe = expert_choice_moe(8, 16, 4, capacity_factor=1.5).double()
    x = _x(2).requires_grad_()
    y, counts = moe(x)
    # Reference: every expert on every token, masked by "token n is among expert e's top C by
    # S[n, e]", the mask built with a full sort rather than topk.
    flat = x.reshape(-1, 8)
    S = moe.router(flat).float().softmax(-1).to(flat.dtype)  # float32 softmax, as the layer
    C = -(-int(1.5 * 30) // 4)
    rank = S.argsort(0, descending=True).argsort(0)  # (N, E) rank of each token in its column
    mask = (rank < C).to(S.dtype)
    ref = sum(mask[:, e, None] * S[:, e, None] * moe.experts[e](flat) for e in range(4)).view_as(x)
    torch.testing.assert_close(y, ref, atol=1e-12, rtol=0)
    assert counts.tolist() == [C] * 4
    w = torch.randn_like(y)
    g1 = torch.autograd.grad((y * w).sum(), [x, *moe.parameters()], allow_unused=True)
    g2 = torch.autograd.grad((ref * w).sum(), [x, *moe.parameters()], allow_unused=True)
    for a, b in zip(g1, g2, strict=True):
        if a is not None or b is not None:
            torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


@pytest.mark.distributed
def test_expert_parallel_over_two_gloo_processes_equals_single_process():
    xs, ys, moe = run_expert_parallel(2, seed=0)
    with torch.no_grad():
        # One process, all tokens at once: rows of the two ranks concatenated.
        ref, _ = moe(torch.cat([x.reshape(1, -1, 8) for x in xs], dim=1))
    got = torch.cat([y.reshape(-1, 8) for y in ys])
    # float32; the same expert maths on the same rows, only grouped differently: ~1e-7.
    torch.testing.assert_close(got, ref.reshape(-1, 8), atol=1e-6, rtol=1e-6)


def test_bad_input():
    with pytest.raises(ValueError, match="capacity_factor must be positive"):
        expert_choice_moe(8, 16, 4, capacity_factor=0.0)
