"""# masterclass.nlp

Module 5: NLP fundamentals: fast byte-level BPE, WordPiece, Unigram, embeddings, n-grams, HMMs, taggers, parsers.
"""
