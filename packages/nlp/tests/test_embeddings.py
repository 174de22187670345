"""Tests for word embeddings: the negative-sampling and GloVe losses (value and gradient) against
formulas written out in numpy in float64, co-occurrence counts against a dictionary count, and the
stated neighbour and analogy checks on the generated relational corpus."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import torch

from masterclass.nlp.embeddings import (
    GloVe,
    Vocabulary,
    analogy,
    cooccurrence,
    nearest,
    relational_corpus,
    sgns_loss,
    train_word2vec,
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny models: one thread avoids oversubscription on a shared 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_sgns_loss_and_gradient_match_formula():
    rng = np.random.default_rng(0)
    v, u, un = rng.normal(size=(4, 6)), rng.normal(size=(4, 6)), rng.normal(size=(4, 3, 6))
    ref = -np.mean(
        np.log(_sigmoid((u * v).sum(-1)))
        + np.log(_sigmoid(-np.einsum("bkc,bc->bk", un, v))).sum(-1)
    )
    # d loss / d v_c = [(sigma(u_o.v) - 1) u_o + sum_k sigma(u_k.v) u_k] / B
    s_pos = _sigmoid((u * v).sum(-1))[:, None]
    s_neg = _sigmoid(np.einsum("bkc,bc->bk", un, v))[:, :, None]
    ref_grad = ((s_pos - 1) * u + (s_neg * un).sum(1)) / 4
    tv = torch.tensor(v, requires_grad=True)
    loss = sgns_loss(tv, torch.tensor(u), torch.tensor(un))
    loss.backward()
    # float64 on both sides: 1e-12.
    assert loss.item() == pytest.approx(ref, rel=1e-12)
    np.testing.assert_allclose(tv.grad.numpy(), ref_grad, rtol=1e-10, atol=1e-12)


def test_glove_loss_matches_formula():
    # The full formula with both bias terms (set to random values: at their zero init a dropped
    # or swapped bias would go unnoticed), value and bias gradients in numpy (float64: 1e-12).
    model = GloVe(5, 3, seed=1).double()
    rng = np.random.default_rng(0)
    with torch.no_grad():
        model.b.copy_(torch.from_numpy(rng.normal(size=5)))
        model.b_ctx.copy_(torch.from_numpy(rng.normal(size=5)))
    i, j = np.array([0, 1, 4, 1]), np.array([2, 2, 3, 0])
    x = np.array([3.0, 250.0, 0.5, 40.0])
    w, wc = model.w.detach().numpy(), model.w_ctx.detach().numpy()
    b, bc = model.b.detach().numpy(), model.b_ctx.detach().numpy()
    f = np.minimum(1, (x / 100) ** 0.75)
    err = (w[i] * wc[j]).sum(-1) + b[i] + bc[j] - np.log(x)
    ref = (f * err**2).sum()
    got = model.loss(torch.tensor(i), torch.tensor(j), torch.tensor(x))
    assert got.item() == pytest.approx(ref, rel=1e-12)
    got.backward()
    grad_b, grad_bc = np.zeros(5), np.zeros(5)
    np.add.at(grad_b, i, 2 * f * err)
    np.add.at(grad_bc, j, 2 * f * err)
    np.testing.assert_allclose(model.b.grad.numpy(), grad_b, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(model.b_ctx.grad.numpy(), grad_bc, rtol=1e-12, atol=1e-12)


def test_cooccurrence_matches_dictionary_count():
    ids = [[0, 1, 2, 1], [2, 0]]
    ref = defaultdict(float)
    for s in ids:
        for a in range(len(s)):
            for b in range(len(s)):
                if a != b and abs(a - b) <= 2:
                    ref[s[a], s[b]] += 1 / abs(a - b)
    x = cooccurrence(ids, 3, window=2)
    for a in range(3):
        for b in range(3):
            assert x[a, b] == pytest.approx(ref[a, b])


@pytest.fixture(scope="module")
def corpus():
    return relational_corpus(3000, seed=0)


def _checks(vocab, vectors, pairs):
    capitals = {c for c, _, _ in pairs}
    # Neighbour check: the 3 nearest words to each capital are capitals or its own country.
    neighbours = all(
        all(w in capitals or w == k for w in nearest(vectors, vocab, c, k=3)) for c, k, _ in pairs
    )
    # Analogy check: country_i : capital_i :: country_j : ?  -> capital_j, over all 90 ordered pairs.
    hits = [
        analogy(vectors, vocab, k1, c1, k2) == c2
        for c1, k1, _ in pairs
        for c2, k2, _ in pairs
        if c1 != c2
    ]
    return neighbours, sum(hits) / len(hits)


def test_skipgram_neighbours_and_analogies(corpus):
    sentences, pairs = corpus
    vocab, model = train_word2vec(
        sentences, architecture="skipgram", epochs=4, batch_size=1024, lr=0.03
    )
    neighbours, acc = _checks(vocab, model.vectors, pairs)
    # Chance level for the analogy is about 1/60; a working skip-gram solves most of them.
    assert neighbours and acc > 0.7


def test_cbow_neighbours_and_analogies(corpus):
    sentences, pairs = corpus
    vocab, model = train_word2vec(
        sentences, architecture="cbow", epochs=20, batch_size=1024, lr=0.02
    )
    neighbours, acc = _checks(vocab, model.vectors, pairs)
    assert neighbours and acc > 0.6


def test_glove_neighbours(corpus):
    sentences, pairs = corpus
    vocab, model = GloVe.train(sentences)
    neighbours, acc = _checks(vocab, model.vectors, pairs)
    print(
        f"\nGloVe analogy accuracy on the relational corpus: {acc:.2f} (see the chapter for why it is low)"
    )
    assert neighbours


def test_errors():
    with pytest.raises(ValueError, match="architecture"):
        train_word2vec([["a", "b"]], architecture="fasttext")
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary([["a"]], min_count=2)
