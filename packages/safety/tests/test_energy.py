"""Energy and emissions against codecarbon's offline tracker; RAPL arithmetic; a run's footprint."""

import json
import time

import pytest

from masterclass.safety.energy import EnergyMeter, PowerModel, rapl_joules, read_rapl, run_footprint


@pytest.mark.slow
def test_energy_and_emissions_equal_codecarbon_offline_within_one_percent(monkeypatch):
    import codecarbon.core.resource_tracker as resource_tracker
    from codecarbon import OfflineEmissionsTracker
    from codecarbon.input import DataSource

    # Without psutil codecarbon falls back to its constant mode (forced power = TDP, drawn at 50%);
    # with it, to a load-dependent model that no reference could reproduce. Force the constant mode.
    monkeypatch.setattr(resource_tracker.cpu, "is_psutil_available", lambda: False)
    tracker = OfflineEmissionsTracker(
        country_iso_code="FRA",
        force_cpu_power=100.0,
        force_ram_power=10.0,
        measure_power_secs=1,
        save_to_file=False,
        log_level="error",
        pue=1.0,
        tracking_mode="machine",
        allow_multiple_runs=True,
    )
    intensity = DataSource().get_global_energy_mix_data()["FRA"]["carbon_intensity"]  # g/kWh
    tracker.start()
    with EnergyMeter(
        PowerModel(100.0, 10.0), intensity_g_per_kwh=intensity, use_rapl=False
    ) as ours:
        time.sleep(2.0)
    kg = tracker.stop()
    ref = tracker.final_emissions_data
    assert ref.cpu_power == pytest.approx(50.0)  # the TDP semantics: half the forced power
    # Both integrate 60 W over the same ~2 s; the clocks start and stop a few ms apart: 1%.
    assert ours.kwh == pytest.approx(ref.energy_consumed, rel=0.01)
    assert ours.grams == pytest.approx(kg * 1000, rel=0.01)


def test_power_model_arithmetic_and_bad_input():
    m = PowerModel(cpu_watts=200.0, ram_watts=20.0, gpu_watts=300.0, pue=1.5)
    assert m.watts == pytest.approx(1.5 * (100 + 20 + 300))
    assert m.energy_kwh(3600) == pytest.approx(0.63)
    with pytest.raises(ValueError, match="PUE"):
        PowerModel(10.0, pue=0.9)
    with pytest.raises(ValueError, match="cpu_watts"):
        PowerModel(-1.0)
    with pytest.raises(ValueError, match="intensity"):
        EnergyMeter(PowerModel(1.0), intensity_g_per_kwh=-1)


def test_rapl_counters_with_wraparound(tmp_path):
    for name, e in (("intel-rapl:0", 900), ("intel-rapl:1", 100), ("intel-rapl:0:0", 5)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "energy_uj").write_text(str(e))
        (tmp_path / name / "max_energy_range_uj").write_text("1000")
    before = read_rapl(tmp_path)
    assert set(before) == {"intel-rapl:0", "intel-rapl:1"}  # sub-domains are inside packages
    (tmp_path / "intel-rapl:0" / "energy_uj").write_text("100")  # wrapped: 900 -> 1000 -> 100
    (tmp_path / "intel-rapl:1" / "energy_uj").write_text("400")
    assert rapl_joules(before, read_rapl(tmp_path)) == pytest.approx((200 + 300) / 1e6)
    assert read_rapl(tmp_path / "missing") is None


def test_run_footprint_reads_stage_times(tmp_path):
    (tmp_path / "run.json").write_text(
        json.dumps({"stages": {"train": {"seconds": 3600.0}, "evaluate": {"seconds": 360.0}}})
    )
    fp = run_footprint(tmp_path, PowerModel(100.0, 10.0), intensity_g_per_kwh=400.0)
    assert fp["kwh"] == pytest.approx(0.066) and fp["g_co2e"] == pytest.approx(26.4)
    assert fp["stages"]["train"]["kwh"] == pytest.approx(0.06)
    with pytest.raises(ValueError, match=r"run\.json"):
        run_footprint(tmp_path / "nope", PowerModel(1.0), intensity_g_per_kwh=1.0)
