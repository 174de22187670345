r"""# RLHF: reward models, PPO with GAE, and GRPO

Reinforcement learning from human feedback (Christiano et al., 2017; Ouyang et al., 2022,
*InstructGPT*, [arXiv:2203.02155](https://arxiv.org/abs/2203.02155)) fine-tunes a language model
$\pi_\theta$ to maximise a learned reward while staying close to the supervised model it started
from, $\pi_{\text{ref}}$:

$$ \max_\theta\; \mathbb{E}_{x,\, y \sim \pi_\theta(\cdot \mid x)}\big[r(x, y)\big]
   - \beta\, \mathrm{KL}\big(\pi_\theta(\cdot \mid x)\,\|\,\pi_{\text{ref}}(\cdot \mid x)\big). $$

**1. The reward model** is trained on pairs (chosen $y_w$, rejected $y_l$) under the
**Bradley–Terry** model $P(y_w \succ y_l) = \sigma(r(x, y_w) - r(x, y_l))$; maximising the
likelihood of the observed preferences gives the loss
$\mathcal{L}_{RM} = -\log \sigma(r_w - r_l)$. The network is the language model with its
unembedding replaced by a linear map to one number, read at the last token (InstructGPT).

**2. PPO** (Schulman et al., 2017, [arXiv:1707.06347](https://arxiv.org/abs/1707.06347)) treats
each generated token as an action. Per token the reward is the KL penalty, and the sequence's
score arrives at the last token:
$r_t = -\beta (\log\pi_\theta(a_t) - \log\pi_{\text{ref}}(a_t)) + [t = T]\, r(x, y)$.
A critic $V(s_t)$ (the same kind of scalar-head network) estimates the return, and
**generalised advantage estimation** (Schulman et al., 2016, *GAE*,
[arXiv:1506.02438](https://arxiv.org/abs/1506.02438)) blends one-step and Monte Carlo estimates:

$$ \delta_t = r_t + \gamma V(s_{t+1}) - V(s_t), \qquad
   \hat A_t = \sum_{l \ge 0} (\gamma\lambda)^l\, \delta_{t+l}
   = \delta_t + \gamma\lambda\, \hat A_{t+1}, $$

with $V(s_{T+1}) = 0$; $\lambda = 0$ is the one-step TD advantage, $\lambda = 1$ the Monte Carlo
return minus the baseline. The policy then takes several gradient steps on the **clipped
surrogate** with $\rho_t = \pi_\theta(a_t)/\pi_{\text{old}}(a_t)$:

$$ \mathcal{L}^{\text{clip}} = -\mathbb{E}_t\big[\min(\rho_t \hat A_t,\;
   \operatorname{clip}(\rho_t, 1-\epsilon, 1+\epsilon)\, \hat A_t)\big]. $$

When $\hat A_t > 0$ and $\rho_t > 1+\epsilon$ (or $\hat A_t < 0$ and $\rho_t < 1-\epsilon$) the
minimum picks the clipped, constant branch and that token's **gradient is exactly zero**: the
update cannot push the ratio further out of the trust band.

**3. The KL term** is estimated from the sampled tokens only. With $x \sim \pi_\theta$ and
$r = \pi_{\text{ref}}(x)/\pi_\theta(x)$, Schulman's estimators
([*Approximating KL divergence*](http://joschu.net/blog/kl-approx.html)) are

$$ k_1 = -\log r, \qquad k_2 = \tfrac12 (\log r)^2, \qquad k_3 = (r - 1) - \log r. $$

$k_1$ and $k_3$ are unbiased ($\mathbb{E}_{\pi_\theta}[r] = 1$, so $k_3$ only adds a zero-mean
control variate to $k_1$), $k_3 \ge 0$ always and has lower variance; $k_2$ is biased but close
for nearby distributions. The tests check all three by Monte Carlo against the exact KL.

**4. GRPO** (Shao et al., 2024, *DeepSeekMath*, [arXiv:2402.03300](https://arxiv.org/abs/2402.03300))
drops the critic: it samples a **group** of $G$ responses per prompt and uses the group's
statistics as the baseline, $\hat A_i = (r_i - \operatorname{mean}(r)) / (\operatorname{std}(r) +
\varepsilon)$, the same for every token of response $i$; the KL to the reference enters the loss
directly as $k_3$ rather than the reward.

**The verifiable task.** `AdditionTask` ships a reward that needs no human: the prompt is
`a + b =` over digits, the response two digit tokens, and the reward 1 when they spell $a+b$.
From a weak SFT baseline, seeded PPO and GRPO on the CPU raise the reward within a few dozen
steps (the test states the numbers). The functions take any `prompt_fn`/`reward_fn`, so a
misspecified reward (reward hacking, Module 12) plugs in the same way.

**A worked example.** A three-token response whose only reward is 1 at the end, scored by a
critic that predicts 0.5 everywhere ($\gamma = 1$). With $\lambda = 0$ the advantage is the
one-step TD error, non-zero only where the reward arrives; with $\lambda = 1$ it is the Monte
Carlo return minus the baseline, $1 - 0.5$ at every token; $\lambda = \tfrac12$ discounts the
credit by half per step back. The returns are $\hat A_t + V(s_t)$.

>>> rewards, values = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([[0.5, 0.5, 0.5]])
>>> for lam in (0.0, 1.0, 0.5):
...     adv, returns = gae(rewards, values, gamma=1.0, lam=lam)
...     print(lam, adv.tolist(), returns.tolist())
0.0 [[0.0, 0.0, 0.5]] [[0.5, 0.5, 1.0]]
1.0 [[0.5, 0.5, 0.5]] [[1.0, 1.0, 1.0]]
0.5 [[0.125, 0.25, 0.5]] [[0.625, 0.75, 1.0]]

PPO's clip: the first token's probability doubled since the rollout ($\rho = 2$, advantage 1),
so its term is held at $1 + \epsilon = 1.2$ and half the tokens count as clipped; the loss is
$-(1.2 + 1)/2$. GRPO's baseline: a group of four answers, two right, gets advantages
$\pm 0.5/\mathrm{std} = \pm 0.866$; a group where all four are right teaches nothing.

>>> logp, logp_old = torch.tensor([[0.5, 0.5]]).log(), torch.tensor([[0.25, 0.5]]).log()
>>> loss, clipped = ppo_policy_loss(logp, logp_old, torch.ones(1, 2), torch.ones(1, 2))
>>> round(loss.item(), 4), clipped.item()
(-1.1, 0.5)
>>> group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])).round(decimals=3)
tensor([[ 0.8660, -0.8660, -0.8660,  0.8660],
        [ 0.0000,  0.0000,  0.0000,  0.0000]])

The KL estimators on two samples: $k_1$ can be negative on one sample, $k_3$ never is. And the
verifiable reward: $7 + 5$ must be answered `1 2`, $2 + 3$ `0 5`.

>>> {k: [round(x, 4) for x in v.tolist()]
...  for k, v in kl_estimators(torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])).items()}
{'k1': [0.5, -1.0], 'k2': [0.125, 0.5], 'k3': [0.1065, 0.7183]}
>>> task = AdditionTask()
>>> prompts = torch.tensor([[7, task.plus, 5, task.equals], [2, task.plus, 3, task.equals]])
>>> task.answers(prompts).tolist(), task.reward(prompts, torch.tensor([[1, 2], [0, 6]])).tolist()
([[1, 2], [0, 5]], [1.0, 0.0])

Left out: reward-model ensembles and normalisation, adaptive KL control, value-function
clipping schedules, PPO-ptx (mixing pretraining gradients), and distributed rollouts.

## Exercises

1. Write `gae_loop(rewards, values, gamma, lam)` for 1-D tensors of one episode, with an explicit
   backward loop. Check it: `uv run pytest --exercise training.rlhf`
2. Write `k3(logp, logp_ref)`, the per-sample $k_3$ estimator from log-probabilities of the
   sampled tokens. Check it: `uv run pytest --exercise training.rlhf`
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from masterclass.llm import LanguageModel

# The chapter's pieces: a toy task, a reward model and its loss, the estimators and losses of PPO
# and GRPO, and their training loops.
__all__ = [
    "AdditionTask",
    "RLConfig",
    "RewardModel",
    "bradley_terry_loss",
    "gae",
    "group_advantages",
    "grpo_loss",
    "grpo_train",
    "kl_estimators",
    "ppo_policy_loss",
    "ppo_train",
    "response_logprobs",
    "sample_responses",
]

# A task is two functions: prompts `(B, T_p)` drawn from a generator, and the reward `(B,)` of each
# (prompt, response) pair.
PromptFn = Callable[[int, torch.Generator], Tensor]
RewardFn = Callable[[Tensor, Tensor], Tensor]


# ## The reward model: a language model with a scalar head
#
# `LanguageModel.forward` ends in `lm_head(final hidden states)`; swapping that linear map for
# one with a single output turns the logits `(B, T, V)` into values `(B, T, 1)` with no other
# change. The score of a sequence is the value at its last real token (`lengths - 1`), which
# under causal attention has seen the whole sequence. The same network, read at every
# position, is PPO's critic.


class RewardModel(nn.Module):
    """A `LanguageModel` body with a linear head to one number per position."""

    def __init__(self, body: LanguageModel) -> None:
        super().__init__()
        if not isinstance(body, LanguageModel):
            raise TypeError(f"body must be a masterclass.llm.LanguageModel, got {type(body)}")
        # The body is a copy of the language model with its vocabulary head replaced by a
        # zero-initialised scalar head: every reward starts at 0.
        self.body = copy.deepcopy(body)
        self.body.lm_head = nn.Linear(body.config.d_model, 1)
        nn.init.zeros_(self.body.lm_head.weight)
        nn.init.zeros_(self.body.lm_head.bias)

    def token_values(self, idx: Tensor) -> Tensor:
        """The scalar at every position, `(B, T)`."""
        return self.body(idx)[..., 0]  # (B, T)

    # A sequence's reward is the value at its last real token, so padding after it changes nothing.
    def forward(self, idx: Tensor, lengths: Tensor | None = None) -> Tensor:
        """The reward of each sequence `(B,)`: the value at position `lengths - 1` (default last)."""
        values = self.token_values(idx)  # (B, T)
        if lengths is None:
            return values[:, -1]
        return values.gather(1, (lengths - 1)[:, None])[:, 0]


def bradley_terry_loss(r_chosen: Tensor, r_rejected: Tensor) -> Tensor:
    r"""$-\overline{\log\sigma(r_w - r_l)}$: the negative log-likelihood of the preferences `(B,)`."""
    return -F.logsigmoid(r_chosen - r_rejected).mean()


# ## Rollouts and their log-probabilities
#
# Responses are sampled token by token at temperature 1 from the current policy (no KV cache:
# responses here are a few tokens). The log-probability of response token $t$ comes from the
# logits one position earlier, so for a prompt of length $T_p$ the response's log-probabilities
# are read at positions $T_p - 1 .. T - 2$.


@torch.no_grad()
def sample_responses(
    policy: nn.Module, prompts: Tensor, n_new: int, generator: torch.Generator
) -> Tensor:
    """Prompts `(B, T_p)` followed by `n_new` sampled tokens: `(B, T_p + n_new)`."""
    ids = prompts
    for _ in range(n_new):
        probs = policy(ids)[:, -1].float().softmax(-1)  # (B, V)
        nxt = torch.multinomial(probs, 1, generator=generator)  # (B, 1)
        ids = torch.cat([ids, nxt], dim=1)
    return ids


def response_logprobs(model: nn.Module, ids: Tensor, n_prompt: int) -> Tensor:
    r"""$\log \pi(a_t \mid s_t)$ of the tokens after the first `n_prompt`, `(B, T - n_prompt)`."""
    logits = model(ids)[:, n_prompt - 1 : -1].float()  # (B, T_r, V)
    return logits.log_softmax(-1).gather(-1, ids[:, n_prompt:, None])[..., 0]  # (B, T_r)


# ## Generalised advantage estimation
#
# The recursion $\hat A_t = \delta_t + \gamma\lambda \hat A_{t+1}$ runs backwards over the
# response. `mask` `(B, T)` marks real tokens; past the end of a response the next value and
# the carried advantage are zero, which is what "the episode ended" means. The returns that the
# critic regresses on are $\hat A_t + V(s_t)$ (the $\lambda$-return).


def gae(
    rewards: Tensor, values: Tensor, mask: Tensor | None = None, *, gamma: float, lam: float
) -> tuple[Tensor, Tensor]:
    """Advantages and returns `(B, T)` from per-token `rewards` and `values` `(B, T)`."""
    if rewards.shape != values.shape:
        raise ValueError(f"rewards {tuple(rewards.shape)} and values {tuple(values.shape)} differ")
    if not (0 <= gamma <= 1 and 0 <= lam <= 1):
        raise ValueError(f"gamma and lam must be in [0, 1], got gamma={gamma}, lam={lam}")
    # Backwards in time: delta_t = r_t + gamma V(s_{t+1}) - V(s_t) and A_t = delta_t + gamma lambda
    # A_{t+1}. The mask zeroes everything past a sequence's end, so nothing flows back from padding;
    # the returns, the critic's targets, are A + V.
    mask = torch.ones_like(rewards) if mask is None else mask.to(rewards.dtype)
    T = rewards.shape[1]
    adv = torch.zeros_like(rewards)
    carry = rewards.new_zeros(rewards.shape[0])  # (B,) \hat A_{t+1}
    next_value = rewards.new_zeros(rewards.shape[0])  # (B,) V(s_{t+1})
    for t in reversed(range(T)):
        m = mask[:, t]
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        carry = (delta + gamma * lam * carry) * m
        adv[:, t] = carry
        next_value = values[:, t] * m
    return adv, adv + values


# ## The clipped surrogate
#
# `torch.minimum` of the two branches gives the clipped objective; autograd then routes the
# gradient through whichever branch won, and through `clamp` none flows when it is active, which
# is the zero gradient outside the band. The mean is over the real tokens.


def ppo_policy_loss(
    logp: Tensor, logp_old: Tensor, advantages: Tensor, mask: Tensor, *, clip: float = 0.2
) -> tuple[Tensor, Tensor]:
    """PPO's clipped loss over tokens `(B, T)` and the fraction of tokens clipped."""
    if clip <= 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    ratio = (logp - logp_old).exp()  # (B, T)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - clip, 1 + clip) * advantages
    per_token = -torch.minimum(unclipped, clipped)  # (B, T)
    m = mask.to(per_token.dtype)
    clipfrac = ((clipped < unclipped).to(m.dtype) * m).sum() / m.sum()
    return (per_token * m).sum() / m.sum(), clipfrac


