"""Distillation against torch.nn.functional.kl_div, autograd, and a seeded teacher/student run."""

import pytest
import torch
import torch.nn.functional as F

from masterclass.deploy.distillation import (
    HiddenProjector,
    distill,
    distillation_loss,
    hidden_state_loss,
    hidden_states,
    kd_loss,
    sequence_kd_data,
)
from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate


@pytest.mark.parametrize("T", [0.5, 1.0, 2.0, 5.0])
def test_kd_loss_is_t_squared_kl_div_in_value_and_gradient(T):
    # Reference: T^2 * F.kl_div(log q, log p, log_target=True, reduction="batchmean") on (N, V).
    # float64 throughout, so the only differences are summation order: 1e-12 relative.
    torch.manual_seed(0)
    s = torch.randn(3, 5, 11, dtype=torch.float64, requires_grad=True)
    t = torch.randn(3, 5, 11, dtype=torch.float64) * 2
    s64 = s.detach().clone().requires_grad_(True)
    ours = kd_loss(s.double(), t, T)
    ref = T**2 * F.kl_div(
        F.log_softmax(s64.reshape(-1, 11) / T, -1),
        F.log_softmax(t.reshape(-1, 11) / T, -1),
        log_target=True,
        reduction="batchmean",
    )
    # kd_loss computes in float32 (as in training), so value and gradient agree to float32's 1e-6.
    torch.testing.assert_close(ours.double(), ref, rtol=1e-6, atol=1e-6)
    ours.backward()
    ref.backward()
    torch.testing.assert_close(s.grad, s64.grad, rtol=1e-5, atol=1e-7)
    # The closed form of the derivation: d/dz_s of the per-row sum is T (q - p); mean over 15 rows.
    q, p = F.softmax(s64.detach() / T, -1), F.softmax(t / T, -1)
    torch.testing.assert_close(s.grad, T * (q - p) / 15, rtol=1e-5, atol=1e-7)


def test_mask_drops_positions_and_mix_with_labels():
    torch.manual_seed(1)
    s, t = torch.randn(2, 4, 7), torch.randn(2, 4, 7)
    y = torch.randint(0, 7, (2, 4))
    y[0, 2:] = -100
    keep = y != -100
    want_kd = kd_loss(s[keep], t[keep], 3.0)
    torch.testing.assert_close(kd_loss(s, t, 3.0, mask=keep), want_kd)
    ce = F.cross_entropy(s.reshape(-1, 7), y.reshape(-1), ignore_index=-100)
    got = distillation_loss(s, t, y, alpha=0.3, temperature=3.0)
    torch.testing.assert_close(got, 0.3 * want_kd + 0.7 * ce)
    assert kd_loss(t, t, 2.0).abs() < 1e-6  # KL of a distribution with itself


def _lm(d, layers, seed, std=0.02, vocab=32):
    torch.manual_seed(seed)
    cfg = LMConfig.llama(vocab_size=vocab, d_model=d, n_layers=layers, n_heads=2, max_seq_len=64)
    cfg.init_std = std
    return LanguageModel(cfg).eval()


def test_hidden_states_and_projector_loss():
    teacher, student = _lm(32, 4, 0), _lm(16, 2, 1)
    x = torch.randint(0, 32, (2, 6))
    logits, hs = hidden_states(teacher, x)
    assert torch.equal(logits, teacher(x)) and len(hs) == 4 and hs[0].shape == (2, 6, 32)
    # The last block's output, normed, is what lm_head sees: a check that hooks caught the blocks.
    torch.testing.assert_close(teacher.lm_head(teacher.norm(hs[-1])), logits)
    _, hs_s = hidden_states(student, x)
    proj = HiddenProjector(16, 32, 2)
    # Reference: the pairing 2 -> 4 is layers (1, 3), and the loss is a plain mean of MSEs.
    want = (F.mse_loss(proj.proj[0](hs_s[0]), hs[1]) + F.mse_loss(proj.proj[1](hs_s[1]), hs[3])) / 2
    torch.testing.assert_close(hidden_state_loss(hs_s, hs, proj), want)


def test_sequence_kd_data_is_the_teachers_greedy_argmax():
    teacher = _lm(32, 2, 0, std=0.5)
    prompts = torch.randint(0, 32, (3, 4))
    out = sequence_kd_data(teacher, prompts, 5)
    assert out.shape == (3, 9) and torch.equal(out[:, :4], prompts)
    # Reference: recompute every next token as the argmax of a full (cache-free) forward pass.
    with torch.no_grad():
        for i in range(4, 9):
            assert torch.equal(out[:, i], teacher(out[:, :i])[:, -1].argmax(-1))


@pytest.mark.slow
def test_distilled_student_beats_label_only_student_on_held_out_loss():
    # The teacher is the data's true distribution: a random-init model with a large init (peaky
    # next-token distributions) that samples the text. Students of one size see the same 16
    # sequences for the same 25 steps; only the loss differs. Held out: 32 other teacher samples.
    teacher = _lm(32, 2, 0, std=0.5)
    g = torch.Generator().manual_seed(0)
    seqs = generate(teacher, torch.randint(0, 32, (48, 1), generator=g), 16, generator=g)
    train, val = seqs[:16], seqs[16:]
    batches = [(train[:, :-1], train[:, 1:])] * 25
    loss = {}
    for mode in ("labels", "logits", "hidden"):
        s = distill(_lm(16, 1, 1), teacher, batches, mode=mode, alpha=0.9, lr=1e-2)
        with torch.no_grad():
            loss[mode] = s(val[:, :-1], val[:, 1:])[1].item()
    # Measured: labels 4.16, logits 3.62, hidden 3.30 nats (the teacher itself: 1.58).
    assert loss["logits"] < loss["labels"] - 0.2 and loss["hidden"] < loss["labels"] - 0.2, loss


def test_bad_arguments():
    s = torch.zeros(2, 5)
    with pytest.raises(ValueError, match="same shape"):
        kd_loss(s, torch.zeros(2, 6))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        kd_loss(s, s, 0.0)
    with pytest.raises(ValueError, match="alpha must be in"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), alpha=1.5)
    with pytest.raises(ValueError, match="mode must be"):
        distill(_lm(16, 1, 0), None, [], mode="soft")
    with pytest.raises(ValueError, match="needs a teacher"):
        distill(_lm(16, 1, 0), None, [], mode="logits")
    with pytest.raises(ValueError, match="one projector per"):
        hidden_state_loss([s], [s], HiddenProjector(5, 5, 2))
