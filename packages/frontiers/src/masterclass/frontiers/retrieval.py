r"""# Retrieval-based models: BM25, dense search, kNN-LM and RAG

A language model stores what it knows in its weights; a *retrieval-based* model also looks things
up. Knowledge can then be added, corrected or cited without retraining, and a small model with a
large datastore can match a much larger one (kNN-LM, RETRO). This chapter builds the pieces in
order: a sparse retriever (BM25), an exact dense index, a language model that interpolates with its
nearest neighbours (kNN-LM), and a retrieve-then-generate loop (RAG) around `llm`'s model.

**BM25.** A document $d$ scores for a query $q$ by summing over query terms $t$ an inverse document
frequency times a saturating term frequency (Robertson and Zaragoza, 2009):

$$ \mathrm{score}(q, d) = \sum_{t \in q} \mathrm{idf}(t)\,
   \frac{f_{t,d}\,(k_1 + 1)}{f_{t,d} + k_1 \left(1 - b + b\, |d| / \overline{|d|}\right)},
   \qquad \mathrm{idf}(t) = \ln \frac{N - n_t + 0.5}{n_t + 0.5}. $$

$k_1$ caps the reward for repeating a term ($f \to \infty$ gives $k_1 + 1$; at $k_1 = 0$ a term
counts once, whatever its frequency, and a document without it scores 0, not $0/0$), $b$
normalises by document length against the average $\overline{|d|}$. A term in more than half the documents
would get a negative idf; `rank_bm25`'s `BM25Okapi` (our reference) replaces those by
$\epsilon$ times the mean idf, and so do we.

**Dense retrieval.** An encoder maps queries and documents to vectors and relevance is their inner
product (cosine after normalisation). The exact index is a matrix product and a top-$k$:
$O(N d)$ per query, which is what `faiss.IndexFlatIP` does; approximate indexes (IVF, HNSW) trade
exactness for sub-linear time and are left out.

**kNN-LM** (Khandelwal et al., 2020). Run the LM over a corpus once and store, for every position,
the key $k_i = f(c_i)$ (the final hidden state, the input of the output head) and the value
$v_i$ = the next token. At test time the context's key retrieves its $K$ nearest stored keys and
turns them into a distribution over tokens,

$$ p_{kNN}(y \mid c) \propto \sum_{i \in \mathcal N(c)} \mathbb 1[v_i = y]\,
   e^{-\|f(c) - k_i\|^2 / \tau}, \qquad
   p(y \mid c) = \lambda\, p_{kNN}(y \mid c) + (1 - \lambda)\, p_{LM}(y \mid c). $$

We mix in log space, $\log p = \mathrm{logaddexp}(\log\lambda + \log p_{kNN},
\log(1-\lambda) + \log p_{LM})$, so $\lambda = 0$ returns the LM's log-probabilities *exactly*
($\log 0 = -\infty$ drops out of `logaddexp`), a property the test checks bit for bit. On text that
repeats passages of the datastore, the neighbours carry the continuation and perplexity falls.

**RAG** (Lewis et al., 2020). Retrieve the top documents for a question, put them in the prompt,
generate. The generator here is an untrained `llm.LanguageModel` and the tokenizer `nlp`'s
byte-level BPE, so what the loop shows is the plumbing, which the test checks: the right document
is retrieved and the answer is the model's greedy continuation of the augmented prompt.

References: Robertson and Zaragoza, *The probabilistic relevance framework: BM25 and beyond*,
2009; Karpukhin et al., *Dense passage retrieval*, 2020, https://arxiv.org/abs/2004.04906;
Khandelwal et al., *Generalization through memorization: nearest neighbor language models*, 2020,
https://arxiv.org/abs/1911.00172; Lewis et al., *Retrieval-augmented generation for
knowledge-intensive NLP tasks*, 2020, https://arxiv.org/abs/2005.11401; Borgeaud et al., RETRO,
2022, https://arxiv.org/abs/2112.04426.

Left out: approximate nearest-neighbour indexes, trained dual encoders, RETRO's chunked
cross-attention, and re-ranking.

>>> bm25 = BM25([["a", "b"], ["b", "c", "c"], ["d"]])
>>> [round(float(s), 3) for s in bm25.scores(["c"])]
[0.0, 0.629, 0.0]

## Exercises

1. Write `bm25_idf(corpus)` returning the dict of idfs with `BM25Okapi`'s negative-idf floor.
   Check it: `uv run pytest --exercise frontiers.retrieval`
2. Write `recall_at_k(scores, relevant, k)`: the fraction of queries whose relevant document is
   among the `k` best of `scores` `(Q, N)`. Check it: `uv run pytest --exercise frontiers.retrieval`
3. Write `knn_distribution(dist, values, vocab, tau)`: $p_{kNN}$ from the squared distances
   `(K,)` and token ids `(K,)` of one query's neighbours. Check it: `uv run pytest --exercise frontiers.retrieval`
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence

import numpy as np
import torch
from torch import Tensor

# The course's own language model, generator and tokenizer serve the retrieval-augmented generation
# and the kNN-LM below.
from masterclass.llm.generate import generate
from masterclass.llm.model import LanguageModel
from masterclass.nlp.bpe import BPETokenizer


class BM25:
    """Okapi BM25 over tokenised documents, with `rank_bm25.BM25Okapi`'s conventions."""

    def __init__(
        self,
        corpus: Sequence[Sequence[Hashable]],
        k1: float = 1.5,
        b: float = 0.75,
        epsilon: float = 0.25,
    ) -> None:
        # Precompute what every query needs: each document's term counts and length, and the mean
        # length.
        if not corpus:
            raise ValueError("corpus is empty: BM25 needs at least one document")
        if k1 < 0 or not 0 <= b <= 1:
            raise ValueError(f"need k1 >= 0 and 0 <= b <= 1, got k1={k1}, b={b}")
        self.k1, self.b = k1, b
        self.tf = [Counter(doc) for doc in corpus]
        self.doc_len = np.array([len(doc) for doc in corpus], dtype=np.float64)  # (N,)
        self.avgdl = float(self.doc_len.mean())
        # Document frequency $n_t$ and the idf with its floor at $\epsilon$ times the mean idf.
        n_docs = len(corpus)
        df = Counter(t for tf in self.tf for t in tf)
        self.idf = {t: math.log(n_docs - n + 0.5) - math.log(n + 0.5) for t, n in df.items()}
        floor = epsilon * sum(self.idf.values()) / len(self.idf)
        self.idf = {t: (floor if v < 0 else v) for t, v in self.idf.items()}

    def scores(self, query: Sequence[Hashable]) -> np.ndarray:
        """BM25 score of every document for `query` (repeated query terms count again), `(N,)`."""
        norm = self.k1 * (1 - self.b + self.b * self.doc_len / self.avgdl)  # (N,)
        total = np.zeros(len(self.tf))
        for t in query:
            f = np.array([tf.get(t, 0) for tf in self.tf], dtype=np.float64)  # (N,)
            # At k1 = 0 a document without the term has f + norm = 0; its share is 0, not 0 / 0.
            share = np.divide(f * (self.k1 + 1), f + norm, out=np.zeros_like(f), where=f > 0)
            total += self.idf.get(t, 0.0) * share
        return total

    def top_k(self, query: Sequence[Hashable], k: int) -> list[int]:
        """Indices of the `k` best documents, best first (ties: lower index first)."""
        return np.argsort(-self.scores(query), kind="stable")[:k].tolist()


