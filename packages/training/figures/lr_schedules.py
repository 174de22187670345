"""The learning-rate schedules of `masterclass.training.schedule` over a 1,000-step run."""

from matplotlib.figure import Figure

from masterclass.training.schedule import make_schedule


def figure() -> Figure:
    """Plot cosine, warmup-stable-decay, one-cycle and step decay on one axis."""
    total = 1000
    curves = {
        "linear warmup + cosine": make_schedule(
            "cosine", base_lr=1.0, warmup_steps=100, total_steps=total, min_lr=0.1
        ),
        "warmup-stable-decay": make_schedule(
            "wsd", base_lr=1.0, warmup_steps=100, decay_steps=200, total_steps=total, min_lr=0.1
        ),
        "one-cycle": make_schedule("one_cycle", max_lr=1.0, total_steps=total),
        "step decay": make_schedule("step", base_lr=1.0, step_size=300, gamma=0.5),
    }
    fig = Figure(figsize=(7, 3.5))
    ax = fig.add_subplot()
    steps = range(total)
    for name, fn in curves.items():
        ax.plot(list(steps), [fn(t) for t in steps], label=name)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate / peak")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=4)
    fig.tight_layout()
    return fig
