r"""# Hidden Markov models

A hidden Markov model explains an observed sequence $o_1 \dots o_T$ (words, symbols from a vocabulary
of $V$) by a hidden sequence of states $s_1 \dots s_T$ (tags, from $K$ states) with
$$P(o, s) = \pi_{s_1} B_{s_1 o_1} \prod_{t=2}^T A_{s_{t-1} s_t} B_{s_t o_t},$$
initial distribution $\pi$, transition matrix $A$ ($K \times K$) and emission matrix $B$
($K \times V$). Three questions have dynamic-programming answers in $O(T K^2)$ instead of the
$O(K^T)$ of enumerating all paths (Rabiner, 1989, *A Tutorial on Hidden Markov Models*):

* **Likelihood** $P(o) = \sum_s P(o, s)$ by the **forward** recursion
  $\alpha_t(j) = B_{j o_t} \sum_i \alpha_{t-1}(i) A_{ij}$, $P(o) = \sum_j \alpha_T(j)$; the
  **backward** recursion $\beta_t(i) = \sum_j A_{ij} B_{j o_{t+1}} \beta_{t+1}(j)$ runs the other
  way, and $\gamma_t(i) = \alpha_t(i)\beta_t(i) / P(o)$ is the posterior of state $i$ at time $t$.
* **Decoding** $\arg\max_s P(o, s)$ by **Viterbi**: the same recursion with $\max$ for $\sum$, plus
  back-pointers.
* **Learning** without labels by **Baum–Welch** (EM): the E-step computes expected counts of
  transitions $\xi_t(i, j) \propto \alpha_t(i) A_{ij} B_{j o_{t+1}} \beta_{t+1}(j)$ and of emissions
  $\gamma_t$; the M-step normalises them. Each iteration cannot lower the likelihood.

Everything is in **log space**: products of hundreds of probabilities underflow float64, while sums
of logs do not; sums of probabilities become $\operatorname{logsumexp}$. With labels, the maximum
likelihood estimate is just normalised counts (`HMM.from_labelled`), which the part-of-speech tagger
uses.

Left out: scaling-based (non-log) implementations, continuous emissions, higher-order HMMs.

The two answers to "which state at time $t$?" differ: $\arg\max_i \gamma_t(i)$ is best for each
$t$ alone, Viterbi for the whole path, and a sticky chain makes Viterbi smooth over short
excursions that the posteriors still show:

![State posteriors of a two-state HMM with the Viterbi path and the true states](figures/hmm_posteriors.png)

## Exercises

1. Write `log_likelihood(pi, A, B, obs)`: $\log P(o)$ by the forward recursion, with the
   parameters as probabilities. For how long a sequence does the product underflow float64, and
   why does the chapter work in logs? Check it: `uv run pytest --exercise nlp.hmm`.
2. Write `viterbi(pi, A, B, obs)`: the most probable state path. Check it:
   `uv run pytest --exercise nlp.hmm`.
3. Write `posteriors(pi, A, B, obs)`: $\gamma_t(i)$ `(T, K)` from the forward and backward
   variables. Is the sequence of per-time argmaxes of $\gamma$ always the Viterbi path? Check it:
   `uv run pytest --exercise nlp.hmm`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from masterclass.linalg.cross_entropy import logsumexp

__all__ = ["HMM"]


class HMM:
    """A discrete HMM with parameters stored as logs.

    Args:
        log_pi: initial log-probabilities `(K,)`.
        log_A: transition log-probabilities `(K, K)`, rows sum to one in probability space.
        log_B: emission log-probabilities `(K, V)`.

    >>> hmm = HMM(np.log([0.6, 0.4]), np.log([[0.7, 0.3], [0.4, 0.6]]), np.log([[0.9, 0.1], [0.2, 0.8]]))
    >>> round(float(np.exp(hmm.log_likelihood([0, 1]))), 6)  # sum over the 4 state paths
    0.209
    >>> hmm.viterbi([0, 1, 1])[0]
    [0, 1, 1]
    """

    # The parameters are stored as log-probabilities, so that long sequences never underflow; the
    # three shapes must agree on the number of states K.
    def __init__(self, log_pi: np.ndarray, log_A: np.ndarray, log_B: np.ndarray) -> None:
        self.log_pi = np.asarray(log_pi, dtype=np.float64)
        self.log_A = np.asarray(log_A, dtype=np.float64)
        self.log_B = np.asarray(log_B, dtype=np.float64)
        k = self.log_pi.shape[0]
        if self.log_A.shape != (k, k) or self.log_B.ndim != 2 or self.log_B.shape[0] != k:
            raise ValueError(
                f"shapes must be pi (K,), A (K, K), B (K, V); got {self.log_pi.shape}, "
                f"{self.log_A.shape}, {self.log_B.shape}"
            )

    @property
    def n_states(self) -> int:
        """K."""
        return self.log_pi.shape[0]

    # Two ways to get parameters: drawn at random (EM's starting point) or counted from labelled
    # sequences.
    @classmethod
    def random(cls, n_states: int, n_symbols: int, seed: int = 0) -> HMM:
        """Parameters drawn from a flat Dirichlet, for EM initialisation and tests."""
        rng = np.random.default_rng(seed)
        return cls(
            np.log(rng.dirichlet(np.ones(n_states))),
            np.log(rng.dirichlet(np.ones(n_states), size=n_states)),
            np.log(rng.dirichlet(np.ones(n_symbols), size=n_states)),
        )

    # Supervised estimation: count, add `alpha` to every cell (so unseen words and transitions keep
    # some probability), normalise.
    @classmethod
    def from_labelled(
        cls,
        observations: Iterable[Sequence[int]],
        states: Iterable[Sequence[int]],
        n_states: int,
        n_symbols: int,
        alpha: float = 1.0,
    ) -> HMM:
        """Maximum-likelihood (add-`alpha` smoothed) estimate from labelled sequences."""
        pi = np.full(n_states, alpha)
        a = np.full((n_states, n_states), alpha)
        b = np.full((n_states, n_symbols), alpha)
        # Each labelled sequence adds its first state, its state bigrams and its (state, symbol)
        # pairs; `np.add.at` counts each repeat of a pair, where `a[idx] += 1` would count one.
        for obs, st in zip(observations, states, strict=True):
            if len(obs) != len(st):
                raise ValueError(
                    f"observation and state sequences differ in length: {len(obs)} vs {len(st)}"
                )
            if len(st) == 0:
                continue
            pi[st[0]] += 1
            np.add.at(a, (np.asarray(st[:-1]), np.asarray(st[1:])), 1)
            np.add.at(b, (np.asarray(st), np.asarray(obs)), 1)
        with np.errstate(divide="ignore"):  # alpha = 0 leaves zeros: log 0 = -inf is intended
            return cls(
                np.log(pi / pi.sum()),
                np.log(a / a.sum(1, keepdims=True)),
                np.log(b / b.sum(1, keepdims=True)),
            )

    # Every inference method first checks its input: a non-empty 1-D sequence of valid symbol ids.
    def _check(self, obs: Sequence[int]) -> np.ndarray:
        o = np.asarray(obs, dtype=np.int64)
        if o.ndim != 1 or o.size == 0:
            raise ValueError("observations must be a non-empty 1-D sequence of symbol ids")
        if o.min() < 0 or o.max() >= self.log_B.shape[1]:
            raise ValueError(f"symbol ids must be in 0..{self.log_B.shape[1] - 1}")
        return o

    # ## Forward and backward
    #
    # One vectorised step per time: `log_alpha[t-1][:, None] + log_A` is the $(K, K)$ table of
    # $\log \alpha_{t-1}(i) A_{ij}$; a logsumexp over $i$ (axis 0) gives the sum over predecessors.
    def forward(self, obs: Sequence[int]) -> tuple[np.ndarray, float]:
        r"""Log forward variables `(T, K)` and the log-likelihood $\log P(o)$."""
        o = self._check(obs)
        t_len, k = o.size, self.n_states
        la = np.empty((t_len, k))
        la[0] = self.log_pi + self.log_B[:, o[0]]
        for t in range(1, t_len):
            la[t] = logsumexp(la[t - 1][:, None] + self.log_A, axis=0) + self.log_B[:, o[t]]
        return la, float(logsumexp(la[-1]))

    # The backward recursion runs the other way: `lb[t, i]` sums $A_{ij} B_j(o_{t+1})
    # \beta_{t+1}(j)$ over the next state $j$, starting from $\beta_T = 1$.
    def backward(self, obs: Sequence[int]) -> np.ndarray:
        r"""Log backward variables `(T, K)`, with $\beta_T = 1$."""
        o = self._check(obs)
        t_len, k = o.size, self.n_states
        lb = np.zeros((t_len, k))
        for t in range(t_len - 2, -1, -1):
            lb[t] = logsumexp(self.log_A + (self.log_B[:, o[t + 1]] + lb[t + 1])[None, :], axis=1)
        return lb

    def log_likelihood(self, obs: Sequence[int]) -> float:
        r"""$\log P(o)$."""
        return self.forward(obs)[1]

    def posteriors(self, obs: Sequence[int]) -> np.ndarray:
        r"""State posteriors $\gamma_t(i) = P(s_t = i \mid o)$, shape `(T, K)`."""
        la, ll = self.forward(obs)
        return np.exp(la + self.backward(obs) - ll)

    # ## Viterbi
    #
    # `delta[t, j]` is the log-probability of the best path ending in state $j$ at time $t$;
    # `back[t, j]` remembers its predecessor, and the best path is read backwards from the end.
    def viterbi(self, obs: Sequence[int]) -> tuple[list[int], float]:
        r"""The most probable state path and its joint log-probability $\log P(o, s^*)$."""
        o = self._check(obs)
        t_len, k = o.size, self.n_states
        delta = self.log_pi + self.log_B[:, o[0]]  # (K,)
        back = np.zeros((t_len, k), dtype=np.int64)
        for t in range(1, t_len):
            scores = delta[:, None] + self.log_A  # (K, K): from i to j
            back[t] = scores.argmax(0)
            delta = scores.max(0) + self.log_B[:, o[t]]
        path = [int(delta.argmax())]
        for t in range(t_len - 1, 0, -1):
            path.append(int(back[t, path[-1]]))
        return path[::-1], float(delta.max())

    # ## Baum–Welch
    #
    # The E-step accumulates, over all sequences, $\sum_t \gamma_1$ (initial), $\sum_t \xi_t(i,j)$
    # (transitions) and $\sum_{t: o_t = v} \gamma_t(i)$ (emissions); the M-step normalises. `alpha`
    # adds pseudo-counts (0 gives the plain maximum-likelihood update).
    def baum_welch_step(
        self, sequences: Sequence[Sequence[int]], alpha: float = 0.0
    ) -> tuple[HMM, float]:
        """One EM iteration: the re-estimated model and the log-likelihood of the *current* one."""
        k, v = self.log_B.shape
        pi, a, b = np.full(k, alpha), np.full((k, k), alpha), np.full((k, v), alpha)
        total = 0.0
        for obs in sequences:
            o = self._check(obs)
            la, ll = self.forward(o)
            lb = self.backward(o)
            total += ll
            gamma = np.exp(la + lb - ll)  # (T, K)
            pi += gamma[0]
            if o.size > 1:
                # log xi[t, i, j] = la[t, i] + log A[i, j] + log B[j, o[t+1]] + lb[t+1, j] - ll
                lxi = (
                    la[:-1, :, None]
                    + self.log_A[None]
                    + (self.log_B[:, o[1:]].T + lb[1:])[:, None, :]
                    - ll
                )
                a += np.exp(lxi).sum(0)
            np.add.at(b.T, o, gamma)
        # The M-step: normalise each block of expected counts into probabilities, back to logs.
        with np.errstate(divide="ignore"):
            new = HMM(
                np.log(pi / pi.sum()),
                np.log(a / a.sum(1, keepdims=True)),
                np.log(b / b.sum(1, keepdims=True)),
            )
        return new, total

    # EM never lowers the likelihood, so a gain below `tol` is taken as convergence. The history
    # holds the likelihood of each model before its update.
    def fit(
        self,
        sequences: Sequence[Sequence[int]],
        n_iter: int = 20,
        alpha: float = 0.0,
        tol: float = 1e-8,
    ) -> tuple[HMM, list[float]]:
        """Run Baum–Welch until the log-likelihood gains less than `tol`; returns the model and
        the log-likelihood before each iteration."""
        model, history = self, []
        for _ in range(n_iter):
            new, ll = model.baum_welch_step(sequences, alpha)
            history.append(ll)
            if len(history) > 1 and history[-1] - history[-2] < tol:
                break
            model = new
        return model, history
