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
    from masterclass.nlp.corpus import generate_treebank
    from masterclass.nlp.dependency_parsing import ArcStandardParser, GraphParser
    from masterclass.nlp.embeddings import GloVe, train_word2vec
    from masterclass.nlp.hmm import HMM
    from masterclass.nlp.ner import CRFTagger, LinearChainCRF
    from masterclass.nlp.ngram import AddKLM, KneserNeyLM
    from masterclass.nlp.pos_tagging import HMMTagger, PerceptronTagger
    from masterclass.nlp.positional import (
        LearnedPositionalEmbedding,
        ShawRelativePositions,
        sinusoidal_positions,
    )
    from masterclass.nlp.unigram import UnigramTokenizer
    from masterclass.nlp.wordpiece import WordPieceTokenizer

# Public name -> the chapter (module) that defines it.
_EXPORTS = {
    "AddKLM": "ngram",
    "ArcStandardParser": "dependency_parsing",
    "BPETokenizer": "bpe",
    "CRFTagger": "ner",
    "GloVe": "embeddings",
    "GraphParser": "dependency_parsing",
    "HMM": "hmm",
    "HMMTagger": "pos_tagging",
    "KneserNeyLM": "ngram",
    "LearnedPositionalEmbedding": "positional",
    "LinearChainCRF": "ner",
    "PerceptronTagger": "pos_tagging",
    "ShawRelativePositions": "positional",
    "UnigramTokenizer": "unigram",
    "WordPieceTokenizer": "wordpiece",
    "generate_treebank": "corpus",
    "sinusoidal_positions": "positional",
    "train_word2vec": "embeddings",
}

__all__ = [
    "HMM",
    "AddKLM",
    "ArcStandardParser",
    "BPETokenizer",
    "CRFTagger",
    "GloVe",
    "GraphParser",
    "HMMTagger",
    "KneserNeyLM",
    "LearnedPositionalEmbedding",
    "LinearChainCRF",
    "PerceptronTagger",
    "ShawRelativePositions",
    "UnigramTokenizer",
    "WordPieceTokenizer",
    "generate_treebank",
    "sinusoidal_positions",
    "train_word2vec",
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
