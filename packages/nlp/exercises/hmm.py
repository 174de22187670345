r"""# Exercises: Hidden Markov models

The forward recursion, Viterbi decoding and the state posteriors, each checked against brute
force over all $K^T$ state paths."""

import itertools

import numpy as np

from masterclass.nlp.hmm import HMM


def _models():
    """Small seeded HMMs and observation sequences, short enough to enumerate every path."""
    for k, v, t, seed in [(2, 2, 3, 0), (3, 4, 5, 1), (2, 5, 6, 2), (4, 3, 4, 3)]:
        hmm = HMM.random(k, v, seed=seed)
        obs = np.random.default_rng(seed).integers(0, v, t).tolist()
        yield np.exp(hmm.log_pi), np.exp(hmm.log_A), np.exp(hmm.log_B), obs


def _joint(pi, A, B, obs, path) -> float:
    p = pi[path[0]] * B[path[0], obs[0]]
    for t in range(1, len(obs)):
        p *= A[path[t - 1], path[t]] * B[path[t], obs[t]]
    return p


def _paths(k: int, t: int):
    return itertools.product(range(k), repeat=t)


def solution_1_log_likelihood(pi, A, B, obs) -> float:
    r"""$\alpha_1 = \pi \odot B_{:, o_1}$, $\alpha_t = (\alpha_{t-1} A) \odot B_{:, o_t}$,
    $\log P(o) = \log \sum_j \alpha_T(j)$ (in probabilities: fine for short sequences)."""
    alpha = pi * B[:, obs[0]]
    for o in obs[1:]:
        alpha = (alpha @ A) * B[:, o]
    return float(np.log(alpha.sum()))


def check_1_log_likelihood(fn) -> None:
    """Compare with the sum of $P(o, s)$ over every state path, and with `HMM.log_likelihood`."""
    for pi, A, B, obs in _models():
        brute = np.log(sum(_joint(pi, A, B, obs, s) for s in _paths(len(pi), len(obs))))
        got = fn(pi, A, B, obs)
        # float64 sums of at most 4^6 terms: 1e-10.
        assert abs(got - brute) < 1e-10, (
            f"K={len(pi)}, T={len(obs)}: got {got}, the sum over all paths gives {brute}"
        )
        chapter = HMM(np.log(pi), np.log(A), np.log(B)).log_likelihood(obs)
        assert abs(got - chapter) < 1e-10, f"got {got}, HMM.log_likelihood gives {chapter}"


def solution_2_viterbi(pi, A, B, obs) -> list[int]:
    r"""The forward recursion with $\max$ for $\sum$, keeping back-pointers, read backwards."""
    delta = np.log(pi) + np.log(B[:, obs[0]])
    back = []
    for o in obs[1:]:
        scores = delta[:, None] + np.log(A)  # (K, K) from i to j
        back.append(scores.argmax(0))
        delta = scores.max(0) + np.log(B[:, o])
    path = [int(delta.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return path[::-1]


def check_2_viterbi(fn) -> None:
    """The path must be the argmax of $P(o, s)$ over every state path."""
    for pi, A, B, obs in _models():
        best = max(_paths(len(pi), len(obs)), key=lambda s: _joint(pi, A, B, obs, s))
        got = [int(s) for s in fn(pi, A, B, obs)]
        assert got == list(best), (
            f"K={len(pi)}, obs {obs}: got {got} (P = {_joint(pi, A, B, obs, got):.3e}), the best "
            f"path is {list(best)} (P = {_joint(pi, A, B, obs, best):.3e})"
        )


def solution_3_posteriors(pi, A, B, obs) -> np.ndarray:
    r"""$\gamma_t(i) = \alpha_t(i) \beta_t(i) / P(o)$ with $\beta_T = 1$,
    $\beta_t = A (B_{:, o_{t+1}} \odot \beta_{t+1})$."""
    T, K = len(obs), len(pi)
    alpha, beta = np.zeros((T, K)), np.ones((T, K))
    alpha[0] = pi * B[:, obs[0]]
    for t in range(1, T):
        alpha[t] = (alpha[t - 1] @ A) * B[:, obs[t]]
    for t in range(T - 2, -1, -1):
        beta[t] = A @ (B[:, obs[t + 1]] * beta[t + 1])
    return alpha * beta / alpha[-1].sum()


def check_3_posteriors(fn) -> None:
    r"""Compare with $P(s_t = i \mid o)$ summed over every state path."""
    for pi, A, B, obs in _models():
        K, T = len(pi), len(obs)
        want = np.zeros((T, K))
        for s in _paths(K, T):
            p = _joint(pi, A, B, obs, s)
            for t, state in enumerate(s):
                want[t, state] += p
        want /= want[0].sum()
        got = np.asarray(fn(pi, A, B, obs))
        assert got.shape == (T, K), f"shape {got.shape}, want (T, K) = {(T, K)}"
        # float64: 1e-10.
        assert np.allclose(got, want, atol=1e-10), (
            f"K={K}, T={T}: max error {np.abs(got - want).max():.2e}; rows must sum to 1"
        )
