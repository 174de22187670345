r"""# Figure: the error of a central difference against its step size

For $f = \exp$ at $x = 1$ (so $f = f''' = e$), the measured error of
$(f(x + h) - f(x - h)) / 2h$ in float64 and float32, beside the error model
$E(h) = h^2 |f'''| / 6 + u |f| / h$ and its minimiser $h^* = (3u|f| / |f'''|)^{1/3}$."""

import matplotlib.figure
import numpy as np

from masterclass.autograd.debugging import numerical_gradient


def _error_float32(h: float) -> float:
    # Every operation in float32, the step included, as a float32 gradient check would do it.
    x, step = np.float32(1.0), np.float32(h)
    diff = (np.exp(x + step) - np.exp(x - step)) / (np.float32(2) * step)
    return abs(float(diff) - np.e)


def figure() -> matplotlib.figure.Figure:
    """Measured errors on a log grid of steps, with the V-shaped model and its minimum marked."""
    steps = np.geomspace(1e-13, 1e-1, 241)
    measured = {
        "float64": [
            abs(numerical_gradient(lambda a: float(np.exp(a).sum()), np.ones(1), h)[0] - np.e)
            for h in steps
        ],
        "float32": [_error_float32(h) for h in steps],
    }
    fig = matplotlib.figure.Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    for (name, errors), color in zip(measured.items(), ("tab:blue", "tab:orange"), strict=True):
        u = float(np.finfo(name).eps)
        model = steps**2 * np.e / 6 + u * np.e / steps
        best = (3 * u) ** (1 / 3)  # h* with |f| = |f'''| = e
        # Steps so small that x + h == x give a difference of exactly 0: an error of e, off the
        # log scale's interesting range, but shown, since it is what a too-small step does.
        ax.loglog(
            steps, np.maximum(errors, 1e-17), ".", ms=3, color=color, label=f"{name}: measured"
        )
        ax.loglog(steps, model, "-", lw=1.5, color=color, label=f"{name}: model $E(h)$")
        ax.axvline(best, color=color, ls=":", lw=1)
        # The best step, labelled at the foot of its dotted line, clear of the data.
        ax.text(best * 1.3, 3e-13, f"$h^*$ = {best:.0e}", color=color, fontsize=9)
    ax.set_ylim(1e-13, 10)
    ax.set_xlabel("step $h$")
    ax.set_ylabel(r"$|\,$central difference $- f'(1)\,|$")
    ax.set_title(r"Truncation ($\propto h^2$) against rounding ($\propto u/h$), $f = \exp$ at 1")
    ax.legend(fontsize=8, loc="lower left")
    return fig
