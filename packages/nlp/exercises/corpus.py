r"""# Exercises: Annotated data: CoNLL formats and a generated treebank

Writing a CoNLL-U token line, and reading the dependents of every word off the head column."""

from masterclass.nlp.corpus import generate_treebank, read_conllu, write_conllu


def solution_1_conllu_line(index: int, token: str, upos: str, head: int, deprel: str) -> str:
    """Ten tab-separated columns: ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC, the
    unknown ones `_`."""
    return "\t".join([str(index), token, "_", upos, "_", "_", str(head), deprel, "_", "_"])


def check_1_conllu_line(fn) -> None:
    """Lines built from the generated treebank must be the chapter's `write_conllu` lines and
    read back with `read_conllu` to the same annotations."""
    for sentence in generate_treebank(5, seed=1):
        lines = [
            fn(i + 1, t, p, h, r)
            for i, (t, p, h, r) in enumerate(
                zip(sentence.tokens, sentence.upos, sentence.heads, sentence.deprels, strict=True)
            )
        ]
        want = write_conllu([sentence]).splitlines()[1:-1]  # without the comment and blank line
        assert lines == want, f"got {lines[0]!r}, want {want[0]!r}"
        back = read_conllu("\n".join(lines) + "\n")[0]
        assert (back.tokens, back.heads, back.deprels) == (
            sentence.tokens,
            sentence.heads,
            sentence.deprels,
        ), "read_conllu does not read your lines back to the same sentence"


def solution_2_dependents(heads: list[int]) -> list[list[int]]:
    """`out[h]` lists the 1-based words whose head is `h` (`out[0]`: ROOT's), in order."""
    out: list[list[int]] = [[] for _ in range(len(heads) + 1)]
    for word, head in enumerate(heads, start=1):
        out[head].append(word)
    return out


def check_2_dependents(fn) -> None:
    """On the generated treebank: every word appears once, under its head, in sentence order,
    and ROOT has exactly the word labelled `root`."""
    for sentence in generate_treebank(8, seed=2):
        got = fn(sentence.heads)
        assert len(got) == len(sentence.heads) + 1, "one list per word, plus one for ROOT"
        for h, children in enumerate(got):
            assert list(children) == sorted(children), f"dependents of {h} not in order"
            for c in children:
                assert sentence.heads[c - 1] == h, f"word {c} listed under {h}"
        assert sum(len(c) for c in got) == len(sentence.heads), "every word exactly once"
        root = [i + 1 for i, r in enumerate(sentence.deprels) if r == "root"]
        assert list(got[0]) == root, f"ROOT's dependents {got[0]}, want {root}"
