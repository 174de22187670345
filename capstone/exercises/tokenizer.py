r"""# Exercises: Stage 2 · The tokenizer: byte-level BPE on the train split

Bits per byte from a loss in nats per token and the tokenizer's bytes per token, and the bytes
per token statistic itself, checked against numpy's cross-entropy and tiktoken's encoder."""

import math
import random

import numpy as np

from masterclass.capstone.config import END_OF_TEXT
from masterclass.nlp.bpe import BPETokenizer


def solution_1_bits_per_byte(loss: float, bytes_per_token: float) -> float:
    """Bits per byte from the mean loss (nats per token) and the mean bytes per token."""
    return loss / (math.log(2) * bytes_per_token)


def check_1_bits_per_byte(fn) -> None:
    """Against a cross-entropy computed in numpy over random logits and random token lengths."""
    rng = np.random.default_rng(0)
    for case in range(6):
        V, T = int(rng.integers(4, 50)), int(rng.integers(5, 200))
        logits = rng.normal(size=(T, V)) * rng.uniform(0.5, 3)
        targets = rng.integers(0, V, size=T)
        lengths = rng.integers(1, 8, size=V)  # bytes each token id decodes to
        shifted = logits - logits.max(1, keepdims=True)  # log-softmax, stably
        logp = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))  # (T, V)
        nats = -logp[np.arange(T), targets].sum()
        n_bytes = lengths[targets].sum()
        want = nats / n_bytes / np.log(2)  # total bits over total bytes
        got = fn(nats / T, n_bytes / T)
        # Float64 arithmetic in a different order: agreement to 1e-12 relative.
        assert math.isclose(got, want, rel_tol=1e-12), (
            f"case {case}: loss {nats / T:.4f} nats/token at {n_bytes / T:.3f} bytes/token is "
            f"{want:.6f} bits/byte, got {got}"
        )
    # The same text, a tokenizer with twice longer tokens: twice the loss per token, same rate.
    assert math.isclose(fn(2.0, 2.0), fn(4.0, 4.0), rel_tol=1e-12)


def solution_2_bytes_per_token(tok: BPETokenizer, documents: list[bytes]) -> float:
    """Total bytes of `documents` over the total number of tokens they encode to."""
    return sum(map(len, documents)) / sum(len(tok.encode_bytes(d)) for d in documents)


def check_2_bytes_per_token(fn) -> None:
    """Against tiktoken: the same vocabulary exported as a `tiktoken.Encoding` counts the tokens."""
    rng = random.Random(0)
    words = ["def", "return", "self", "import", "class", "x", "(", ")", ":", "\n", "    ", "=", "1"]
    train = [" ".join(rng.choices(words, k=200)) for _ in range(4)]
    tok = BPETokenizer.train(train, 320, special_tokens=[END_OF_TEXT])
    encoding = tok.to_tiktoken()
    for case in range(5):
        docs = [" ".join(rng.choices(words, k=rng.randint(1, 60))).encode() for _ in range(4)]
        n_tokens = sum(len(encoding.encode_ordinary(d.decode())) for d in docs)
        want = sum(map(len, docs)) / n_tokens
        got = fn(tok, docs)
        assert math.isclose(got, want, rel_tol=1e-12), (
            f"case {case}: bytes per token of {[len(d) for d in docs]}-byte documents is "
            f"{want:.6f} ({n_tokens} tokens, counted by tiktoken), got {got}"
        )
