"""DPO, IPO and the hinge loss against TRL's `DPOTrainer` on random log-probabilities, the log 2
start, and a DPO run on preference pairs moving the margin."""

import copy
import dataclasses
import math
from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.dpo import DPOConfig, dpo_loss, dpo_train, pair_batch


def _trl_loss(loss_type, beta, pc, pr, rc, rr, len_c, len_r):
    # TRL computes the loss inside `DPOTrainer._compute_loss` from the model's per-token
    # log-probabilities; we call that method with a stand-in trainer and a stand-in model that
    # returns the given sequence log-probabilities at the first completion position (the rest
    # zeros), so that TRL's own sums, masks and length normalisation run unchanged.
    from trl import DPOTrainer

    B = len(pc)
    lengths = torch.cat([len_c, len_r])  # (2B,)
    T = int(lengths.max()) + 1
    completion = torch.zeros(2 * B, T, dtype=torch.long)
    for b, n in enumerate(lengths.tolist()):
        completion[b, 1 : 1 + n] = 1
    log_probs = torch.zeros(2 * B, T - 1, dtype=pc.dtype)
    log_probs[:, 0] = torch.cat([pc, pr])
    zeros = torch.zeros(2 * B, T - 1)
    outputs = SimpleNamespace(
        log_probs=log_probs, entropy=zeros, mean_logits=zeros, is_top1=zeros.bool()
    )
    accelerator = SimpleNamespace(device="cpu", gather_for_metrics=lambda x: x, gather=lambda x: x)
    trainer = SimpleNamespace(
        model=SimpleNamespace(training=False),
        accelerator=accelerator,
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        label_smoothing=0.0,
        use_weighting=False,
        _metrics={"eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    inputs = {
        "input_ids": torch.zeros(2 * B, T, dtype=torch.long),
        "attention_mask": torch.ones(2 * B, T, dtype=torch.long),
        "completion_mask": completion,
        "ref_chosen_logps": rc,
        "ref_rejected_logps": rr,
    }
    return DPOTrainer._compute_loss(trainer, lambda **kw: outputs, inputs, False)


@pytest.mark.slow  # importing trl takes seconds
@pytest.mark.parametrize("loss_type", ["sigmoid", "ipo", "hinge"])
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_losses_match_trl_on_random_logprobs(loss_type, beta):
    g = torch.Generator().manual_seed(0)
    logps = [-(torch.rand(16, generator=g, dtype=torch.float64) * 20) for _ in range(4)]
    len_c = torch.randint(1, 9, (16,), generator=g)
    len_r = torch.randint(1, 9, (16,), generator=g)
    ours, _, _ = dpo_loss(
        *logps, beta=beta, loss_type=loss_type, chosen_lengths=len_c, rejected_lengths=len_r
    )
    ref = _trl_loss(loss_type, beta, *logps, len_c, len_r)
    # float64 on both sides, the same few operations: agreement far below the 1e-6 asked for.
    assert ours.item() == pytest.approx(ref.item(), abs=1e-6, rel=1e-6)


@pytest.mark.slow
def test_gradient_matches_trl_through_the_logprobs():
    g = torch.Generator().manual_seed(1)
    pc, pr, rc, rr = (-(torch.rand(8, generator=g, dtype=torch.float64) * 10) for _ in range(4))
    ones = torch.ones(8, dtype=torch.long)
    a = pc.clone().requires_grad_(True)
    (ours,) = torch.autograd.grad(dpo_loss(a, pr, rc, rr, beta=0.3)[0], a)
    b = pc.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(_trl_loss("sigmoid", 0.3, b, pr, rc, rr, ones, ones), b)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=1e-9)


def test_policy_equal_to_reference_gives_log_2_and_smoothing_follows_its_formula():
    x = torch.randn(5, dtype=torch.float64)
    y = torch.randn(5, dtype=torch.float64)
    loss, r_w, r_l = dpo_loss(x, y, x, y, beta=0.7)
    assert loss.item() == math.log(2) and torch.all(r_w == 0) and torch.all(r_l == 0)
    # Conservative DPO: -(1-eps) log s(beta h) - eps log s(-beta h), written out.
    pc, pr = torch.tensor([-1.0, -3.0]), torch.tensor([-2.0, -1.0])
    z = torch.zeros(2)
    h = 0.5 * (pc - pr)
    want = (-(0.8) * F.logsigmoid(h) - 0.2 * F.logsigmoid(-h)).mean()
    got = dpo_loss(pc, pr, z, z, beta=0.5, label_smoothing=0.2)[0]
    assert got.item() == pytest.approx(want.item(), abs=1e-7)


def test_pair_batch_masks_prompt_and_padding():
    ids, labels = pair_batch([([5, 6], [7], [8, 9]), ([1], [2, 3], [4])], pad_id=0)
    assert ids.tolist() == [[5, 6, 7, 0], [1, 2, 3, 0], [5, 6, 8, 9], [1, 4, 0, 0]]
    assert labels.tolist() == [
        [-100, -100, 7, -100],
        [-100, 2, 3, -100],
        [-100, -100, 8, 9],
        [-100, 4, -100, -100],
    ]


