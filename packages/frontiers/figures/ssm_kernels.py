"""S4D kernels for several step sizes, and the complex state of one mode under the recurrence."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from masterclass.frontiers.s4d import S4D


def figure():
    """Left: the kernel $K_l$ of one channel for three step sizes; right: state trajectory."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
    L = 400
    for dt in (1e-3, 1e-2, 1e-1):
        layer = S4D(1, 32, dt_min=dt, dt_max=dt, seed=0)
        with torch.no_grad():
            ax1.plot(layer.kernel(L)[0], label=f"Δ = {dt:g}", lw=1)
    ax1.set(xlabel="lag l", ylabel="K_l", title="S4D-Lin kernels: small Δ, long memory")
    ax1.legend()
    layer = S4D(1, 4, dt_min=2e-2, dt_max=2e-2, seed=0)
    u = torch.zeros(1, 300, 1)
    u[0, 0, 0] = 1.0
    x = torch.zeros(1, 1, 4, dtype=torch.complex64)
    states = []
    with torch.no_grad():
        for k in range(300):
            x, _ = layer.step(x, u[:, k])
            states.append(x[0, 0].clone())
    states = torch.stack(states)
    for n in range(1, 4):
        ax2.plot(states[:, n].real, states[:, n].imag, lw=1, label=f"mode {n}")
    ax2.set(xlabel="Re x_n", ylabel="Im x_n", title="Impulse response: decaying rotations")
    ax2.legend()
    fig.tight_layout()
    return fig
