"""Tokens per expert under Switch (token choice with capacity) and expert choice routing."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from masterclass.frontiers.sparse import expert_choice_moe, switch_moe


def figure():
    """Bars: tokens each expert processes, and how many tokens Switch drops, for a skewed router."""
    torch.manual_seed(0)
    E, N = 8, 256
    x = torch.randn(1, N, 16)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
    switch, choice = switch_moe(16, 32, E, 1.25), expert_choice_moe(16, 32, E, 1.0)
    with torch.no_grad():
        # A skewed router, as routers become during training: two experts are preferred.
        for layer in (switch, choice):
            layer.router.weight[:2] += 0.4 * torch.randn(2, 16)
        choice.router.weight.copy_(switch.router.weight)
        _, stats = switch(x)
        wanted = torch.bincount(switch.router(x[0]).argmax(-1), minlength=E)
        _, counts = choice(x)
    capacity = -(-int(1.25 * N) // E)
    axes[0].bar(range(E), wanted, color="lightgray", label="routed")
    axes[0].bar(range(E), stats.tokens_per_expert, label="processed")
    axes[0].axhline(capacity, ls="--", color="k", lw=1, label=f"capacity {capacity}")
    axes[0].set(
        title=f"Switch, c = 1.25: {stats.dropped_fraction:.0%} of tokens dropped",
        xlabel="expert",
        ylabel="tokens",
    )
    axes[0].legend()
    axes[1].bar(range(E), counts, color="C2")
    axes[1].set(title="Expert choice, c = 1: every expert takes N/E", xlabel="expert")
    fig.tight_layout()
    return fig
