"""Reference tests for retrieval: rank_bm25, faiss, kNN-LM's limits and gains, and the RAG loop."""

import random

import faiss
import numpy as np
import pytest
import torch
from rank_bm25 import BM25Okapi

from masterclass.frontiers.retrieval import (
    BM25,
    KNNLM,
    DenseIndex,
    lm_hidden_and_logits,
    rag_answer,
)
from masterclass.llm import LanguageModel, LMConfig
from masterclass.nlp.bpe import BPETokenizer


def _corpus(seed=0, n=40):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30)] + ["the"] * 10  # "the" in most documents: negative idf
    return [[rng.choice(words) for _ in range(rng.randint(1, 15))] for _ in range(n)]


@pytest.mark.parametrize("k1,b", [(1.5, 0.75), (1.2, 0.0), (2.0, 1.0)])
def test_bm25_equals_rank_bm25(k1, b):
    corpus = _corpus()
    ours, ref = BM25(corpus, k1=k1, b=b), BM25Okapi(corpus, k1=k1, b=b)
    rng = random.Random(1)
    for _ in range(20):
        query = [rng.choice([f"w{i}" for i in range(35)] + ["the"]) for _ in range(4)]
        # Same float64 formula, summed in the same order: agreement to 1e-9 (the spec's bound).
        np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=0, atol=1e-9)


def test_bm25_defaults_and_boundaries_equal_rank_bm25():
    corpus = _corpus(seed=2)
    # A term in exactly half of the documents has idf log(1) = 0: rank_bm25 floors only negative
    # idfs, so it keeps its 0.
    half = [[*doc, "half"] if i % 2 else doc for i, doc in enumerate(corpus)]
    query = ["w1", "the", "half", "w7", "w1"]
    for kwargs in ({}, {"k1": 0.5, "b": 0.0}, {"b": 1.0}):
        ours, ref = BM25(half, **kwargs), BM25Okapi(half, **kwargs)
        np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=0, atol=1e-9)
    assert BM25(half).idf["half"] == 0.0
    # k1 = 0, the binary limit (each matching term adds its idf once): rank_bm25 divides 0 by 0
    # there for the documents without the term, so the reference is its k1 = 1e-9.
    ours, ref = BM25(half, k1=0.0), BM25Okapi(half, k1=1e-9)
    np.testing.assert_allclose(ours.scores(query), ref.get_scores(query), rtol=0, atol=1e-6)


def test_dense_index_equals_faiss_flat():
    g = torch.Generator().manual_seed(0)
    docs, queries = torch.randn(500, 32, generator=g), torch.randn(20, 32, generator=g)
    ours = DenseIndex(docs)
    scores, ids = ours.search(queries, 5)
    index = faiss.IndexFlatIP(32)
    d = docs.numpy() / np.linalg.norm(docs.numpy(), axis=1, keepdims=True)
    q = queries.numpy() / np.linalg.norm(queries.numpy(), axis=1, keepdims=True)
    index.add(d)
    ref_scores, ref_ids = index.search(q, 5)
    # Exact search both: the same ids; float32 scores to 1e-5 (different summation order).
    np.testing.assert_array_equal(ids.numpy(), ref_ids)
    np.testing.assert_allclose(scores.numpy(), ref_scores, atol=1e-5)


def _lm(vocab=50, seed=0):
    torch.manual_seed(seed)
    cfg = LMConfig.llama(vocab_size=vocab, d_model=32, n_layers=2, n_heads=4, max_seq_len=128)
    return LanguageModel(cfg).eval()


def test_knn_lambda_zero_is_the_base_lm_exactly_and_neighbours_match_faiss():
    model = _lm()
    g = torch.Generator().manual_seed(0)
    store, text = (
        torch.randint(0, 50, (2, 40), generator=g),
        torch.randint(0, 50, (1, 30), generator=g),
    )
    knn = KNNLM(model, store, k=4)
    _, logits = lm_hidden_and_logits(model, text)
    assert torch.equal(knn.log_probs(text, 0.0), logits.float().log_softmax(-1))
    # The neighbours our cdist/topk finds are faiss's exact L2 neighbours.
    hidden, _ = lm_hidden_and_logits(model, text)
    q = hidden[0].detach().numpy()
    index = faiss.IndexFlatL2(q.shape[1])
    index.add(knn.keys.numpy())
    _, ref_ids = index.search(q, 4)
    ours = torch.cdist(hidden[0], knn.keys).topk(4, largest=False).indices.numpy()
    np.testing.assert_array_equal(np.sort(ours, 1), np.sort(ref_ids, 1))


