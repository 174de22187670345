"""Reward hacking appears without the KL term and is contained with it (GRPO from training)."""

import pytest
import torch

from masterclass.safety.alignment import (
    TASK,
    alignment_report,
    optimise_proxy,
    proxy_reward,
    sft_policy,
)


def test_proxy_pays_for_the_spurious_feature():
    prompts = torch.tensor([[4, 10, 5, 11], [9, 10, 9, 11]])  # 4 + 5, 9 + 9
    right = TASK.answers(prompts)  # 09, 18
    assert proxy_reward(prompts, right).tolist() == [1.5, 0.5]
    assert proxy_reward(prompts, torch.tensor([[1, 9], [1, 9]])).tolist() == [
        1.0,
        1.5,
    ]  # wrong, paid more
    with pytest.raises(ValueError, match="kl_beta"):
        optimise_proxy(sft_policy(steps=1), kl_beta=-1.0)


@pytest.mark.slow
def test_reward_hacking_and_the_kl_fix():
    reference = sft_policy()
    start = alignment_report(reference, reference)
    hacked = alignment_report(optimise_proxy(reference, kl_beta=0.0), reference)
    fixed = alignment_report(optimise_proxy(reference, kl_beta=1.0), reference)
    # Measured (seeded): SFT true 0.39 / proxy 0.53; beta = 0: true 0.08, proxy 1.40, KL 4.7;
    # beta = 1: true 0.21, proxy 0.69, KL 0.98.
    assert hacked["proxy_reward"] > start["proxy_reward"] + 0.5  # the proxy soars ...
    assert hacked["true_reward"] < 0.5 * start["true_reward"]  # ... and the intent collapses
    assert fixed["kl"] < 0.5 * hacked["kl"]
    assert fixed["true_reward"] > 2 * hacked["true_reward"]
