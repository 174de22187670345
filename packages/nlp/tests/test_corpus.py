"""Tests for the CoNLL readers/writers (on small fixtures written to the formats' specifications)
and for the generated treebank's well-formedness."""

from __future__ import annotations

import pytest

from masterclass.nlp.corpus import (
    generate_treebank,
    read_conll2003,
    read_conllu,
    write_conll2003,
    write_conllu,
)

CONLLU_FIXTURE = """# sent_id = 1
# text = Don't panic.
1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_
1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_
2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_
3\tpanic\tpanic\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No
3.1\tgone\t_\t_\t_\t_\t_\t_\t3:x\t_
4\t.\t.\tPUNCT\t.\t_\t3\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_
"""

CONLL2003_FIXTURE = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

BRUSSELS NNP B-NP B-LOC
"""


def test_read_conllu_fixture():
    s = read_conllu(CONLLU_FIXTURE)
    assert [x.tokens for x in s] == [["Do", "n't", "panic", "."], ["Hi"]]
    assert s[0].upos == ["AUX", "PART", "VERB", "PUNCT"]
    assert s[0].heads == [3, 3, 0, 3] and s[0].deprels == ["aux", "advmod", "root", "punct"]


def test_read_conll2003_fixture():
    s = read_conll2003(CONLL2003_FIXTURE)
    assert [x.tokens for x in s] == [
        ["EU", "rejects", "German", "call", "."],
        ["Peter", "Blackburn"],
        ["BRUSSELS"],
    ]
    assert s[0].ner == ["B-ORG", "O", "B-MISC", "O", "O"] and s[1].ner == ["B-PER", "I-PER"]


def test_round_trips():
    gold = generate_treebank(20, seed=1)
    back = read_conllu(write_conllu(gold))
    assert [(s.tokens, s.upos, s.heads, s.deprels) for s in back] == [
        (s.tokens, s.upos, s.heads, s.deprels) for s in gold
    ]
    back = read_conll2003(write_conll2003(gold))
    assert [(s.tokens, s.ner) for s in back] == [(s.tokens, s.ner) for s in gold]


def test_bad_lines_are_reported():
    with pytest.raises(ValueError, match="line 1 has 3 columns"):
        read_conllu("1\tx\ty\n")
    with pytest.raises(ValueError, match="line 1 has 2 columns"):
        read_conll2003("x y\n")


def _is_projective_tree(heads: list[int]) -> bool:
    n = len(heads)
    if heads.count(0) != 1:
        return False
    for i in range(1, n + 1):  # every token reaches the root without a cycle
        seen, j = set(), i
        while j != 0:
            if j in seen:
                return False
            seen.add(j)
            j = heads[j - 1]
    arcs = [(min(i, h), max(i, h)) for i, h in enumerate(heads, 1) if h]
    return not any(a < c < b < d for a, b in arcs for c, d in arcs)


def test_generated_treebank_is_well_formed():
    for s in generate_treebank(300, seed=2):
        assert _is_projective_tree(s.heads)
        for prev, tag in zip(["O", *s.ner], s.ner, strict=False):
            if tag.startswith("I-"):
                assert prev[2:] == tag[2:]  # an I- tag continues an entity of the same type
    assert generate_treebank(5, seed=3) == generate_treebank(5, seed=3)
