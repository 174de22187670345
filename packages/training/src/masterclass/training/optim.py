r"""# AdamW as a `torch.optim.Optimizer`

Module 1 wrote AdamW once, as a pure step function over any array type
(`masterclass.linalg.optimizers.adamw_step`): given $\theta_{t-1}$, $g_t$ and the state
$(m_{t-1}, v_{t-1}, t-1)$ it returns

$$\theta_t = (1 - \eta\lambda)\,\theta_{t-1}
   - \frac{\eta}{1-\beta_1^t}\,\frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon},\quad
   m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 .$$

PyTorch's training machinery (learning-rate setters, gradient clipping, `state_dict()` for
checkpoints, data-parallel wrappers) expects a `torch.optim.Optimizer`: an object that holds
*parameter groups* (lists of parameters sharing hyper-parameters), a per-parameter `state`
dict, and a `step()` that updates the parameters in place from their `.grad`. This file is the
thin adapter between the two: `step()` hands each parameter, its gradient and its state to
`adamw_step` and writes the result back. One algorithm, one implementation: there is no AdamW
arithmetic here.

Parameter groups matter for AdamW because weight decay should apply to matrices but not to
gains and biases (a decayed RMSNorm gain drifts towards zero for no benefit);
`param_groups_for_weight_decay` builds the two groups the usual way, by dimension.

Left out: fused/foreach multi-tensor kernels (torch's speed trick of updating all parameters in a
few large kernels), AMSGrad, and sparse gradients.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from masterclass.linalg.optimizers import AdamState, adamw_init, adamw_step

__all__ = ["AdamW", "param_groups_for_weight_decay"]


class AdamW(torch.optim.Optimizer):
    """AdamW whose update is `masterclass.linalg.optimizers.adamw_step`.

    Same arguments and defaults as `torch.optim.AdamW`; `state_dict()` holds, per parameter,
    `exp_avg`, `exp_avg_sq` (tensors like the parameter) and `step` (an int), so it round-trips
    through `torch.load(weights_only=True)`.

    >>> p = torch.nn.Parameter(torch.tensor([1.0]))
    >>> opt = AdamW([p], lr=0.1, weight_decay=0.0)
    >>> p.grad = torch.tensor([3.0]); opt.step()
    >>> round(p.item(), 6)  # the first Adam step has length lr
    0.9
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ) -> None:
        if lr < 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    # `step` runs under `no_grad`: the update itself must not be recorded by autograd. The pure
    # step function returns new tensors; `copy_` writes them into the existing parameter and
    # state tensors so that anything holding a reference (a DDP bucket, a tied weight) sees them.
    @torch.no_grad()
    def step(self, closure=None):
        """Take one AdamW step for every parameter that has a gradient; return the closure's loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise TypeError("AdamW does not support sparse gradients")
                state = self.state[p]
                if not state:
                    init = adamw_init(p.detach())
                    state["exp_avg"] = init.exp_avg
                    state["exp_avg_sq"] = init.exp_avg_sq
                    state["step"] = init.step
                new_param, new_state = adamw_step(
                    p.detach(),
                    p.grad,
                    AdamState(state["exp_avg"], state["exp_avg_sq"], int(state["step"])),
                    lr=float(group["lr"]),
                    betas=tuple(group["betas"]),
                    eps=group["eps"],
                    weight_decay=group["weight_decay"],
                )
                p.copy_(new_param)
                state["exp_avg"].copy_(new_state.exp_avg)
                state["exp_avg_sq"].copy_(new_state.exp_avg_sq)
                state["step"] = new_state.step
        return loss


# ## Which parameters to decay
#
# The GPT-2/nanoGPT convention: every parameter with two or more dimensions (linear weights,
# embeddings) is decayed; vectors (biases, normalization gains) are not. Tied weights appear once,
# because `named_parameters()` de-duplicates shared tensors.
def param_groups_for_weight_decay(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: matrices with `weight_decay`, vectors with none."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
