r"""# Exercises: Joint training strategies: contrastive and captioning together

The optimal uncertainty weights, recall@1 with shared captions, and modality dropout's gradient."""

import math

import torch
from scipy.optimize import minimize_scalar
from torchmetrics.retrieval import RetrievalHitRate


def solution_1_optimal_log_vars(losses):
    s = losses.log()
    return s, torch.exp(-s)


def check_1_optimal_log_vars(fn) -> None:
    losses = torch.tensor([0.2, 1.0, 4.5], dtype=torch.float64)
    s, w = fn(losses)
    for i, L in enumerate(losses.tolist()):
        # scipy minimises each task's term independently of any closed form.
        res = minimize_scalar(lambda x, L=L: math.exp(-x) * L + x, bracket=(-5, 5), tol=1e-12)
        assert abs(float(s[i]) - res.x) < 1e-5, f"s*[{i}] = {float(s[i])}, scipy finds {res.x}"
        assert abs(float(w[i]) - math.exp(-res.x)) < 1e-5, f"weight[{i}] should be exp(-s*)"


def solution_2_recall_at_1(sim, labels):
    match = labels[:, None] == labels[None, :]
    i2t = match.gather(1, sim.argmax(1, keepdim=True)).float().mean()
    t2i = match.gather(1, sim.T.argmax(1, keepdim=True)).float().mean()
    return float(i2t), float(t2i)


def check_2_recall_at_1(fn) -> None:
    g = torch.Generator().manual_seed(3)
    sim = torch.randn(30, 30, generator=g)
    sim[:, :5] += 1.0  # an asymmetric matrix: the two directions differ
    labels = torch.randint(0, 5, (30,), generator=g)
    match = labels[:, None] == labels[None, :]
    idx = torch.arange(30)[:, None].expand(30, 30).flatten()
    want = [
        float(RetrievalHitRate(top_k=1)(s.flatten(), match.flatten(), indexes=idx))
        for s in (sim, sim.T)
    ]
    got = fn(sim, labels)
    assert abs(got[0] - want[0]) < 1e-6, f"image-to-text recall@1 {got[0]}, expected {want[0]}"
    assert abs(got[1] - want[1]) < 1e-6, f"text-to-image recall@1 {got[1]}, expected {want[1]}"


def solution_3_drop_rows(x, keep, null):
    return torch.where(keep.view(-1, *([1] * (x.dim() - 1))), x, null.expand_as(x))


def check_3_drop_rows(fn) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(5, 3, 4, generator=g, requires_grad=True)
    null = torch.randn(1, 1, 4, generator=g, requires_grad=True)
    keep = torch.tensor([True, False, True, False, True])
    out = fn(x, keep, null)
    want = x.detach().clone()
    want[~keep] = null.detach()
    assert torch.equal(out.detach(), want), "dropped rows must equal null, kept rows x"
    w = torch.randn(5, 3, 4, generator=g)
    gx, gn = torch.autograd.grad((out * w).sum(), (x, null))
    assert torch.equal(gx[~keep], torch.zeros_like(gx[~keep])), "dropped rows got a gradient"
    assert torch.equal(gx[keep], w[keep]), "kept rows must pass their gradient through unchanged"
    assert torch.allclose(gn, w[~keep].sum((0, 1), keepdim=True)), "null's gradient is wrong"