# ## The exact dense index
#
# With unit vectors, inner product is cosine similarity and ranks exactly like Euclidean distance
# ($\|q - d\|^2 = 2 - 2 q^\top d$). One matrix product scores all documents; `topk` picks the best.


class DenseIndex:
    """Exact maximum-inner-product search over vectors `(N, d)` (optionally normalised)."""

    def __init__(self, vectors: Tensor, normalize: bool = True) -> None:
        if vectors.dim() != 2:
            raise ValueError(f"vectors must be (N, d), got shape {tuple(vectors.shape)}")
        self.normalize = normalize
        self.vectors = _unit(vectors) if normalize else vectors

    def search(self, queries: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """Scores and ids of the `k` best vectors for each query `(Q, d)`: `(Q, k)` each."""
        if not 1 <= k <= self.vectors.shape[0]:
            raise ValueError(f"k must be in [1, {self.vectors.shape[0]}], got {k}")
        q = _unit(queries) if self.normalize else queries
        return (q @ self.vectors.T).topk(k, dim=-1)  # (Q, N) -> (Q, k)


def _unit(x: Tensor) -> Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-12)


# ## kNN-LM
#
# The keys are the hidden states that enter `lm_head`; a forward pre-hook on the head reads them
# from `llm`'s model without touching its code. Distances are squared Euclidean, as in the paper.


def lm_hidden_and_logits(model: LanguageModel, idx: Tensor) -> tuple[Tensor, Tensor]:
    """The final hidden states `(B, T, d_model)` and logits `(B, T, V)` of `llm`'s model."""
    seen: list[Tensor] = []
    handle = model.lm_head.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    try:
        logits = model(idx)
    finally:
        handle.remove()
    return seen[0], logits


