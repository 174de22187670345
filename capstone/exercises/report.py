r"""# Exercises: Stage 9 · The report: what was built, how well it works, what it is for

The summary's verdict on the baselines, and the run's energy and emissions from its stage times,
checked against the report's own text and its footprint of a real run folder."""

import math
import random
import tempfile
from pathlib import Path

from masterclass.capstone.config import preset
from masterclass.capstone.report import _summary, energy_footprint
from masterclass.capstone.run_folder import RunFolder


def solution_1_summary_verdict(bpb: float, baselines: dict[str, float]) -> str:
    """`"it beats A, B"` for the baselines whose bits per byte are higher, in their order."""
    beaten = [name for name, value in baselines.items() if bpb < value]
    return "it beats " + (", ".join(beaten) if beaten else "none of the baselines")


def check_1_summary_verdict(fn) -> None:
    """The phrase must be the one the report's summary writes for the same evaluation."""
    rng = random.Random(0)
    names = ["gzip-9", "bz2-9", "xz-9", "kneser-ney-6"]
    cases = [(1.4, {"gzip-9": 1.7, "xz-9": 1.5}), (2.0, {"gzip-9": 1.7, "xz-9": 1.5})]
    cases += [(1.5, {"gzip-9": 1.5, "xz-9": 1.6})]  # equal is not better
    for _ in range(10):
        base = {n: round(rng.uniform(1.0, 3.0), 3) for n in names}
        cases.append((round(rng.uniform(1.0, 3.0), 3), base))
    for bpb, baselines in cases:
        m = {
            "total_seconds": 600.0,
            "evaluate": {
                "model": {"bits_per_byte": bpb, "perplexity": 4.0},
                "heldout_bytes": 1000,
                "baselines_bits_per_byte": baselines,
                "beats": {name: bpb < value for name, value in baselines.items()},
            },
        }
        summary = _summary(m)
        got = fn(bpb, dict(baselines))
        assert f"; {got}. The whole run" in summary, (
            f"at {bpb} bits per byte against {baselines}, the report says "
            f"{summary.split('; ')[-1].split('. The whole')[0]!r}, got {got!r}"
        )


def solution_2_footprint(stage_seconds: dict[str, float], energy: dict) -> tuple[float, float]:
    """`(kWh, gCO2e)` of a run: power P = PUE (f CPU + RAM + GPU) for each stage's wall time."""
    watts = energy["pue"] * (
        energy["cpu_tdp_fraction"] * energy["cpu_watts"] + energy["ram_watts"] + energy["gpu_watts"]
    )
    kwh = watts * sum(stage_seconds.values()) / 3.6e6  # 1 kWh = 1000 W * 3600 s
    return kwh, kwh * energy["intensity_g_per_kwh"]


def check_2_footprint(fn) -> None:
    """Against the report's footprint of a run folder whose `run.json` records those times."""
    rng = random.Random(1)
    stages = ["corpus", "tokenizer", "data", "train", "evaluate", "quantize", "export"]
    with tempfile.TemporaryDirectory() as tmp:
        for case in range(6):
            config = preset("tiny").to_dict()
            config["energy"] = {
                "cpu_watts": rng.choice([15.0, 28.0, 65.0]),
                "cpu_tdp_fraction": rng.choice([1.0, 0.5]),
                "ram_watts": rng.choice([3.0, 6.0]),
                "gpu_watts": rng.choice([0.0, 0.0, 300.0]),
                "pue": rng.choice([1.0, 1.2, 1.58]),
                "intensity_g_per_kwh": rng.choice([480.0, 56.0, 700.0]),
            }
            run = RunFolder.create(Path(tmp) / f"run{case}", config)
            seconds = {}
            for stage in rng.sample(stages, rng.randint(1, len(stages))):
                seconds[stage] = round(rng.uniform(0.5, 500.0), 3)
                run.mark_done(stage, seconds[stage])
            want = energy_footprint(run)
            kwh, grams = fn(dict(seconds), dict(config["energy"]))
            # Sums of the same products in another order: agreement to 1e-12 relative.
            assert math.isclose(kwh, want["kwh"], rel_tol=1e-12), (
                f"case {case}: {sum(seconds.values()):.1f} s at {want['watts']:g} W is "
                f"{want['kwh']:.6g} kWh, got {kwh}"
            )
            assert math.isclose(grams, want["g_co2e"], rel_tol=1e-12), (
                f"case {case}: {want['kwh']:.6g} kWh at {config['energy']['intensity_g_per_kwh']:g} "
                f"g/kWh is {want['g_co2e']:.6g} gCO2e, got {grams}"
            )
