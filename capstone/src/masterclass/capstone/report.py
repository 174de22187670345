r"""# Stage 9 · The report: what was built, how well it works, what it is for

The last stage reads every stage's `metrics.json` and writes two files into the run folder:

- `metrics.json`: every number of the run in one machine-readable document (the config, stage
  timings, the energy, and each stage's metrics), for comparing runs with a script;
- `report.md`: the same for a reader, with the **loss curve** and the **learning-rate curve**
  (`report/loss.png`, `report/lr.png`, drawn from the training loop's `metrics.jsonl`), the
  evaluation table with its baselines, the quantization, export and benchmark tables, the samples,
  and a **model card** (Mitchell et al., 2019): what the model is, what it was trained on, how it
  was evaluated, and what it must not be used for.

**Energy and emissions.** The report states what the run cost in electricity and CO₂e, per stage
and in all, with Module 12's accounting (`masterclass.safety.energy.run_footprint`): each stage's
wall time $t_s$ from `run.json`, a constant power $P$ from the run's `[energy]` config, and the
grid's carbon intensity $I$,
$$ E_s = \frac{P\, t_s}{3.6 \times 10^6\ \text{J/kWh}}, \qquad
   \text{CO}_2\text{e}_s = E_s \cdot I, \qquad E = \sum_s E_s . $$
The defaults are a laptop (15 W CPU package, 3 W RAM) on the 2023 world-average grid
(480 gCO₂e/kWh, Ember's *Global Electricity Review 2024*); both are printed beside the numbers,
since the numbers mean nothing without them. A run on a GPU or in a data centre should say so
(`--set energy.gpu_watts=300 --set energy.pue=1.2`), and a run in France would use about 56
g/kWh. The report itself is not counted (it takes a second), nor is the energy that made the
machine. For a measured rather than modelled number, `masterclass.safety.energy.EnergyMeter`
reads the CPU's RAPL counters where the machine exposes them.

A stage that has not run is reported as such rather than omitted, so a partial run still gets a
truthful report. Plots use `matplotlib.figure.Figure` directly (no global `pyplot` state) with the
non-interactive Agg canvas, so the report can be written on a machine without a display.

**A worked example: the verdict.** The summary opens the report with the measured rate against
the baselines, then the table of the project's targets, each met or not; when a target of the
default preset is missed, a paragraph says why, from the training stage's time plan. Here a run
on a machine much slower than the one the preset was sized on:

>>> m = {
...     "config": {"preset": "small"},
...     "total_seconds": 660.0,
...     "stage_seconds": {"train": 480.0, "evaluate": 95.0},
...     "train": {"steps": 700, "time_plan": {"budget_s": 480, "history": [
...         {"at_step": 20, "seconds_per_step": 0.35, "steps": 1370},
...         {"at_step": 400, "seconds_per_step": 0.68, "steps": 700}]}},
...     "evaluate": {
...         "model": {"bits_per_byte": 1.52, "perplexity": 5.1},
...         "heldout_bytes": 500000,
...         "baselines_bits_per_byte": {"gzip-9": 1.71, "xz-9": 1.45},
...         "beats": {"gzip-9": True, "xz-9": False}}}
>>> print(_summary(m))
The model reaches **1.520 bits per byte** on 500,000 held-out bytes (perplexity 5.10 per
token), against gzip-9 1.710, xz-9 1.450; it beats gzip-9. The whole run took 11.0 minutes.
>>> print(_targets(m))
| target | measured |  |
|---|---|---|
| whole run ≤ 10 minutes | 11.0 min | not met |
| bits per byte below gzip -9 and xz -9 | 1.520 | not met |
| bits per byte ≤ 1.40 (aim) | 1.520 | not met |
<BLANKLINE>
**Why targets were missed** (whole run ≤ 10 minutes, bits per byte below gzip -9 and xz -9,
bits per byte ≤ 1.40 (aim)). Training planned 1,370 steps at 0.350 s/step from its first timed
steps; at step 400 it measured 0.680 s/step and planned 700 steps; it trained 700 steps in its
480 s budget. The machine ran at 0.680 s/step, 2.6× the 0.26 s/step of the idle 2-core laptop
the default preset was sized on, at this batch, so the model saw fewer tokens than it needs to
reach its targets. The slowest stage was train (480 s). To do: close other programs while the capstone
trains, give training more time (`--set train.time_budget_s=900`), or use the `gpu` preset on
a CUDA machine.

## Exercises

1. Write `summary_verdict(bpb, baselines)`: the summary's phrase `"it beats gzip-9, xz-9"` (the
   baselines whose bits per byte are strictly higher than the model's, in their order), or
   `"it beats none of the baselines"`. Check it against the report's text:
   `uv run pytest --exercise capstone.report`.
2. Write `footprint(stage_seconds, energy)`: the run's `(kWh, gCO2e)` from each stage's wall time
   and the `[energy]` section (`cpu_watts`, `cpu_tdp_fraction`, `ram_watts`, `gpu_watts`, `pue`,
   `intensity_g_per_kwh`), with the equations above. Check it against the report's footprint of
   a run folder: `uv run pytest --exercise capstone.report`.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from masterclass.capstone.config import EnergyConfig, TrainingConfig, power_model
from masterclass.capstone.run_folder import (
    RunFolder,
    atomic_write,
    atomic_write_json,
    atomic_write_text,
    staged_folder,
)
from masterclass.safety.energy import run_footprint

# The report's headings, in order; the tests read them to check that nothing went missing.
REPORT_SECTIONS = (
    "## Summary",
    "## Configuration",
    "## Stage timings",
    "## Energy and emissions",
    "## Corpus and tokenizer",
    "## Training",
    "## Evaluation",
    "## Quantization",
    "## Export",
    "## Benchmark",
    "## Samples",
    "## Model card",
)


# ## The figures
#
# Two plots from the training loop's log: the loss curves, and the learning rate the schedule
# actually used (the warmup, the stable phase and the decay the time plan chose).
def read_training_log(run: RunFolder) -> list[dict[str, Any]]:
    """The records of the training loop's `metrics.jsonl` (empty if training has not run)."""
    if not run.train_log.is_file():
        return []
    return [json.loads(line) for line in run.train_log.read_text().splitlines() if line.strip()]


