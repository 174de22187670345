r"""# Exercises: RLHF: reward models, PPO with GAE, and GRPO

Generalised advantage estimation with an explicit loop, and the k3 estimator of the KL."""

import torch

from masterclass.training.rlhf import gae, kl_estimators


def solution_1_gae_loop(rewards, values, gamma, lam):
    T = len(rewards)
    adv = torch.zeros_like(rewards)
    carry, next_value = 0.0, 0.0
    for t in reversed(range(T)):
        delta = rewards[t] + gamma * next_value - values[t]
        carry = delta + gamma * lam * carry
        adv[t] = carry
        next_value = values[t]
    return adv


def check_1_gae_loop(fn) -> None:
    g = torch.Generator().manual_seed(0)
    for gamma, lam in [(1.0, 0.95), (0.9, 0.0), (0.99, 1.0)]:
        r = torch.randn(5, generator=g, dtype=torch.float64)
        v = torch.randn(5, generator=g, dtype=torch.float64)
        want = gae(r[None], v[None], gamma=gamma, lam=lam)[0][0]
        got = torch.as_tensor(fn(r, v, gamma, lam), dtype=torch.float64)
        assert torch.allclose(got, want, atol=1e-10), f"gamma={gamma}, lam={lam}: {got} != {want}"


def solution_2_k3(logp, logp_ref):
    log_r = logp_ref - logp
    return log_r.exp() - 1 - log_r


def check_2_k3(fn) -> None:
    g = torch.Generator().manual_seed(1)
    logp = -torch.rand(10, generator=g, dtype=torch.float64) * 3
    logp_ref = -torch.rand(10, generator=g, dtype=torch.float64) * 3
    want = kl_estimators(logp, logp_ref)["k3"]
    got = torch.as_tensor(fn(logp, logp_ref), dtype=torch.float64)
    assert torch.allclose(got, want, atol=1e-12), f"k3 gave {got}, want {want}"
    assert torch.all(got >= 0), "k3 must be non-negative"
