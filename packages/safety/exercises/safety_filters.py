r"""# Exercises: Safety measures: input and output filters, refusals, jailbreaks

Character n-grams as scikit-learn makes them, and the over-refusal rate."""

import re

from masterclass.safety.safety_filters import REFUSAL, char_ngrams, is_refusal


def solution_1_char_ngrams(text: str, n: int) -> list[str]:
    """Character n-grams of the lower-cased text with whitespace runs collapsed."""
    text = re.sub(r"\s\s+", " ", text.lower())
    return [text[i : i + n] for i in range(len(text) - n + 1)]


def check_1_char_ngrams(fn) -> None:
    """Compare the counts with the chapter's `char_ngrams` at a single n."""
    for text in ["Hello   World", "b0mb", "ab", "  x  "]:
        for n in (2, 3):
            got = sorted(fn(text, n))
            expected = sorted(char_ngrams(text, n, n).elements())
            assert got == expected, f"{text!r}, n={n}: expected {expected}, got {got}"


def solution_2_over_refusal(responses: list[str], labels: list[str]) -> float:
    """Fraction of benign prompts answered with a refusal."""
    benign = [r for r, label in zip(responses, labels, strict=True) if label == "benign"]
    return sum(map(is_refusal, benign)) / len(benign)


def check_2_over_refusal(fn) -> None:
    """A hand-counted case: 1 refusal among 4 benign prompts."""
    responses = [REFUSAL, "Sure, here.", REFUSAL, "Bake at 200 C.", "I'm sorry, I can't.", "Ok"]
    labels = ["harmful", "benign", "benign", "benign", "harmful", "benign"]
    got = fn(responses, labels)
    assert abs(got - 0.25) < 1e-12, (
        f"1 of the 4 benign prompts is refused: expected 0.25, got {got}"
    )
