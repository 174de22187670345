r"""# Exercises: Mixture of Experts

Top-k routing, the load-balancing loss, and the capacity rule that drops tokens."""

import math

import numpy as np
import torch

from masterclass.llm.moe import MoE, load_balancing_loss


def solution_1_route(router_logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Experts `(N, k)` of largest $p = \mathrm{softmax}$, and gates $p_e / \sum_{top_k} p$."""
    probs = router_logits.softmax(dim=-1)
    weights, experts = probs.topk(k, dim=-1)
    return experts, weights / weights.sum(dim=-1, keepdim=True)


def check_1_route(fn) -> None:
    """Compare with numpy: sort each row's softmax, keep the k largest, renormalize."""
    g = torch.Generator().manual_seed(0)
    for N, E, k in [(4, 2, 1), (6, 4, 2), (10, 8, 2), (5, 8, 3)]:
        logits = torch.randn(N, E, generator=g, dtype=torch.float64)
        z = logits.numpy()
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        want_e = np.argsort(-p, axis=1)[:, :k]
        want_w = np.take_along_axis(p, want_e, axis=1)
        want_w /= want_w.sum(axis=1, keepdims=True)
        experts, weights = fn(logits.clone(), k)
        experts, weights = np.asarray(experts), np.asarray(weights)
        assert experts.shape == (N, k), f"experts shape {experts.shape}, want {(N, k)}"
        assert (np.sort(experts, axis=1) == np.sort(want_e, axis=1)).all(), (
            f"N={N}, E={E}, k={k}: chose {experts.tolist()}, want {want_e.tolist()}"
        )
        # Match each weight to its expert before comparing (the order within a row is free).
        order, want_order = np.argsort(experts, axis=1), np.argsort(want_e, axis=1)
        got_w = np.take_along_axis(weights, order, axis=1)
        ref_w = np.take_along_axis(want_w, want_order, axis=1)
        assert np.allclose(got_w, ref_w, atol=1e-12), (
            f"gates {weights.tolist()}, want {want_w.tolist()} (renormalized over the top k)"
        )


def solution_2_aux_loss(router_logits: torch.Tensor, k: int) -> torch.Tensor:
    r"""$E \sum_e f_e P_e$: $f_e$ the share of tokens choosing $e$ (all $k$ choices counted),
    $P_e$ the mean router probability."""
    N, E = router_logits.shape
    probs = router_logits.softmax(dim=-1)
    chosen = probs.topk(k, dim=-1).indices  # (N, k)
    f = (
        torch.zeros(E, dtype=probs.dtype).index_add_(
            0, chosen.reshape(-1), torch.ones(N * k, dtype=probs.dtype)
        )
        / N
    )
    return E * (f * probs.mean(dim=0)).sum()


def check_2_aux_loss(fn) -> None:
    """Compare with the chapter's `load_balancing_loss` (the formula of HF's
    `load_balancing_loss_func`); a perfectly balanced router must give exactly k."""
    g = torch.Generator().manual_seed(1)
    for N, E, k, scale in [(8, 4, 1, 1.0), (16, 8, 2, 3.0), (32, 4, 2, 0.1)]:
        logits = torch.randn(N, E, generator=g) * scale
        want = float(load_balancing_loss(logits, k))
        got = float(fn(logits.clone(), k))
        # The reference runs in float32: 1e-5 relative.
        assert math.isclose(got, want, rel_tol=1e-5), f"N={N}, E={E}, k={k}: got {got}, want {want}"
    balanced = torch.eye(4).repeat(3, 1) * 5  # each expert first for 3 of 12 tokens
    got = float(fn(balanced, 1))
    want = float(load_balancing_loss(balanced, 1))
    assert math.isclose(got, want, rel_tol=1e-5), f"balanced router: got {got}, want {want}"


def solution_3_capacity_keep(
    experts: torch.Tensor, n_experts: int, capacity_factor: float
) -> torch.Tensor:
    r"""Which of the $N k$ assignments (token order, `experts` `(N, k)`) fit into buffers of
    $C = \lceil c N k / E \rceil$ slots: first come, first served."""
    N, k = experts.shape
    capacity = math.ceil(capacity_factor * N * k / n_experts)
    used = [0] * n_experts
    keep = []
    for e in experts.reshape(-1).tolist():
        keep.append(used[e] < capacity)
        used[e] += 1
    return torch.tensor(keep)


def check_3_capacity_keep(fn) -> None:
    """On the routing of a real `MoE`, the share the candidate drops must equal the layer's
    `dropped_fraction`, and the kept set must fill each expert first come, first served."""
    torch.manual_seed(0)
    for N, E, k, c in [(12, 4, 1, 1.0), (24, 4, 2, 0.5), (30, 8, 2, 1.25), (16, 4, 2, 2.0)]:
        moe = MoE(8, 16, n_experts=E, top_k=k, capacity_factor=c)
        with torch.no_grad():
            moe.router.weight.mul_(5)  # a peaked router, so that some experts overflow
        x = torch.randn(1, N, 8)
        _, experts, _ = moe.route(x.reshape(N, 8))
        _, stats = moe(x)
        keep = torch.as_tensor(fn(experts, E, c)).bool().reshape(-1)
        assert keep.numel() == N * k, f"{keep.numel()} flags, want N k = {N * k}"
        dropped = 1.0 - keep.float().mean().item()
        assert math.isclose(dropped, stats.dropped_fraction, abs_tol=1e-9), (
            f"N={N}, E={E}, k={k}, c={c}: you drop {dropped:.3f}, the layer drops "
            f"{stats.dropped_fraction:.3f} (C = ceil(c N k / E))"
        )
        capacity = math.ceil(c * N * k / E)
        flat = experts.reshape(-1)
        for e in range(E):
            mine = keep[flat == e]
            want = torch.arange(mine.numel()) < capacity
            assert torch.equal(mine, want), (
                f"expert {e}: kept {mine.int().tolist()}, want the first {capacity} in token order"
            )
