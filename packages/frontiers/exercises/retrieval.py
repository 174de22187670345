r"""# Exercises: Retrieval-based models: BM25, dense search, kNN-LM and RAG

Computing BM25's idf, scoring a retriever by recall@k, and turning neighbours into a distribution."""

import random

import numpy as np
import torch
from rank_bm25 import BM25Okapi

from masterclass.frontiers.retrieval import KNNLM


def solution_1_bm25_idf(corpus):
    import math

    n = len(corpus)
    df = {}
    for doc in corpus:
        for t in set(doc):
            df[t] = df.get(t, 0) + 1
    idf = {t: math.log(n - f + 0.5) - math.log(f + 0.5) for t, f in df.items()}
    floor = 0.25 * sum(idf.values()) / len(idf)
    return {t: (floor if v < 0 else v) for t, v in idf.items()}


def check_1_bm25_idf(fn) -> None:
    rng = random.Random(0)
    # "z" is in every document: its idf is negative and must be floored.
    corpus = [["z"] + [rng.choice("abcdefgh") for _ in range(rng.randint(1, 6))] for _ in range(12)]
    got, want = fn(corpus), BM25Okapi(corpus).idf
    assert set(got) == set(want), (
        f"idf must have one entry per term {sorted(want)}, got {sorted(got)}"
    )
    for t in want:
        assert abs(got[t] - want[t]) < 1e-9, f"idf[{t!r}] = {got[t]}, rank_bm25 says {want[t]}"


def solution_2_recall_at_k(scores, relevant, k):
    top = np.argsort(-np.asarray(scores), axis=1)[:, :k]
    return float(np.mean([r in row for r, row in zip(relevant, top, strict=True)]))


def check_2_recall_at_k(fn) -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 10))
    relevant = rng.integers(0, 10, 30)
    for k in (1, 3, 10):
        ranks = (scores > scores[np.arange(30), relevant][:, None]).sum(1)
        want = float((ranks < k).mean())
        got = fn(scores, relevant, k)
        assert abs(got - want) < 1e-12, f"recall@{k} = {got}, expected {want}"


def solution_3_knn_distribution(dist, values, vocab, tau):
    w = torch.softmax(-dist / tau, dim=-1)
    return torch.zeros(vocab).scatter_add_(0, values, w)


class _Stub:
    def __init__(self, keys, values, k, tau, vocab):
        self.keys, self.values, self.k, self.tau = keys, values, k, tau
        self.model = type("M", (), {"config": type("C", (), {"vocab_size": vocab})})()


def check_3_knn_distribution(fn) -> None:
    g = torch.Generator().manual_seed(0)
    keys, values = torch.randn(20, 4, generator=g), torch.randint(0, 7, (20,), generator=g)
    stub = _Stub(keys, values, 5, 0.7, 7)
    q = torch.randn(1, 4, generator=g)
    want = KNNLM.knn_log_probs(stub, q)[0].exp()
    d2 = torch.cdist(q, keys).square()[0]
    dist, idx = d2.topk(5, largest=False)
    got = fn(dist, values[idx], 7, 0.7)
    assert torch.allclose(got, want, atol=1e-6), f"p_kNN = {got}, expected {want}"
