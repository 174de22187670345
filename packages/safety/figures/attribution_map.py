"""Saliency and integrated gradients of the bar-image classifier on one image per class."""

from matplotlib.figure import Figure

from masterclass.safety.adversarial import train_image_classifier
from masterclass.safety.interpretability import integrated_gradients, saliency


def figure():
    """Rows: image, |saliency|, integrated gradients; one column per class."""
    model, x, y = train_image_classifier()
    picks = [int((y == c).nonzero()[0]) for c in range(3)]
    fig = Figure(figsize=(6, 6))
    axes = fig.subplots(3, 3)
    for col, i in enumerate(picks):
        xi = x[i : i + 1]
        maps = [
            xi[0, 0],
            saliency(model, xi, int(y[i]))[0, 0].abs(),
            integrated_gradients(model, xi, target=int(y[i]))[0, 0],
        ]
        for row, (m, title) in enumerate(
            zip(maps, ["input", "|saliency|", "integrated gradients"], strict=True)
        ):
            ax = axes[row, col]
            ax.imshow(m.detach().numpy(), cmap="gray" if row == 0 else "RdBu_r")
            ax.set_xticks([])
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.suptitle("Where the evidence is: IG highlights the bar, saliency is noisier")
    fig.tight_layout()
    return fig
