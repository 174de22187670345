"""Four quality scores of the shipped mixed sample (prose, code, boilerplate, spam, gibberish)."""

from __future__ import annotations

import matplotlib.figure
import numpy as np

from masterclass.infra.quality import (
    FastTextClassifier,
    junk_corpus,
    lm_perplexity,
    load_quality_sample,
    ngram_perplexity,
    readability,
    reference_corpus,
    train_ngram_reference,
    train_tiny_reference,
)

KINDS = ["prose", "code", "boilerplate", "spam", "gibberish"]


def figure() -> matplotlib.figure.Figure:
    """One panel per score; each dot is a document, one row per kind, the word salad marked."""
    corpus = reference_corpus()
    ngram = train_ngram_reference(corpus)
    lm = train_tiny_reference(corpus, steps=60)
    clf = FastTextClassifier(2)
    junk = junk_corpus(len(corpus), vocabulary=" ".join(corpus).split())
    clf.fit(corpus + junk, [1] * len(corpus) + [0] * len(junk))
    sample = load_quality_sample()
    scores = {
        "5-gram Kneser–Ney perplexity (bytes)": [ngram_perplexity(ngram, t) for _, t in sample],
        "tiny transformer perplexity (bytes)": [lm_perplexity(lm, t) for _, t in sample],
        "classifier p(good)": [float(clf.predict_proba(t)[1]) for _, t in sample],
        "Flesch reading ease": [readability(t).reading_ease for _, t in sample],
    }
    salad = len(sample) - 1  # the last gibberish document: frequent words in random order
    fig = matplotlib.figure.Figure(figsize=(10, 4.8), layout="constrained")
    axes = fig.subplots(2, 2, sharey=True).ravel()
    colors = dict(zip(KINDS, ["C2", "C0", "C7", "C3", "C1"], strict=True))
    for ax, (name, values) in zip(axes, scores.items(), strict=True):
        for i, ((kind, _), v) in enumerate(zip(sample, values, strict=True)):
            y = KINDS.index(kind) + 0.12 * (i % 4 - 1.5)
            ax.scatter(v, y, color=colors[kind], s=40, marker="*" if i == salad else "o", zorder=3)
        if "perplexity" in name:
            ax.set_xscale("log")
        ax.set_title(name, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(np.arange(len(KINDS)), KINDS)
    axes[0].invert_yaxis()
    fig.suptitle(
        "Quality scores of 20 documents (the star: a salad of frequent words)", fontsize=11
    )
    return fig