# The datastore is built once, from one pass over `ids`: at every position the key is the hidden
# state and the value is the token that came next.
class KNNLM:
    """A language model interpolated with a nearest-neighbour datastore built from `ids`."""

    def __init__(self, model: LanguageModel, ids: Tensor, k: int = 8, tau: float = 1.0) -> None:
        if ids.dim() != 2 or ids.shape[1] < 2:
            raise ValueError(f"ids must be (B, T) with T >= 2, got shape {tuple(ids.shape)}")
        if tau <= 0:
            raise ValueError(f"tau must be positive, got {tau}")
        self.model, self.k, self.tau = model.eval(), k, tau
        with torch.no_grad():
            hidden, _ = lm_hidden_and_logits(model, ids[:, :-1])
        self.keys = hidden.reshape(-1, hidden.shape[-1])  # (M, d)
        self.values = ids[:, 1:].reshape(-1)  # (M,) the token that followed each key

    # Retrieval: the k nearest keys of each query, weighted by a softmax of minus their squared
    # distances over `tau`; each neighbour's weight goes to its value token, so tokens seen several
    # times among the neighbours add up.
    def knn_log_probs(self, hidden: Tensor) -> Tensor:
        r"""$\log p_{kNN}$ `(N, V)` for query keys `(N, d)`."""
        d2 = torch.cdist(hidden, self.keys).square()  # (N, M)
        dist, nn_idx = d2.topk(min(self.k, self.keys.shape[0]), dim=-1, largest=False)  # (N, K)
        weights = torch.softmax(-dist / self.tau, dim=-1)  # (N, K)
        p = torch.zeros(hidden.shape[0], self.model.config.vocab_size, dtype=weights.dtype)
        p.scatter_add_(1, self.values[nn_idx], weights)  # (N, V)
        return p.log()

    # The interpolation `lam p_kNN + (1 - lam) p_LM`, computed in log space with `logaddexp`; at
    # `lam` = 0 or 1 the unused side is set to minus infinity directly, since `math.log(0)` fails.
    def log_probs(self, idx: Tensor, lam: float) -> Tensor:
        """Mixed next-token log-probabilities `(B, T, V)` for `idx` `(B, T)`."""
        if not 0.0 <= lam <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {lam}")
        with torch.no_grad():
            hidden, logits = lm_hidden_and_logits(self.model, idx)
            log_lm = logits.float().log_softmax(-1)  # (B, T, V)
            log_knn = self.knn_log_probs(hidden.reshape(-1, hidden.shape[-1])).view_as(log_lm)
        return torch.logaddexp(
            math.log(lam) + log_knn if lam > 0 else torch.full_like(log_knn, -math.inf),
            (math.log1p(-lam) if lam < 1 else -math.inf) + log_lm,
        )

    def perplexity(self, ids: Tensor, lam: float) -> float:
        r"""$\exp$ of the mean negative log-likelihood of `ids[:, 1:]` given its prefixes."""
        lp = self.log_probs(ids[:, :-1], lam)  # (B, T-1, V)
        nll = -lp.gather(-1, ids[:, 1:, None]).mean()
        return math.exp(float(nll))


# ## RAG
#
# BM25 over the BPE ids of the documents (the terms are subword ids: the same tokenizer serves
# retrieval and generation); the top `k` documents and the question are joined into the prompt and
# `llm`'s `generate` continues it greedily.


def rag_answer(
    question: str,
    docs: Sequence[str],
    tokenizer: BPETokenizer,
    model: LanguageModel,
    *,
    k: int = 1,
    max_new_tokens: int = 8,
) -> tuple[list[int], list[int]]:
    """Retrieve `k` documents for `question` and generate; returns (retrieved ids, answer tokens)."""
    if not docs:
        raise ValueError("docs is empty: RAG needs documents to retrieve from")
    # Retrieval and generation meet in the prompt: the top-k documents by BM25 over BPE tokens, then
    # the question, one per line; the answer is the model's greedy continuation.
    index = BM25([tokenizer.encode(d) for d in docs])
    hits = index.top_k(tokenizer.encode(question), k)
    prompt = "\n".join([docs[i] for i in hits] + [question])
    idx = torch.tensor([tokenizer.encode(prompt)])  # (1, T)
    out = generate(model, idx, max_new_tokens, temperature=0.0)  # (1, T + n)
    return hits, out[0, idx.shape[1] :].tolist()
