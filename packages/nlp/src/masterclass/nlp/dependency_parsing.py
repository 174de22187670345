r"""# Dependency parsing

A dependency tree links every word to its **head** (the word it modifies) with a labelled arc; one
word attaches to an artificial ROOT. "The dog saw a cat": *dog* is the `nsubj` of *saw*, *cat* its
`obj`, each *the*/*a* the `det` of its noun. A tree is **projective** if no two arcs cross when drawn
above the sentence; the trees of our generated treebank are. Two families of parsers:

**Transition-based** (Nivre, 2003; Yamada & Matsumoto, 2003). A parser state is a stack, a buffer of
unread words and the arcs built so far. The **arc-standard** system has three moves: `SHIFT` (push
the next word), `LEFT-ARC(l)` (the stack's second word $s_1$ becomes a dependent of the top $s_0$
with label $l$, and is popped), `RIGHT-ARC(l)` ($s_0$ becomes a dependent of $s_1$, and is popped).
$2n$ moves build any projective tree. A classifier chooses each move from features of the state; it
is trained on the moves of a **static oracle** that reconstructs each gold tree (left-arc when
$s_1$'s head is $s_0$; right-arc when $s_0$'s head is $s_1$ and $s_0$ has all its dependents; else
shift). Parsing is greedy: $O(n)$.

**Graph-based** (McDonald et al., 2005). Score every possible arc $h \to d$ (here with a linear model
over arc features), then find the highest-scoring tree exactly. For projective trees, **Eisner's
algorithm** (1996) does it in $O(n^3)$ by dynamic programming over *complete* spans (a head and all
its dependents on one side) and *incomplete* spans (a head and one dependent, with the words between
still open):
$$I[s][t][\leftarrow] = \max_{s \le r < t} C[s][r][\rightarrow] + C[r+1][t][\leftarrow] + S_{t \to s},
  \qquad C[s][t][\leftarrow] = \max_{s \le r < t} C[s][r][\leftarrow] + I[r][t][\leftarrow],$$
and symmetrically for $\rightarrow$; the best tree is $C[0][n][\rightarrow]$. Its weights are learned
by the **structured perceptron**: decode, then add the features of the gold arcs and subtract those
of the predicted ones. Labels come from a second classifier on each predicted arc. (For
non-projective trees, the Chu–Liu/Edmonds maximum spanning arborescence replaces Eisner; left out.)

Scores: **UAS**, the fraction of words with the correct head, and **LAS**, with the correct head and
label. Both classifiers are the averaged perceptron of the tagging chapter.

## Exercises

1. Write `apply_moves(n_words, moves)`: run arc-standard moves (`S`, `L:label`, `R:label`) from
   the initial configuration and return each word's head. How many moves does a sentence of $n$
   words take, whatever its tree? Check it: `uv run pytest --exercise nlp.dependency_parsing`.
2. Write `is_projective(heads)`: whether a tree has no crossing arcs. The checker compares it
   with whether the chapter's oracle can build the tree: prove that arc-standard builds exactly
   the projective trees. Check it: `uv run pytest --exercise nlp.dependency_parsing`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from masterclass.nlp.corpus import Sentence
from masterclass.nlp.pos_tagging import AveragedPerceptron

__all__ = ["ArcStandardParser", "GraphParser", "attachment_scores", "eisner", "oracle_transitions"]


# UAS counts the tokens whose head is right; LAS also needs the label right.
def attachment_scores(
    gold: Sequence[Sentence], heads: Sequence[Sequence[int]], labels: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Unlabelled and labelled attachment scores over all tokens.

    >>> g = Sentence(["a", "b"], ["X", "Y"], [2, 0], ["det", "root"])
    >>> attachment_scores([g], [[2, 0]], [["amod", "root"]])
    {'uas': 1.0, 'las': 0.5}
    """
    n = uas = las = 0
    for s, h, lab in zip(gold, heads, labels, strict=True):
        for gh, gl, ph, pl in zip(s.heads, s.deprels, h, lab, strict=True):
            n += 1
            uas += gh == ph
            las += gh == ph and gl == pl
    if n == 0:
        raise ValueError("no tokens to score")
    return {"uas": uas / n, "las": las / n}


# ## Transition-based: arc-standard
#
# Words are numbered 1..n and 0 is ROOT, which starts on the stack. A move is a string: `"S"`,
# `"L:label"` or `"R:label"`.
def _apply(
    move: str, stack: list[int], buffer: list[int], heads: list[int], labels: list[str]
) -> None:
    if move == "S":
        stack.append(buffer.pop(0))
    elif move[0] == "L":
        dep = stack.pop(-2)
        heads[dep], labels[dep] = stack[-1], move[2:]
    else:
        dep = stack.pop()
        heads[dep], labels[dep] = stack[-1], move[2:]


