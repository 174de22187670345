r"""# Part-of-speech tagging

A part-of-speech tagger labels each word with its grammatical category (`NOUN`, `VERB`, `DET`...).
Context matters: *saw* is a verb in "she saw a bird" and a noun in "a saw cuts". Two classic taggers:

**HMM tagger.** Tags are the hidden states and words the observations of a hidden Markov model
(previous chapter). Training is counting ($A$ = tag bigram frequencies, $B$ = word-given-tag
frequencies, smoothed); tagging is Viterbi decoding of $\arg\max_{s} P(o, s)$. Unknown words are the
weak point: a word never seen in training has no emission probability. We map rare training words
and unknown test words to a few *signature* classes (capitalised, number, suffix `-s`, `-ed`,
`-ing`, `-ly`), so the model learns e.g. that unknown capitalised words are usually proper nouns.

**Averaged perceptron tagger** (Collins, 2002; the design of Honnibal's "A good part-of-speech tagger
in about 200 lines of Python"). A linear model scores each tag $y$ from sparse features of the
position (the word, its suffixes, the neighbouring words, the two previous predicted tags):
$\operatorname{score}(y) = \sum_{f \in \phi(x, i)} w_{f, y}$. Tagging is greedy, left to right.
Training: predict; if wrong, add 1 to the weights of the true tag's features and subtract 1 from the
predicted tag's. The final weights are the **average** of the weights after every training
example, which makes the perceptron far less sensitive to the last few updates; it is computed
lazily by remembering when each weight last changed. The perceptron is a discriminative model, free
to use overlapping features that an HMM could not.

The `AveragedPerceptron` here is generic (features → class); the dependency parser reuses it.
Left out: beam search, and the CRF tagger (next chapter, for entities).

## Exercises

1. Write `update(weights, truth, guess, features)`: one perceptron step on weights
   `{(feature, class): value}`. Check it: `uv run pytest --exercise nlp.pos_tagging`.
2. Write `averaged(examples)`: train on `(features, truth)` examples and return the weights
   averaged over one snapshot per example, the slow way. Derive the chapter's lazy version: what
   must be stored per weight so that the sum costs nothing on the steps where it does not change?
   Check it: `uv run pytest --exercise nlp.pos_tagging`.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence

from masterclass.nlp.corpus import Sentence
from masterclass.nlp.hmm import HMM

__all__ = ["AveragedPerceptron", "HMMTagger", "PerceptronTagger", "tagging_accuracy"]


def tagging_accuracy(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag.

    >>> tagging_accuracy([["A", "B"], ["C"]], [["A", "X"], ["C"]])
    0.6666666666666666
    """
    pairs = [
        (g, p) for gs, ps in zip(gold, predicted, strict=True) for g, p in zip(gs, ps, strict=True)
    ]
    if not pairs:
        raise ValueError("no tokens to score")
    return sum(g == p for g, p in pairs) / len(pairs)


def _signature(word: str) -> str:
    # The class of an unknown word, from its shape.
    if any(ch.isdigit() for ch in word):
        return "<num>"
    if word[:1].isupper():
        return "<cap>"
    for suffix in ("ing", "ed", "ly", "s"):
        if word.endswith(suffix):
            return f"<-{suffix}>"
    return "<unk>"


# The HMM tagger reuses the HMM chapter's model: the tags are the states, the words the symbols.
class HMMTagger:
    """A bigram HMM tagger: counts for training, Viterbi for tagging.

    Words seen fewer than `min_count` times in training are replaced by their signature class.
    """

    def __init__(self, alpha: float = 0.1, min_count: int = 2) -> None:
        self.alpha, self.min_count = alpha, min_count

    def _word_id(self, word: str) -> int:
        w = word.lower()
        return self.word_ids.get(w, self.word_ids[_signature(word)])

    # Training is counting. Rare words fold into their signature classes, so the HMM also learns
    # emissions for the words it will not know.
    def fit(self, sentences: Sequence[Sentence]) -> HMMTagger:
        """Estimate transition and emission probabilities from tagged sentences."""
        counts = Counter(w.lower() for s in sentences for w in s.tokens)
        kept = sorted(w for w, c in counts.items() if c >= self.min_count)
        signatures = ["<num>", "<cap>", "<-ing>", "<-ed>", "<-ly>", "<-s>", "<unk>"]
        self.word_ids = {w: i for i, w in enumerate(kept + signatures)}
        self.tags = sorted({t for s in sentences for t in s.upos})
        self.tag_ids = {t: i for i, t in enumerate(self.tags)}
        obs = [[self._word_id(w) for w in s.tokens] for s in sentences]
        states = [[self.tag_ids[t] for t in s.upos] for s in sentences]
        self.hmm = HMM.from_labelled(obs, states, len(self.tags), len(self.word_ids), self.alpha)
        return self

    def tag(self, tokens: Sequence[str]) -> list[str]:
        """The Viterbi tag sequence of `tokens`."""
        path, _ = self.hmm.viterbi([self._word_id(w) for w in tokens])
        return [self.tags[i] for i in path]