def _save(fig: Figure, path: Path) -> None:
    FigureCanvasAgg(fig)
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight"))


def loss_figure(log: list[dict[str, Any]]) -> Figure:
    """Training loss (per logged window of steps) and held-out loss against the step."""
    fig = Figure(figsize=(6.4, 3.6))
    ax = fig.add_subplot()
    train = [r for r in log if r["kind"] == "train"]
    evals = [r for r in log if r["kind"] == "eval"]
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train")
    ax.plot([r["step"] for r in evals], [r.get("eval_loss") for r in evals], "o-", label="held-out")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def lr_figure(log: list[dict[str, Any]]) -> Figure:
    """The learning rate against the step (warmup, then the decay of the schedule)."""
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.add_subplot()
    train = [r for r in log if r["kind"] == "train"]
    ax.plot([r["step"] for r in train], [r["lr"] for r in train])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    return fig


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        # Parity differences live near 1e-7: show small numbers in scientific notation.
        return f"{value:.2e}" if 0 < abs(value) < 1e-3 else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _not_run(stage: str) -> str:
    return f"_The {stage} stage has not run._"


# Where the default grid intensity comes from (printed in the report beside the numbers).
INTENSITY_SOURCE = "2023 world average, Ember, Global Electricity Review 2024"


def energy_footprint(run: RunFolder) -> dict[str, Any]:
    """kWh and gCO₂e per finished stage and in all, with the power model and intensity used."""
    # A run folder of an older version has no [energy] section: the defaults apply.
    energy = EnergyConfig(**run.config.get("energy", {}))
    model = power_model(energy)
    footprint = run_footprint(run.path, model, intensity_g_per_kwh=energy.intensity_g_per_kwh)
    default = energy.intensity_g_per_kwh == EnergyConfig().intensity_g_per_kwh
    return {
        **footprint,
        "power_model": {**dataclasses.asdict(model), "watts": model.watts},
        "intensity_source": INTENSITY_SOURCE if default else "the run's config",
        "method": "power model: E = P * t per stage (wall time from run.json)",
    }


