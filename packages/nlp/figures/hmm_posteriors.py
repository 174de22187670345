r"""# Figure: state posteriors of an HMM with the Viterbi path drawn over them

A seeded two-state "sticky" HMM (each state emits mostly its own symbol) and a sampled sequence:
the shading is $\gamma_t(i) = P(s_t = i \mid o)$ from forward-backward, the line the Viterbi path,
the crosses the true states. Computed when the site is built."""

import matplotlib.figure
import numpy as np

from masterclass.nlp.hmm import HMM


def figure() -> matplotlib.figure.Figure:
    """Posterior heatmap, Viterbi path and true states for one sampled sequence."""
    pi = np.array([0.5, 0.5])
    A = np.array([[0.9, 0.1], [0.15, 0.85]])
    B = np.array([[0.75, 0.2, 0.05], [0.1, 0.3, 0.6]])
    hmm = HMM(np.log(pi), np.log(A), np.log(B))
    rng = np.random.default_rng(7)
    states, obs = [int(rng.choice(2, p=pi))], []
    for t in range(40):
        if t:
            states.append(int(rng.choice(2, p=A[states[-1]])))
        obs.append(int(rng.choice(3, p=B[states[-1]])))
    gamma = hmm.posteriors(obs)  # (T, K)
    path, _ = hmm.viterbi(obs)
    fig = matplotlib.figure.Figure(figsize=(8, 2.8))
    ax = fig.add_subplot()
    ax.imshow(gamma.T, aspect="auto", cmap="Blues", vmin=0, vmax=1, origin="lower")
    ax.plot(path, color="C1", linewidth=2, label="Viterbi path")
    ax.plot(states, "x", color="k", markersize=5, label="true state")
    for t, o in enumerate(obs):
        ax.text(t, 1.62, "abc"[o], ha="center", fontsize=7)
    ax.set_yticks([0, 1], ["state 0", "state 1"])
    ax.set_ylim(-0.5, 1.8)
    ax.set_xlabel("time t (observed symbols on top; shading: posterior of each state)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    return fig
