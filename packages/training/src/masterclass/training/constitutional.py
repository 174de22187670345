r"""# Constitutional AI: critique, revise, prefer

Human preference labels are slow and costly. **Constitutional AI** (Bai et al., 2022,
*Constitutional AI: Harmlessness from AI Feedback*,
[arXiv:2212.08073](https://arxiv.org/abs/2212.08073)) replaces most of them with a short written
**constitution**, a list of principles, and a loop in which the model's own outputs are
criticised and repaired against it:

1. **Sample** a response $y$ to a prompt $x$ from the current policy.
2. **Critique**: ask a critic which principles $y$ violates.
3. **Revise**: rewrite $y$ into $y'$ that respects them.
4. **Prefer**: the pair (chosen $y'$, rejected $y$) is a preference label that no human wrote.
5. **Train** on the pairs: the paper uses SFT on revisions and then RL from AI feedback; here
   DPO on the pairs (`dpo.py`), the direct route to the same preference objective.

In the paper the critic and the reviser are the model itself, prompted with a principle; that
needs a capable model. This project's models are a few million parameters, so the default
critic and reviser are **rule-based**: each principle carries a checker (a regular expression)
and a repair. The interface is the same for a model: `ModelCritic` and `ModelReviser` take any
`generate(prompt) -> str` function and the prompts of the paper's format, so a capable model
plugs in without changing the loop.

**Measuring it.** The *violation rate* is the fraction of sampled responses to held-out prompts
that the critic flags. The test trains a small model on answers of which half are rude, runs
one round of the loop on its own samples, and measures the held-out rate before and after:
it falls by a stated factor.

Left out: the RL-from-AI-feedback stage with a preference model, chain-of-thought critiques,
several revision rounds with sampled principles, and red-team prompt generation (Module 12).

## Exercises

1. Write `violation_rate(responses, principles)` for a list of strings and a list of
   `Principle`: the fraction of responses violating at least one. Check it:
   `uv run pytest --exercise training.constitutional`
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "DEFAULT_CONSTITUTION",
    "Critic",
    "ModelCritic",
    "ModelReviser",
    "Principle",
    "Reviser",
    "RuleCritic",
    "RuleReviser",
    "critique_and_revise",
    "violation_rate",
]


# ## The constitution
#
# A principle is a sentence for people (and for a model critic), plus a checker and a repair for
# the rule-based critic. The repair must make the checker pass, which the loop verifies.


@dataclass(frozen=True)
class Principle:
    """One rule of the constitution."""

    # Short identifier, reported by critics.
    name: str
    # The principle as written in the constitution (what a model critic is shown).
    text: str
    # Rule-based check: True when a response violates the principle.
    violates: Callable[[str], bool]
    # Rule-based repair: a version of the response that does not violate it.
    repair: Callable[[str], str]


# Three toy principles, each a regular expression: the check is "does it match", the repair replaces
# every match.
_INSULTS = re.compile(r"\b(stupid|idiot|dumb|useless)\b", re.IGNORECASE)
_SHOUT = re.compile(r"\b[A-Z]{3,}\b")
_PHONE = re.compile(r"\b\d{3}[- ]?\d{4}\b")

DEFAULT_CONSTITUTION: tuple[Principle, ...] = (
    Principle(
        "no_insults",
        "Please choose the response that does not insult or belittle anyone.",
        lambda y: bool(_INSULTS.search(y)),
        lambda y: _INSULTS.sub("kind", y),
    ),
    Principle(
        "no_shouting",
        "Please choose the response that does not shout (no words in capitals).",
        lambda y: bool(_SHOUT.search(y)),
        lambda y: _SHOUT.sub(lambda m: m.group(0).lower(), y),
    ),
    Principle(
        "no_personal_data",
        "Please choose the response that reveals no phone numbers or other personal data.",
        lambda y: bool(_PHONE.search(y)),
        lambda y: _PHONE.sub("[redacted]", y),
    ),
)


# ## Critics and revisers
#
# A critic maps (prompt, response) to the names of the violated principles; a reviser maps
# (prompt, response, violated names) to a new response. The rule-based pair applies the
# principles' own checks and repairs.


class Critic(Protocol):
    """Finds the principles a response violates."""

    def critique(self, prompt: str, response: str) -> list[str]:
        """The names of the principles `response` (to `prompt`) violates; empty if none."""
        ...


class Reviser(Protocol):
    """Rewrites a response so that it respects the named principles."""

    def revise(self, prompt: str, response: str, violated: Sequence[str]) -> str:
        """`response` rewritten so that it no longer violates the `violated` principles."""
        ...


# The rule-based pair: each principle carries its own check and repair, so critique and revision are
# exact and need no model, which makes the pipeline testable end to end.
class RuleCritic:
    """The rule-based critic: each principle's `violates` check."""

    def __init__(self, constitution: Sequence[Principle] = DEFAULT_CONSTITUTION) -> None:
        self.constitution = tuple(constitution)

    def critique(self, prompt: str, response: str) -> list[str]:
        """Names of the principles `response` violates."""
        return [p.name for p in self.constitution if p.violates(response)]


