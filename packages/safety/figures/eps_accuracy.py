"""Accuracy of the bar-image classifier under FGSM and PGD as epsilon grows."""

from matplotlib.figure import Figure

from masterclass.safety.adversarial import accuracy_under_attack, fgsm, pgd, train_image_classifier


def figure():
    """Two ε–accuracy curves on one axis."""
    model, x, y = train_image_classifier()
    eps = [0.0, 0.025, 0.05, 0.075, 0.1, 0.125, 0.15, 0.2]
    f = accuracy_under_attack(model, x, y, eps, fgsm)
    p = accuracy_under_attack(
        model, x, y, eps, lambda m, a, b, e: pgd(m, a, b, e, step_size=e / 4 + 1e-9, steps=10)
    )
    fig = Figure(figsize=(5, 3.2))
    ax = fig.subplots()
    ax.plot(eps, f, "o-", label="FGSM (1 step)")
    ax.plot(eps, p, "s-", label="PGD (10 steps)")
    ax.set_xlabel(r"$\varepsilon$ ($L^\infty$ radius, pixels in [0, 1])")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    ax.set_title("A perfect clean score falls apart under small perturbations")
    fig.tight_layout()
    return fig
