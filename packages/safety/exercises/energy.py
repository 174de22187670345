r"""# Exercises: Environmental impact: energy and CO₂e accounting

Differencing RAPL counters, and the footprint of a constant-power job."""

from masterclass.safety.energy import PowerModel, rapl_joules


def solution_1_rapl_delta(before: int, after: int, max_range: int) -> float:
    """Joules between two readings in microjoules, one wrap-around allowed."""
    delta = after - before if after >= before else after + max_range - before
    return delta / 1e6


def check_1_rapl_delta(fn) -> None:
    """Compare with `rapl_joules` on plain and wrapped readings."""
    for before, after in [(10, 500), (900, 100), (0, 999)]:
        expected = rapl_joules({"p": (before, 1000)}, {"p": (after, 1000)})
        got = fn(before, after, 1000)
        assert abs(got - expected) < 1e-15, f"{before} -> {after}: expected {expected} J, got {got}"


def solution_2_footprint(seconds: float, watts: float, pue: float, intensity: float) -> float:
    """gCO2e = PUE * watts * seconds / 3.6e6 * intensity."""
    return pue * watts * seconds / 3.6e6 * intensity


def check_2_footprint(fn) -> None:
    """Compare with `PowerModel` taking the power literally (cpu_tdp_fraction = 1)."""
    for seconds, watts, pue, intensity in [(3600, 100, 1.0, 400), (60, 350, 1.2, 56.039)]:
        m = PowerModel(cpu_watts=watts, cpu_tdp_fraction=1.0, pue=pue)
        expected = m.emissions_g(seconds, intensity_g_per_kwh=intensity)
        got = fn(seconds, watts, pue, intensity)
        assert abs(got - expected) < 1e-9 * max(1, expected), f"expected {expected} g, got {got}"