# Shift needs a word in the buffer; left-arc needs two words above ROOT (ROOT never gets a head);
# right-arc onto ROOT waits until the buffer is empty.
def _legal(stack: list[int], buffer: list[int]) -> set[str]:
    legal = set()
    if buffer:
        legal.add("S")
    if len(stack) > 2:
        legal.add("L")
    if len(stack) > 1 and (len(stack) > 2 or not buffer):
        legal.add("R")  # ROOT takes its dependent only when everything else is done
    return legal


# The oracle runs the parser on the gold tree, choosing at each step the move that keeps it
# buildable.
def oracle_transitions(sentence: Sentence) -> list[str]:
    """The static arc-standard oracle: the moves that build the gold (projective) tree.

    >>> oracle_transitions(Sentence(["Dogs", "bark"], ["NOUN", "VERB"], [2, 0], ["nsubj", "root"]))
    ['S', 'S', 'L:nsubj', 'R:root']
    """
    n = len(sentence.tokens)
    gold = [0, *sentence.heads]
    remaining = [0] * (n + 1)  # dependents not yet attached
    for h in sentence.heads:
        remaining[h] += 1
    stack, buffer = [0], list(range(1, n + 1))
    heads, labels = [0] * (n + 1), [""] * (n + 1)
    moves = []
    # Left-arc as soon as s1's gold head is s0. Right-arc only once s0 has all its dependents
    # (`remaining` counts them down), since a right-arc pops s0 for good. Otherwise shift.
    while buffer or len(stack) > 1:
        s0 = stack[-1]
        s1 = stack[-2] if len(stack) > 1 else None
        if s1 and gold[s1] == s0:
            move = f"L:{sentence.deprels[s1 - 1]}"
            remaining[s0] -= 1
        elif s1 is not None and gold[s0] == s1 and remaining[s0] == 0 and (s1 != 0 or not buffer):
            move = f"R:{sentence.deprels[s0 - 1]}"
            remaining[s1] -= 1
        elif buffer:
            move = "S"
        else:
            raise ValueError(
                "the gold tree is not projective; the arc-standard oracle cannot build it"
            )
        moves.append(move)
        _apply(move, stack, buffer, heads, labels)
    return moves


# The parser learns to predict the oracle's next move from features of the configuration.
class ArcStandardParser:
    """A greedy arc-standard parser with an averaged-perceptron move classifier."""

    def __init__(self, n_iter: int = 5, seed: int = 0) -> None:
        self.n_iter, self.seed = n_iter, seed

    @staticmethod
    def _features(
        s: Sentence, stack: list[int], buffer: list[int], heads: list[int], labels: list[str]
    ) -> list[str]:
        def word(i: int | None) -> str:
            return "<none>" if i is None else ("<root>" if i == 0 else s.tokens[i - 1].lower())

        def tag(i: int | None) -> str:
            return "<none>" if i is None else ("<root>" if i == 0 else s.upos[i - 1])

        def leftmost_label(i: int | None) -> str:
            if i is None:
                return "<none>"
            deps = [d for d in range(1, i) if heads[d] == i]
            return labels[deps[0]] if deps else "<none>"

        # The top two stack words and the next two buffer words: their words, tags, tag pairs and
        # a triple, the leftmost labels built so far, and the buffer length (capped at 3).
        s0 = stack[-1] if stack else None
        s1 = stack[-2] if len(stack) > 1 else None
        b0 = buffer[0] if buffer else None
        b1 = buffer[1] if len(buffer) > 1 else None
        return [
            "bias", f"s0w={word(s0)}", f"s0t={tag(s0)}", f"s1w={word(s1)}", f"s1t={tag(s1)}",
            f"b0w={word(b0)}", f"b0t={tag(b0)}", f"b1t={tag(b1)}", f"s0t,s1t={tag(s0)},{tag(s1)}",
            f"s0t,b0t={tag(s0)},{tag(b0)}", f"s1t,s0t,b0t={tag(s1)},{tag(s0)},{tag(b0)}",
            f"s0l={leftmost_label(s0)}", f"s1l={leftmost_label(s1)}", f"nbuf={min(len(buffer), 3)}",
        ]  # fmt: skip

    # Training replays the oracle's moves: at each configuration the perceptron guesses, learns
    # from the gold move, and the gold move is applied, so it only ever sees gold configurations.
    def fit(self, sentences: Sequence[Sentence]) -> ArcStandardParser:
        """Learn to imitate the oracle (static oracle, gold POS tags as input features)."""
        data = [(s, oracle_transitions(s)) for s in sentences]
        self.model = AveragedPerceptron({m for _, moves in data for m in moves})
        rng = random.Random(self.seed)
        for _ in range(self.n_iter):
            rng.shuffle(data)
            for s, moves in data:
                n = len(s.tokens)
                stack, buffer = [0], list(range(1, n + 1))
                heads, labels = [0] * (n + 1), [""] * (n + 1)
                for gold in moves:
                    feats = self._features(s, stack, buffer, heads, labels)
                    guess = self._best(feats, stack, buffer)
                    self.model.update(gold, guess, feats)
                    _apply(gold, stack, buffer, heads, labels)
        self.model.average()
        return self

    # The prediction is the highest-scoring legal move; parsing applies it greedily until the
    # buffer is empty and only ROOT is left on the stack.
    def _best(self, feats: list[str], stack: list[int], buffer: list[int]) -> str:
        legal = _legal(stack, buffer)
        scores = self.model.scores(feats)
        return max((m for m in self.model.classes if m[0] in legal), key=lambda m: scores[m])

    def parse(self, sentence: Sentence) -> tuple[list[int], list[str]]:
        """Heads (1-based, 0 = root) and labels for `sentence` (uses its tokens and POS tags)."""
        n = len(sentence.tokens)
        stack, buffer = [0], list(range(1, n + 1))
        heads, labels = [0] * (n + 1), [""] * (n + 1)
        while buffer or len(stack) > 1:
            move = self._best(self._features(sentence, stack, buffer, heads, labels), stack, buffer)
            _apply(move, stack, buffer, heads, labels)
        return heads[1:], labels[1:]