# ## Every number in one place
#
# `metrics.json` gathers what each finished stage wrote, so the report (and anyone comparing
# runs) reads one file.
def collect_metrics(run: RunFolder) -> dict[str, Any]:
    """Every number of the run: config, stage timings, energy and each finished stage's metrics."""
    return {
        "format_version": run.record["format_version"],
        "config": run.config,
        "stage_seconds": {k: v["seconds"] for k, v in run.record["stages"].items()},
        "total_seconds": round(sum(v["seconds"] for v in run.record["stages"].values()), 3),
        "energy": energy_footprint(run),
        **{stage: run.stage_metrics(stage) for stage in run.record["stages"] if run.is_done(stage)},
    }


# ## The summary and the targets
#
# One sentence with the headline number and the baselines it beats, then the targets table.
def _summary(m: dict[str, Any]) -> str:
    ev = m.get("evaluate")
    if not ev:
        return "The run has not been evaluated yet."
    bpb = ev["model"]["bits_per_byte"]
    base = ev["baselines_bits_per_byte"]
    beaten = [k for k, v in ev["beats"].items() if v]
    return (
        f"The model reaches **{bpb:.3f} bits per byte** on {ev['heldout_bytes']:,} held-out bytes "
        f"(perplexity {ev['model']['perplexity']:.2f} per token), against "
        + ", ".join(f"{k} {v:.3f}" for k, v in base.items())
        + f"; it beats {', '.join(beaten) if beaten else 'none of the baselines'}. "
        f"The whole run took {m['total_seconds'] / 60:.1f} minutes."
    )


def _targets(m: dict[str, Any]) -> str:
    # The project's targets for the default run, each with the measured value and a verdict.
    rows: list[list[Any]] = []

    def add(name: str, value: Any, ok: bool) -> None:
        rows.append([name, value, "met" if ok else "not met"])

    ev, q, e, b = (m.get(k) for k in ("evaluate", "quantize", "export", "benchmark"))
    # Time and compression first: the headline claim.
    add("whole run ≤ 10 minutes", f"{m['total_seconds'] / 60:.1f} min", m["total_seconds"] <= 600)
    if ev:
        bpb, base = ev["model"]["bits_per_byte"], ev["baselines_bits_per_byte"]
        add(
            "bits per byte below gzip -9 and xz -9",
            f"{bpb:.3f}",
            bpb < min(base["gzip-9"], base["xz-9"]),
        )
        add("bits per byte ≤ 1.40 (aim)", f"{bpb:.3f}", bpb <= 1.40)
    # Then what later stages promise: int8 costs little, exports agree, ONNX int8 is faster.
    if q:
        add(
            "PyTorch int8 loss within 3%",
            f"{q['relative_loss_change']:+.2%}",
            q["within_3_percent"],
        )
    if e:
        add(
            "ONNX int8 loss within 3%",
            f"{e['onnx_int8_relative_loss_change']:+.2%}",
            e["onnx_int8_within_3_percent"],
        )
        add(
            "ONNX int8 file ≤ 30% of fp32",
            f"{e['onnx_int8_size_ratio']:.0%}",
            e["onnx_int8_size_within_30_percent"],
        )
        add("exports equal PyTorch within 1e-4", "see Export", e["parity_passed"])
    if b:
        add(
            f"onnxruntime int8 ≥ {b['speedup_target']:.1f}× PyTorch fp32 per token",
            f"{b['onnxruntime_int8_speedup']:.2f}×",
            b["speedup_target_met"],
        )
    note = (
        "\n\nThe targets are the default preset's; the `tiny` preset is not expected to meet them."
    )
    text = _table(["target", "measured", ""], rows)
    if m["config"]["preset"] == "tiny":
        return text + note
    missed = [r[0] for r in rows if r[2] == "not met"]
    return text + ("\n\n" + why_missed(m, missed) if missed else "")


