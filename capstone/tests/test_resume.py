"""Killing a run and resuming it gives bitwise the weights of a run never interrupted."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from masterclass.capstone import cli
from masterclass.capstone import train as train_stage


def _weights(run):
    return load_file(str(run / "train" / "model.safetensors"))


@pytest.mark.slow
def test_interrupted_run_resumes_bitwise(tmp_path, monkeypatch):
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--until", "train"]
    straight, broken = tmp_path / "straight", tmp_path / "broken"
    assert cli.main(["run", "--out", str(straight), *base]) == 0

    # Interrupt the second run at step 17, as Ctrl-C would: the last checkpoint is step 10.
    real = train_stage.train

    def interrupted(*args, progress=None, **kwargs):
        def hook(record):
            if progress is not None:
                progress(record)
            if record["kind"] == "step" and record["step"] == 17:
                raise KeyboardInterrupt

        return real(*args, progress=hook, **kwargs)

    monkeypatch.setattr(train_stage, "train", interrupted)
    assert cli.main(["run", "--out", str(broken), *base]) == cli.EXIT_INTERRUPTED
    monkeypatch.undo()
    assert "train" not in json.loads((broken / "run.json").read_text())["stages"]

    assert cli.main(["resume", str(broken), "--until", "train", "--quiet"]) == 0
    assert json.loads((broken / "train" / "metrics.json").read_text())["resumed_from"] == 10
    a, b = _weights(straight), _weights(broken)
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # The metrics log of the resumed run continues where the checkpoint was, without duplicates.
    steps = [
        json.loads(x)["step"] for x in (broken / "train" / "metrics.jsonl").read_text().splitlines()
    ]
    reference = [
        json.loads(x)["step"]
        for x in (straight / "train" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == reference


@pytest.mark.slow
def test_non_finite_loss_stops_with_a_message(tmp_path, capsys, monkeypatch):
    # Poison the weights after step 12: the loss of step 13 is NaN, the loop must stop before
    # updating, say so in one line, and leave the step-10 checkpoint as the latest.
    models = []
    real_build, real_train = train_stage.build_model, train_stage.train

    def keep(*args, **kwargs):
        models.append(real_build(*args, **kwargs))
        return models[-1]

    def poisoning(*args, progress=None, **kwargs):
        def hook(record):
            if progress is not None:
                progress(record)
            if record["kind"] == "step" and record["step"] == 12:
                with torch.no_grad():
                    models[0].tok_emb.weight.fill_(float("nan"))

        return real_train(*args, progress=hook, **kwargs)

    monkeypatch.setattr(train_stage, "build_model", keep)
    monkeypatch.setattr(train_stage, "train", poisoning)
    out = tmp_path / "nan"
    args = ["run", "--preset", "tiny", "--device", "cpu", "--quiet", "--out", str(out)]
    assert cli.main(args) == cli.EXIT_TRAINING_FAILED
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training stopped" in err[0] and "step 12" in err[0]
    assert "step_000000010" in err[0]
    checkpoints = out / "train" / "checkpoints"
    assert (checkpoints / "latest").read_text().strip() == "step_000000010"
    good = load_file(str(checkpoints / "step_000000010" / "model.safetensors"))
    assert all(torch.isfinite(t).all() for t in good.values())
    assert "train" not in json.loads((out / "run.json").read_text())["stages"]
    monkeypatch.undo()

    # What the message advises: resume from the good checkpoint with a lower learning rate.
    resume = ["resume", str(out), "--quiet", "--until", "train"]
    assert cli.main([*resume, "--set", "model.d_model=64"]) == 2
    assert cli.main([*resume, "--set", "train.lr=0.001"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["config"]["train"]["lr"] == 0.001 and "train" in record["stages"]
    assert json.loads((out / "train" / "metrics.json").read_text())["resumed_from"] == 10


@pytest.mark.slow
def test_time_budget_trains_the_schedule_of_its_resolved_step_count(tmp_path):
    # Reference: a run told the resolved step count and warmup up front. Timing the loop on a
    # throwaway copy first must not change anything: bitwise the same weights, the same log.
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--until", "train"]
    budget = tmp_path / "budget"
    assert cli.main(["run", "--out", str(budget), *base, "--set", "train.time_budget_s=3"]) == 0
    schedule = json.loads((budget / "train" / "schedule.json").read_text())
    steps, warmup = schedule["steps"], schedule["warmup"]
    assert 2 <= steps <= 30 and warmup == min(5, steps // 5)
    assert schedule["seconds_per_step"] > 0 and schedule["seconds_per_eval"] > 0
    fixed = tmp_path / "fixed"
    sets = ["--set", f"train.steps={steps}", "--set", f"train.warmup_steps={warmup}"]
    assert cli.main(["run", "--out", str(fixed), *base, *sets]) == 0
    a, b = _weights(budget), _weights(fixed)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert json.loads((budget / "train" / "metrics.json").read_text())["steps"] == steps
    lr = [
        json.loads(x).get("lr")
        for x in (budget / "train" / "metrics.jsonl").read_text().splitlines()
    ]
    ref = [
        json.loads(x).get("lr")
        for x in (fixed / "train" / "metrics.jsonl").read_text().splitlines()
    ]
    assert lr == ref
