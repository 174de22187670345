r"""# Model alignment: reward hacking on a toy, and the KL-regularised fix

A model is **aligned** when it does what its designers intend, not merely what they measured.
The intent is rarely measurable directly, so training optimises a *proxy*: a reward model fitted to
human preferences (RLHF), a rubric, a test suite. Alignment is then measured the only way it can
be: on held-out evaluations of the intent (here: is the sum right?), next to the proxy the model was
trained on, and by how far the model moved from where it started ($\mathrm{KL}$ to the reference).

**Reward hacking** (or *specification gaming*, Krakovna et al., 2020) is what happens when the
proxy and the intent come apart and the optimiser finds the gap: Goodhart's law, "when a measure
becomes a target, it ceases to be a good measure". Gao et al. (2023) measured it at scale: as RL
pushes a policy away from its start, the proxy reward keeps rising while the true ("gold") reward
rises, peaks and falls.

**The toy.** The task is `training.rlhf`'s two-digit addition, whose true reward checks the sum.
The proxy stands in for a reward model that learned a spurious feature from its labels (as real
ones learn to like length or confident tone): it pays half a point for the right tens digit and a
full point for a final digit 9, right or wrong,

$$ \hat r(x, y) = \tfrac12 [y_1 = s_1] + [y_2 = 9] . $$

GRPO from `training` maximises it. Without a KL term the policy learns to end every answer in 9:
the proxy soars and the true reward collapses.

**The fix** is the KL term already in the RLHF objective,
$\max_\theta \mathbb E[\hat r] - \beta\,\mathrm{KL}(\pi_\theta \,\|\, \pi_{\text{ref}})$. Its optimum is
$\pi^*(y \mid x) \propto \pi_{\text{ref}}(y \mid x)\, e^{\hat r(x, y)/\beta}$: the reference
reweighted, never further from it than the reward is worth. A large enough $\beta$ keeps the policy
near the supervised model, whose behaviour the proxy's flaw does not describe, and the true reward
falls much less. It bounds the damage rather than removing it: only a better reward removes it.

## References

- V. Krakovna et al., *Specification gaming: the flip side of AI ingenuity*, DeepMind 2020, [deepmind.google](https://deepmind.google/discover/blog/specification-gaming-the-flip-side-of-ai-ingenuity/).
- L. Gao, J. Schulman, J. Hilton, *Scaling Laws for Reward Model Overoptimization*, ICML 2023, [arXiv:2210.10760](https://arxiv.org/abs/2210.10760).
- D. Amodei et al., *Concrete Problems in AI Safety*, 2016, [arXiv:1606.06565](https://arxiv.org/abs/1606.06565).
- L. Ouyang et al., *Training language models to follow instructions with human feedback*, 2022, [arXiv:2203.02155](https://arxiv.org/abs/2203.02155).

Left out: a proxy *learned* from biased preference labels (`training.rlhf.RewardModel` trains
one the same way), reward-model ensembles, and evaluations of honesty or harmlessness.

>>> import torch
>>> task_prompts = torch.tensor([[4, 10, 5, 11]])          # "4 + 5 ="
>>> proxy_reward(task_prompts, torch.tensor([[0, 9]])), proxy_reward(task_prompts, torch.tensor([[1, 9]]))
(tensor([1.5000]), tensor([1.]))

## Exercises

1. Write `solution_1_optimal_policy(ref_probs, rewards, beta)`: the KL-regularised optimum
   $\pi^* \propto \pi_{ref} e^{r/\beta}$ over a finite set of responses. Check it:
   `uv run pytest --exercise safety.alignment`.
2. Write `solution_2_kl(p, q)`: $\mathrm{KL}(p \| q)$ of two categorical distributions, and show
   that the optimum's KL shrinks as $\beta$ grows.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor
from torch.nn.functional import cross_entropy

from masterclass.llm import LanguageModel, LMConfig
from masterclass.training.rlhf import (
    AdditionTask,
    RLConfig,
    grpo_train,
    response_logprobs,
    sample_responses,
)

TASK = AdditionTask()

# ## The proxy


def proxy_reward(prompts: Tensor, responses: Tensor) -> Tensor:
    """Half a point for the right tens digit, a point for a final 9: `(n,)` from `(n, 4)`, `(n, 2)`."""
    answers = TASK.answers(prompts)  # (n, 2)
    return 0.5 * (responses[:, 0] == answers[:, 0]).float() + (responses[:, 1] == 9).float()


# ## The supervised start
#
# A few supervised steps on right answers give a policy that is right part of the time, the
# reference $\pi_{\text{ref}}$ of the KL term.


def sft_policy(steps: int = 60, *, seed: int = 0) -> LanguageModel:
    """A one-layer model trained on right answers of the addition task."""
    torch.manual_seed(seed)
    model = LanguageModel(LMConfig(vocab_size=12, d_model=32, n_layers=1, n_heads=4, max_seq_len=8))
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        p = TASK.prompts(64, g)
        ids = torch.cat([p, TASK.answers(p)], 1)  # (64, 6)
        labels = ids.clone()
        labels[:, :4] = -100  # learn the answer only
        loss = cross_entropy(model(ids)[:, :-1].reshape(-1, 12), labels[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


# ## Measuring alignment
#
# On fresh prompts, sampled as in training: the true reward (the intent), the proxy (what was
# optimised) and the Monte Carlo KL to the reference, $\mathbb E_{y \sim \pi}[\log \pi(y) - \log
# \pi_{ref}(y)]$, summed over the response's tokens.


def alignment_report(
    policy: LanguageModel, reference: LanguageModel, *, n: int = 512, seed: int = 123
) -> dict[str, float]:
    """`true_reward`, `proxy_reward` and `kl` of `policy` on `n` fresh prompts."""
    # Sample from the policy, then score the same token sequences under both models: the
    # difference of log-probabilities, summed over the response, estimates the KL.
    g = torch.Generator().manual_seed(seed)
    prompts = TASK.prompts(n, g)
    ids = sample_responses(policy.eval(), prompts, 2, g)  # (n, 6)
    with torch.no_grad():
        kl = (
            (response_logprobs(policy, ids, 4) - response_logprobs(reference, ids, 4)).sum(1).mean()
        )
    # Both rewards judge only the response tokens, after the 4-token prompt.
    responses = ids[:, 4:]
    return {
        "true_reward": TASK.reward(prompts, responses).mean().item(),
        "proxy_reward": proxy_reward(prompts, responses).mean().item(),
        "kl": kl.item(),
    }


# The experiment's knob: GRPO on the proxy, with `kl_beta` pulling the policy back towards the
# reference; the reference itself is never modified.
def optimise_proxy(
    reference: LanguageModel, *, kl_beta: float, steps: int = 30, seed: int = 0
) -> LanguageModel:
    """A copy of `reference` trained by GRPO on the proxy reward with the given KL weight."""
    if kl_beta < 0:
        raise ValueError(f"kl_beta must be >= 0, got {kl_beta}")
    policy = copy.deepcopy(reference)
    config = RLConfig(
        steps=steps, batch_prompts=16, group_size=8, lr=3e-3, epochs=2, kl_beta=kl_beta, seed=seed
    )
    grpo_train(policy, TASK.prompts, proxy_reward, config)
    return policy.eval()
