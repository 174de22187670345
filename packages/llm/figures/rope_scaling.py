r"""# Figure: what each RoPE scaling does to the frequency of every pair

`scaled_rope_inv_freq` for a LLaMA-sized head ($D = 128$, $b = 10^4$, training length 2048,
factor 4), drawn as the ratio to the original frequency: 1 means the pair is untouched, $1/s$
that it is interpolated. Computed when the site is built."""

import matplotlib.figure

from masterclass.llm.context_window import scaled_rope_inv_freq

D, BASE, FACTOR, TRAIN_LEN = 128, 10000.0, 4.0, 2048


def figure() -> matplotlib.figure.Figure:
    """Frequency ratio per pair index for PI, NTK-aware and YaRN."""
    original, _ = scaled_rope_inv_freq(D, BASE, "none")
    fig = matplotlib.figure.Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    labels = {"linear": "position interpolation", "ntk": "NTK-aware", "yarn": "YaRN"}
    for scheme, label in labels.items():
        inv, att = scaled_rope_inv_freq(D, BASE, scheme, FACTOR, original_max_len=TRAIN_LEN)
        extra = f" (attention factor {att:.3f})" if att != 1.0 else ""
        ax.plot((inv / original).tolist(), label=label + extra)
    # Where a pair turns once over the training length: slower pairs have never completed a turn.
    turns = (original * TRAIN_LEN / (2 * 3.141592653589793)).tolist()
    once = next(i for i, t in enumerate(turns) if t < 1)
    ax.axvline(once, color="0.5", linestyle=":", linewidth=1)
    ax.text(once + 1, 0.45, "pairs turning less than\nonce in training →", fontsize=8)
    ax.set_xlabel("pair index i (fast → slow)")
    ax.set_ylabel("new / original frequency")
    ax.set_ylim(0, 1.08)
    ax.set_title(f"D = {D}, b = 10^4, trained at {TRAIN_LEN}, factor s = {FACTOR:g}", fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig
