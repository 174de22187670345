r"""# Exercises: Dependency parsing

Running arc-standard moves, and telling a projective tree (one the arc-standard system can
build) from a crossing one."""

import random

from masterclass.nlp.corpus import Sentence, generate_treebank
from masterclass.nlp.dependency_parsing import oracle_transitions


def solution_1_apply_moves(n_words: int, moves: list[str]) -> list[int]:
    """Stack `[0]` (ROOT), buffer `1..n`; `S` shifts, `L:x` makes the top the head of the one
    below it (popped), `R:x` makes the one below the head of the top (popped). Returns heads."""
    stack, buffer, heads = [0], list(range(1, n_words + 1)), [0] * (n_words + 1)
    for move in moves:
        if move == "S":
            stack.append(buffer.pop(0))
        elif move.startswith("L"):
            dep = stack.pop(-2)
            heads[dep] = stack[-1]
        else:
            dep = stack.pop()
            heads[dep] = stack[-1]
    return heads[1:]


def check_1_apply_moves(fn) -> None:
    """The chapter's static oracle's moves must rebuild each gold tree of the generated treebank."""
    for sentence in generate_treebank(12, seed=3):
        moves = oracle_transitions(sentence)
        got = list(fn(len(sentence.tokens), moves))
        assert got == sentence.heads, (
            f"{' '.join(sentence.tokens)}: moves {moves} give heads {got}, the gold tree is "
            f"{sentence.heads}"
        )


def solution_2_is_projective(heads: list[int]) -> bool:
    """No two arcs cross: arcs `(a, b)` and `(c, d)` (endpoints sorted) cross when
    `a < c < b < d`. ROOT (node 0) counts as a word left of the sentence."""
    arcs = [tuple(sorted((h, d))) for d, h in enumerate(heads, start=1)]
    return not any(a < c < b < d for a, b in arcs for c, d in arcs)


def _random_tree(n: int, rng: random.Random) -> list[int]:
    """Heads of a random tree over words 1..n with one word attached to ROOT."""
    order = rng.sample(range(1, n + 1), n)
    heads = [0] * (n + 1)
    for k, word in enumerate(order[1:], start=1):
        heads[word] = rng.choice(order[:k])
    return heads[1:]


def check_2_is_projective(fn) -> None:
    """A tree is projective exactly when the chapter's arc-standard oracle can build it (it
    raises `ValueError` otherwise): compare on random trees, both kinds."""
    rng = random.Random(0)
    seen = set()
    for _ in range(60):
        n = rng.randint(2, 7)
        heads = _random_tree(n, rng)
        sentence = Sentence(["w"] * n, ["X"] * n, heads, ["dep" if h else "root" for h in heads])
        try:
            oracle_transitions(sentence)
            want = True
        except ValueError:
            want = False
        seen.add(want)
        got = bool(fn(heads))
        assert got == want, f"heads {heads}: got projective={got}, want {want}"
    assert seen == {True, False}, "the random trees should include both kinds"
