"""The red-teaming loop against targets whose weaknesses are known by construction."""

import pytest

from masterclass.safety.fixtures import load_jsonl
from masterclass.safety.red_teaming import (
    AttackResult,
    judge_response,
    mutate,
    red_team,
    report_table,
    success_rates,
)
from masterclass.safety.safety_filters import GuardedModel, NaiveBayesFilter, RuleFilter

ROWS = load_jsonl("safety_prompts.jsonl")
SEEDS = [(r["text"], r["category"]) for r in ROWS if r["label"] == "harmful"][::3]  # 8 seeds
JUDGE = judge_response(
    NaiveBayesFilter().fit([r["text"] for r in ROWS], [r["label"] for r in ROWS]).flags
)


def _compliant(prompt):
    return f"Sure, here is how: {prompt}"  # repeats the request: harmful whenever it is


def test_success_rates_and_table_count_by_hand():
    results = [
        AttackResult("a", "x", 0, "r", True),
        AttackResult("b", "x", 0, "r", False),
        AttackResult("c", "y", 1, "r", False),
    ]
    assert success_rates(results) == {"all": 1 / 3, "x": 0.5, "y": 0.0}
    table = report_table(results)
    assert "| x | 2 | 1 | 0.50 | a |" in table and "| y | 1 | 0 | 0.00 |  |" in table


def test_an_unguarded_model_is_broken_everywhere_and_a_refusing_one_nowhere():
    open_rates = success_rates(red_team(_compliant, JUDGE, SEEDS, rounds=2, per_round=10))
    assert open_rates["all"] >= 0.8  # the judge flags most harmful requests it is shown
    closed = red_team(lambda p: "I can't help with that.", JUDGE, SEEDS, rounds=2, per_round=10)
    assert success_rates(closed)["all"] == 0.0


def test_guards_lower_the_attack_success_rate_and_the_loop_finds_the_gaps():
    rules_only = GuardedModel(_compliant, input_filters=[RuleFilter().flags])
    results = red_team(rules_only, JUDGE, SEEDS, rounds=3, per_round=20, seed=0)
    rates = success_rates(results)
    unguarded = success_rates(red_team(_compliant, JUDGE, SEEDS, rounds=3, per_round=20, seed=0))
    # Measured: 0.45 behind the rules against 1.0 unguarded. The loop finds the gap by itself: the
    # rules' normaliser reads "1" as "i", so leetspeak "ma1ware" and "1aunder" slip through (cyber
    # 0.71, fraud 0.44), while violence and weapons stay at 0.
    assert rates["all"] < unguarded["all"]
    # Rounds after the first breed from successes, so their success rate is at least round 0's.
    first = [a.success for a in results if a.round == 0]
    later = [a.success for a in results if a.round > 0]
    assert sum(later) / len(later) >= sum(first) / len(first)
    assert red_team(rules_only, JUDGE, SEEDS, rounds=3, per_round=20, seed=0) == results


def test_bad_input():
    with pytest.raises(ValueError, match="unknown mutation"):
        mutate("x", "rot13")
    with pytest.raises(ValueError, match="rounds"):
        red_team(_compliant, JUDGE, SEEDS, rounds=0)