# The averaged perceptron keeps one weight per (feature, class), and a class's score is the sum of
# its weights over the active features. Averaging over all steps damps the noise of late updates.
class AveragedPerceptron:
    """A multiclass perceptron over sparse binary features, with lazily averaged weights."""

    def __init__(self, classes: Iterable[Hashable]) -> None:
        self.classes = sorted(set(classes), key=str)
        self.weights: dict[Hashable, dict[Hashable, float]] = defaultdict(dict)
        # For averaging: running sums of each weight over time, and when it last changed.
        self._totals: dict[tuple, float] = defaultdict(float)
        self._stamps: dict[tuple, int] = defaultdict(int)
        self.steps = 0

    def scores(self, features: Iterable[Hashable]) -> dict[Hashable, float]:
        """Score of every class: the sum of its weights over the active features."""
        s = dict.fromkeys(self.classes, 0.0)
        for f in features:
            for c, w in self.weights.get(f, {}).items():
                s[c] += w
        return s

    def predict(self, features: Iterable[Hashable]) -> Hashable:
        """The best-scoring class (ties go to the first class in sorted order)."""
        s = self.scores(features)
        return max(self.classes, key=lambda c: s[c])

    # The average is over the weights after each `update` call (step $1..T$). A weight's
    # contribution is its value times the number of steps it held that value; we add it in when the
    # weight changes (and, for all weights, in `average`).
    def update(self, truth: Hashable, guess: Hashable, features: Iterable[Hashable]) -> None:
        """Count one training example; if `guess` was wrong, move weights towards `truth`."""
        self.steps += 1
        if truth == guess:
            return
        for f in features:
            for c, delta in ((truth, 1.0), (guess, -1.0)):
                key = (f, c)
                w = self.weights[f].get(c, 0.0)
                self._totals[key] += (self.steps - self._stamps[key]) * w
                self._stamps[key] = self.steps
                self.weights[f][c] = w + delta

    def average(self) -> None:
        """Replace the weights by their average over all `update` calls so far."""
        for f, ws in self.weights.items():
            for c, w in ws.items():
                key = (f, c)
                # the current value holds for the snapshots from its last change to now, inclusive
                total = self._totals[key] + (self.steps - self._stamps[key] + 1) * w
                ws[c] = total / self.steps if self.steps else 0.0


# The greedy tagger predicts one tag at a time from the word, its affixes, its neighbours and the
# two tags it has just predicted.
class PerceptronTagger:
    """A greedy left-to-right tagger with an averaged perceptron over context features."""

    def __init__(self, n_iter: int = 5, seed: int = 0) -> None:
        self.n_iter, self.seed = n_iter, seed

    @staticmethod
    def features(tokens: Sequence[str], i: int, prev: str, prev2: str) -> list[str]:
        """The sparse features of position `i` given the two previous predicted tags."""
        w = tokens[i]
        lw = w.lower()
        before = tokens[i - 1].lower() if i > 0 else "<s>"
        after = tokens[i + 1].lower() if i + 1 < len(tokens) else "</s>"
        return [
            "bias", f"w={lw}", f"suf3={lw[-3:]}", f"suf2={lw[-2:]}", f"pre1={lw[:1]}",
            f"cap={w[:1].isupper()}", f"t-1={prev}", f"t-2,t-1={prev2},{prev}",
            f"w-1={before}", f"w+1={after}", f"t-1,w={prev},{lw}", f"suf3-1={before[-3:]}",
        ]  # fmt: skip

    # Training tags each sentence left to right and updates on every mistake, feeding its own
    # guesses forward as the tag history, exactly as tagging will.
    def fit(self, sentences: Sequence[Sentence]) -> PerceptronTagger:
        """Train for `n_iter` shuffled passes, then average the weights."""
        self.model = AveragedPerceptron(t for s in sentences for t in s.upos)
        rng = random.Random(self.seed)
        order = list(range(len(sentences)))
        for _ in range(self.n_iter):
            rng.shuffle(order)
            for k in order:
                s = sentences[k]
                prev, prev2 = "<s>", "<s>"
                for i, gold in enumerate(s.upos):
                    feats = self.features(s.tokens, i, prev, prev2)
                    guess = self.model.predict(feats)
                    self.model.update(gold, guess, feats)
                    prev2, prev = prev, guess  # condition on predictions, as at test time
        self.model.average()
        return self

    # Tagging is the same greedy pass, without updates.
    def tag(self, tokens: Sequence[str]) -> list[str]:
        """Greedy tags of `tokens`."""
        out: list[str] = []
        prev, prev2 = "<s>", "<s>"
        for i in range(len(tokens)):
            t = self.model.predict(self.features(tokens, i, prev, prev2))
            out.append(str(t))
            prev2, prev = prev, str(t)
        return out
