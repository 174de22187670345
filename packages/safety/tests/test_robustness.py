"""ECE against torchmetrics; noise curves are monotone; the synonym shift opens a gap."""

import itertools

import pytest
import torch
from torchmetrics.classification import BinaryCalibrationError, MulticlassCalibrationError

from masterclass.safety.robustness import (
    accuracy,
    accuracy_under_noise,
    char_noise,
    expected_calibration_error,
    reliability_bins,
    shift_gap,
    topic_dataset,
    word_noise,
)
from masterclass.safety.safety_filters import NaiveBayesFilter


@pytest.mark.parametrize("n_bins", [5, 15])
def test_multiclass_ece_equals_torchmetrics(n_bins):
    g = torch.Generator().manual_seed(0)
    probs = torch.softmax(3 * torch.randn(500, 4, generator=g, dtype=torch.float64), dim=1)
    labels = torch.randint(0, 4, (500,), generator=g)
    probs[:3] = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)  # confidence exactly 1
    probs[3:6] = torch.tensor([0.4, 0.2, 0.2, 0.2], dtype=torch.float64)  # on a bin edge
    ref = MulticlassCalibrationError(num_classes=4, n_bins=n_bins, norm="l1")(probs, labels)
    # The same bins; torchmetrics accumulates in float32, so agreement is ~1e-7: tolerance 1e-6.
    assert float(expected_calibration_error(probs, labels, n_bins)) == pytest.approx(
        float(ref), abs=1e-6
    )


def test_binary_ece_equals_torchmetrics():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(300, generator=g, dtype=torch.float64)
    y = (torch.rand(300, generator=g, dtype=torch.float64) < p**2).long()  # over-confident
    ref = BinaryCalibrationError(n_bins=10, norm="l1")(p, y)
    assert float(expected_calibration_error(p, y, 10)) == pytest.approx(float(ref), abs=1e-6)


def test_reliability_bins_and_bad_input():
    acc, _conf, count = reliability_bins(
        torch.tensor([[0.95, 0.05], [0.55, 0.45]]), torch.tensor([0, 1]), 10
    )
    assert count[9] == 1 and count[5] == 1 and acc[9] == 1 and acc[5] == 0
    with pytest.raises(ValueError, match="n_bins"):
        reliability_bins(torch.ones(2, 2) / 2, torch.zeros(2, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="labels"):
        reliability_bins(torch.ones(2, 2) / 2, torch.zeros(3, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="noise rate"):
        char_noise("x", 1.5, seed=0)


def test_noise_is_nested():
    text = "the quick brown fox jumps over the lazy dog"
    for noise in (char_noise, word_noise):
        assert noise(text, 0.0, seed=3) == text
        # Nested corruptions: more noise never changes fewer positions (counted by edit symbols).
        changed = [
            sum(a != b for a, b in zip(noise(text, p, seed=3), text)) for p in (0.1, 0.3, 0.6)
        ]
        assert changed[0] <= changed[-1]


@pytest.fixture(scope="module")
def classifier():
    return NaiveBayesFilter().fit(*topic_dataset(200, seed=0))


@pytest.mark.parametrize("noise", [char_noise, word_noise])
def test_accuracy_under_noise_falls_monotonically(classifier, noise):
    texts, labels = topic_dataset(60, seed=1)
    curve = accuracy_under_noise(
        classifier.predict, texts, labels, noise, [0, 0.25, 0.5, 0.75, 1.0], seeds=3
    )
    assert curve[0] == 1.0
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(curve)), curve
    assert curve[-1] < curve[0]


def test_synonym_shift_opens_a_gap(classifier):
    result = shift_gap(
        classifier.predict, topic_dataset(100, seed=1), topic_dataset(100, seed=2, shifted=True)
    )
    # Measured: 1.0 in distribution, 0.52 under shift (chance is 0.5): the synonyms share few n-grams.
    assert result["in_distribution"] == 1.0 and result["gap"] > 0.3
    with pytest.raises(ValueError, match="as many labels"):
        accuracy(classifier.predict, ["a"], [])