# Three estimates of the same KL from the log-ratio of one sample: k1 is unbiased but often
# negative, k2 is biased but low-variance, and k3 is unbiased and never negative.
def kl_estimators(logp: Tensor, logp_ref: Tensor) -> dict[str, Tensor]:
    r"""Per-sample $k_1, k_2, k_3$ estimates of $\mathrm{KL}(\pi\|\pi_{\text{ref}})$ for samples of $\pi$."""
    log_r = logp_ref - logp
    return {"k1": -log_r, "k2": 0.5 * log_r.square(), "k3": log_r.exp() - 1 - log_r}


# ## GRPO: the group is the baseline
#
# Rewards arrive as `(n_prompts, G)`; each row is normalised by its own mean and standard
# deviation (the unbiased one, as in the paper's reference code). A group where every response
# got the same reward has zero advantage everywhere: it teaches nothing, and contributes no
# gradient.


def group_advantages(rewards: Tensor, eps: float = 1e-4) -> Tensor:
    """`(r - mean) / (std + eps)` within each group (row) of `rewards` `(N, G)`."""
    if rewards.dim() != 2 or rewards.shape[1] < 2:
        raise ValueError(f"rewards must be (n_prompts, G) with G >= 2, got {tuple(rewards.shape)}")
    mean = rewards.mean(dim=1, keepdim=True)
    std = rewards.std(dim=1, keepdim=True)
    return (rewards - mean) / (std + eps)


