"""Bits per byte of byte-level n-gram models against their order, on held-out Python source."""

from __future__ import annotations

import matplotlib.figure

from masterclass.nlp.ngram import AddKLM, KneserNeyLM
from masterclass.nlp.stdlib_corpus import stdlib_corpus


def _corpus() -> tuple[bytes, bytes]:
    # Every fourth top-level standard-library file (Module 5's corpus reader), at most 1.2 MB.
    data = stdlib_corpus(None, every=4)[:1_200_000]
    return data[:1_000_000], data[1_000_000:]


def figure() -> matplotlib.figure.Figure:
    """Held-out bits per byte for orders 1-6: add-one and interpolated Kneser–Ney."""
    train, test = _corpus()
    orders = range(1, 7)
    kn = [KneserNeyLM(n).fit([train]).bits_per_symbol(test) for n in orders]
    add1 = [AddKLM(n, k=1.0).fit([train]).bits_per_symbol(test) for n in orders]
    fig = matplotlib.figure.Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.plot(orders, kn, "o-", label="interpolated Kneser–Ney")
    ax.plot(orders, add1, "s--", label="add-one")
    ax.axhline(8, color="grey", lw=0.8, label="uniform (8 bits)")
    ax.set(xlabel="order n", ylabel="held-out bits per byte", title="Byte n-grams on Python source")
    ax.legend()
    return fig
