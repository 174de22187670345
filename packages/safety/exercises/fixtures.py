r"""# Exercises: Fixtures: the small data sets this module ships

Validating a fixture against its schema (duplicates included, since a prompt in both the training
and the test part inflates every score) and a held-out split stratified by label and category,
checked on the shipped prompts and on copies damaged in known ways."""

import random
from collections import Counter

from masterclass.safety.fixtures import load_jsonl

LABELS = ("harmful", "benign")


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def solution_1_invalid_rows(rows: list[dict]) -> list[int]:
    """Indices of rows that break the schema of `safety_prompts.jsonl`, or repeat a text."""
    bad, seen = [], set()
    for i, row in enumerate(rows):
        text, label, category = row.get("text"), row.get("label"), row.get("category")
        ok = (
            isinstance(text, str)
            and text.strip() != ""
            and label in LABELS
            and isinstance(category, str)
            and category != ""
        )
        if ok and _normal(text) in seen:
            ok = False
        if ok:
            seen.add(_normal(text))
        else:
            bad.append(i)
    return bad


def _damage(rows: list[dict], seed: int) -> tuple[list[dict], list[int]]:
    # A copy of the fixture with a few rows damaged, each in one way; duplicates copy a row that
    # comes earlier and is itself intact.
    rng = random.Random(seed)
    rows = [dict(r) for r in rows]
    chosen = sorted(rng.sample(range(1, len(rows)), 6))
    for i in chosen:
        kind = rng.choice(["no text", "blank", "label", "case", "category", "type", "dup"])
        if kind == "no text":
            del rows[i]["text"]
        elif kind == "blank":
            rows[i]["text"] = "   "
        elif kind == "label":
            rows[i]["label"] = "unsafe"
        elif kind == "case":
            rows[i]["label"] = rows[i]["label"].title()
        elif kind == "category":
            rows[i]["category"] = rng.choice([None, "", 3])
        elif kind == "type":
            rows[i]["text"] = rows[i]["text"].split()
        else:
            source = rng.choice([j for j in range(i) if j not in chosen])
            rows[i]["text"] = "  " + rows[source]["text"].upper().replace(" ", "  ")
    return rows, chosen


def check_1_invalid_rows(fn) -> None:
    """The shipped fixture is valid; damaged copies are caught exactly where they were damaged."""
    rows = load_jsonl("safety_prompts.jsonl")
    got = list(fn([dict(r) for r in rows]))
    assert got == [], f"the shipped fixture is valid, but invalid_rows found {got}"
    for seed in range(8):
        damaged, want = _damage(rows, seed)
        got = sorted(int(i) for i in fn(damaged))
        differ = "; ".join(f"row {i}: {damaged[i]}" for i in sorted(set(want) ^ set(got))[:3])
        assert got == want, f"rows {want} were damaged, invalid_rows found {got}: {differ}"


def solution_2_stratified_holdout(
    rows: list[dict], per_group: int, seed: int
) -> tuple[list[dict], list[dict]]:
    """`(train, test)`: `per_group` random rows of each (label, category) go to test, in order."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault((row["label"], row["category"]), []).append(i)
    rng = random.Random(seed)
    held = {i for key in sorted(groups) for i in rng.sample(groups[key], per_group)}
    train = [r for i, r in enumerate(rows) if i not in held]
    test = [r for i, r in enumerate(rows) if i in held]
    return train, test


def check_2_stratified_holdout(fn) -> None:
    """A partition in file order, `per_group` of every group held out, different per seed."""
    rows = load_jsonl("safety_prompts.jsonl")
    groups = Counter((r["label"], r["category"]) for r in rows)
    splits = []
    for per_group, seed in [(1, 0), (2, 0), (2, 1), (2, 2), (2, 3), (3, 4)]:
        train, test = fn([dict(r) for r in rows], per_group, seed)
        train, test = list(train), list(test)
        where = f"stratified_holdout(rows, {per_group}, seed={seed})"
        texts = [r["text"] for r in rows]
        order = {t: i for i, t in enumerate(texts)}
        for part, name in [(train, "train"), (test, "test")]:
            assert all(r in rows for r in part), f"{where}: {name} holds rows not in the input"
            positions = [order[r["text"]] for r in part]
            assert positions == sorted(positions), f"{where}: {name} is not in file order"
        assert sorted(r["text"] for r in train + test) == sorted(texts), (
            f"{where}: train and test must together hold every row exactly once"
        )
        held = Counter((r["label"], r["category"]) for r in test)
        assert held == {g: per_group for g in groups}, (
            f"{where}: test holds {dict(held)} rows per (label, category); want {per_group} of each"
        )
        if per_group == 2:
            splits.append(sorted(r["text"] for r in test))
        again = fn([dict(r) for r in rows], per_group, seed)
        assert [list(p) for p in again] == [train, test], f"{where}: same seed, different split"
    assert any(s != splits[0] for s in splits[1:]), (
        "seeds 0 to 3 all hold out the same rows: choose them at random with the seed"
    )