# GRPO's loss is PPO's clipped surrogate with the group advantage broadcast to every token of a
# response, and the KL to the reference added as a per-token penalty ($k_3$, unbiased and
# non-negative) instead of folded into the reward.
def grpo_loss(
    logp: Tensor,
    logp_old: Tensor,
    logp_ref: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip: float = 0.2,
    beta: float = 0.04,
) -> Tensor:
    r"""GRPO's loss: the clipped surrogate minus $\beta k_3$, averaged per response then over responses.

    `logp`, `logp_old`, `logp_ref`, `mask` are `(B, T)`; `advantages` `(B,)` (one per response).
    """
    ratio = (logp - logp_old).exp()  # (B, T)
    adv = advantages[:, None]  # (B, 1)
    surrogate = torch.minimum(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv)  # (B, T)
    per_token = -(surrogate - beta * kl_estimators(logp, logp_ref)["k3"])  # (B, T)
    # Each response's tokens are averaged first and then the responses, so long and short responses
    # weigh the same.
    m = mask.to(per_token.dtype)
    return ((per_token * m).sum(1) / m.sum(1).clamp(min=1)).mean()


# ## The training loops
#
# One step of either algorithm: sample prompts, roll out, score, compute advantages with the
# old policy frozen, then `epochs` optimisation passes over the batch. `RLConfig` holds the
# knobs of both.


