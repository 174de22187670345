r"""# Exercises: Pipeline parallelism: GPipe and 1F1B schedules

The bubble formula and 1F1B's memory bound, checked against the chapter's schedule simulator."""

from masterclass.infra.pipeline import one_f_one_b_schedule, simulate


def solution_1_bubble_fraction(p: int, m: int) -> float:
    return (p - 1) / (m + p - 1)


def check_1_bubble_fraction(fn) -> None:
    for p, m in [(2, 1), (2, 8), (4, 4), (8, 32)]:
        _, idle = simulate(one_f_one_b_schedule(p, m))
        got = fn(p, m)
        assert abs(got - idle[0]) < 1e-12, f"bubble_fraction({p}, {m}) = {got}, simulated {idle[0]}"


def solution_2_peak_in_flight_1f1b(p: int, m: int, stage: int) -> int:
    return min(p - stage, m)


def check_2_peak_in_flight_1f1b(fn) -> None:
    for p, m in [(2, 4), (4, 8), (4, 2), (3, 9)]:
        for s, acts in enumerate(one_f_one_b_schedule(p, m)):
            alive = peak = 0
            for kind, _ in acts:
                alive += 1 if kind == "F" else -1
                peak = max(peak, alive)
            got = fn(p, m, s)
            assert got == peak, (
                f"peak_in_flight_1f1b({p}, {m}, {s}) = {got}, the schedule has {peak}"
            )
