"""# Tests: information theory

Reference tests for entropy, joint/conditional entropy, mutual information and perplexity.

References: `scipy.stats.entropy` for entropies and KL, and `torch.nn.functional.cross_entropy` for
perplexity. Every quantity is a short float64 sum, so `rtol = 1e-12` (rounding of different
summation orders) is ample.
"""

import numpy as np
import pytest
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from masterclass.linalg import information_theory as it

TOL = {"rtol": 1e-12, "atol": 1e-12}


def _joint(seed: int, nx: int = 3, ny: int = 4) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(nx * ny)).reshape(nx, ny)


@pytest.mark.parametrize("base", [None, 2.0, 10.0])
def test_entropy_matches_scipy(base):
    p = np.random.default_rng(0).dirichlet(np.ones(6), size=4)
    np.testing.assert_allclose(
        it.entropy(p, base=base), scipy.stats.entropy(p, base=base, axis=-1), **TOL
    )
    # Zero probabilities contribute nothing (0 log 0 = 0).
    assert it.entropy([0.0, 1.0]) == 0.0


def test_joint_conditional_and_mutual_information_match_scipy():
    pxy = _joint(1)
    px, py = pxy.sum(1), pxy.sum(0)
    h_joint = scipy.stats.entropy(pxy.ravel())
    assert it.joint_entropy(pxy) == pytest.approx(h_joint, rel=1e-12)
    assert it.conditional_entropy(pxy) == pytest.approx(
        h_joint - scipy.stats.entropy(px), rel=1e-12
    )
    # I(X;Y) as the KL divergence between the joint and the product of marginals.
    mi_ref = scipy.stats.entropy(pxy.ravel(), np.outer(px, py).ravel())
    assert it.mutual_information(pxy) == pytest.approx(mi_ref, rel=1e-10)
    # H(Y|X) as the average entropy of the rows p(y | x).
    cond_ref = np.sum(px * scipy.stats.entropy(pxy / px[:, None], axis=1))
    assert it.conditional_entropy(pxy) == pytest.approx(cond_ref, rel=1e-12)
    assert py.sum() == pytest.approx(1.0)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 5), st.integers(2, 5), st.integers(0, 10_000))
def test_information_inequalities(nx, ny, seed):
    pxy = _joint(seed, nx, ny)
    mi = it.mutual_information(pxy)
    hx = it.entropy(pxy.sum(1))
    hy = it.entropy(pxy.sum(0))
    # 0 <= I(X;Y) <= min(H(X), H(Y)); conditioning reduces entropy; H <= log n.
    assert 0.0 <= mi <= min(hx, hy) + 1e-12
    assert it.conditional_entropy(pxy) <= hy + 1e-12
    assert hx <= np.log(nx) + 1e-12
    # Independent variables share no information.
    assert it.mutual_information(np.outer(pxy.sum(1), pxy.sum(0))) == pytest.approx(0.0, abs=1e-12)


def test_perplexity_matches_torch_cross_entropy():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(20, 9))
    tokens = rng.integers(0, 9, size=20)
    logp = torch.log_softmax(torch.from_numpy(logits), -1).numpy()[np.arange(20), tokens]
    ref = torch.exp(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(tokens))).item()
    assert it.perplexity(logp) == pytest.approx(ref, rel=1e-12)
    # A uniform distribution over n outcomes has perplexity n.
    assert float(it.distribution_perplexity(np.full(7, 1 / 7))) == pytest.approx(7.0, rel=1e-13)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="sum to 1"):
        it.entropy([0.2, 0.2])
    with pytest.raises(ValueError, match="negative"):
        it.entropy([1.2, -0.2])
    with pytest.raises(ValueError, match="2 dimension"):
        it.mutual_information([0.5, 0.5])
    with pytest.raises(ValueError, match="log_probs must be <= 0"):
        it.perplexity([0.1, -1.0])
    with pytest.raises(ValueError, match="base"):
        it.entropy([0.5, 0.5], base=1.0)
    with pytest.raises(ValueError, match="NaN or infinity"):
        it.entropy([np.nan, 1.0])
