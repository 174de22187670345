"""# masterclass.nlp

Module 5: NLP fundamentals: fast byte-level BPE, WordPiece, Unigram, embeddings, n-grams, HMMs,
taggers, parsers.

The main objects are importable from the package (`from masterclass.nlp import BPETokenizer`).
They are loaded on first use, so that a program that only tokenizes never imports PyTorch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from masterclass.nlp.bpe import BPETokenizer
    from masterclass.nlp.ngram import AddKLM, KneserNeyLM
    from masterclass.nlp.positional import (
        LearnedPositionalEmbedding,
        ShawRelativePositions,
        sinusoidal_positions,
    )
    from masterclass.nlp.wordpiece import WordPieceTokenizer

# Public name -> the chapter (module) that defines it.
_EXPORTS = {
    "AddKLM": "ngram",
    "BPETokenizer": "bpe",
    "KneserNeyLM": "ngram",
    "LearnedPositionalEmbedding": "positional",
    "ShawRelativePositions": "positional",
    "sinusoidal_positions": "positional",
    "WordPieceTokenizer": "wordpiece",
}

__all__ = [
    "AddKLM",
    "BPETokenizer",
    "KneserNeyLM",
    "LearnedPositionalEmbedding",
    "ShawRelativePositions",
    "WordPieceTokenizer",
    "sinusoidal_positions",
]


def __getattr__(name: str) -> Any:
    """Import the chapter that defines `name` on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'masterclass.nlp' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"masterclass.nlp.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The lazily exported names, for tab completion."""
    return sorted(set(globals()) | set(__all__))
