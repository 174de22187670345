r"""# Exercises: Part-of-speech tagging

The perceptron's update rule, and its averaged weights computed the slow way (a snapshot after
every example), against the chapter's lazy averaging."""

import random
from collections import defaultdict

from masterclass.nlp.pos_tagging import AveragedPerceptron

CLASSES = ["ADJ", "DET", "NOUN", "VERB"]


def _stream(seed: int, n: int = 40):
    """Seeded (features, truth) examples over a few feature names."""
    rng = random.Random(seed)
    names = [f"w={w}" for w in "abcdefg"] + ["suffix=s", "prev=DET", "bias"]
    for _ in range(n):
        yield rng.sample(names, 3), rng.choice(CLASSES)


def _predict(weights: dict, features) -> str:
    scores = {c: sum(weights.get((f, c), 0.0) for f in features) for c in CLASSES}
    return max(CLASSES, key=lambda c: scores[c])  # ties: first class in sorted order


def solution_1_update(weights: dict, truth: str, guess: str, features: list[str]) -> dict:
    """If the guess is wrong, add 1 to every active feature's weight for the truth and subtract
    1 for the guess; weights are `{(feature, class): value}`."""
    new = dict(weights)
    if truth != guess:
        for f in features:
            new[(f, truth)] = new.get((f, truth), 0.0) + 1.0
            new[(f, guess)] = new.get((f, guess), 0.0) - 1.0
    return new


def check_1_update(fn) -> None:
    """Train on a seeded stream with the candidate's rule and with `AveragedPerceptron.update`:
    the (unaveraged) weights must agree after every example."""
    for seed in (0, 1, 2):
        model, mine = AveragedPerceptron(CLASSES), {}
        for i, (features, truth) in enumerate(_stream(seed)):
            guess = model.predict(features)
            model.update(truth, guess, features)
            mine = fn(mine, truth, guess, features)
            theirs = {(f, c): w for f, ws in model.weights.items() for c, w in ws.items()}
            keys = set(theirs) | set(mine)
            assert all(mine.get(k, 0.0) == theirs.get(k, 0.0) for k in keys), (
                f"seed {seed}, example {i}: weights differ, e.g. "
                f"{[(k, mine.get(k, 0.0), theirs.get(k, 0.0)) for k in keys][:3]}"
            )


def solution_2_averaged(examples: list[tuple[list[str], str]]) -> dict:
    """Predict, update, then add a snapshot of all weights; the average is the sum over the
    snapshots divided by their number."""
    weights: dict = {}
    total: dict = defaultdict(float)
    for features, truth in examples:
        guess = _predict(weights, features)
        weights = solution_1_update(weights, truth, guess, features)
        for k, w in weights.items():
            total[k] += w
    return {k: v / len(examples) for k, v in total.items()}


def check_2_averaged(fn) -> None:
    """Compare with `AveragedPerceptron.average()`, which adds each weight's contribution only
    when it changes (time stamps) instead of at every step."""
    for seed in (0, 3, 4):
        examples = list(_stream(seed))
        model = AveragedPerceptron(CLASSES)
        for features, truth in examples:
            model.update(truth, model.predict(features), features)
        model.average()
        want = {(f, c): w for f, ws in model.weights.items() for c, w in ws.items()}
        got = fn(examples)
        for k in set(want) | set(got):
            assert abs(got.get(k, 0.0) - want.get(k, 0.0)) < 1e-12, (
                f"seed {seed}: averaged weight of {k} is {got.get(k, 0.0)}, want "
                f"{want.get(k, 0.0)} (the mean over one snapshot per example)"
            )