@dataclass
class RLConfig:
    """Hyper-parameters of `ppo_train` and `grpo_train`."""

    # Optimisation steps (each samples a fresh batch).
    steps: int = 50
    # Prompts per step.
    batch_prompts: int = 16
    # GRPO: responses per prompt (PPO samples one).
    group_size: int = 8
    # Tokens generated per response.
    response_len: int = 2
    # Adam learning rate of the policy (and of the critic for PPO).
    lr: float = 3e-3
    # Passes over each batch.
    epochs: int = 2
    # Clip range epsilon of the ratio.
    clip: float = 0.2
    # Weight of the KL to the reference policy.
    kl_beta: float = 0.02
    # PPO: discount and GAE lambda.
    gamma: float = 1.0
    lam: float = 0.95
    # Seed of the sampling generator.
    seed: int = 0

    # GRPO's baseline is the group mean, which needs at least two responses per prompt.
    def __post_init__(self) -> None:
        for name in ("steps", "batch_prompts", "response_len", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"RLConfig.{name} must be >= 1, got {getattr(self, name)}")
        if self.group_size < 2:
            raise ValueError(
                f"RLConfig.group_size must be >= 2 for group baselines, got {self.group_size}"
            )


# The reference policy: a copy that never trains, in eval mode, with no gradients to compute.
def _frozen(model: nn.Module) -> nn.Module:
    ref = copy.deepcopy(model).eval()
    for p in ref.parameters():
        p.requires_grad_(False)
    return ref