class RuleReviser:
    """The rule-based reviser: applies each violated principle's `repair` in order."""

    def __init__(self, constitution: Sequence[Principle] = DEFAULT_CONSTITUTION) -> None:
        self.by_name = {p.name: p for p in constitution}

    def revise(self, prompt: str, response: str, violated: Sequence[str]) -> str:
        """`response` repaired for every principle in `violated`."""
        for name in violated:
            response = self.by_name[name].repair(response)
        return response


# ## Plugging in a model
#
# The prompts follow the paper's critique and revision requests. The critic asks one question
# per principle and reads a yes/no answer; the reviser asks for a rewrite and takes the text up
# to the first blank line.

CRITIQUE_PROMPT = (
    "Human: {prompt}\n\nAssistant: {response}\n\nCritique request: {principle} "
    "Does the assistant's response violate this? Answer Yes or No.\n\nCritique:"
)
REVISION_PROMPT = (
    "Human: {prompt}\n\nAssistant: {response}\n\nRevision request: Rewrite the response so that "
    "it follows these principles: {principles}\n\nRevision:"
)


# The model-backed pair asks a generator: one yes/no question per principle for the critique, and
# one rewrite request naming every violated principle for the revision.
class ModelCritic:
    """A critic backed by a text generator `generate(prompt) -> str`."""

    def __init__(
        self,
        generate: Callable[[str], str],
        constitution: Sequence[Principle] = DEFAULT_CONSTITUTION,
    ) -> None:
        self.generate, self.constitution = generate, tuple(constitution)

    # A principle counts as violated when the generator's answer begins with "yes"; any other answer
    # is a no.
    def critique(self, prompt: str, response: str) -> list[str]:
        """Names of the principles for which the generator answers yes."""
        found = []
        for p in self.constitution:
            q = CRITIQUE_PROMPT.format(prompt=prompt, response=response, principle=p.text)
            if self.generate(q).strip().lower().startswith("yes"):
                found.append(p.name)
        return found


class ModelReviser:
    """A reviser backed by a text generator `generate(prompt) -> str`."""

    def __init__(
        self,
        generate: Callable[[str], str],
        constitution: Sequence[Principle] = DEFAULT_CONSTITUTION,
    ) -> None:
        self.generate = generate
        self.by_name = {p.name: p for p in constitution}

    # The rewrite ends at the first blank line: a generator tends to run on past its answer.
    def revise(self, prompt: str, response: str, violated: Sequence[str]) -> str:
        """The generator's rewrite, up to the first blank line."""
        principles = " ".join(self.by_name[n].text for n in violated)
        q = REVISION_PROMPT.format(prompt=prompt, response=response, principles=principles)
        return self.generate(q).split("\n\n")[0].strip()


# ## The loop
#
# Responses the critic accepts give no pair. A revision that still violates (a weak reviser)
# is dropped too: a pair is only useful when the chosen side is actually better.


def critique_and_revise(
    prompts: Sequence[str], responses: Sequence[str], critic: Critic, reviser: Reviser
) -> list[tuple[str, str, str]]:
    """Preference triples `(prompt, revised = chosen, original = rejected)`.

    >>> critique_and_revise(["hi"], ["you are STUPID"], RuleCritic(), RuleReviser())
    [('hi', 'you are kind', 'you are STUPID')]
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses; give one each")
    # A pair is kept only when the revision changed the response and the critic finds nothing wrong
    # with the result: a failed repair would teach the wrong preference.
    pairs = []
    for x, y in zip(prompts, responses, strict=True):
        violated = critic.critique(x, y)
        if not violated:
            continue
        revised = reviser.revise(x, y, violated)
        if revised != y and not critic.critique(x, revised):
            pairs.append((x, revised, y))
    return pairs


# The same critic measures a model before and after training on the pairs.
def violation_rate(prompts: Sequence[str], responses: Sequence[str], critic: Critic) -> float:
    """The fraction of responses the critic flags."""
    if not responses or len(prompts) != len(responses):
        raise ValueError("give as many prompts as responses, at least one")
    flagged = sum(bool(critic.critique(x, y)) for x, y in zip(prompts, responses, strict=True))
    return flagged / len(responses)
