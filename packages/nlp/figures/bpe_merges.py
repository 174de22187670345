r"""# Figure: a BPE merge trace

Training on `aaabdaaabac`: the word's tokens after each merge, and the count of the pair merged."""

import matplotlib.figure
import matplotlib.patches

from masterclass.nlp.bpe import BPETokenizer


def figure() -> matplotlib.figure.Figure:
    """One row per stage: the word cut into its current tokens, the merged pair highlighted."""
    text = "aaabdaaabac"
    tok = BPETokenizer.train([text], 259)
    rows = []
    for n_merges in range(4):  # 0 to 3 merges learned
        vocab = [tok.token_bytes(i) for i in range(256 + n_merges)]
        partial = BPETokenizer(vocab)
        rows.append([partial.token_bytes(i).decode() for i in partial.encode(text)])
    fig = matplotlib.figure.Figure(figsize=(8, 3.2))
    ax = fig.add_subplot()
    for r, tokens in enumerate(rows):
        x = 0.0
        merged = tok.token_bytes(255 + r).decode() if r else None
        for t in tokens:
            color = "tab:orange" if t == merged else "tab:blue"
            ax.add_patch(
                matplotlib.patches.FancyBboxPatch(
                    (x, -r - 0.35),
                    len(t) - 0.1,
                    0.7,
                    boxstyle="round,pad=0.02",
                    color=color,
                    alpha=0.25,
                )
            )
            ax.text(x + (len(t) - 0.1) / 2, -r, t, ha="center", va="center", family="monospace")
            x += len(t)
        label = "bytes" if r == 0 else f"merge {r - 1}: {merged!r} (id {255 + r})"
        ax.text(x + 0.5, -r, f"{label}, {len(tokens)} tokens", va="center")
    ax.set_xlim(-0.5, 20)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.axis("off")
    ax.set_title("BPE on 'aaabdaaabac': each merge joins the most frequent adjacent pair")
    fig.tight_layout()
    return fig