# The speed the default preset was sized on: an idle 2-core laptop trains its model at about
# 0.52 s per step of 16 windows (`bench/results/throughput.txt`, two threads), and a CPU step's
# time is about linear in the windows it holds, so the reference for a run is this per window
# times its batch (0.26 s at the default batch of 8: about 1,800 steps in eight minutes).
REFERENCE_SECONDS_PER_WINDOW = 0.52 / 16


def reference_seconds_per_step(config: dict[str, Any]) -> float:
    """The reference laptop's seconds per step at a run's batch (windows per optimizer step)."""
    train = config.get("train", {})
    windows = train.get("batch_size", TrainingConfig.batch_size) * train.get("grad_accum", 1)
    return REFERENCE_SECONDS_PER_WINDOW * windows


def _choices_clause(plan: dict[str, Any]) -> str:
    # Which thread count, precision and compilation the planner chose, from the last timings it
    # took.
    clauses = []
    timings = plan.get("thread_timings") or {}
    if len(timings) >= 2:
        timed = ", ".join(
            f"{n} thread{'s' * (n != '1')} {s:.3f} s/step" for n, s in timings.items()
        )
        clauses.append(
            f"it trained with {plan['threads']} thread(s), the faster when timed ({timed})"
        )
    precisions = plan.get("precision_timings") or {}
    if len(precisions) >= 2:
        name = {"bf16": "bf16", "none": "fp32"}
        timed = ", ".join(f"{name[a]} {s:.3f} s/step" for a, s in precisions.items())
        clauses.append(f"in {name[plan['autocast']]}, the faster when timed ({timed})")
    compiled = plan.get("compile_timings") or {}
    if len(compiled) >= 2:
        timed = ", ".join(f"{k} {s:.3f} s/step" for k, s in compiled.items())
        chosen = "compiled" if plan["compile"] else "eager"
        clauses.append(f"{chosen}, the faster when timed ({timed})")
    if plan.get("compile_error"):
        clauses.append(f"eager, because torch.compile failed ({plan['compile_error']})")
    return "".join(f"; {c}" for c in clauses)


# ## Why a target was missed
#
# A report that says only "not met" leaves the user guessing. The paragraph is built from the
# time plan's own history: what the first timed steps promised, what each re-plan measured, which
# thread count and precision won, and how the machine's speed compares with the one the preset
# was sized on. Then one line of what to do.
def why_missed(m: dict[str, Any], missed: list[str]) -> str:
    """A paragraph on why the listed targets were missed, from the time plan, and what to do."""
    t = m.get("train", {})
    plan = t.get("time_plan") or {}
    parts = []
    if plan and plan.get("history"):
        first, last = plan["history"][0], plan["history"][-1]
        reference = reference_seconds_per_step(m.get("config", {}))
        slower = last["seconds_per_step"] / reference
        replans = "; ".join(
            f"at step {h['at_step']:,} it measured {h['seconds_per_step']:.3f} s/step and "
            f"planned {h['steps']:,} steps"
            for h in plan["history"][1:]
        )
        parts.append(
            f"Training planned {first['steps']:,} steps at {first['seconds_per_step']:.3f} s/step "
            f"from its first timed steps"
            + (f"; {replans}" if replans else "")
            + _choices_clause(plan)
            + f"; it trained {t['steps']:,} steps in its {plan['budget_s']:.0f} s budget. "
            f"The machine ran at {last['seconds_per_step']:.3f} s/step, {slower:.1f}× the "
            f"{reference:.2f} s/step of the idle 2-core laptop the default preset was sized "
            "on, at this batch"
            + (
                ", so the model saw fewer tokens than it needs to reach its targets."
                if slower > 1.1
                else "."
            )
        )
    elif t:
        parts.append(f"Training ran a fixed {t['steps']:,} steps (no time budget).")
    seconds = m.get("stage_seconds", {})
    if "whole run ≤ 10 minutes" in missed and seconds:
        slowest = max(seconds, key=seconds.get)
        parts.append(f"The slowest stage was {slowest} ({seconds[slowest]:.0f} s).")
    parts.append(
        "To do: close other programs while the capstone trains, give training more time "
        "(`--set train.time_budget_s=900`), or use the `gpu` preset on a CUDA machine."
    )
    return "**Why targets were missed** (" + ", ".join(missed) + "). " + " ".join(parts)


