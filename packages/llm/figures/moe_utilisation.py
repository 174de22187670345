"""Tokens per expert while training a small MoE, without and with the load-balancing loss."""

from matplotlib.figure import Figure

from masterclass.llm.moe import train_router_demo


def figure() -> Figure:
    """Two stacked-area plots of expert utilisation over training steps."""
    fig = Figure(figsize=(9, 3.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, aux, title in zip(
        axes, (0.0, 0.5), ("no auxiliary loss", "auxiliary loss, weight 0.5")
    ):
        history = train_router_demo(aux).float()
        share = history / history.sum(dim=1, keepdim=True)
        ax.stackplot(
            range(len(share)),
            share.T.numpy(),
            labels=[f"expert {e}" for e in range(share.shape[1])],
        )
        ax.set_title(title)
        ax.set_xlabel("training step")
        ax.set_xlim(0, len(share) - 1)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("share of routed tokens")
    axes[1].legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7)
    fig.tight_layout()
    return fig
