r"""# Exercises: WordPiece

Greedy longest-match-first segmentation of a word, and decoding pieces back into words."""

from masterclass.nlp.wordpiece import WordPieceTokenizer

VOCAB = ["[UNK]", "un", "##aff", "##able", "aff", "a", "##a", "##b", "##ab", "b", "able", "##le"]
WORDS = ["unaffable", "aff", "unx", "abab", "able", "ba", "a", "unable", "affable", "bb"]


def solution_1_word_pieces(word: str, vocab: set[str]) -> list[str]:
    """From each position take the longest vocabulary piece (`##`-prefixed after the first);
    a word with no segmentation is `["[UNK]"]`."""
    pieces, start = [], 0
    while start < len(word):
        for end in range(len(word), start, -1):
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                pieces.append(piece)
                start = end
                break
        else:
            return ["[UNK]"]
    return pieces


def check_1_word_pieces(fn) -> None:
    """Compare with the chapter's `WordPieceTokenizer` (checked against Hugging Face's BERT
    tokenizer by its tests) on words with and without a segmentation."""
    tok = WordPieceTokenizer(VOCAB)
    for word in WORDS:
        want = tok.tokenize(word)
        got = list(fn(word, set(VOCAB)))
        assert got == want, (
            f"{word!r}: got {got}, want {want} (longest match first; one unknown part makes the "
            "whole word [UNK])"
        )


def solution_2_decode(pieces: list[str]) -> str:
    """Glue `##` pieces onto the word before them; words are joined by single spaces."""
    words: list[str] = []
    for p in pieces:
        if p.startswith("##") and words:
            words[-1] += p[2:]
        else:
            words.append(p)
    return " ".join(words)


def check_2_decode(fn) -> None:
    """Compare with the chapter's `WordPieceTokenizer.decode`."""
    tok = WordPieceTokenizer(VOCAB)
    for text in ["unaffable aff", "abab ba unable", "a", "affable bb able"]:
        ids = tok.encode(text)
        want = tok.decode(ids)
        got = fn([VOCAB[i] for i in ids])
        assert got == want, f"{[VOCAB[i] for i in ids]}: got {got!r}, want {want!r}"
