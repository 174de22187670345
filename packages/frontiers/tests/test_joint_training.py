"""Reference tests for joint training: loss weighting against scipy, recall@1 against torchmetrics,
exact freezing, zero gradient through a dropped modality, and the joint run's recall."""

import math

import pytest
import torch
from scipy.optimize import minimize_scalar
from torchmetrics.retrieval import RetrievalHitRate

from masterclass.frontiers.clip import caption_tokenizer, draw_shapes, tokenize
from masterclass.frontiers.joint_training import (
    FreezeSchedule,
    HybridPatchEmbedding,
    JointConfig,
    JointModel,
    apply_freezing,
    drop_rows,
    joint_losses,
    joint_step,
    recall_at_1,
    train_joint,
    uncertainty_weighting,
)
from masterclass.frontiers.vit import ViTArgs, caption_batch


@pytest.mark.parametrize("loss", [0.05, 1.0, 3.7])
def test_uncertainty_weighting_optimum_matches_scipy(loss):
    # The derivation's step 1: s* = log L. scipy minimises the scalar objective independently.
    res = minimize_scalar(lambda s: math.exp(-s) * loss + s, bracket=(-5, 5), tol=1e-12)
    assert res.x == pytest.approx(math.log(loss), abs=1e-6)
    # Step 3: the minimum value is 1 + log L.
    value = uncertainty_weighting(torch.tensor([loss]), torch.tensor([math.log(loss)]))
    assert float(value) == pytest.approx(1 + math.log(loss), abs=1e-6)


def test_uncertainty_gradient_normalises_each_task_by_its_loss():
    # Step 4: at s* the gradient in theta is sum_i grad L_i / L_i; float64 autograd both ways.
    theta = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    losses = torch.stack([(theta**2).sum() + 0.5, 10.0 * (theta[0] - theta[1]).exp()])
    s_star = losses.detach().log()
    (got,) = torch.autograd.grad(uncertainty_weighting(losses, s_star), theta, retain_graph=True)
    (want,) = torch.autograd.grad((losses / losses.detach()).sum(), theta)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    # And the objective over s is scale-invariant: multiplying a loss by 7 adds log 7 at the optimum.
    scaled = losses.detach() * torch.tensor([7.0, 1.0], dtype=torch.float64)
    base = uncertainty_weighting(losses.detach(), s_star)
    diff = uncertainty_weighting(scaled, scaled.log()) - base
    assert float(diff) == pytest.approx(math.log(7.0), abs=1e-12)


def test_recall_at_1_equals_torchmetrics_hit_rate():
    g = torch.Generator().manual_seed(0)
    sim = torch.randn(40, 40, generator=g)
    labels = torch.randint(0, 6, (40,), generator=g)  # shared captions: several correct partners
    i2t, t2i = recall_at_1(sim, labels)
    match = labels[:, None] == labels[None, :]
    for s, want in ((sim, i2t), (sim.T, t2i)):
        # torchmetrics: one query per row (indexes), its items' scores and relevance.
        metric = RetrievalHitRate(top_k=1)
        idx = torch.arange(40)[:, None].expand(40, 40)
        ref = metric(s.flatten(), match.flatten(), indexes=idx.flatten())
        assert want == pytest.approx(float(ref), abs=1e-7)  # a mean of 40 zeros and ones


def test_hybrid_stem_makes_the_patch_grid():
    stem = HybridPatchEmbedding(ViTArgs(image_size=16, patch_size=4, d_model=32))
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert stem(x).shape == (2, 16, 32)
    # Token (0, 0) sees pixels 0..6 of each axis (3x3 conv, 2x2 pool, 3x3 conv, 2x2 pool), so
    # changing the bottom-right corner leaves it bit-identical.
    y = x.clone()
    y[..., 12:, 12:] += 1.0
    with torch.no_grad():
        assert torch.equal(stem(x)[:, 0], stem(y)[:, 0])
        assert not torch.equal(stem(x)[:, -1], stem(y)[:, -1])


def _setup(seed=0):
    tok, pad = caption_tokenizer()
    model = JointModel(tok.vocab_size, pad, seed=seed)
    images, _, captions = draw_shapes(8, seed=5)
    inputs, targets = caption_batch(tok, captions, pad)
    return tok, pad, model, torch.from_numpy(images), tokenize(tok, captions, pad), inputs, targets


