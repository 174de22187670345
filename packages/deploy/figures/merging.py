"""Norm along the linear and SLERP paths, and TIES's sign conflicts against the trim density."""

import torch
from matplotlib.figure import Figure

from masterclass.deploy.merging import linear_merge, slerp, trim_magnitude


def figure() -> Figure:
    """Left: ||merge(t)|| / ||a|| for two equal-norm tensors at 90 and 45 degrees. Right: the
    fraction of kept entries where two task vectors disagree in sign, against TIES's density."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4096, generator=g, dtype=torch.float64)
    b_orth = torch.randn(4096, generator=g, dtype=torch.float64)
    b_orth = b_orth - (b_orth @ a) / (a @ a) * a  # exactly orthogonal to a
    b_orth = b_orth * a.norm() / b_orth.norm()
    b_45 = (a + b_orth) / 2**0.5
    ts = torch.linspace(0, 1, 41).tolist()
    fig = Figure(figsize=(9, 3.5))
    ax = fig.add_subplot(1, 2, 1)
    for b, label in [(b_orth, "90°"), (b_45, "45°")]:
        ax.plot(
            ts,
            [float(linear_merge([a, b], [1 - t, t]).norm() / a.norm()) for t in ts],
            label=f"linear, {label}",
        )
        ax.plot(
            ts, [float(slerp(t, a, b).norm() / a.norm()) for t in ts], "--", label=f"SLERP, {label}"
        )
    ax.set_xlabel("t")
    ax.set_ylabel("norm of the merge / norm of an endpoint")
    ax.legend()
    ax.grid(alpha=0.3)
    # Two task vectors with a shared component (the skill both learned) plus independent noise.
    shared = torch.randn(20000, generator=g, dtype=torch.float64)
    t1 = shared + 2 * torch.randn(20000, generator=g, dtype=torch.float64)
    t2 = shared + 2 * torch.randn(20000, generator=g, dtype=torch.float64)
    densities = [0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0]
    conflict = []
    for rho in densities:
        k1, k2 = trim_magnitude(t1, rho), trim_magnitude(t2, rho)
        both = (k1 != 0) & (k2 != 0)
        conflict.append(float((k1.sign() != k2.sign())[both].double().mean()))
    ax = fig.add_subplot(1, 2, 2)
    ax.plot(densities, conflict, marker="o")
    ax.set_xscale("log")
    ax.set_xlabel("TIES density (fraction of each task vector kept)")
    ax.set_ylabel("sign conflicts among entries both kept")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