def test_dpo_run_moves_the_preference_margin():
    # Preference pairs over a tiny vocabulary: after prompt [1, 2] the chosen response is [3, 3],
    # the rejected [4, 4]. A DPO run must make the implicit-reward margin grow from exactly 0
    # (policy = reference) and the chosen response likelier than before. Breaking the loss's
    # sign makes the margin fall and this test fail.
    torch.manual_seed(0)
    policy = LanguageModel(LMConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2, max_seq_len=8))
    pairs = [([1, 2], [3, 3], [4, 4]), ([2, 1], [3, 5], [4, 5]), ([1, 1], [3, 6], [4, 6])]
    history = dpo_train(policy, pairs, DPOConfig(steps=25, lr=1e-2, beta=0.1))
    assert history[0]["margin"] == 0.0 and history[0]["loss"] == pytest.approx(math.log(2))
    assert history[-1]["margin"] > 1.0, history[-1]
    assert history[-1]["loss"] < 0.5 * math.log(2)
    for loss_type in ("ipo", "hinge"):
        torch.manual_seed(0)
        p = LanguageModel(LMConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2, max_seq_len=8))
        h = dpo_train(p, pairs, DPOConfig(steps=15, lr=1e-2, beta=0.1, loss_type=loss_type))
        assert h[-1]["margin"] > h[0]["margin"] + 0.1, (loss_type, h[-1])


def test_bad_input_is_refused():
    z = torch.zeros(2)
    with pytest.raises(ValueError, match="loss_type must be one of"):
        dpo_loss(z, z, z, z, loss_type="kto")
    with pytest.raises(ValueError, match="beta must be > 0"):
        dpo_loss(z, z, z, z, beta=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(z, z, z, z, label_smoothing=0.5)
    with pytest.raises(ValueError, match="empty prompt or response"):
        pair_batch([([], [1], [2])])


@pytest.mark.slow  # importing trl takes seconds
def test_default_beta_is_trls():
    # The module follows TRL's DPOTrainer, so its default KL strength is TRL's `DPOConfig.beta`
    # (0.1), read from TRL's dataclass, both for `dpo_loss` and for our `DPOConfig`. Reference:
    # the float64 DPO formula written out with that beta; tolerance 1e-12.
    import trl

    trl_beta = {f.name: f.default for f in dataclasses.fields(trl.DPOConfig)}["beta"]
    assert DPOConfig().beta == trl_beta
    pc, pr = torch.tensor([-1.0, -4.0], dtype=torch.float64), torch.tensor([-3.0, -2.0]).double()
    rc, rr = torch.tensor([-2.0, -2.5]).double(), torch.tensor([-1.5, -3.0]).double()
    h = trl_beta * ((pc - rc) - (pr - rr))
    want = (-F.logsigmoid(h)).mean()
    assert dpo_loss(pc, pr, rc, rr)[0].item() == pytest.approx(want.item(), abs=1e-12)


def test_ipo_lengths_default_to_one_and_are_clamped_at_one():
    # IPO written out in float64: (r_w / n_w - r_l / n_l - 1 / (2 beta))^2, averaged; no lengths
    # means n = 1, and a length of 0 counts as 1 (TRL clamps the token count likewise). 1e-12.
    pc, pr = torch.tensor([-1.0, -4.0, -2.0]).double(), torch.tensor([-3.0, -2.0, -5.0]).double()
    rc, rr = torch.tensor([-2.0, -2.5, -1.0]).double(), torch.tensor([-1.5, -3.0, -4.0]).double()
    beta = 0.25
    r_w, r_l = pc - rc, pr - rr
    want = ((r_w - r_l - 1 / (2 * beta)) ** 2).mean()
    got = dpo_loss(pc, pr, rc, rr, beta=beta, loss_type="ipo")[0]
    assert got.item() == pytest.approx(want.item(), abs=1e-12)
    n_w, n_l = torch.tensor([0, 2, 3]), torch.tensor([1, 0, 4])
    want = ((r_w / n_w.clamp(min=1) - r_l / n_l.clamp(min=1) - 1 / (2 * beta)) ** 2).mean()
    got = dpo_loss(
        pc, pr, rc, rr, beta=beta, loss_type="ipo", chosen_lengths=n_w, rejected_lengths=n_l
    )[0]
    assert got.item() == pytest.approx(want.item(), abs=1e-12)


def test_ipo_run_normalises_by_the_response_token_counts():
    # `dpo_train`'s second-step IPO loss against a hand computation on the policy after one step:
    # each response's log-prob summed token by token from an unpadded forward pass, divided by its
    # length counted from the pairs (one prompt is a single token, so a count that starts one
    # position late is caught). float32 model, batched vs unpadded forward: rel 1e-5.
    torch.manual_seed(0)
    init = LanguageModel(LMConfig(vocab_size=8, d_model=16, n_layers=1, n_heads=2, max_seq_len=8))
    pairs = [([1], [3, 3, 5], [4]), ([2, 1], [3], [4, 4, 6])]
    cfg = dict(lr=1e-2, beta=0.1, loss_type="ipo")
    history = dpo_train(copy.deepcopy(init), pairs, DPOConfig(steps=2, **cfg))
    after_one = copy.deepcopy(init)
    dpo_train(after_one, pairs, DPOConfig(steps=1, **cfg))

    def mean_logprob(model, prompt, response):
        row = torch.tensor([prompt + response])
        with torch.no_grad():
            logp = torch.log_softmax(model(row)[0].double(), -1)
        n = len(prompt)
        return sum(logp[t - 1, row[0, t]] for t in range(n, row.shape[1])) / len(response)

    terms = []
    for prompt, chosen, rejected in pairs:
        r_w = mean_logprob(after_one, prompt, chosen) - mean_logprob(init, prompt, chosen)
        r_l = mean_logprob(after_one, prompt, rejected) - mean_logprob(init, prompt, rejected)
        terms.append((r_w - r_l - 1 / (2 * 0.1)) ** 2)
    want = torch.stack(terms).mean().item()
    assert history[1]["loss"] == pytest.approx(want, rel=1e-5)
