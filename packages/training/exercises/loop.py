r"""# Exercises: The pretraining loop

Two steps of the loop that must be exact: gradient accumulation, which must give the gradient of
the big batch, and clipping by the global norm, which must equal
`torch.nn.utils.clip_grad_norm_`."""

import copy

import torch
import torch.nn.functional as F
from torch import nn


def solution_1_accumulate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int
) -> list[torch.Tensor]:
    r"""The gradients of `model.parameters()` after accumulating `k` equal micro-batches of
    `x`, `y` `(N, T)`: each micro-batch's mean next-token loss divided by $k$, summed into
    `.grad` from zero."""
    model.zero_grad(set_to_none=True)
    for xb, yb in zip(x.chunk(k), y.chunk(k), strict=True):
        logits = model(xb)  # (N / k, T, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
        (loss / k).backward()
    return [p.grad for p in model.parameters()]


def _tiny_lm(vocab: int, width: int, seed: int) -> nn.Module:
    # Logits (B, T, V) from tokens (B, T): an embedding, a nonlinearity and a head, in float64.
    torch.manual_seed(seed)
    return nn.Sequential(nn.Embedding(vocab, width), nn.Tanh(), nn.Linear(width, vocab)).double()


def check_1_accumulate(fn) -> None:
    """Compare with one backward pass of the mean loss over the whole batch, in float64, for
    `k` in 1, 2, 4, 8; the model's `.grad` is stale (all ones) when `fn` is called."""
    g = torch.Generator().manual_seed(0)
    for seed, k in enumerate((1, 2, 4, 8)):
        model = _tiny_lm(11, 6, seed)
        x = torch.randint(11, (8, 5), generator=g)  # (N, T)
        y = torch.randint(11, (8, 5), generator=g)
        reference = copy.deepcopy(model)
        logits = reference(x)  # (N, T, V)
        loss = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1))
        want = torch.autograd.grad(loss, list(reference.parameters()))
        for p in model.parameters():
            p.grad = torch.ones_like(p)  # left over from a previous step
        got = fn(model, x, y, k)
        assert len(got) == len(want), f"got {len(got)} gradients for {len(want)} parameters"
        for i, (a, b) in enumerate(zip(got, want, strict=True)):
            # The same sums in a different grouping (k partial means): float64 rounding only.
            assert a is not None and torch.allclose(a, b, rtol=1e-10, atol=1e-13), (
                f"k={k}, parameter {i}: off by "
                f"{float('nan') if a is None else (a - b).abs().max():.2e} from the big batch's "
                "gradient (divide each micro-batch loss by k; start from zero gradients)"
            )


def solution_2_clip_by_global_norm(
    grads: list[torch.Tensor], max_norm: float
) -> tuple[float, list[torch.Tensor]]:
    r"""$\lVert g\rVert_2 = \sqrt{\sum_p \lVert g_p\rVert_2^2}$ and every $g_p$ times
    $\min(1, c / (\lVert g\rVert_2 + 10^{-6}))$; returns `(norm before clipping, clipped)`."""
    total = torch.sqrt(sum(g.pow(2).sum() for g in grads))
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    return float(total), [g * scale for g in grads]


def check_2_clip_by_global_norm(fn) -> None:
    """Compare the norm and the clipped gradients with `torch.nn.utils.clip_grad_norm_` on
    parameters holding the same gradients (float64), below, near and far above the limit."""
    g = torch.Generator().manual_seed(1)
    shapes = [(4, 3), (3,), (2, 2, 5)]
    for scale, max_norm in [(0.01, 1.0), (1.0, 1.0), (1.0, 0.5), (10.0, 2.0), (3.0, 5.0)]:
        grads = [scale * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
        params = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in shapes]
        for p, gr in zip(params, grads, strict=True):
            p.grad = gr.clone()
        want_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        norm, clipped = fn([gr.clone() for gr in grads], max_norm)
        # float64 and the same formula (torch's eps is 1e-6 too): rounding only.
        assert abs(float(norm) - want_norm) <= 1e-12 * want_norm, (
            f"max_norm {max_norm}: norm {norm}, torch measures {want_norm} (the norm of all "
            "gradients as one vector)"
        )
        for i, (a, p) in enumerate(zip(clipped, params, strict=True)):
            assert torch.allclose(torch.as_tensor(a), p.grad, rtol=1e-12, atol=1e-15), (
                f"max_norm {max_norm}, norm {want_norm:.3f}, tensor {i}: the clipped gradient "
                "differs from torch's (one factor min(1, c / (norm + 1e-6)) for every tensor)"
            )