def test_knn_distribution_and_mixture_equal_faiss_neighbours_by_hand():
    model = _lm()
    g = torch.Generator().manual_seed(2)
    store, text = (
        torch.randint(0, 50, (3, 20), generator=g),
        torch.randint(0, 50, (1, 12), generator=g),
    )
    k, tau, lam = 5, 2.0, 0.3
    knn = KNNLM(model, store, k=k, tau=tau)
    # Reference: faiss's exact squared-L2 neighbours and distances, then the paper's formula in
    # float64 numpy: p_kNN(v) = sum of softmax(-d / tau) over the neighbours whose next token is v,
    # and the mixture lam p_kNN + (1 - lam) p_LM.
    with torch.no_grad():
        hidden, logits = lm_hidden_and_logits(model, text)
    q = hidden[0].numpy()
    index = faiss.IndexFlatL2(q.shape[1])
    index.add(knn.keys.numpy())
    d2, ids = index.search(q, k)
    w = np.exp(-(d2 - d2.min(1, keepdims=True)) / tau)
    w /= w.sum(1, keepdims=True)
    p_knn = np.zeros((q.shape[0], 50))
    for row in range(q.shape[0]):
        np.add.at(p_knn[row], knn.values.numpy()[ids[row]], w[row])
    p_lm = torch.softmax(logits[0].double(), -1).numpy()
    # float32 distances of ~1e2 over tau: 1e-4 absolute on probabilities.
    ours_knn = knn.knn_log_probs(hidden[0]).exp().numpy()
    np.testing.assert_allclose(ours_knn, p_knn, atol=1e-4)
    ours_mix = knn.log_probs(text, lam)[0].exp().numpy()
    np.testing.assert_allclose(ours_mix, lam * p_knn + (1 - lam) * p_lm, atol=1e-4)
    ours_all_knn = knn.log_probs(text, 1.0)[0].exp().numpy()
    np.testing.assert_allclose(ours_all_knn, p_knn, atol=1e-4)


def test_knn_tuned_lambda_lowers_perplexity_on_repeats():
    model = _lm()
    g = torch.Generator().manual_seed(1)
    passages = torch.randint(0, 50, (6, 24), generator=g)
    # Validation and test texts repeat passages of the datastore (as documents repeat on the web).
    knn = KNNLM(model, passages, k=8, tau=1.0)
    valid, test = passages[:3], passages[3:]
    lam = min((0.0, 0.25, 0.5, 0.75, 0.9), key=lambda lam: knn.perplexity(valid, lam))
    assert lam > 0
    assert knn.perplexity(test, lam) < 0.5 * knn.perplexity(test, 0.0)


def test_rag_retrieves_the_relevant_document_and_generates_greedily():
    docs = [
        "The capital of France is Paris.",
        "Bananas are yellow fruit.",
        "The Rhine flows through Basel.",
    ]
    tok = BPETokenizer.train(docs * 5, 300)
    model = _lm(vocab=tok.vocab_size)
    hits, answer = rag_answer(
        "Which river flows through Basel?", docs, tok, model, max_new_tokens=4
    )
    assert hits == [2]
    # Reference: greedy decoding by re-running the full model each step, no cache.
    idx = torch.tensor([tok.encode(docs[2] + "\nWhich river flows through Basel?")])
    with torch.no_grad():
        for _ in range(4):
            idx = torch.cat([idx, model(idx)[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert answer == idx[0, -4:].tolist()


def test_bad_input():
    with pytest.raises(ValueError, match="corpus is empty"):
        BM25([])
    for k1, b in ((-0.1, 0.5), (1.5, 1.1), (1.5, -0.1)):
        with pytest.raises(ValueError, match="need k1 >= 0 and 0 <= b <= 1"):
            BM25([["a"]], k1=k1, b=b)
    with pytest.raises(ValueError, match=r"vectors must be \(N, d\)"):
        DenseIndex(torch.randn(3))
    assert DenseIndex(torch.eye(3)).search(torch.eye(3), 1)[1].flatten().tolist() == [0, 1, 2]
    model = _lm()
    for ids in (torch.zeros(4, dtype=torch.long), torch.zeros(1, 1, dtype=torch.long)):
        with pytest.raises(ValueError, match=r"ids must be \(B, T\) with T >= 2"):
            KNNLM(model, ids)
    KNNLM(model, torch.zeros(1, 2, dtype=torch.long), tau=1e-3)  # the smallest valid store
    with pytest.raises(ValueError, match="tau must be positive"):
        KNNLM(model, torch.zeros(1, 2, dtype=torch.long), tau=0.0)
    with pytest.raises(ValueError, match="docs is empty"):
        rag_answer("q", [], BPETokenizer.train(["ab"], 258), model)
    with pytest.raises(ValueError, match=r"k must be in \[1, 3\]"):
        DenseIndex(torch.randn(3, 4)).search(torch.randn(1, 4), 4)
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\]"):
        KNNLM(_lm(), torch.zeros(1, 4, dtype=torch.long)).log_probs(
            torch.zeros(1, 2, dtype=torch.long), 2.0
        )