# ## The report's sections
#
# Each section reads one stage's metrics and renders a table; a stage that did not run gives a
# line saying so instead of a crash. First the data: what was read, deduplicated and held out,
# and how well the tokenizer compresses it.
def _corpus_section(m: dict[str, Any]) -> str:
    c, t, d = m.get("corpus"), m.get("tokenizer"), m.get("data")
    if not c:
        return _not_run("corpus")
    rows = [
        ["source", c["source"]],
        ["files read", c["files"]],
        ["documents (after dedup and chunking)", c["documents"]],
        ["exact duplicates removed", c["duplicates_removed"]],
        ["documents with invalid UTF-8 (kept as bytes)", c["invalid_utf8_documents"]],
        ["train documents / bytes", f"{c['train_documents']:,} / {c['train_bytes']:,}"],
        ["held-out documents / bytes", f"{c['heldout_documents']:,} / {c['heldout_bytes']:,}"],
    ]
    if t:
        rows += [
            ["vocabulary (ids)", t["vocab_size"]],
            ["tokenizer training time (s)", t["train_seconds"]],
            [
                "bytes per token, train / held-out",
                f"{t['bytes_per_token_train']:.3f} / {t['bytes_per_token_heldout']:.3f}",
            ],
        ]
    if d:
        rows += [
            ["train / held-out tokens", f"{d['train_tokens']:,} / {d['heldout_tokens']:,}"],
            ["share of the vocabulary used in train", d["vocab_used_fraction"]],
            ["shard dtype", d["dtype"]],
        ]
    return _table(["", "value"], rows)


# The model's size and the training run: steps, tokens, precision and the final losses.
def _training_section(m: dict[str, Any], has_plots: bool) -> str:
    t = m.get("train")
    if not t:
        return _not_run("train")
    md = t["model"]
    rows = [
        ["parameters", md["parameters"]],
        ["non-embedding parameters", md["non_embedding_parameters"]],
        [
            "layers × width (heads)",
            f"{md['n_layers']} × {md['d_model']} ({md['n_heads']} heads, {md['n_kv_heads']} KV)",
        ],
        ["context / vocabulary", f"{md['max_seq_len']} / {md['vocab_size']}"],
        ["training FLOPs per token", md["train_flops_per_token"]],
        ["optimizer steps", t["steps"]],
        ["learning-rate schedule", t.get("schedule", "cosine")],
        ["tokens per step", t["tokens_per_step"]],
        ["tokens seen", t["steps"] * t["tokens_per_step"]],
        ["precision", "bf16 autocast" if t["autocast"] == "bf16" else "fp32"],
        ["loss compiled (torch.compile)", "yes" if t.get("compile") else "no"],
        ["final train loss (nats/token)", t["final_train_loss"]],
        ["final held-out loss (nats/token)", t["final_eval_loss"]],
        ["resumed from step", t["resumed_from"]],
    ]
    text = _table(["", "value"], rows)
    if has_plots:
        text += "\n\n![training and held-out loss](report/loss.png)\n\n"
        text += "![learning rate: warmup, then the schedule's decay](report/lr.png)"
    return text


# The headline table: the model against the compressors and the n-gram model, all on the
# same held-out bytes, so the rows compare.
def _evaluation_section(m: dict[str, Any]) -> str:
    ev = m.get("evaluate")
    if not ev:
        return _not_run("evaluate")
    model = ev["model"]
    rows = [["this model", model["bits_per_byte"], model["loss"], model["perplexity"]]]
    rows += [[name, bpb, None, None] for name, bpb in ev["baselines_bits_per_byte"].items()]
    text = _table(["model", "bits per byte", "loss (nats/token)", "perplexity"], rows)
    return text + (
        f"\n\nAll rows are measured on the same {ev['heldout_bytes']:,} held-out bytes "
        f"({ev['heldout_documents']} document(s), {model['tokens']:,} predicted tokens)."
    )