def test_modality_dropout_sends_zero_gradient_to_dropped_images():
    _, _, model, images, ids, inputs, targets = _setup()
    images.requires_grad_(True)
    keep = torch.tensor([True, False, True, True, False, True, True, False])
    l_con, l_cap = joint_losses(model, images, ids, inputs, targets, keep)
    (grad,) = torch.autograd.grad(l_con + l_cap, images)
    # Exactly zero (not small) for every pixel of a dropped image; kept images do get a gradient.
    assert torch.equal(grad[~keep], torch.zeros_like(grad[~keep]))
    assert bool((grad[keep].flatten(1).abs().sum(1) > 0).all())
    # And a dropped row is captioned from the null token: the same logits as decoding it directly.
    c = model.captioner
    with torch.no_grad():
        prefix = model.null_image.expand(1, c.n_prefix, -1)
        alone = c.decode(prefix, inputs[1:2])
        both = c.decode(drop_rows(c.projector(c.vit(images)), keep, model.null_image), inputs)
    torch.testing.assert_close(both[1:2], alone, atol=1e-6, rtol=0)  # batch vs single: rounding


def test_freezing_schedule_keeps_frozen_towers_bit_identical():
    tok, pad, model, *_ = _setup()
    cfg = JointConfig(freeze=FreezeSchedule({"image": (0, 2), "text": (1, 3)}), batch=8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    towers = model.towers()
    for step in range(4):
        before = {n: [p.detach().clone() for p in ps] for n, ps in towers.items()}
        joint_step(model, opt, cfg, tok, pad, step, generator=g)
        for name, params in towers.items():
            same = all(torch.equal(a, p) for a, p in zip(before[name], params, strict=True))
            # Frozen: every parameter bit-identical (AdamW's momentum and decay skipped them too).
            assert same == (name in cfg.freeze.frozen_at(step)), (step, name)


def test_zeroed_grads_are_not_freezing():
    # The trap the chapter warns about: requires_grad=False with a zero .grad still moves the
    # parameter under AdamW (momentum from earlier steps, weight decay).
    tok, pad, model, *_ = _setup()
    cfg = JointConfig(batch=8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    g = torch.Generator().manual_seed(0)
    joint_step(model, opt, cfg, tok, pad, 0, generator=g)
    head = model.image_head.weight
    before = head.detach().clone()
    head.requires_grad_(False)
    head.grad = torch.zeros_like(head)
    opt.step()
    assert not torch.equal(before, head)
    # apply_freezing clears the stale grad, so the same step leaves it alone.
    apply_freezing(model, {"image"})
    before = head.detach().clone()
    opt.step()
    assert torch.equal(before, head)


@pytest.mark.slow
def test_joint_training_reaches_recall_at_1_both_ways():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small matrices: one thread is fastest on a shared machine
    try:
        _, history, acc = train_joint(200, seed=0)
    finally:
        torch.set_num_threads(threads)
    final = history[-1]
    # Seeded; 240 held-out pairs, 12 distinct captions (chance recall@1 is about 1/12).
    assert final["i2t"] >= 0.9 and final["t2i"] >= 0.9, f"recall@1 {final}"
    # And the captions are exact on 200 fresh images, shape word included (chance 1/12): what
    # captioning alone does not reach in the same steps (bench/joint_vs_single.py).
    assert acc["exact"] >= 0.9, f"caption accuracy {acc}"


def test_bad_input():
    with pytest.raises(ValueError, match="unknown tower 'vision'"):
        FreezeSchedule({"vision": (0, 10)})
    with pytest.raises(ValueError, match=r"need 0 <= start <= stop"):
        FreezeSchedule({"image": (5, 2)})
    with pytest.raises(ValueError, match=r"p_drop must be in \[0, 1\), got 1.0"):
        JointConfig(p_drop=1.0)
    with pytest.raises(ValueError, match="tasks must be 'joint'"):
        JointConfig(tasks="both")
    with pytest.raises(ValueError, match="weighting must be 'fixed' or 'uncertainty'"):
        JointConfig(weighting="gradnorm")
    with pytest.raises(ValueError, match="patch_size must be a power of 2"):
        HybridPatchEmbedding(ViTArgs(image_size=18, patch_size=3))
    with pytest.raises(ValueError, match=r"keep must be a bool tensor of shape \(4,\)"):
        drop_rows(torch.zeros(4, 2), torch.ones(4), torch.zeros(1, 2))
    with pytest.raises(ValueError, match=r"losses and log_vars must both be \(K,\)"):
        uncertainty_weighting(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"sim must be \(N, N\)"):
        recall_at_1(torch.zeros(3, 4), torch.zeros(3))
