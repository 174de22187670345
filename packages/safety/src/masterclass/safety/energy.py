r"""# Environmental impact: energy and CO₂e accounting

Training and serving models draws electricity, and electricity has a carbon cost that depends on
where and when it is made. The accounting is two multiplications (Strubell et al., 2019; Patterson
et al., 2021; Luccioni et al., 2023):

$$ E = \mathrm{PUE} \cdot \sum_k P_k\, \Delta t_k , \qquad \mathrm{CO_2e} = E \cdot I , $$

energy $E$ the integral of power over time (a sum over measurement intervals $\Delta t_k$ of the
power $P_k$ of CPU, RAM and GPU), the data-centre overhead $\mathrm{PUE}$ ($\ge 1$: cooling,
power conversion), and the grid's carbon intensity $I$ in gCO₂e per kWh (about 56 for France's
nuclear-heavy grid, several hundred for coal-heavy ones). Units: $1\,\text{kWh} = 3.6 \times
10^6\,\text{J}$.

**Where the power comes from.** On Intel and recent AMD CPUs the kernel exposes RAPL counters,
`/sys/class/powercap/intel-rapl:*/energy_uj`, cumulative microjoules since boot (they wrap around at
`max_energy_range_uj`): the energy of an interval is the difference of two readings, no power
model needed. Where they are missing (a container, a VM, this course's CI), a **power model**
stands in: a constant power per device, for the duration.

**codecarbon's semantics.** The reference tool, `codecarbon`, takes a *forced* CPU power as the
chip's TDP and, in its constant mode, assumes the CPU draws **half** of it
(`CONSUMPTION_PERCENTAGE_CONSTANT = 0.5`); a forced RAM power is used as is. A user who passes
"100 W" therefore gets 50 W of CPU power. The `PowerModel` here says which convention it uses
(`cpu_tdp_fraction`), and the test runs `codecarbon`'s offline tracker beside ours on the same
interval, with the same forced powers and its own carbon intensity for the country, and finds
energy and emissions equal within 1%.

**Per run.** A capstone run records the wall time of each stage in `run.json`; `run_footprint`
turns it into kWh and gCO₂e per stage and in total, for the report.

## References

- E. Strubell, A. Ganesh, A. McCallum, *Energy and Policy Considerations for Deep Learning in NLP*, ACL 2019, [arXiv:1906.02243](https://arxiv.org/abs/1906.02243).
- D. Patterson et al., *Carbon Emissions and Large Neural Network Training*, 2021, [arXiv:2104.10350](https://arxiv.org/abs/2104.10350).
- A. S. Luccioni, S. Viguier, A.-L. Ligozat, *Estimating the Carbon Footprint of BLOOM*, JMLR 2023, [arXiv:2211.02001](https://arxiv.org/abs/2211.02001).
- [codecarbon](https://mlco2.github.io/codecarbon/) methodology; the Linux powercap (RAPL) interface documentation.

Left out: embodied emissions of the hardware, GPU power via NVML (codecarbon reads it; a
`PowerModel` takes a constant), market-based versus location-based intensities, and water use.

>>> m = PowerModel(cpu_watts=100.0, ram_watts=10.0)   # codecarbon's convention: CPU at 50% of TDP
>>> round(m.energy_kwh(3600.0), 3), round(m.emissions_g(3600.0, intensity_g_per_kwh=56.039), 2)
(0.06, 3.36)

## Exercises

1. Write `solution_1_rapl_delta(before, after, max_range)`: the joules between two RAPL readings
   in microjoules, correct when the counter wrapped around once. Check it:
   `uv run pytest --exercise safety.energy`.
2. Write `solution_2_footprint(seconds, watts, pue, intensity)`: grams of CO₂e of a job of
   `seconds` at constant `watts`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

JOULES_PER_KWH = 3.6e6

# ## The power model
#
# Constant powers per device, with codecarbon's TDP convention made explicit: the CPU draws
# `cpu_tdp_fraction` of the stated `cpu_watts`.


@dataclass
class PowerModel:
    """Constant device powers; E = PUE * (f * P_cpu + P_ram + P_gpu) * t."""

    # The CPU's power as the user states it (codecarbon: its TDP), watts.
    cpu_watts: float
    # RAM power, watts (codecarbon's default is about 0.375 W per GB; here stated directly).
    ram_watts: float = 0.0
    # GPU power, watts (0 without one).
    gpu_watts: float = 0.0
    # Fraction of cpu_watts drawn: 0.5 is codecarbon's constant mode, 1.0 takes cpu_watts literally.
    cpu_tdp_fraction: float = 0.5
    # Power usage effectiveness of the data centre (1.0: the machine alone).
    pue: float = 1.0

    def __post_init__(self) -> None:
        """Reject negative powers and a PUE below 1."""
        for name in ("cpu_watts", "ram_watts", "gpu_watts"):
            if getattr(self, name) < 0:
                raise ValueError(f"PowerModel.{name} must be >= 0 watts, got {getattr(self, name)}")
        if not 0 < self.cpu_tdp_fraction <= 1:
            raise ValueError(f"cpu_tdp_fraction must be in (0, 1], got {self.cpu_tdp_fraction}")
        if self.pue < 1:
            raise ValueError(f"PUE is at least 1 (overhead on top of the IT load), got {self.pue}")

    # $E = P t$: kWh is watts times seconds over 3.6 MJ; emissions are kWh times the grid's
    # carbon intensity.
    @property
    def watts(self) -> float:
        """Total power drawn, watts."""
        return self.pue * (self.cpu_tdp_fraction * self.cpu_watts + self.ram_watts + self.gpu_watts)

    def energy_kwh(self, seconds: float) -> float:
        """Energy of `seconds` at this power, kWh."""
        return self.watts * seconds / JOULES_PER_KWH

    def emissions_g(self, seconds: float, *, intensity_g_per_kwh: float) -> float:
        """gCO₂e of `seconds` at this power on a grid of the given intensity."""
        return self.energy_kwh(seconds) * intensity_g_per_kwh


# ## RAPL counters
#
# Each package (and its sub-domains) has a counter; the package domains `intel-rapl:N` already
# include their cores and uncore, so only they are summed. A wrapped counter is detected by a
# reading smaller than the previous one.

RAPL_ROOT = Path("/sys/class/powercap")


def read_rapl(root: Path = RAPL_ROOT) -> dict[str, tuple[int, int]] | None:
    """`{domain: (energy_uj, max_energy_range_uj)}` of the package domains, or None if unreadable."""
    try:
        domains = sorted(p for p in root.glob("intel-rapl:*") if p.name.count(":") == 1)
        out = {
            p.name: (
                int((p / "energy_uj").read_text()),
                int((p / "max_energy_range_uj").read_text()),
            )
            for p in domains
        }
    except (OSError, ValueError):
        return None
    return out or None


# A counter that wrapped once between the readings reads smaller the second time; adding the
# counter's range back gives the true difference.
def rapl_joules(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> float:
    """Joules between two `read_rapl` readings, summed over domains, wrap-around included."""
    total = 0
    for name, (e1, max_range) in after.items():
        e0 = before[name][0]
        total += e1 - e0 if e1 >= e0 else e1 + max_range - e0
    return total / 1e6


# ## Measuring a block of code
#
# `EnergyMeter` times the block with a monotonic clock, reads RAPL at both ends when it can, and
# otherwise applies the power model: $E = P \cdot \Delta t$.


class EnergyMeter:
    """Context manager: energy (kWh) and emissions (g) of the code inside it."""

    def __init__(self, model: PowerModel, *, intensity_g_per_kwh: float, use_rapl: bool = True):
        if intensity_g_per_kwh < 0:
            raise ValueError(f"carbon intensity must be >= 0 g/kWh, got {intensity_g_per_kwh}")
        self.model, self.intensity, self.use_rapl = model, intensity_g_per_kwh, use_rapl
        self.seconds = self.kwh = self.grams = 0.0
        self.source = ""

    # RAPL is read at both ends only if the first reading worked; `source` records which of
    # the two estimates was used.
    def __enter__(self) -> EnergyMeter:
        self._rapl = read_rapl() if self.use_rapl else None
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._t0
        after = read_rapl() if self._rapl is not None else None
        if self._rapl is not None and after is not None:
            # Measured CPU-package energy, plus the model's RAM and GPU, times PUE.
            joules = (
                rapl_joules(self._rapl, after)
                + (self.model.ram_watts + self.model.gpu_watts) * self.seconds
            )
            self.kwh, self.source = self.model.pue * joules / JOULES_PER_KWH, "rapl"
        else:
            self.kwh, self.source = self.model.energy_kwh(self.seconds), "power model"
        self.grams = self.kwh * self.intensity


# ## The footprint of a capstone run
#
# `run.json` holds `{"stages": {name: {"seconds": s, ...}}}`; each stage's wall time goes through
# the power model. (A run on a GPU should state `gpu_watts`; the report says which model it used.)


def run_footprint(
    run_dir: str | Path, model: PowerModel, *, intensity_g_per_kwh: float
) -> dict[str, Any]:
    """kWh and gCO₂e per stage and in total for the capstone run in `run_dir`."""
    path = Path(run_dir) / "run.json"
    if not path.is_file():
        raise ValueError(f"{run_dir} has no run.json; pass the folder of a capstone run")
    # Each finished stage's wall time through the power model; the totals are sums over stages.
    stages = json.loads(path.read_text(encoding="utf-8")).get("stages", {})
    per_stage = {
        name: {
            "seconds": info["seconds"],
            "kwh": model.energy_kwh(info["seconds"]),
            "g_co2e": model.emissions_g(info["seconds"], intensity_g_per_kwh=intensity_g_per_kwh),
        }
        for name, info in stages.items()
    }
    return {
        "stages": per_stage,
        "kwh": sum(s["kwh"] for s in per_stage.values()),
        "g_co2e": sum(s["g_co2e"] for s in per_stage.values()),
        "watts": model.watts,
        "intensity_g_per_kwh": intensity_g_per_kwh,
    }