# Metric keys become table labels (`onnx_max_abs_diff` -> "ONNX max abs difference").
def _label(key: str) -> str:
    words = key.replace("onnx_", "ONNX ").replace("hf_", "Hugging Face ").replace("_", " ")
    return words.replace("fp32", "fp32").replace("abs diff", "abs difference")


# Quantization and export: every scalar the stage recorded, one row each.
def _quantize_section(m: dict[str, Any]) -> str:
    q = m.get("quantize")
    if not q:
        return _not_run("quantize")
    rows = [[_label(k), v] for k, v in q.items() if not isinstance(v, (dict, list))]
    return _table(["int8 weight-only (PyTorch)", "value"], rows)


def _export_section(m: dict[str, Any]) -> str:
    e = m.get("export")
    if not e:
        return _not_run("export")
    rows = [[_label(k), v] for k, v in e.items() if not isinstance(v, (dict, list))]
    return _table(["check", "value"], rows)


# Decoding speed of each variant, with the speedup target's verdict.
def _benchmark_section(m: dict[str, Any]) -> str:
    b = m.get("benchmark")
    if not b:
        return _not_run("benchmark")
    rows = [
        [name, r["tokens_per_s"], r["ms_per_token"], r["speedup_vs_torch_fp32"], r["file_mb"]]
        for name, r in b["variants"].items()
    ]
    header = [
        "variant (batch 1)",
        "tokens/s (mean)",
        "ms/token (p50)",
        "× PyTorch fp32",
        "file (MB)",
    ]
    verdict = "met" if b["speedup_target_met"] else "not met"
    return _table(header, rows) + (
        f"\n\nGreedy decoding of {b['decode_tokens']} tokens after a {b['prompt_tokens']}-token "
        f"prompt on the CPU, median of {b['repeats']} rounds. onnxruntime int8 is "
        f"{b['onnxruntime_int8_speedup']:.2f}× PyTorch fp32 per token (target "
        f"{b['speedup_target']:.1f}×: {verdict})."
    )


# What the model writes after each prompt (greedy or sampled, as configured).
def _samples_section(m: dict[str, Any]) -> str:
    ev = m.get("evaluate")
    if not ev:
        return _not_run("evaluate")
    parts = []
    for s in ev["samples"]:
        parts.append(f"Prompt `{s['prompt']!r}`:\n\n```text\n{s['text']}\n```")
    return "\n\n".join(parts)


# Energy: seconds per stage times the power model's watts; the assumptions are printed so a
# reader can redo the arithmetic with their own machine's numbers.
def _energy_section(m: dict[str, Any]) -> str:
    e = m["energy"]
    rows = [[k, v["seconds"], v["kwh"], v["g_co2e"]] for k, v in e["stages"].items()]
    rows.append(["total", sum(v["seconds"] for v in e["stages"].values()), e["kwh"], e["g_co2e"]])
    pm = e["power_model"]
    return _table(["stage", "seconds", "kWh", "gCO₂e"], rows) + (
        f"\n\nThe run used about **{e['kwh']:.3g} kWh** and emitted about **{e['g_co2e']:.3g} "
        f"gCO₂e**, from a power model (no counters were read): CPU package "
        f"{pm['cpu_watts']:g} W × {pm['cpu_tdp_fraction']:g} + RAM {pm['ram_watts']:g} W + GPU "
        f"{pm['gpu_watts']:g} W, × PUE {pm['pue']:g} = {pm['watts']:g} W for each stage's wall "
        f"time, on a grid of {e['intensity_g_per_kwh']:g} gCO₂e/kWh ({e['intensity_source']}). "
        "Change them with `--set energy.cpu_watts=...` or `energy.intensity_g_per_kwh=...`."
    )


