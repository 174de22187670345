r"""# Exercises: Constitutional AI: critique, revise, prefer

Measuring a violation rate against a constitution."""

from masterclass.training.constitutional import DEFAULT_CONSTITUTION, RuleCritic, violation_rate


def solution_1_violation_rate(responses, principles) -> float:
    flagged = sum(any(p.violates(y) for p in principles) for y in responses)
    return flagged / len(responses)


def check_1_violation_rate(fn) -> None:
    cases = [
        ["fine", "dumb", "OK THEN", "call 555-1234"],
        ["all good", "nice"],
        ["STUPID", "stupid", "Stupid"],
    ]
    for responses in cases:
        want = violation_rate(responses, responses, RuleCritic(DEFAULT_CONSTITUTION))
        got = fn(responses, DEFAULT_CONSTITUTION)
        assert abs(got - want) < 1e-12, f"violation_rate({responses}) = {got}, want {want}"
