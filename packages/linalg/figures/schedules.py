"""# Figure: learning-rate schedules

The learning-rate schedules of `masterclass.linalg.schedules` over 1000 steps."""

import matplotlib.figure

from masterclass.linalg import schedules as sch


def figure() -> matplotlib.figure.Figure:
    """One line per schedule, all with a peak rate of 1e-3."""
    total, base = 1000, 1e-3
    steps = range(total)
    curves = {
        "step decay (x0.5 every 250)": [
            sch.step_decay(t, base_lr=base, step_size=250, gamma=0.5) for t in steps
        ],
        "exponential (0.997)": [sch.exponential(t, base_lr=base, gamma=0.997) for t in steps],
        "cosine": [sch.cosine(t, base_lr=base, total_steps=total) for t in steps],
        "warmup 100 + cosine": [
            sch.linear_warmup_cosine(
                t, base_lr=base, warmup_steps=100, total_steps=total, min_lr=1e-4
            )
            for t in steps
        ],
        "one-cycle": [sch.one_cycle(t, max_lr=base, total_steps=total) for t in steps],
        "warmup-stable-decay": [
            sch.warmup_stable_decay(
                t, base_lr=base, warmup_steps=100, decay_steps=200, total_steps=total
            )
            for t in steps
        ],
    }
    fig = matplotlib.figure.Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    for name, lr in curves.items():
        ax.plot(steps, lr, label=name, lw=2)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_title("Learning-rate schedules")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