def ppo_train(
    policy: LanguageModel, prompt_fn: PromptFn, reward_fn: RewardFn, config: RLConfig
) -> list[float]:
    """PPO with GAE and a per-token KL penalty; trains `policy` in place, returns mean reward per step.

    The reference policy is a frozen copy of `policy` at the start; the critic is a `RewardModel`
    initialised from it.
    """
    # One optimizer trains the policy and the critic together; their losses are summed below.
    ref, critic = _frozen(policy), RewardModel(policy)
    opt = torch.optim.Adam(list(policy.parameters()) + list(critic.parameters()), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    history = []
    for _ in range(config.steps):
        # The rollout, with no gradients: sample, score, and record the old and reference log-probs
        # and the critic's values. The KL penalty is paid per token and the score at the last one;
        # GAE turns these rewards into advantages and returns.
        prompts = prompt_fn(config.batch_prompts, gen)  # (B, T_p)
        n_p = prompts.shape[1]
        ids = sample_responses(policy.eval(), prompts, config.response_len, gen)  # (B, T)
        with torch.no_grad():
            score = reward_fn(prompts, ids[:, n_p:]).float()  # (B,)
            logp_old = response_logprobs(policy, ids, n_p)  # (B, T_r)
            logp_ref = response_logprobs(ref, ids, n_p)
            values = critic.token_values(ids)[:, n_p - 1 : -1]  # (B, T_r) V(s_t)
            rewards = -config.kl_beta * (logp_old - logp_ref)
            rewards[:, -1] += score
            adv, returns = gae(rewards, values, gamma=config.gamma, lam=config.lam)
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)  # whitened, as in common practice
        # `epochs` passes over the same batch: the clipped policy loss (the ratio is to the frozen
        # `logp_old`) plus half the critic's squared error against the GAE returns.
        mask = torch.ones_like(adv)
        policy.train()
        for _ in range(config.epochs):
            logp = response_logprobs(policy, ids, n_p)
            pg, _ = ppo_policy_loss(logp, logp_old, adv, mask, clip=config.clip)
            v = critic.token_values(ids)[:, n_p - 1 : -1]
            loss = pg + 0.5 * (v - returns).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append(score.mean().item())
    return history


