r"""# Exercises: Robustness metrics: calibration, noise curves, distribution shift

The maximum calibration error, and temperature scaling."""

import torch
from torchmetrics.classification import MulticlassCalibrationError

from masterclass.safety.robustness import expected_calibration_error


def solution_1_maximum_calibration_error(
    probs: torch.Tensor, labels: torch.Tensor, n_bins: int
) -> float:
    """The largest |accuracy - confidence| over non-empty equal-width bins."""
    conf, pred = probs.max(1)
    edges = torch.linspace(0, 1, n_bins + 1, dtype=probs.dtype)
    idx = torch.bucketize(conf, edges, right=True) - 1
    worst = 0.0
    for b in idx.unique():
        m = idx == b
        worst = max(worst, float(((pred[m] == labels[m]).double().mean() - conf[m].mean()).abs()))
    return worst


def check_1_maximum_calibration_error(fn) -> None:
    """Compare with torchmetrics' `norm="max"`."""
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(2 * torch.randn(400, 3, generator=g, dtype=torch.float64), 1)
    labels = torch.randint(0, 3, (400,), generator=g)
    expected = float(
        MulticlassCalibrationError(num_classes=3, n_bins=10, norm="max")(probs, labels)
    )
    got = fn(probs, labels, 10)
    assert abs(got - expected) < 1e-6, f"expected MCE {expected:.6f}, got {got}"


def solution_2_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Grid search of the temperature minimising the NLL."""
    grid = torch.linspace(0.05, 10, 400, dtype=torch.float64)
    nll = [float(torch.nn.functional.cross_entropy(logits / t, labels)) for t in grid]
    return float(grid[int(torch.tensor(nll).argmin())])


def check_2_temperature(fn) -> None:
    """On logits made over-confident by a factor 4, the fitted temperature lowers the ECE."""
    g = torch.Generator().manual_seed(1)
    true_logits = torch.randn(2000, 4, generator=g, dtype=torch.float64)
    labels = torch.multinomial(true_logits.softmax(1), 1, generator=g).squeeze(1)
    logits = 4 * true_logits
    t = fn(logits, labels)
    before = float(expected_calibration_error(logits.softmax(1), labels))
    after = float(expected_calibration_error((logits / t).softmax(1), labels))
    assert 2.5 < t < 6, f"the logits were sharpened 4x, so T should be near 4, got {t}"
    assert after < before / 2, (
        f"temperature scaling should halve the ECE: {before:.3f} -> {after:.3f}"
    )
