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
# Against a function that computes in float32 inside: 1e-6.
TOL_F32 = dict(atol=1e-6, rtol=1e-6)


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


def test_a_one_token_vocabulary_with_ignored_targets_matches_torch():
    # V = 1: the only valid index is 0, so ignored targets must be replaced by 0 before the
    # gather. Reference: torch's cross-entropy with ignore_index (loss 0, zero gradient), and the
    # log-prob of the only token, 0, for sequence_logprobs. Exact.
    logits = torch.randn(2, 5, 1, dtype=torch.float64)
    targets = torch.tensor([[0, -100, 0, -100, 0], [-100, 0, 0, 0, -100]])
    ref = F.cross_entropy(logits.view(-1, 1), targets.view(-1), ignore_index=-100)
    assert cross_entropy(logits, targets).item() == ref.item() == 0.0
    assert sequence_logprobs(logits, targets).tolist() == [0.0, 0.0]


def test_sequence_logprobs_average_over_one_token_and_over_none():
    # average=True divides by the number of counted tokens, clamped at 1: a row with one response
    # token is its log-prob itself, a row with none is 0 (not NaN). Reference: log_softmax
    # gathered by hand in float64; float32 inside: 1e-6.
    g = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    labels = torch.full((3, 4), -100)
    labels[0, 2] = 3  # one token
    labels[1, 1:] = torch.tensor([1, 4, 2])  # three tokens
    # row 2: no tokens at all
    one = torch.log_softmax(logits[0, 1], -1)[3]
    three = sum(torch.log_softmax(logits[1, t - 1], -1)[labels[1, t]] for t in range(1, 4))
    ref = torch.stack([one, three / 3, torch.zeros((), dtype=torch.float64)])
    avg = sequence_logprobs(logits, labels, average=True).double()
    torch.testing.assert_close(avg, ref, atol=1e-6, rtol=0)


def test_z_loss_default_coefficient_and_three_dimensional_logits():
    # PaLM (Chowdhery et al., 2022, sec. 5) uses lambda_z = 1e-4, the documented default. The
    # log-normaliser is over the last (vocabulary) axis of (B, T, V) logits, masked by (B, T).
    # Reference: 1e-4 * mean(LSE^2) with torch.logsumexp over the last axis in float64; 1e-6 rel.
    g = torch.Generator().manual_seed(6)
    logits = torch.randn(2, 3, 7, generator=g, dtype=torch.float64) * 4 + 3
    lse = torch.logsumexp(logits, -1)  # (2, 3)
    torch.testing.assert_close(z_loss(logits).double(), 1e-4 * (lse**2).mean(), atol=0, rtol=1e-6)
    mask = torch.tensor([[True, False, True], [False, True, True]])
    ref = 1e-4 * (lse[mask] ** 2).mean()
    torch.testing.assert_close(z_loss(logits, mask).double(), ref, atol=0, rtol=1e-6)


def test_multi_token_prediction_default_weights_and_a_single_head():
    # The paper weights every head 1 (weights=None); one head is the ordinary next-token loss.
    # Reference: the sum over heads of torch's cross-entropy on the shifted targets, float64;
    # our cross-entropy is float32 inside: 1e-6.
    torch.manual_seed(7)
    heads = MultiTokenHeads(8, 10, 2).double()
    hidden = torch.randn(2, 6, 8, dtype=torch.float64)
    idx = torch.randint(0, 10, (2, 6))
    logits = heads(hidden)
    ref = sum(
        F.cross_entropy(lg[:, :-k].reshape(-1, 10), idx[:, k:].reshape(-1))
        for k, lg in enumerate(logits, start=1)
    )
    ours = multi_token_prediction_loss(logits, idx)
    torch.testing.assert_close(ours.double(), ref, atol=1e-6, rtol=1e-6)
    one = MultiTokenHeads(8, 10, 1).double()  # n_future = 1 is the smallest accepted
    (lg,) = one(hidden)
    ref = F.cross_entropy(lg[:, :-1].reshape(-1, 10), idx[:, 1:].reshape(-1))
    torch.testing.assert_close(multi_token_prediction_loss([lg], idx).double(), ref, **TOL_F32)


def test_multi_token_prediction_needs_more_tokens_than_heads():
    # n heads need T > n: T = n + 1 is accepted (the last head scores one position), T = n is
    # refused with the message (head n would score no position and give NaN).
    logits = [torch.zeros(1, 3, 4) for _ in range(2)]
    value = multi_token_prediction_loss(logits, torch.zeros(1, 3, dtype=torch.long))
    assert torch.isfinite(value)
    logits = [torch.zeros(1, 2, 4) for _ in range(2)]
    with pytest.raises(ValueError, match=r"2 heads need sequences longer than 2 tokens, got T=2"):
        multi_token_prediction_loss(logits, torch.zeros(1, 2, dtype=torch.long))