# A model card in the spirit of Mitchell et al. (2019): what it is, what it saw, how it
# scored, what it is for and, as plainly, what it is not for.
def _model_card(m: dict[str, Any]) -> str:
    cfg = m["config"]
    source = (
        "the Python standard library's source code of the interpreter that ran the capstone"
        if not cfg["corpus"]["data"]
        else "the user's files: " + ", ".join(cfg["corpus"]["data"])
    )
    ev = m.get("evaluate", {})
    bpb = f"{ev['model']['bits_per_byte']:.3f} bits per byte" if ev else "not evaluated"
    return "\n".join(
        [
            f"- **Model**: LLaMA-style decoder-only transformer (RMSNorm, SwiGLU, RoPE), "
            f"{cfg['model']['n_layers']} layers of width {cfg['model']['d_model']}, context "
            f"{cfg['model']['max_seq_len']} tokens, byte-level BPE vocabulary of "
            f"{cfg['tokenizer']['vocab_size']}; trained from scratch by the masterclass capstone "
            f"(preset `{cfg['preset']}`, seed {cfg['seed']}).",
            f"- **Training data**: {source}; documents deduplicated exactly and split by hash, "
            f"{cfg['corpus']['heldout_fraction']:.0%} held out.",
            f"- **Evaluation**: {bpb} on the held-out split, with gzip/bz2/xz and a Kneser–Ney "
            "n-gram model on the same bytes as baselines.",
            f"- **Energy**: about {m['energy']['kwh']:.3g} kWh and "
            f"{m['energy']['g_co2e']:.3g} gCO₂e for the whole run (power model and grid in "
            "the report's energy section).",
            "- **Intended use**: teaching and experiments: how a language model is trained, "
            "evaluated, quantized and exported end to end.",
            "- **Not for**: anything that relies on what the model writes. It is tiny, it has seen "
            "one narrow corpus, it produces plausible-looking but usually wrong code or text, and "
            "it reproduces fragments of its training data (mind their licences).",
            "- **Formats**: PyTorch safetensors (`train/`), int8 PyTorch (`quantize/`), ONNX fp32 "
            "and int8 with KV-cache inputs (`export/`), Hugging Face `LlamaForCausalLM` folder "
            "(`export/hf/`).",
        ]
    )


# The whole report: the sections in reading order, summary first.
def render_report(m: dict[str, Any], *, has_plots: bool) -> str:
    """The text of `report.md` for collected metrics `m`."""
    cfg = m["config"]
    config_json = json.dumps(cfg, indent=2)
    timings = _table(
        ["stage", "seconds"],
        [[k, v] for k, v in m["stage_seconds"].items()] + [["total", m["total_seconds"]]],
    )
    body = {
        "## Summary": _summary(m) + "\n\n" + _targets(m),
        "## Configuration": f"Preset `{cfg['preset']}`.\n\n```json\n{config_json}\n```",
        "## Stage timings": timings,
        "## Energy and emissions": _energy_section(m),
        "## Corpus and tokenizer": _corpus_section(m),
        "## Training": _training_section(m, has_plots),
        "## Evaluation": _evaluation_section(m),
        "## Quantization": _quantize_section(m),
        "## Export": _export_section(m),
        "## Benchmark": _benchmark_section(m),
        "## Samples": _samples_section(m),
        "## Model card": _model_card(m),
    }
    parts = ["# Capstone run report", ""]
    for heading in REPORT_SECTIONS:
        parts += [heading, "", body[heading], ""]
    return "\n".join(parts)


def write_report(run: RunFolder) -> dict[str, Path]:
    """Write `metrics.json`, `report.md` and the plots in `report/`; return their paths."""
    metrics = collect_metrics(run)
    log = read_training_log(run)
    with staged_folder(run.report_dir) as tmp:
        if log:
            _save(loss_figure(log), tmp / "loss.png")
            _save(lr_figure(log), tmp / "lr.png")
    atomic_write_json(run.metrics_file, metrics)
    atomic_write_text(run.report_file, render_report(metrics, has_plots=bool(log)))
    return {"report": run.report_file, "metrics": run.metrics_file, "plots": run.report_dir}
