r"""# Exercises: The pipeline: one table of stages, run in order, each once, each timed

The run order derived from the stage table (a topological sort), and the stages to forget when
one runs again, checked against `graphlib` and the chapter's own table."""

import graphlib
import random

from masterclass.capstone.pipeline import STAGE_TABLE, STAGES, dependents


def solution_1_stage_order(table: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Every stage after the ones it needs; among stages ready at once, the one listed first.

    Raises `ValueError` if the table has a cycle or names a stage it does not list.
    """
    names = [name for name, _ in table]
    needs = dict(table)
    for name, wanted in table:
        for n in wanted:
            if n not in needs:
                raise ValueError(f"stage {name} needs {n}, which is not in the table")
    order: list[str] = []
    while len(order) < len(names):
        ready = [n for n in names if n not in order and all(m in order for m in needs[n])]
        if not ready:
            raise ValueError(f"the stages {sorted(set(names) - set(order))} form a cycle")
        order.append(ready[0])
    return order


def _random_dag(rng: random.Random, n: int) -> list[tuple[str, tuple[str, ...]]]:
    # Stage i may need any stage j < i; then the rows are shuffled, so that the table's order is
    # no longer a valid run order and the sort has work to do.
    names = [f"s{i}" for i in range(n)]
    rows = [(names[i], tuple(rng.sample(names[:i], rng.randint(0, min(i, 3))))) for i in range(n)]
    rng.shuffle(rows)
    return rows


def _reference_order(table) -> list[str]:
    # Kahn's algorithm over graphlib's bookkeeping: take the ready stage listed first, each time.
    sorter = graphlib.TopologicalSorter({name: set(needs) for name, needs in table})
    sorter.prepare()
    position = {name: i for i, (name, _) in enumerate(table)}
    order, ready = [], []
    while sorter.is_active():
        ready = sorted({*ready, *sorter.get_ready()}, key=position.get)
        first = ready.pop(0)
        order.append(first)
        sorter.done(first)
    return order


def check_1_stage_order(fn) -> None:
    """Against graphlib: a valid order, with the tie rule; the capstone's own table; cycles refused."""
    real = [(s.name, s.needs) for s in STAGE_TABLE]
    got = fn(real)
    assert list(got) == list(STAGES), f"the capstone's stages run {list(STAGES)}, got {got}"
    rng = random.Random(0)
    for case in range(12):
        table = _random_dag(rng, rng.randint(1, 9))
        want = _reference_order(table)
        got = list(fn(list(table)))
        assert sorted(got) == sorted(n for n, _ in table), f"{table}: order {got} misses stages"
        where = {name: i for i, name in enumerate(got)}
        for name, needs in table:
            late = [n for n in needs if where[n] > where[name]]
            assert not late, f"{table}: in {got}, {name} runs before {late}, which it needs"
        assert got == want, (
            f"case {case}, table {table}: got {got}, expected {want} (when several stages are "
            "ready, take the one listed first in the table)"
        )
    for cyclic in ([("a", ("b",)), ("b", ("a",))], [("a", ()), ("b", ("c",)), ("c", ("b",))]):
        try:
            graphlib.TopologicalSorter(dict(cyclic)).prepare()
            raise AssertionError("not a cycle")  # the reference says these tables are cyclic
        except graphlib.CycleError:
            pass
        try:
            got = fn(cyclic)
        except ValueError:
            continue
        raise AssertionError(f"{cyclic} has a cycle: stage_order must raise ValueError, got {got}")


def solution_2_to_forget(stage: str, table: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """`stage` and every stage that needs it, directly or through others, in table order."""
    found, grew = {stage}, True
    while grew:
        grew = False
        for name, needs in table:
            if name not in found and any(n in found for n in needs):
                found.add(name)
                grew = True
    return [name for name, _ in table if name in found]


def _reachable(stage: str, table) -> set[str]:
    # Depth-first search over the reversed edges (from a stage to the stages that need it).
    needed_by: dict[str, list[str]] = {name: [] for name, _ in table}
    for name, needs in table:
        for n in needs:
            needed_by[n].append(name)
    seen, todo = set(), [stage]
    while todo:
        s = todo.pop()
        if s not in seen:
            seen.add(s)
            todo += needed_by[s]
    return seen


def check_2_to_forget(fn) -> None:
    """Against a search over the reversed graph, and the chapter's `dependents` on its table."""
    real = [(s.name, s.needs) for s in STAGE_TABLE]
    for stage in STAGES:
        got = list(fn(stage, real))
        assert got == dependents(stage), (
            f"running {stage} again forgets {dependents(stage)}, got {got}"
        )
    rng = random.Random(1)
    for _ in range(12):
        table = _random_dag(rng, rng.randint(1, 9))
        stage = rng.choice(table)[0]
        reach = _reachable(stage, table)
        want = [name for name, _ in table if name in reach]
        got = list(fn(stage, list(table)))
        assert got == want, f"to_forget({stage!r}, {table}) = {got}, expected {want}"
