"""Killing a run and resuming it gives bitwise the weights of a run never interrupted."""

from __future__ import annotations

import dataclasses
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
    # The metrics log of the resumed run equals the uninterrupted one line for line (timing
    # fields aside): nothing lost, nothing repeated.
    assert _log_rows(broken) == _log_rows(straight)


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


def _log_rows(run):
    # The training log without its timing fields, which no two runs share.
    rows = [json.loads(x) for x in (run / "train" / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "elapsed_s")} for r in rows]


def _assert_equals_a_fixed_run(run, plan, base, tmp_path):
    # The reference: a run told the decided schedule up front (the tiny preset's 30 steps, no
    # budget) with the plan's thread count and compilation. Bitwise the same weights; returns
    # its folder.
    fixed = tmp_path / "fixed"
    threads = f"train.threads={plan['threads']}"
    compiled = f"train.compile={'on' if plan['compile'] else 'off'}"
    assert cli.main(["run", "--out", str(fixed), *base, "--set", threads, "--set", compiled]) == 0
    a, b = _weights(run), _weights(fixed)
    for name in a:
        assert torch.equal(a[name], b[name]), name
    return fixed


@pytest.mark.slow
def test_time_budget_replans_and_trains_the_schedule_it_decided(tmp_path, monkeypatch):
    # A budget far above what 30 tiny steps need: the first plan reaches the cap of 30 steps
    # with its decay 6 steps from the end, so the planner stops once in the stable phase (step
    # 12), measures again and decides. Reference: a run told the decided schedule up front.
    # Stopping, measuring and re-planning must change nothing: bitwise the same weights, the
    # same log line for line.
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--until", "train"]
    budget = tmp_path / "budget"
    # Tiny steps take milliseconds, so a noisy machine could trigger an early stop for a re-plan;
    # this test is about the planned stops (the early one has its own test below).
    monkeypatch.setattr(train_stage, "_drifted", lambda stamps, expected: False)
    # For the same reason the re-plan must not find the speed moved: it would time the thread
    # counts again and might switch, and a fixed run cannot repeat a switch in the middle.
    monkeypatch.setattr(train_stage, "_moved", lambda measured, expected: False)
    assert cli.main(["run", "--out", str(budget), *base, "--set", "train.time_budget_s=900"]) == 0
    plan = json.loads((budget / "train" / "schedule.json").read_text())
    assert plan["final"] and plan["steps"] == 30 and plan["decay_steps"] == 6
    assert [h["at_step"] for h in plan["history"]] == [0, 12]
    assert all(h["seconds_per_step"] > 0 for h in plan["history"])
    # The thread count is part of the decision: the faster of the counts timed.
    timings = {int(n): s for n, s in plan["thread_timings"].items()}
    assert plan["threads"] == min(timings, key=timings.get)
    assert set(timings) == ({torch.get_num_threads(), 1})
    # So is the compilation: 900 s are long enough for "auto" to time a compiled step even in
    # fp32, the tiny preset's precision.
    assert set(plan["compile_timings"]) == {"eager", "compiled"}
    chosen = min(plan["compile_timings"], key=plan["compile_timings"].get)
    assert plan["compile"] == (chosen == "compiled")
    fixed = _assert_equals_a_fixed_run(budget, plan, base, tmp_path)
    assert _log_rows(budget) == _log_rows(fixed)
    metrics = json.loads((budget / "train" / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["time_plan"]["replans"] == 1


def test_planner_times_both_thread_counts_and_keeps_the_faster(monkeypatch):
    # With a fake clock per thread count: one thread "faster" (a busy neighbour) must be chosen,
    # and a fixed `train.threads` must time only that count. The real timing runs in the test
    # above; here only the choice is checked, against the timings it was given. One thread goes
    # first, and torch's count races it (it is handed the time to beat).
    from masterclass.capstone.config import build_config

    seen = []

    def fake_time_steps(model, batcher_factory, tc, beat=None):
        n = torch.get_num_threads()
        seen.append((n, beat))
        return 0.5 if n == 1 else 1.5

    monkeypatch.setattr(train_stage, "_time_steps", fake_time_steps)
    before = torch.get_num_threads()
    cfg = build_config(preset_name="tiny", sets=["train.time_budget_s=100"])
    choices = train_stage._thread_choices(cfg, 2)
    assert choices == [1, 2]
    best, timings = train_stage._time_threads(None, None, None, choices)
    assert (best, seen) == (1, [(1, None), (2, 0.5)]) and timings == {1: 0.5, 2: 1.5}
    assert torch.get_num_threads() == before  # restored after timing
    fixed = build_config(preset_name="tiny", sets=["train.threads=2"])
    assert train_stage._thread_choices(fixed, 2) == [2]
    assert train_stage._thread_choices(cfg, 1) == [1]
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert train_stage._thread_choices(cfg, 2) == [2]


def test_a_timing_race_stops_a_losing_candidate_after_its_first_counted_step(monkeypatch):
    # The real loop on the tiny model: without a time to beat, all eight timing steps run; with
    # one no step can beat (a nanosecond), the timing stops at the first counted step and
    # returns that step's time; with one every step beats (an hour), all eight run again.
    from masterclass.capstone.config import build_config, loop_config
    from masterclass.capstone.model import build_model

    trained = []
    real_train = train_stage.train

    def counting_train(*args, **kwargs):
        result = real_train(*args, **kwargs)
        trained.append(result.steps)
        return result

    monkeypatch.setattr(train_stage, "train", counting_train)
    cfg = build_config(preset_name="tiny", sets=["train.time_budget_s=100"])
    model = build_model(cfg, 300)

    def batcher():
        return _RandomBatcher(cfg)

    tc = loop_config(cfg, "cpu")
    before = [p.detach().clone() for p in model.parameters()]
    alone = train_stage._time_steps(model, batcher, tc)
    lost = train_stage._time_steps(model, batcher, tc, beat=1e-9)
    won = train_stage._time_steps(model, batcher, tc, beat=3600.0)
    first_counted = train_stage._TIMING_SKIP + 1
    assert trained == [train_stage._TIMING_STEPS, first_counted, train_stage._TIMING_STEPS]
    assert alone > 0 and lost > 0 and won > 0
    # Timing trains a copy: the model itself is untouched.
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


@pytest.mark.slow
def test_a_speed_change_stops_the_phase_early_for_a_replan(tmp_path, monkeypatch):
    # The drift check says "the speed moved" after the fifth step of the first phase: the phase
    # must stop there (not at the planned step 12), re-plan from step 5, and still train the
    # 30 steps the budget reaches, bitwise like a run told that schedule.
    calls = []

    def drifted_after_five(stamps, expected):
        calls.append(len(stamps))
        return len(stamps) == 5 and len(calls) == 5

    monkeypatch.setattr(train_stage, "_drifted", drifted_after_five)
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--until", "train"]
    run = tmp_path / "run"
    assert cli.main(["run", "--out", str(run), *base, "--set", "train.time_budget_s=600"]) == 0
    plan = json.loads((run / "train" / "schedule.json").read_text())
    assert [h["at_step"] for h in plan["history"]] == [0, 5]
    assert plan["final"] and plan["steps"] == 30 and plan["replans"] == 1
    assert plan["early_stops"] == 1  # counted apart from the planned stops
    _assert_equals_a_fixed_run(run, plan, base, tmp_path)


@pytest.mark.slow
def test_the_first_plans_timing_is_counted_once(tmp_path, monkeypatch):
    # The first plan records the seconds its timing took; a fresh run's clock already counts
    # them. Make that record claim 10,000 s: counted twice, the 600 s budget would be spent at
    # the first re-plan and training would stop there; counted once (by the clock), the run
    # still reaches the 30-step cap.
    real = train_stage._first_plan

    def claims_a_long_timing(*args, **kwargs):
        plan = real(*args, **kwargs)
        plan["history"][-1]["seconds_spent"] = 10_000.0
        return plan

    monkeypatch.setattr(train_stage, "_first_plan", claims_a_long_timing)
    monkeypatch.setattr(train_stage, "_drifted", lambda stamps, expected: False)
    base = ["--preset", "tiny", "--device", "cpu", "--quiet", "--until", "train"]
    run = tmp_path / "run"
    assert cli.main(["run", "--out", str(run), *base, "--set", "train.time_budget_s=600"]) == 0
    plan = json.loads((run / "train" / "schedule.json").read_text())
    assert plan["steps"] == 30 and plan["history"][-1]["seconds_spent"] < 600


def test_drift_is_the_median_of_recent_steps_leaving_the_band():
    # Steps of 1 s against a plan of 1 s: no drift. One slow step (an evaluation) among them:
    # still none, the median ignores it. Eight steps of 3 s: drift. Eight of 0.5 s: drift too
    # (the machine got faster: the plan should buy more steps).
    steady = [float(t) for t in range(20)]
    assert not train_stage._drifted(steady, 1.0)
    one_slow = steady[:15] + [t + 4.0 for t in steady[15:]]
    assert not train_stage._drifted(one_slow, 1.0)
    slower = steady + [19.0 + 3 * k for k in range(1, 9)]
    assert train_stage._drifted(slower, 1.0)
    faster = steady + [19.0 + 0.5 * k for k in range(1, 9)]
    assert train_stage._drifted(faster, 1.0)
    assert not train_stage._drifted(steady[:11], 9.0)  # too few steps to tell


def test_planner_times_bf16_and_fp32_and_keeps_the_faster(monkeypatch):
    # "auto" on a CPU with bf16 instructions: the thread counts timed in bf16 (one thread, then
    # two racing it), then fp32 at the winning count racing bf16's time. Here fp32 is faster (as
    # it can be on a chip without AMX); the evaluation is timed once, in the winner's precision.
    # A fixed precision times only the thread counts.
    from masterclass.capstone.config import build_config, loop_config

    seen, evaluated = [], []

    def fake_time_steps(model, batcher_factory, tc, beat=None):
        seen.append((torch.get_num_threads(), tc.autocast, beat))
        return {"bf16": 1.0, "none": 0.7}[tc.autocast] * (1.5 if seen[-1][0] == 1 else 1)

    def eval_for(autocast):
        return lambda model: evaluated.append((torch.get_num_threads(), autocast))

    monkeypatch.setattr(train_stage, "_time_steps", fake_time_steps)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(train_stage, "num_threads", lambda n: _Threads(n))
    cfg = build_config(preset_name="tiny", sets=["train.time_budget_s=100", "train.precision=auto"])
    tc = dataclasses.replace(loop_config(cfg), autocast="bf16")
    model = torch.nn.Linear(2, 2)
    plan = train_stage._first_plan(cfg, tc, model, None, eval_for)
    assert seen == [(1, "bf16", None), (2, "bf16", 1.5), (2, "none", 1.0)]
    assert plan["autocast"] == "none" and plan["threads"] == 2
    assert plan["precision_timings"] == {"bf16": 1.0, "none": 0.7}
    assert plan["thread_timings"] == {"1": 1.5, "2": 1.0}
    assert evaluated == [(2, "none")]
    assert train_stage._planned(tc, plan).autocast == "none"
    seen.clear()
    fixed = build_config(
        preset_name="tiny", sets=["train.time_budget_s=100", "train.precision=bf16"]
    )
    plan = train_stage._first_plan(fixed, tc, model, None, eval_for)
    assert [s[:2] for s in seen] == [(1, "bf16"), (2, "bf16")] and plan["autocast"] == "bf16"


def test_planner_times_a_compiled_step_where_it_can_pay(monkeypatch):
    # "auto" with a budget of two minutes or more in bf16 (fifteen in fp32): after the thread
    # counts (and the precision), the compiled loss is timed at the winning count, racing the
    # eager time, and kept when faster. A shorter budget, "off", or "on" (every candidate
    # compiled) time no extra candidate; a compilation that fails leaves the run eager and
    # says why.
    from masterclass.capstone.config import build_config, loop_config

    seen = []

    def fake_time_steps(model, batcher_factory, tc, beat=None):
        seen.append((torch.get_num_threads(), tc.compile, beat))
        return (0.8 if tc.compile else 1.0) * (1.5 if seen[-1][0] == 1 else 1)

    monkeypatch.setattr(train_stage, "_time_steps", fake_time_steps)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    monkeypatch.setattr(train_stage, "num_threads", lambda n: _Threads(n))

    def plan_for(*sets, precision="bf16"):
        seen.clear()
        cfg = build_config(preset_name="tiny", sets=[f"train.precision={precision}", *sets])
        tc = loop_config(cfg)
        return train_stage._first_plan(
            cfg, tc, torch.nn.Linear(2, 2), None, lambda a: lambda m: None
        ), tc

    plan, tc = plan_for("train.time_budget_s=480")
    assert seen == [(1, False, None), (2, False, 1.5), (2, True, 1.0)]
    assert plan["compile"] is True and plan["compile_timings"] == {"eager": 1.0, "compiled": 0.8}
    assert plan["seconds_per_step"] == 0.8 and train_stage._planned(tc, plan).compile
    for sets in (["train.time_budget_s=100"], ["train.time_budget_s=480", "train.compile=off"]):
        plan, _ = plan_for(*sets)
        assert [s[1] for s in seen] == [False, False] and plan["compile"] is False, sets
    # fp32: eight minutes do not pay for a compilation, fifteen do.
    plan, _ = plan_for("train.time_budget_s=480", precision="fp32")
    assert [s[1] for s in seen] == [False, False] and plan["compile"] is False
    plan, _ = plan_for("train.time_budget_s=900", precision="fp32")
    assert [s[1] for s in seen] == [False, False, True] and plan["compile"] is True
    plan, tc = plan_for("train.time_budget_s=480", "train.compile=on")
    assert [s[1] for s in seen] == [True, True] and plan["compile"] is True and tc.compile

    def no_compiler(model, batcher_factory, tc, beat=None):
        if tc.compile:
            raise RuntimeError("InductorError: no working C++ compiler found\ndetails")
        return 1.0

    monkeypatch.setattr(train_stage, "_time_steps", no_compiler)
    plan, _ = plan_for("train.time_budget_s=480")
    assert plan["compile"] is False and plan["compile_timings"] == {"eager": 1.0}
    assert plan["compile_error"] == "RuntimeError: InductorError: no working C++ compiler found"


class _Threads:
    # A stand-in for `perf.parallel.num_threads` that only makes `get_num_threads` report `n`.
    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.saved = torch.get_num_threads
        torch.get_num_threads = lambda: self.n

    def __exit__(self, *exc):
        torch.get_num_threads = self.saved


def test_planner_replans_from_the_measured_speed():
    # The planner's arithmetic against a hand computation. Budget 100 s, 2 s of evaluation every
    # 10 steps (0.2 s per step), first estimate 0.3 s/step: 100 / 0.5 = 200 steps, decay 40.
    from masterclass.capstone.config import build_config

    cfg = build_config(
        preset_name="tiny",
        sets=["train.steps=1000", "train.time_budget_s=100", "train.eval_every=10"],
    )
    plan = {"seconds_per_eval": 2.0, "warmup": 5, "replans": 0, "history": [], "schedule": "wsd"}
    train_stage._decide(cfg, plan, 0, 0.0, 0.3)
    assert (plan["steps"], plan["decay_steps"], plan["final"]) == (200, 40, False)
    assert plan["replan_at"] == 80  # half of the 160 stable steps
    # At step 80, after 60 s, the machine is twice as slow (0.6 s/step): 40 s buy 50 more steps,
    # not 80; the decay (of 26 steps) starts at 104, 24 steps ahead, worth one more re-plan.
    plan["replans"] = 1
    train_stage._decide(cfg, plan, 80, 60.0, 0.6)
    assert (plan["steps"], plan["decay_steps"], plan["final"]) == (130, 26, False)
    assert plan["replan_at"] == 92
    # Close to the decay, the plan is final.
    plan["replans"] = 2
    train_stage._decide(cfg, plan, 92, 69.2, 0.6)  # 12 steps at 0.6 s and one 2 s evaluation
    assert plan["final"] and plan["steps"] == 130


def test_early_stops_leave_the_planned_ones_and_the_last_phase_is_watched():
    # Budget 100 s at 0.3 s/step and 0.2 s of evaluation per step: 200 steps, decay 40, the
    # stable phase ends at step 160. Three early stops (the speed moved) leave all three planned
    # stops to come: the next is still half-way. After three planned ones the phase runs to the
    # decay's start (watched for drift), not straight to the end; twelve re-plans of any kind
    # make the plan final.
    from masterclass.capstone.config import build_config

    cfg = build_config(
        preset_name="tiny",
        sets=["train.steps=1000", "train.time_budget_s=100", "train.eval_every=10"],
    )
    plan = {"seconds_per_eval": 2.0, "warmup": 5, "replans": 3, "early_stops": 3}
    plan.update(history=[], schedule="wsd")
    train_stage._decide(cfg, plan, 0, 0.0, 0.3)
    assert (plan["steps"], plan["final"], plan["replan_at"]) == (200, False, 80)
    plan["early_stops"] = 0
    train_stage._decide(cfg, plan, 0, 0.0, 0.3)
    assert (plan["final"], plan["replan_at"]) == (False, 160)
    plan["replans"] = train_stage._MAX_STOPS
    train_stage._decide(cfg, plan, 0, 0.0, 0.3)
    assert plan["final"]


class _RandomBatcher:
    # The smallest `training.loop.Batcher`: seeded random token windows, for timing tests.
    def __init__(self, cfg):
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.shape = (cfg.train.batch_size, cfg.model.max_seq_len + 1)

    def next_batch(self):
        w = torch.randint(0, 300, self.shape, generator=self.generator)
        return w[:, :-1], w[:, 1:]

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass
