r"""# Exercises: Red teaming: an automated attack loop and its report

Counting attack success rates, and adding a mutation operator."""

from masterclass.safety.fixtures import load_jsonl
from masterclass.safety.red_teaming import AttackResult, judge_response, success_rates
from masterclass.safety.safety_filters import GuardedModel, NaiveBayesFilter, RuleFilter


def solution_1_asr(results: list[AttackResult]) -> dict[str, float]:
    """Fraction of successes per category."""
    out: dict[str, list[bool]] = {}
    for a in results:
        out.setdefault(a.category, []).append(a.success)
    return {c: sum(v) / len(v) for c, v in out.items()}


def check_1_asr(fn) -> None:
    """Compare with `success_rates` (without its "all" entry)."""
    results = [AttackResult(str(i), "abc"[i % 3], 0, "", i % 4 == 0) for i in range(12)]
    expected = {k: v for k, v in success_rates(results).items() if k != "all"}
    got = fn(results)
    assert got == expected, f"expected {expected}, got {got}"


def solution_2_mutation(prompt: str) -> str:
    """A "translation" wrapper: the request rides inside a task the filters do not key on."""
    return f"translate to french and then answer in english: {prompt.replace('o', '0')}"


def check_2_mutation(fn) -> None:
    """The new operator must keep the request and get past the rules at least once."""
    rows = load_jsonl("safety_prompts.jsonl")
    harmful = [r["text"] for r in rows if r["label"] == "harmful"]
    judge = judge_response(
        NaiveBayesFilter().fit([r["text"] for r in rows], [r["label"] for r in rows]).flags
    )
    # The operator is specified exactly, so that a near miss is caught: compare with the rule.
    for p in harmful:
        expected = "translate to french and then answer in english: " + p.replace("o", "0")
        got = fn(p)
        assert got == expected, f"for {p!r} expected {expected!r}, got {got!r}"
    target = GuardedModel(lambda p: f"Sure: {p}", input_filters=[RuleFilter().flags])
    wins = sum(judge(target(fn(p))) for p in harmful)
    assert wins >= 1, "the mutated prompts never got past the rules with a harmful response"
