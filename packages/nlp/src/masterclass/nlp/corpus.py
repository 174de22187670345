r"""# Annotated data: CoNLL formats and a generated treebank

Taggers and parsers learn from annotated text. Two plain-text formats carry nearly all of it:

* **CoNLL-U** (Universal Dependencies): one token per line with ten tab-separated columns
  `ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC`, sentences separated by a blank line, `#`
  comment lines before a sentence. `HEAD` is the 1-based index of the token's head, 0 for the root.
* **CoNLL-2003** (named entities): one token per line, `WORD POS CHUNK NER`, space-separated,
  sentences separated by blank lines, `-DOCSTART-` lines between documents; entity tags in BIO form
  (`B-PER` begins a person, `I-PER` continues it, `O` is outside any entity).

No treebank can be downloaded here, so this chapter also **generates** one: sentences from a small
English grammar (subject, verb, object, prepositional phrases, adverbs, names of people, places and
organisations), each with gold part-of-speech tags (UD tag set), entity spans and a dependency tree
in UD style (`nsubj`, `obj`, `obl`, `nmod`, `det`, `amod`, `case`, `advmod`, `flat`, `punct`). Some words
are deliberately ambiguous between noun and verb (`book`, `watch`, `park`, `saw`), so a tagger must
use context. The data is artificial and much easier than real text: accuracies on it show that the
algorithms work, not how they would fare on news or the web. All trees are projective.

## Exercises

1. Write `conllu_line(index, token, upos, head, deprel)`: one token line of CoNLL-U. Check it:
   `uv run pytest --exercise nlp.corpus`.
2. Write `dependents(heads)`: the dependents of every word (and of ROOT) from the head column,
   the form a parser's features and the Eisner algorithm read trees in. Check it:
   `uv run pytest --exercise nlp.corpus`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

__all__ = [
    "Sentence",
    "generate_treebank",
    "read_conll2003",
    "read_conllu",
    "write_conll2003",
    "write_conllu",
]


@dataclass
class Sentence:
    """One annotated sentence; all lists have one entry per token."""

    # the words
    tokens: list[str]
    # Universal POS tags (NOUN, VERB, ...)
    upos: list[str] = field(default_factory=list)
    # 1-based head index of each token, 0 for the root
    heads: list[int] = field(default_factory=list)
    # dependency relation to the head (nsubj, obj, ...)
    deprels: list[str] = field(default_factory=list)
    # entity tags in BIO form (B-PER, I-PER, O, ...)
    ner: list[str] = field(default_factory=list)


# ## Readers and writers
def read_conllu(text: str) -> list[Sentence]:
    r"""Parse CoNLL-U text; multiword-token lines (`1-2`) and empty nodes (`1.1`) are skipped.

    >>> s = read_conllu("# text = Dogs bark.\n1\tDogs\tdog\tNOUN\t_\t_\t2\tnsubj\t_\t_\n"
    ...                 "2\tbark\tbark\tVERB\t_\t_\t0\troot\t_\t_\n3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_\n")
    >>> s[0].tokens, s[0].heads, s[0].deprels
    (['Dogs', 'bark', '.'], [2, 0, 2], ['nsubj', 'root', 'punct'])
    """
    # A blank line ends the current sentence; `#` lines are comments (sentence metadata).
    sentences, cur = [], None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.rstrip("\n")
        if not line.strip():
            if cur is not None and cur.tokens:
                sentences.append(cur)
            cur = None
            continue
        if line.startswith("#"):
            continue
        # Ten tab-separated columns, of which we keep FORM, UPOS, HEAD and DEPREL. A range id
        # (`1-2`, a multiword token) or a decimal one (`1.1`, an empty node) is no word of the tree.
        cols = line.split("\t")
        if len(cols) != 10:
            raise ValueError(
                f"CoNLL-U line {lineno} has {len(cols)} columns, expected 10: {line!r}"
            )
        if "-" in cols[0] or "." in cols[0]:
            continue
        cur = cur or Sentence([])
        cur.tokens.append(cols[1])
        cur.upos.append(cols[3])
        cur.heads.append(int(cols[6]) if cols[6] != "_" else 0)
        cur.deprels.append(cols[7])
    if cur is not None and cur.tokens:
        sentences.append(cur)
    return sentences


# Writing fills the columns a `Sentence` holds and leaves the others as `_`.
def write_conllu(sentences: Iterable[Sentence]) -> str:
    """Serialise to CoNLL-U (lemma, XPOS, features, enhanced deps and MISC left as `_`)."""
    out = []
    for s in sentences:
        out.append("# text = " + " ".join(s.tokens))
        for i, tok in enumerate(s.tokens):
            out.append(f"{i + 1}\t{tok}\t_\t{s.upos[i]}\t_\t_\t{s.heads[i]}\t{s.deprels[i]}\t_\t_")
        out.append("")
    return "\n".join(out) + "\n"


# CoNLL-2003 has one token a line, four space-separated columns (word, POS, chunk, entity); a blank
# line or a `-DOCSTART-` line ends a sentence.
def read_conll2003(text: str) -> list[Sentence]:
    r"""Parse CoNLL-2003 NER text (`WORD POS CHUNK NER` per line).

    >>> read_conll2003("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n")[0].ner
    ['B-ORG', 'O']
    """
    sentences, cur = [], Sentence([])
    for lineno, line in enumerate(text.splitlines(), 1):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if cur.tokens:
                sentences.append(cur)
            cur = Sentence([])
            continue
        if len(cols) != 4:
            raise ValueError(
                f"CoNLL-2003 line {lineno} has {len(cols)} columns, expected 4: {line!r}"
            )
        # Keep the word, its POS tag (in the `upos` field) and the entity tag; the chunk is dropped.
        cur.tokens.append(cols[0])
        cur.upos.append(cols[1])
        cur.ner.append(cols[3])
    if cur.tokens:
        sentences.append(cur)
    return sentences


# Writing puts back a `-DOCSTART-` line and a dummy chunk column.
def write_conll2003(sentences: Iterable[Sentence]) -> str:
    """Serialise to CoNLL-2003 (chunk column left as `O`)."""
    out = ["-DOCSTART- -X- -X- O", ""]
    for s in sentences:
        out += [f"{t} {p} O {n}" for t, p, n in zip(s.tokens, s.upos, s.ner, strict=True)]
        out.append("")
    return "\n".join(out) + "\n"


# ## The generator
#
# Each phrase builder appends tokens and returns the index of its head word, so that the caller
# can attach it. Heads are stored 0-based while building and shifted to CoNLL's 1-based at the end.
_DET = ["the", "a", "every", "this", "that"]
_ADJ = ["big", "small", "red", "old", "new", "quiet", "happy", "green", "fast", "strange"]
_NOUN = ["dog", "cat", "book", "watch", "park", "saw", "report", "city", "river", "teacher",
         "plan", "car", "letter", "garden", "machine", "song", "table", "window", "bird", "answer",
         "plans", "answers", "watches"]  # fmt: skip
_VERB = ["sees", "reads", "watches", "likes", "finds", "writes", "builds", "visits", "books",
         "parks", "saw", "plans", "answers", "sings", "opens"]  # fmt: skip
_ADV = ["quickly", "often", "never", "slowly", "today", "again"]
_ADP = ["in", "near", "with", "under", "behind", "from"]
_PER = [["Alice"], ["Bob"], ["Maria", "Lopez"], ["John", "Smith"], ["Wei", "Chen"], ["Anna"]]
_LOC = [["Paris"], ["New", "York"], ["Lake", "Geneva"], ["Berlin"], ["Rio", "de", "Janeiro"]]
_ORG = [["Acme", "Corp"], ["the", "United", "Nations"], ["Google"], ["Red", "Cross"]]


# The builder holds the sentence being built: `add` appends one token with all its columns (head
# `-1` while unknown) and returns its index, `attach` sets the head of tokens built earlier.
class _Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.s = Sentence([])

    def add(self, word: str, upos: str, head: int | None, rel: str, ner: str = "O") -> int:
        s = self.s
        s.tokens.append(word)
        s.upos.append(upos)
        s.heads.append(-1 if head is None else head)
        s.deprels.append(rel)
        s.ner.append(ner)
        return len(s.tokens) - 1

    def attach(self, dependents: list[int], head: int) -> None:
        for d in dependents:
            self.s.heads[d] = head

    def noun_phrase(self) -> tuple[int, list[int]]:
        # Returns the head index and the tokens still to attach to it (they precede it).
        rng = self.rng
        r = rng.random()
        if r < 0.3:
            label, names = rng.choice([("PER", _PER), ("LOC", _LOC), ("ORG", _ORG)])
            name = rng.choice(names)
            words = list(name)
            det = []
            if words[0] == "the":  # "the United Nations": a determiner inside the entity
                det = [self.add("the", "DET", None, "det", f"B-{label}")]
                words = words[1:]
                first = self.add(words[0], "PROPN", None, "", f"I-{label}")
            else:
                first = self.add(words[0], "PROPN", None, "", f"B-{label}")
            for w in words[1:]:
                self.add(w, "PROPN" if w[0].isupper() else "ADP", first, "flat", f"I-{label}")
            self.attach(det, first)
            return first, []
        # Otherwise a common noun: a determiner and up to two adjectives, all headed by the noun.
        pending = [self.add(rng.choice(_DET), "DET", None, "det")]
        for _ in range(rng.choice([0, 0, 1, 2])):
            pending.append(self.add(rng.choice(_ADJ), "ADJ", None, "amod"))
        head = self.add(rng.choice(_NOUN), "NOUN", None, "")
        self.attach(pending, head)
        return head, []

    # A prepositional phrase is headed by its noun; the preposition hangs from it as `case`, as in
    # Universal Dependencies.
    def prep_phrase(self) -> int:
        case = self.add(self.rng.choice(_ADP), "ADP", None, "case")
        head, _ = self.noun_phrase()
        self.attach([case], head)
        return head

    # A sentence: subject, an optional adverb, the verb (the root), the object, then up to two
    # prepositional phrases. Each phrase is built first and attached once its head exists.
    def sentence(self) -> Sentence:
        rng = self.rng
        subj, _ = self.noun_phrase()
        self.s.deprels[subj] = "nsubj"
        pre_adv = [self.add(rng.choice(_ADV), "ADV", None, "advmod")] if rng.random() < 0.2 else []
        verb = self.add(rng.choice(_VERB), "VERB", None, "root")
        self.attach([subj, *pre_adv], verb)
        obj, _ = self.noun_phrase()
        self.s.deprels[obj] = "obj"
        self.attach([obj], verb)
        for k in range(rng.choice([0, 1, 1, 2])):
            pp = self.prep_phrase()
            # The first phrase may modify the object ("a cat with a hat": nmod) instead of the verb
            # (obl): the classic attachment ambiguity. The choice is random, so no parser can get
            # all of these arcs right, and attachment scores stay below 100%.
            if k == 0 and rng.random() < 0.3:
                self.s.deprels[pp] = "nmod"
                self.attach([pp], obj)
            else:
                self.s.deprels[pp] = "obl"
                self.attach([pp], verb)
        # An optional closing adverb and the full stop attach to the verb; then the heads move to
        # CoNLL's 1-based numbering and the first word gets its capital.
        if rng.random() < 0.3:
            self.attach([self.add(rng.choice(_ADV), "ADV", None, "advmod")], verb)
        self.attach([self.add(".", "PUNCT", None, "punct")], verb)
        s = self.s
        s.heads = [h + 1 for h in s.heads]  # 0-based with root -1  ->  1-based with root 0
        s.tokens[0] = s.tokens[0][0].upper() + s.tokens[0][1:]
        return s


# One seeded generator is shared by all the sentences, so a treebank is a function of its seed.
def generate_treebank(n_sentences: int, seed: int = 0) -> list[Sentence]:
    """`n_sentences` generated sentences with gold POS tags, entities and dependency trees.

    >>> s = generate_treebank(1, seed=3)[0]
    >>> len(s.tokens) == len(s.upos) == len(s.heads) == len(s.deprels) == len(s.ner)
    True
    >>> s.heads.count(0), s.deprels[s.heads.index(0)]
    (1, 'root')
    """
    rng = random.Random(seed)
    return [_Builder(rng).sentence() for _ in range(n_sentences)]


def iter_words(sentences: Iterable[Sentence]) -> Iterator[str]:
    """All tokens of all sentences, in order."""
    for s in sentences:
        yield from s.tokens
