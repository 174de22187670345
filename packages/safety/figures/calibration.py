"""A reliability diagram before and after temperature scaling, and accuracy under noise."""

import torch
from matplotlib.figure import Figure

from masterclass.safety.robustness import (
    accuracy_under_noise,
    char_noise,
    expected_calibration_error,
    reliability_bins,
    topic_dataset,
    word_noise,
)
from masterclass.safety.safety_filters import NaiveBayesFilter


def figure():
    """Left: reliability of over-confident logits and of the same logits at T = 4. Right: noise curves."""
    g = torch.Generator().manual_seed(0)
    true_logits = torch.randn(4000, 4, generator=g, dtype=torch.float64)
    labels = torch.multinomial(true_logits.softmax(1), 1, generator=g).squeeze(1)
    fig = Figure(figsize=(9, 3.5))
    (ax, bx) = fig.subplots(1, 2)
    for logits, name in ((4 * true_logits, "over-confident"), (true_logits, "temperature 4")):
        probs = logits.softmax(1)
        acc, conf, count = reliability_bins(probs, labels, 10)
        keep = count > 0
        ece = float(expected_calibration_error(probs, labels, 10))
        ax.plot(conf[keep], acc[keep], "o-", label=f"{name} (ECE {ece:.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title("Reliability diagram")
    ax.legend(fontsize=8)
    clf = NaiveBayesFilter().fit(*topic_dataset(200, seed=0))
    texts, ys = topic_dataset(60, seed=1)
    levels = [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    for noise, name in ((char_noise, "character noise"), (word_noise, "word noise")):
        bx.plot(
            levels, accuracy_under_noise(clf.predict, texts, ys, noise, levels, 3), "o-", label=name
        )
    bx.set_xlabel("corruption rate p")
    bx.set_ylabel("accuracy")
    bx.set_title("Accuracy under nested noise")
    bx.legend(fontsize=8)
    fig.tight_layout()
    return fig
