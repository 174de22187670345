"""Contrastive-only against joint (contrastive + captioning) training: losses and recall@1."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from masterclass.frontiers.joint_training import JointConfig, train_joint


def figure():
    """Left: the losses over training; right: held-out recall@1 both ways, for the two runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        runs = {
            tasks: train_joint(80, JointConfig(tasks=tasks), eval_every=10, eval_n=120)
            for tasks in ("contrastive", "joint")
        }
    finally:
        torch.set_num_threads(threads)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    styles = {"contrastive": "--", "joint": "-"}
    for tasks, (_, history, acc) in runs.items():
        steps = [h["step"] for h in history]
        ls = styles[tasks]
        ax1.plot(steps, [h["con"] for h in history], ls, color="C0", label=f"InfoNCE ({tasks})")
        ax2.plot(steps, [h["i2t"] for h in history], ls, color="C2", label=f"image→text ({tasks})")
        ax2.plot(steps, [h["t2i"] for h in history], ls, color="C3", label=f"text→image ({tasks})")
        if tasks == "joint":
            ax1.plot(steps, [h["cap"] for h in history], ls, color="C1", label="captioning (joint)")
            ax1.set_title(
                f"losses; joint captions: colour {acc['colour']:.0%}, shape {acc['shape']:.0%}",
                fontsize=9,
            )
    ax1.set(xlabel="step", ylabel="loss (last batch)")
    ax1.legend(fontsize=8)
    ax2.set(xlabel="step", ylabel="recall@1, 120 held-out pairs", ylim=(0, 1.02))
    ax2.set_title("retrieval recall@1", fontsize=9)
    ax2.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
