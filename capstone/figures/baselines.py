"""# The baselines a language model must beat

Bits per byte of held-out standard-library code under the three file compressors and under
byte-level interpolated Kneser–Ney models of increasing order, all measured on the same held-out
bytes with the capstone's own evaluation functions. The n-gram curve falls steeply up to order 4
or 5 and then flattens as longer contexts become too rare to count. The compressors do better still:
they adapt to the held-out text itself (a repeated identifier is cheap the second time), which a
model fitted once on the train split cannot. A transformer gets both: it generalises across contexts
it has never seen verbatim, and its attention copies from earlier in the same window.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from masterclass.capstone.config import CorpusConfig
from masterclass.capstone.corpus import build_corpus
from masterclass.capstone.evaluate import compressor_bits_per_byte, kneser_ney_bits_per_byte


def figure() -> Figure:
    """Compressors (horizontal lines) and Kneser–Ney by order on a 3 MB slice of the stdlib."""
    splits, _ = build_corpus(CorpusConfig(max_bytes=3_000_000, heldout_fraction=0.05))
    heldout = splits["heldout"]
    compressors = compressor_bits_per_byte(b"".join(heldout))
    orders = list(range(1, 7))
    kn = [
        kneser_ney_bits_per_byte(splits["train"], heldout, order=n, max_train_bytes=2_000_000)
        for n in orders
    ]
    fig = Figure(figsize=(6.4, 3.8))
    ax = fig.add_subplot()
    ax.plot(orders, kn, "o-", label="Kneser–Ney (2 MB of train)")
    for (name, bpb), style in zip(compressors.items(), (":", "--", "-.")):
        ax.axhline(bpb, linestyle=style, color="gray", label=name)
    ax.set_xlabel("n-gram order")
    ax.set_ylabel("bits per byte (held-out)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig
