r"""# Exercises: Sparse models: switch routing, expert choice and expert parallelism

Capacity and dropping in a Switch layer, the assignment of expert choice, and the counts of an all-to-all."""

import math

import torch

from masterclass.frontiers.sparse import expert_choice_moe, switch_moe


def solution_1_dropped(expert_ids, capacity):
    used, out = {}, []
    for e in expert_ids:
        used[e] = used.get(e, 0) + 1
        out.append(used[e] > capacity)
    return out


def check_1_dropped(fn) -> None:
    torch.manual_seed(0)
    moe = switch_moe(8, 16, 4, 0.5)
    x = torch.randn(1, 24, 8)
    with torch.no_grad():
        y, _ = moe(x)
        experts = moe.router(x[0]).argmax(-1).tolist()
    capacity = math.ceil(0.5 * 24 / 4)
    got = fn(experts, capacity)
    assert len(got) == 24, f"one flag per token expected, got {len(got)}"
    want = [bool(r.abs().sum() == 0) for r in y[0]]
    assert got == want, f"dropped tokens {got} differ from the layer's zero rows {want}"


def solution_2_expert_choice_assign(scores, capacity):
    return scores.T.topk(capacity, dim=-1).indices


def check_2_expert_choice_assign(fn) -> None:
    torch.manual_seed(1)
    moe = expert_choice_moe(8, 16, 4, capacity_factor=1.0)
    x = torch.randn(1, 12, 8)
    with torch.no_grad():
        scores = moe.router(x[0]).float().softmax(-1)
        got = fn(scores, 3)
        assert tuple(got.shape) == (4, 3), f"expected shape (4, 3), got {tuple(got.shape)}"
        # Recompute the layer's output from the candidate's assignment.
        out = torch.zeros(12, 8)
        for e in range(4):
            out.index_add_(0, got[e], moe.experts[e](x[0, got[e]]) * scores[got[e], e, None])
        want, _ = moe(x)
    assert torch.allclose(out, want[0], atol=1e-6), "this assignment does not reproduce the layer"


def solution_3_send_counts(expert_ids, n_experts, world):
    per = n_experts // world
    return torch.bincount(torch.as_tensor(expert_ids) // per, minlength=world).tolist()


def check_3_send_counts(fn) -> None:
    g = torch.Generator().manual_seed(2)
    for E, W in [(4, 2), (8, 4), (6, 3)]:
        ids = torch.randint(0, E, (40,), generator=g)
        want = [int(((ids >= r * E // W) & (ids < (r + 1) * E // W)).sum()) for r in range(W)]
        got = list(fn(ids.tolist(), E, W))
        assert got == want, f"send_counts(E={E}, W={W}) = {got}, expected {want}"
