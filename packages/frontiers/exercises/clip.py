r"""# Exercises: Multimodal embeddings: CLIP

One half of the symmetric InfoNCE loss, the gradient of the temperature, and zero-shot accuracy."""

import math

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss


def solution_1_info_nce(u, v, scale):
    logits = scale * u @ v.T
    return F.cross_entropy(logits, torch.arange(u.shape[0]))


def check_1_info_nce(fn) -> None:
    g = torch.Generator().manual_seed(0)
    u = F.normalize(torch.randn(10, 6, generator=g, dtype=torch.float64), dim=-1)
    v = F.normalize(torch.randn(10, 6, generator=g, dtype=torch.float64), dim=-1)
    # With text and image equal the symmetric loss is its own half; otherwise average both halves.
    want = ClipLoss()(u, u, torch.tensor(5.0, dtype=torch.float64))
    assert torch.allclose(fn(u, u, 5.0), want, atol=1e-10), "wrong on identical views"
    both = ClipLoss()(u, v, torch.tensor(5.0, dtype=torch.float64))
    got = (fn(u, v, 5.0) + fn(v, u, 5.0)) / 2
    assert torch.allclose(got, both, atol=1e-10), "the two halves do not average to ClipLoss"


def solution_2_temperature_grad(u, v, theta):
    s = math.exp(theta)
    sim = u @ v.T
    pos = sim.diag()
    # dL/dtheta = s (E_p[u^T v] - u_i^T v_i), averaged over rows (images) and columns (texts).
    s_rows = ((s * sim).softmax(-1) * sim).sum(-1)
    s_cols = ((s * sim.T).softmax(-1) * sim.T).sum(-1)
    return float(s * ((s_rows - pos).mean() + (s_cols - pos).mean()) / 2)


def check_2_temperature_grad(fn) -> None:
    g = torch.Generator().manual_seed(1)
    u = F.normalize(torch.randn(8, 5, generator=g, dtype=torch.float64), dim=-1)
    v = F.normalize(torch.randn(8, 5, generator=g, dtype=torch.float64), dim=-1)
    for theta in (0.0, 1.0, 2.5):
        t = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        (want,) = torch.autograd.grad(ClipLoss()(u, v, t.exp()), t)
        got = fn(u, v, theta)
        assert abs(got - float(want)) < 1e-9, (
            f"dL/dtheta at theta={theta}: {got}, autograd {float(want)}"
        )


def solution_3_zero_shot_accuracy(image_emb, class_emb, labels):
    sims = F.normalize(image_emb, dim=-1) @ F.normalize(class_emb, dim=-1).T
    return float((sims.argmax(-1) == labels).float().mean())


def check_3_zero_shot_accuracy(fn) -> None:
    g = torch.Generator().manual_seed(2)
    classes = torch.randn(5, 8, generator=g)
    labels = torch.randint(0, 5, (50,), generator=g)
    # Images near their class direction but with very different norms: only cosine gets them right.
    scales = torch.rand(50, 1, generator=g) * 10 + 0.1
    images = (classes[labels] + 0.8 * torch.randn(50, 8, generator=g)) * scales
    classes = classes * torch.tensor([[1.0], [20.0], [0.05], [3.0], [1.0]])
    cos = F.cosine_similarity(images[:, None], classes[None], dim=-1)
    want = float((cos.argmax(-1) == labels).float().mean())
    got = fn(images, classes, labels)
    assert abs(got - want) < 1e-9, f"accuracy {got}, expected {want} (use cosine similarity)"