def grpo_train(
    policy: LanguageModel, prompt_fn: PromptFn, reward_fn: RewardFn, config: RLConfig
) -> list[float]:
    """GRPO with group-normalised advantages and a $k_3$ KL term; returns mean reward per step."""
    # No critic: each prompt is repeated G times, and the group's own rewards are the baseline.
    ref = _frozen(policy)
    opt = torch.optim.Adam(policy.parameters(), lr=config.lr)
    gen = torch.Generator().manual_seed(config.seed)
    G, history = config.group_size, []
    for _ in range(config.steps):
        prompts = prompt_fn(config.batch_prompts, gen).repeat_interleave(G, dim=0)  # (B G, T_p)
        n_p = prompts.shape[1]
        ids = sample_responses(policy.eval(), prompts, config.response_len, gen)
        with torch.no_grad():
            score = reward_fn(prompts, ids[:, n_p:]).float()  # (B G,)
            adv = group_advantages(score.view(-1, G)).view(-1)  # (B G,)
            logp_old = response_logprobs(policy, ids, n_p)
            logp_ref = response_logprobs(ref, ids, n_p)
        # The same `epochs` passes as PPO, over GRPO's loss, which carries the KL term itself.
        mask = torch.ones_like(logp_old)
        policy.train()
        for _ in range(config.epochs):
            logp = response_logprobs(policy, ids, n_p)
            loss = grpo_loss(
                logp, logp_old, logp_ref, adv, mask, clip=config.clip, beta=config.kl_beta
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
        history.append(score.mean().item())
    return history


# ## A verifiable task: two-digit addition
#
# Tokens 0-9 are digits, 10 is `+` and 11 is `=`. A prompt `a + b =` has four tokens; the right
# response is the two digits of $a + b$ (a leading 0 below ten). The reward is 1 for the exact
# answer and 0 otherwise, checked by arithmetic, not by a model.


class AdditionTask:
    """Prompts `[a, +, b, =]` over digits and the exact-answer reward."""

    vocab_size = 12
    plus, equals = 10, 11

    def prompts(self, n: int, generator: torch.Generator) -> Tensor:
        """`n` random prompts `(n, 4)`."""
        ab = torch.randint(0, 10, (n, 2), generator=generator)
        ops = torch.tensor([self.plus, self.equals]).expand(n, 2)
        return torch.stack([ab[:, 0], ops[:, 0], ab[:, 1], ops[:, 1]], dim=1)

    def answers(self, prompts: Tensor) -> Tensor:
        """The right two-digit responses `(n, 2)`."""
        s = prompts[:, 0] + prompts[:, 2]
        return torch.stack([s // 10, s % 10], dim=1)

    def reward(self, prompts: Tensor, responses: Tensor) -> Tensor:
        """1.0 where `responses` `(n, 2)` spell the sum, else 0.0."""
        return (responses == self.answers(prompts)).all(dim=1).float()