# ## Graph-based: Eisner's algorithm
#
# `C[s, t, d]` and `I[s, t, d]` hold the best complete and incomplete span scores over words
# $s..t$, with the head at the right end for $d = 0$ ($\leftarrow$) and at the left for $d = 1$
# ($\rightarrow$); back-pointers record the split point $r$.
def eisner(scores: np.ndarray) -> list[int]:
    """The highest-scoring projective tree for arc scores `scores[h, d]` `(n+1, n+1)`, node 0 = ROOT.

    Returns the head of each word 1..n. ROOT may take several dependents.

    >>> s = np.zeros((3, 3)); s[0, 2] = s[2, 1] = 1.0
    >>> eisner(s)
    [2, 0]
    """
    n1 = scores.shape[0]
    if scores.shape != (n1, n1) or n1 < 2:
        raise ValueError(f"scores must be square (n+1, n+1) with n >= 1, got {scores.shape}")
    # A one-word span is complete with score 0; wider spans are built from narrower ones, so each
    # width is filled in order.
    c = np.full((n1, n1, 2), -np.inf)
    i_ = np.full((n1, n1, 2), -np.inf)
    cb = np.zeros((n1, n1, 2), dtype=np.int64)
    ib = np.zeros((n1, n1, 2), dtype=np.int64)
    for s in range(n1):
        c[s, s, 0] = c[s, s, 1] = 0.0
    for width in range(1, n1):
        for s in range(n1 - width):
            t = s + width
            # incomplete spans: an arc between s and t over the split r
            both = c[s, s:t, 1] + c[s + 1 : t + 1, t, 0]  # (t - s,)
            r = int(both.argmax())
            i_[s, t, 0], ib[s, t, 0] = both[r] + scores[t, s], s + r  # t -> s
            i_[s, t, 1], ib[s, t, 1] = both[r] + scores[s, t], s + r  # s -> t
            # complete spans: an incomplete span extended by a complete one
            left = c[s, s:t, 0] + i_[s:t, t, 0]  # head t
            r = int(left.argmax())
            c[s, t, 0], cb[s, t, 0] = left[r], s + r
            right = i_[s, s + 1 : t + 1, 1] + c[s + 1 : t + 1, t, 1]  # head s
            r = int(right.argmax())
            c[s, t, 1], cb[s, t, 1] = right[r], s + 1 + r
    heads = [0] * n1

    # Follow the back-pointers down from the complete span over the whole sentence, headed by
    # ROOT: each incomplete span on the way is one arc of the tree.
    def complete(s: int, t: int, d: int) -> None:
        if s == t:
            return
        r = int(cb[s, t, d])
        if d == 0:
            complete(s, r, 0)
            incomplete(r, t, 0)
        else:
            incomplete(s, r, 1)
            complete(r, t, 1)

    def incomplete(s: int, t: int, d: int) -> None:
        r = int(ib[s, t, d])
        if d == 0:
            heads[s] = t
        else:
            heads[t] = s
        complete(s, r, 1)
        complete(r + 1, t, 0)

    complete(0, n1 - 1, 1)
    return heads[1:]


