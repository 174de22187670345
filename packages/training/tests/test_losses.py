"""The training losses against torch's cross-entropy, HF Mixtral's load-balancing loss and the
formulas of the papers (z-loss, multi-token prediction), in value and gradient."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.training.losses import (
    MultiTokenHeads,
    cross_entropy,
    load_balancing_loss,
    multi_token_prediction_loss,
    next_token_loss,
    sequence_logprobs,
    z_loss,
)

# float64 throughout: ours and torch's differ only in summation order, ~1e-15; tolerance 1e-12.
TOL = dict(atol=1e-12, rtol=1e-12)


def _value_and_grad(fn, logits):
    z = logits.clone().requires_grad_(True)
    value = fn(z)
    (grad,) = torch.autograd.grad(value, z)
    return value.detach(), grad


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_matches_torch_with_ignore_index_and_smoothing(smoothing):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 7, 11, generator=g, dtype=torch.float64) * 3
    targets = torch.randint(0, 11, (4, 7), generator=g)
    targets[0, :3] = -100
    targets[2, 5] = -100
    ours = _value_and_grad(
        lambda z: cross_entropy(z.double(), targets, label_smoothing=smoothing), logits
    )

    def ref_fn(z):
        return F.cross_entropy(
            z.view(-1, 11), targets.view(-1), ignore_index=-100, label_smoothing=smoothing
        )

    ref = _value_and_grad(ref_fn, logits)
    # Our function computes in float32 internally (as the model's loss does): 1e-6 in float32.
    torch.testing.assert_close(ours[0].double(), ref[0], atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(ours[1].double(), ref[1], atol=1e-6, rtol=1e-6)
    # Ignored positions receive exactly zero gradient.
    assert torch.all(ours[1][0, :3] == 0) and torch.all(ours[1][2, 5] == 0)


def test_next_token_loss_equals_the_models_own_loss():
    from masterclass.llm import LanguageModel, LMConfig

    torch.manual_seed(0)
    model = LanguageModel(LMConfig(vocab_size=31, d_model=16, n_layers=1, n_heads=2))
    idx = torch.randint(0, 31, (2, 9))
    labels = idx.clone()
    labels[:, :3] = -100
    targets = torch.cat([labels[:, 1:], torch.full((2, 1), -100)], dim=1)
    logits, ref = model(idx, targets)
    torch.testing.assert_close(next_token_loss(logits, labels), ref, atol=1e-6, rtol=1e-6)


def test_sequence_logprobs_is_the_sum_of_gathered_log_softmax():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(3, 6, 5, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (3, 6), generator=g)
    labels[:, :2] = -100
    ref = torch.zeros(3, dtype=torch.float64)
    for b in range(3):
        for t in range(2, 6):
            ref[b] += torch.log_softmax(logits[b, t - 1], -1)[labels[b, t]]
    # float32 inside: 1e-6.
    torch.testing.assert_close(sequence_logprobs(logits, labels).double(), ref, atol=1e-6, rtol=0)
    avg = sequence_logprobs(logits, labels, average=True).double()
    torch.testing.assert_close(avg, ref / 4, atol=1e-6, rtol=0)


def test_z_loss_value_and_gradient_match_the_closed_form():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(5, 13, generator=g, dtype=torch.float64) * 4 + 3
    value, grad = _value_and_grad(lambda z: z_loss(z.double(), coefficient=1e-2), logits)
    lse = torch.logsumexp(logits, -1)
    torch.testing.assert_close(value.double(), 1e-2 * (lse**2).mean(), atol=1e-6, rtol=1e-6)
    # d/dz of mean(LSE^2) = 2 LSE softmax(z) / N.
    closed = 2e-2 * lse[:, None] * logits.softmax(-1) / 5
    torch.testing.assert_close(grad.double(), closed, atol=1e-7, rtol=1e-5)
    mask = torch.tensor([True, False, True, True, False])
    ref = 1e-2 * (lse[mask] ** 2).mean()
    torch.testing.assert_close(
        z_loss(logits, mask, coefficient=1e-2).double(), ref, **dict(atol=1e-6, rtol=1e-6)
    )


def test_load_balancing_loss_matches_hf_mixtral():
    from transformers.models.mixtral.modeling_mixtral import load_balancing_loss_func

    g = torch.Generator().manual_seed(3)
    router_logits = torch.randn(40, 6, generator=g)
    ref = load_balancing_loss_func((router_logits,), num_experts=6, top_k=2)
    torch.testing.assert_close(load_balancing_loss(router_logits, 2), ref, atol=1e-6, rtol=1e-6)


def test_multi_token_prediction_loss_matches_the_paper_formula():
    torch.manual_seed(4)
    heads = MultiTokenHeads(8, 10, 3).double()
    hidden = torch.randn(2, 7, 8, dtype=torch.float64, requires_grad=True)
    idx = torch.randint(0, 10, (2, 7))
    ours = multi_token_prediction_loss(heads(hidden), idx, [1.0, 0.5, 0.25])
    (g_ours,) = torch.autograd.grad(ours, hidden)
    # Reference: the explicit double sum over heads and positions.
    ref = 0.0
    for k, w in zip(range(1, 4), [1.0, 0.5, 0.25], strict=True):
        logits = heads.heads[k - 1](hidden)
        terms = [
            -torch.log_softmax(logits[b, t], -1)[idx[b, t + k]]
            for b in range(2)
            for t in range(7 - k)
        ]
        ref = ref + w * torch.stack(terms).mean()
    (g_ref,) = torch.autograd.grad(ref, hidden)
    torch.testing.assert_close(ours.double(), ref, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(g_ours.double(), g_ref, atol=1e-6, rtol=1e-6)


def test_bad_input_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="label_smoothing"):
        cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), label_smoothing=1.0)
    with pytest.raises(ValueError, match=r"targets\.shape"):
        cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="one per head"):
        multi_token_prediction_loss(
            [torch.zeros(1, 4, 3)], torch.zeros(1, 4, dtype=torch.long), [1, 2]
        )
    with pytest.raises(ValueError, match="n_future"):
        MultiTokenHeads(4, 4, 0)
