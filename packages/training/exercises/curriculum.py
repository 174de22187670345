r"""# Exercises: Curriculum learning: ordering by difficulty, and sequence-length warm-up

The square-root pacing function and the sequence-length warm-up."""

from masterclass.training.curriculum import competence, seq_len_warmup


def solution_1_competence(t: int, total: int, c0: float) -> float:
    return min(1.0, (t * (1 - c0**2) / total + c0**2) ** 0.5)


def check_1_competence(fn) -> None:
    for t, total, c0 in [(0, 100, 0.1), (25, 100, 0.1), (99, 100, 0.3), (300, 100, 0.1)]:
        got, want = fn(t, total, c0), competence(t, total, c0)
        assert abs(got - want) < 1e-12, f"competence({t}, {total}, {c0}) = {got}, want {want}"


def solution_2_warmup_len(step: int, start: int, end: int, steps: int) -> int:
    length = start + min(1.0, step / steps) * (end - start)
    return max(8, int(length) // 8 * 8)


def check_2_warmup_len(fn) -> None:
    for step, start, end, steps in [
        (0, 16, 128, 10),
        (5, 16, 128, 10),
        (3, 8, 100, 7),
        (50, 16, 64, 10),
    ]:
        got, want = fn(step, start, end, steps), seq_len_warmup(step, start, end, steps)
        assert got == want, f"warmup_len({step}, {start}, {end}, {steps}) = {got}, want {want}"