# The graph parser scores every possible arc with a linear model and lets Eisner choose the best
# tree; the labels are chosen afterwards, one arc at a time.
class GraphParser:
    """Arc-factored graph-based parser: structured-perceptron arc scores, Eisner decoding, and an
    averaged-perceptron labeller."""

    def __init__(self, n_iter: int = 5, seed: int = 0) -> None:
        self.n_iter, self.seed = n_iter, seed

    @staticmethod
    def _arc_features(s: Sentence, h: int, d: int) -> list[str]:
        def tag(i: int) -> str:
            return "<root>" if i == 0 else s.upos[i - 1]

        def word(i: int) -> str:
            return "<root>" if i == 0 else s.tokens[i - 1].lower()

        # The evidence for an arc: head and dependent tags and words, its direction and length
        # (capped at 5), which of VERB, ADP and PUNCT lie between, and the neighbouring tags.
        direction = "R" if h < d else "L"
        dist = min(abs(h - d), 5)
        between = sorted(
            {tag(k) for k in range(min(h, d) + 1, max(h, d))} & {"VERB", "ADP", "PUNCT"}
        )
        return [
            f"ht,dt={tag(h)},{tag(d)}", f"ht,dt,dir={tag(h)},{tag(d)},{direction}",
            f"ht,dt,dist={tag(h)},{tag(d)},{direction}{dist}", f"hw,dt={word(h)},{tag(d)}",
            f"ht,dw={tag(h)},{word(d)}", f"hw,dw={word(h)},{word(d)}",
            f"between={','.join(between)},{tag(h)},{tag(d)}",
            f"ht,dt,d-1={tag(h)},{tag(d)},{tag(d - 1) if d > 1 else '<s>'}",
            f"ht,dt,h+1={tag(h)},{tag(d)},{tag(h + 1) if 0 < h < len(s.tokens) else '<e>'}",
        ]  # fmt: skip

    # An arc's score is the sum of its features' weights. Arcs into ROOT and self-arcs keep
    # -1e9, so Eisner never chooses them.
    def _scores(self, s: Sentence) -> np.ndarray:
        n1 = len(s.tokens) + 1
        out = np.full((n1, n1), -1e9)
        for h in range(n1):
            for d in range(1, n1):
                if h != d:
                    out[h, d] = sum(
                        self.arcs.weights.get(f, {}).get(True, 0.0)
                        for f in self._arc_features(s, h, d)
                    )
        return out

    # Training decodes each sentence with the current weights and compares the predicted tree
    # with the gold one, arc by arc; the labeller learns from the gold arcs at the same time.
    def fit(self, sentences: Sequence[Sentence]) -> GraphParser:
        """Structured perceptron over arcs (one class, `True`), then a labeller on gold arcs."""
        self.arcs = AveragedPerceptron([True, False])
        self.labeller = AveragedPerceptron({lab for s in sentences for lab in s.deprels})
        rng = random.Random(self.seed)
        order = list(sentences)
        for _ in range(self.n_iter):
            rng.shuffle(order)
            for s in order:
                pred = eisner(self._scores(s))
                for d, (gh, ph) in enumerate(zip(s.heads, pred, strict=True), 1):
                    # The perceptron step: gold arc features up, predicted arc features down.
                    if gh != ph:
                        self.arcs.update(True, False, self._arc_features(s, gh, d))
                        self.arcs.update(False, True, self._arc_features(s, ph, d))
                    else:
                        self.arcs.update(True, True, [])
                    feats = self._arc_features(s, gh, d)
                    self.labeller.update(s.deprels[d - 1], self.labeller.predict(feats), feats)
        self.arcs.average()
        self.labeller.average()
        return self

    # Parsing: Eisner's tree from the learned arc scores, then the best label for each of its arcs.
    def parse(self, sentence: Sentence) -> tuple[list[int], list[str]]:
        """Heads (1-based, 0 = root) and labels for `sentence`."""
        heads = eisner(self._scores(sentence))
        labels = [
            str(self.labeller.predict(self._arc_features(sentence, h, d)))
            for d, h in enumerate(heads, 1)
        ]
        return heads, labels
