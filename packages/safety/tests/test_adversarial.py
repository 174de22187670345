"""FGSM and PGD against captum; token gradients against the embedding's own gradient; GCG's rate."""

import pytest
import torch
from captum.robust import FGSM, PGD
from torch import nn

from masterclass.llm import LanguageModel, LMConfig
from masterclass.safety.adversarial import (
    accuracy_under_attack,
    attack_success_rate,
    fgsm,
    gcg_attack,
    hotflip_attack,
    hotflip_scores,
    pgd,
    token_gradients,
    train_image_classifier,
)


def _net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).double()


def test_fgsm_equals_captum():
    net = _net()
    x, y = torch.rand(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,))
    # captum's default loss is the NLL of raw outputs; ours is cross-entropy on logits: pass it.
    ref = FGSM(
        net, nn.CrossEntropyLoss(reduction="none"), lower_bound=0.0, upper_bound=1.0
    ).perturb(x, epsilon=0.1, target=y)
    # Same sign of the same gradient, then one add and one clamp: identical in fp64.
    torch.testing.assert_close(fgsm(net, x, y, 0.1), ref, atol=1e-12, rtol=0)


def test_pgd_equals_captum():
    net = _net()
    x, y = torch.rand(8, 6, dtype=torch.float64), torch.randint(0, 3, (8,))
    ref = PGD(net, nn.CrossEntropyLoss(reduction="none"), lower_bound=0.0, upper_bound=1.0).perturb(
        x, radius=0.1, step_size=0.03, step_num=7, target=y
    )
    ours = pgd(net, x, y, 0.1, step_size=0.03, steps=7)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    assert (ours - x).abs().max() <= 0.1 + 1e-12


def test_bad_input():
    with pytest.raises(ValueError, match="eps must be"):
        fgsm(_net(), torch.zeros(1, 6, dtype=torch.float64), torch.zeros(1, dtype=torch.long), -1.0)
    with pytest.raises(ValueError, match="step_size"):
        pgd(_net(), torch.zeros(1, 6), torch.zeros(1, dtype=torch.long), 0.1, step_size=0, steps=1)


@pytest.mark.slow
def test_eps_accuracy_curves_fall_and_pgd_is_stronger():
    model, x, y = train_image_classifier()
    eps = [0.0, 0.05, 0.1, 0.15]
    f = accuracy_under_attack(model, x, y, eps, fgsm)
    p = accuracy_under_attack(
        model, x, y, eps, lambda m, a, b, e: pgd(m, a, b, e, step_size=e / 4 + 1e-9, steps=10)
    )
    # Measured: FGSM 1.0, 1.0, 0.55, 0.04; PGD 1.0, 1.0, 0.23, 0.0.
    assert f[0] == 1.0 and p[0] == 1.0
    assert f[-1] < 0.2 and all(pi <= fi for pi, fi in zip(p, f, strict=True))


def _lm():
    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=64, d_model=32, n_layers=2, n_heads=4)).eval()
    with torch.no_grad():  # sharper logits than the 0.02 init, as a trained model has
        for p in model.parameters():
            if p.dim() > 1:
                p.mul_(10)
    return model


def test_token_gradients_equal_embedding_gradient_times_the_embedding_matrix():
    model = _lm()
    ids = torch.randint(0, 64, (7,))
    grads = {}

    def keep_grad(_module, _inputs, out):
        out.register_hook(lambda g: grads.update(e=g))

    h = model.tok_emb.register_forward_hook(keep_grad)
    logits = model(ids[None])
    h.remove()
    nn.functional.cross_entropy(logits[:, -1], torch.tensor([5])).backward()
    expected = grads["e"][0] @ model.tok_emb.weight.T  # (T, V)
    torch.testing.assert_close(token_gradients(model, ids, 5), expected, atol=1e-6, rtol=1e-5)
    scores = hotflip_scores(model, ids, 5)
    assert torch.all(scores.gather(1, ids[:, None]) == 0)  # keeping a token changes nothing


@pytest.mark.slow
def test_gcg_reaches_the_stated_success_rate_within_its_budget():
    model = _lm()
    prompt = torch.randint(0, 64, (6,), generator=torch.Generator().manual_seed(1))
    rate, mean_steps = attack_success_rate(model, prompt, list(range(0, 64, 8)), steps=20)
    # Measured on this model: 8 of 8 targets, in 2.9 steps on average (budget 20 steps of 32 swaps).
    assert rate >= 0.75 and mean_steps <= 20
    suffix, ok, _ = gcg_attack(model, prompt, 3, steps=1)
    assert suffix.shape == (4,) and isinstance(ok, bool)


def test_hotflip_with_every_candidate_is_the_exhaustive_best_swap():
    # Reference: try every single (position, token) swap of the suffix exactly and keep the
    # lowest target loss. HotFlip evaluating all S x V candidates must pick the same suffix
    # (its first-order ranking then only orders them); same forward passes, float32 ties aside.
    model = _lm()
    prompt = torch.randint(0, 64, (5,), generator=torch.Generator().manual_seed(2))
    start = torch.randint(0, 64, (3,), generator=torch.Generator().manual_seed(0))  # seed 0's
    target = 9
    with torch.no_grad():
        trials = start.repeat(3 * 64 + 1, 1)
        for i in range(3):
            trials[1 + i * 64 : 1 + (i + 1) * 64, i] = torch.arange(64)
        logits = model(torch.cat([prompt.expand(len(trials), -1), trials], dim=1))[:, -1]
        losses = nn.functional.cross_entropy(
            logits, torch.full((len(trials),), target), reduction="none"
        )
    suffix, ok, used = hotflip_attack(
        model, prompt, target, suffix_len=3, flips=1, candidates=3 * 64
    )
    assert used == 1
    assert torch.equal(suffix, trials[int(losses.argmin())])
    assert ok == (int(logits[int(losses.argmin())].argmax()) == target)


@pytest.mark.slow
def test_hotflip_reaches_the_stated_success_rate_within_its_budget():
    model = _lm()
    prompt = torch.randint(0, 64, (6,), generator=torch.Generator().manual_seed(1))
    rate, mean_flips = attack_success_rate(
        model, prompt, list(range(0, 64, 8)), attack=hotflip_attack, flips=10, candidates=32
    )
    # Measured on this model: 8 of 8 targets in 2.6 flips on average (budget 10 flips of 32
    # exact candidates). With 8 or 16 candidates it stalls at 5 of 8: the first-order estimate
    # often misranks the best swap, which is why GCG keeps the gradient only as a filter.
    assert rate >= 0.75 and mean_flips <= 10, (rate, mean_flips)
    with pytest.raises(ValueError, match="flips and candidates must all be >= 1, got 4, 0, 8"):
        hotflip_attack(model, prompt, 3, flips=0)
