"""The sinusoidal position table, and the similarity of positions as a function of their offset."""

from __future__ import annotations

import matplotlib.figure

from masterclass.nlp.positional import sinusoidal_positions


def figure() -> matplotlib.figure.Figure:
    """Left: PE[t, c] for 128 positions and 64 channels. Right: PE[t0] . PE[t0 + k] against k."""
    pe = sinusoidal_positions(128, 64)  # (T, C)
    fig = matplotlib.figure.Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    im = left.imshow(pe.T.numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
    left.set(xlabel="position t", ylabel="channel c", title="sinusoidal encodings")
    fig.colorbar(im, ax=left)
    dots = pe @ pe[64]  # (T,)
    right.plot(range(-64, 64), dots.numpy())
    right.set(
        xlabel="offset k", ylabel="PE[64] · PE[64 + k]", title="similarity depends on the offset"
    )
    return fig
