"""# The `capstone` command

```
capstone                                   # = capstone run: the default preset on the stdlib
capstone run [--data PATH ...] [--preset tiny|small|base|gpu] [--out DIR] [--device cpu|cuda]
             [--seed N] [--config run.toml] [--set section.key=value ...] [--until STAGE]
capstone --data notes/ --preset tiny       # options without a command mean `capstone run`
capstone resume RUN [--set train.lr=1e-3]  # finish an interrupted run (training from its checkpoint)
capstone stage NAME RUN                    # run one stage again (and forget the ones after it)
capstone generate RUN --prompt "def " [--tokens 100] [--temperature 0.8] [--top-k 40] [--seed 0]
capstone benchmark RUN                     # measure decode speed again, rewrite the report
capstone report RUN                        # rewrite report.md and metrics.json
capstone finetune RUN --data pairs.jsonl [--method sft|dpo] [--steps 50] [--lora-rank R]
capstone eval RUN --task arith_mc [--shots 0]   # a shipped task name or a JSONL task file
capstone serve RUN [--host 127.0.0.1] [--port 8000] [--backend torch|onnx]   # OpenAI API, chat page
```

`finetune` (Module 8), `eval` (Module 12) and `serve` (Module 10) are thin: each loads the run's
model and tokenizer through `RunFolder` and hands them to the library function that teaches the
technique, so the command line adds no algorithm of its own.

Exit status: 0 on success; 2 with a one-line `capstone: error: ...` on stderr for any problem with
the input (data, config, folder), the same status `argparse` uses for a bad command line; 3 when
training stopped on a non-finite loss (the last good checkpoint is kept; resume with a lower
learning rate); 130 when interrupted with Ctrl-C (`capstone resume RUN` continues).

**A worked example.** A folder that holds no run, and a negative seed (options without a command
mean `capstone run`), each cost the user one line and status 2, and neither writes anything:

>>> import contextlib, io, tempfile
>>> err = io.StringIO()
>>> with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stderr(err):
...     main(["report", tmp])
2
>>> print(err.getvalue().strip())
capstone: error: ... is not a capstone run folder (no run.json)
>>> err = io.StringIO()
>>> with contextlib.redirect_stderr(err):
...     main(["--preset", "tiny", "--seed", "-1"])
2
>>> print(err.getvalue().strip())
capstone: error: seed must be in [0, 2147483647], got -1

## Exercises

1. Write `exit_status(error)`: the status `capstone` exits with after a command raised `error`
   (`None`: it finished), or `None` for an error it lets through as a traceback (a bug, not bad
   input). Check it against `main`: `uv run pytest --exercise capstone.cli`.
2. Write `with_command(argv)`: the arguments as the parser must see them, with `run` put first
   when the command is left out (`capstone --preset tiny`) but not before a request for help.
   Check it against `main`: `uv run pytest --exercise capstone.cli`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from masterclass.capstone import evaluate, pipeline, report
from masterclass.capstone.config import (
    DEFAULT_PRESET,
    PRESET_HELP,
    PRESETS,
    apply_overrides,
    build_config,
    parse_set,
    validate,
)
from masterclass.capstone.pipeline import STAGES
from masterclass.capstone.run_folder import CapstoneError, atomic_write_json, is_disk_full
from masterclass.training.loop import NonFiniteLossError

# Exit statuses a script can act on: 2 fix the input, 3 change the settings, 130 resume.
EXIT_BAD_INPUT = 2
EXIT_TRAINING_FAILED = 3
EXIT_INTERRUPTED = 130


# `capstone --help` shows what a first-time user needs without a second `--help`: the presets,
# `--data`, and the most common options of `capstone run`.
def _epilog() -> str:
    presets = "\n".join(
        f"  {name:<7} {PRESET_HELP.get(name, '')}{' (default)' if name == DEFAULT_PRESET else ''}"
        for name in PRESETS
    )
    # Kept by hand in step with the flags below and with `main`'s exit statuses.
    return (
        "presets (capstone run --preset NAME):\n"
        f"{presets}\n\n"
        "common options of `capstone run` (also accepted without the word `run`):\n"
        '  --data PATH ...   your own .txt/.md/.py files, folders or .jsonl files ("text" field);\n'
        "                    default: the Python standard library's source\n"
        "  --out DIR         a new or empty run folder (default: runs/<preset>-<time>)\n"
        "  --set KEY=VALUE   any setting, e.g. --set train.time_budget_s=900\n\n"
        "exit status: 0 done, 2 bad input (one line on stderr), 3 training diverged, "
        "130 interrupted (`capstone resume RUN` continues)"
    )


# One subcommand per action on a run; the raw formatter keeps the epilog's line breaks.
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="capstone",
        description="Train, evaluate, quantize, export and report on a small language model.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command")

    # `run` takes every knob of a fresh run; flags left unset fall back to the preset, so the
    # defaults here are None and `build_config` decides.
    run = sub.add_parser("run", help="run the whole pipeline in a new run folder (the default)")
    run.add_argument(
        "--data", nargs="+", metavar="PATH", help=".txt/.md/.py files, folders or .jsonl files"
    )
    run.add_argument("--preset", choices=None, help=f"one of {', '.join(PRESETS)}")
    run.add_argument("--out", help="run folder (default: runs/<preset>-<time>)")
    run.add_argument("--device", help="auto, cpu or cuda")
    run.add_argument("--seed", type=int, help="seed of every random choice")
    run.add_argument("--config", type=Path, help="TOML file setting any config field")
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="set one config field, e.g. --set train.steps=500",
    )
    run.add_argument("--until", choices=STAGES, help="stop after this stage")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    # `resume` and `stage` work on an existing run folder, whose record already holds the config;
    # `resume` accepts only the few `--set`s that cannot invalidate finished work.
    resume = sub.add_parser("resume", help="continue an interrupted run")
    resume.add_argument("run_dir", type=Path)
    resume.add_argument("--until", choices=STAGES, help="stop after this stage")
    resume.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="change a setting that is safe mid-run: train.lr, train.min_lr, train.clip_norm, "
        "evaluate.*, benchmark.*",
    )
    resume.add_argument("--quiet", action="store_true")

    stage = sub.add_parser("stage", help="run one stage of an existing run again")
    stage.add_argument("name", choices=STAGES)
    stage.add_argument("run_dir", type=Path)
    stage.add_argument("--quiet", action="store_true")

    # Commands on a finished run: sample from its model, time it again, or rewrite its report.
    gen = sub.add_parser("generate", help="generate text with a trained run's model")
    gen.add_argument("run_dir", type=Path)
    gen.add_argument("--prompt", default="", help="text to continue (default: a new document)")
    gen.add_argument("--tokens", type=int, default=100, help="tokens to generate")
    gen.add_argument("--temperature", type=float, default=0.8)
    gen.add_argument("--top-k", type=int, default=40)
    gen.add_argument("--seed", type=int, default=0)

    bench = sub.add_parser("benchmark", help="benchmark a finished run's models again")
    bench.add_argument("run_dir", type=Path)
    bench.add_argument("--quiet", action="store_true")

    report = sub.add_parser("report", help="write the report of a run again")
    report.add_argument("run_dir", type=Path)

    # Commands that hand a trained model to the other packages: fine-tuning (training), a
    # benchmark task (safety's harness) and an HTTP server (deploy).
    tune = sub.add_parser("finetune", help="fine-tune a finished run's model (SFT or DPO)")
    tune.add_argument("run_dir", type=Path)
    tune.add_argument(
        "--data",
        type=Path,
        required=True,
        help='JSONL: {"prompt","response"} lines for sft, {"prompt","chosen","rejected"} for dpo',
    )
    tune.add_argument("--method", choices=("sft", "dpo"), default="sft")
    tune.add_argument("--steps", type=int, default=50)
    tune.add_argument("--lr", type=float, default=1e-3)
    tune.add_argument("--beta", type=float, default=0.1, help="DPO's beta")
    tune.add_argument("--lora-rank", type=int, default=None, help="train LoRA adapters only")
    tune.add_argument("--seed", type=int, default=0)

    # `eval` scores the model on a task (multiple choice or exact match); `serve` speaks the
    # OpenAI HTTP API.
    ev = sub.add_parser("eval", help="evaluate a finished run's model on a benchmark task")
    ev.add_argument("run_dir", type=Path)
    ev.add_argument("--task", required=True, help="a shipped task name or a JSONL task file")
    ev.add_argument("--shots", type=int, default=0, help="in-context examples per question")

    srv = sub.add_parser("serve", help="serve a finished run's model over HTTP (OpenAI API)")
    srv.add_argument("run_dir", type=Path)
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8000)
    srv.add_argument(
        "--backend", choices=("torch", "onnx"), default="torch", help="PyTorch or onnxruntime"
    )
    return parser


# A fresh run: the flags are layered over the preset and any config file, and the folder name
# (given or timestamped) is written back into the config so the record holds it.
def _default_out(preset: str) -> Path:
    return Path("runs") / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def _cmd_run(args: argparse.Namespace) -> None:
    flags: dict = {"out": args.out, "device": args.device, "seed": args.seed}
    if args.data:
        flags["corpus"] = {"data": list(args.data)}
    cfg = build_config(preset_name=args.preset, config_file=args.config, flags=flags, sets=args.set)
    out = Path(cfg.out) if cfg.out else _default_out(cfg.preset)
    cfg.out = str(out)
    print(f"capstone: preset {cfg.preset}, run folder {out}, device {cfg.device}")
    run = pipeline.start_run(cfg, out, until=args.until, quiet=args.quiet)
    _summary(run.path)


# Settings that a resumed run may change: anything else (the data, the model's shape, the batch)
# would make the checkpoint and the finished stages describe a different run.
RESUME_SETTABLE = ("train.lr", "train.min_lr", "train.clip_norm", "evaluate.", "benchmark.")


# A resume checks each `--set` against that list, validates the changed config and saves it in the
# run record before continuing, so the record always describes what the run really used.
def _cmd_resume(args: argparse.Namespace) -> None:
    ctx = pipeline.open_run(args.run_dir, quiet=args.quiet)
    for assignment in args.set:
        key = assignment.partition("=")[0].strip()
        if not key.startswith(RESUME_SETTABLE):
            raise CapstoneError(
                f"--set {key} cannot change on resume; only {', '.join(RESUME_SETTABLE)} can"
            )
        apply_overrides(ctx.cfg, parse_set(assignment), source=f"--set {assignment}")
    if args.set:
        validate(ctx.cfg)
        ctx.run.record["config"] = ctx.cfg.to_dict()
        ctx.run.save_record()
    pipeline.run_pipeline(ctx, until=args.until)
    _summary(ctx.run.path)


# `stage` reruns one stage in place; the summary lists each finished stage, its time and folder.
def _cmd_stage(args: argparse.Namespace) -> None:
    ctx = pipeline.open_run(args.run_dir, quiet=args.quiet)
    pipeline.run_stage(ctx, args.name)
    print(f"capstone: stage {args.name} finished in {ctx.run.path / args.name}")


def _summary(path: Path) -> None:
    run = pipeline.RunFolder.open(path)
    print(f"\ncapstone: run finished in {path}")
    for stage, info in run.record["stages"].items():
        print(f"  {stage:<10} {info['seconds']:8.1f} s   {path / stage}")
    for name in ("report.md", "metrics.json"):
        if (path / name).exists():
            print(f"  {name:<10}            {path / name}")


# `generate` checks every flag before loading the model: `--tokens` must leave room in the model's
# context for the start of the prompt, and a run without a trained model gets a one-line error.
def _cmd_generate(args: argparse.Namespace) -> None:
    if not args.temperature >= 0:
        raise CapstoneError(f"--temperature must be >= 0, got {args.temperature}")
    if args.top_k < 0:
        raise CapstoneError(f"--top-k must be >= 0 (0: all tokens), got {args.top_k}")
    if args.seed < 0:
        raise CapstoneError(f"--seed must be >= 0, got {args.seed}")
    ctx = pipeline.open_run(args.run_dir, quiet=True)
    context = ctx.cfg.model.max_seq_len
    if args.tokens <= 0 or args.tokens >= context:
        raise CapstoneError(f"--tokens must be in [1, {context - 1}], got {args.tokens}")
    if not ctx.run.is_done("train"):
        raise CapstoneError(
            f"run {args.run_dir} has no trained model yet; run `capstone resume` first"
        )
    # The same seeded sampler as the evaluate stage, so a seed reproduces a report's sample.
    text = evaluate.sample(
        ctx.run.load_model(ctx.device),
        ctx.run.load_tokenizer(),
        args.prompt,
        max_new_tokens=args.tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        seed=args.seed,
        device=ctx.device,
    )
    print(text)


# `benchmark` and `report` redo the last stages of a finished run; the report always follows, so
# the numbers in report.md match the new benchmark.
def _cmd_benchmark(args: argparse.Namespace) -> None:
    ctx = pipeline.open_run(args.run_dir, quiet=args.quiet)
    pipeline.run_stage(ctx, "benchmark")
    paths = report.write_report(ctx.run)
    print(f"capstone: benchmark in {ctx.run.path / 'benchmark'}, report {paths['report']}")


def _cmd_report(args: argparse.Namespace) -> None:
    ctx = pipeline.open_run(args.run_dir)
    paths = report.write_report(ctx.run)
    print(f"capstone: wrote {paths['report']} and {paths['metrics']}")


# Two helpers of the commands below, which borrow models from other packages.
def _trained(run_dir: Path):
    """The opened run, refusing one whose training has not finished."""
    ctx = pipeline.open_run(run_dir, quiet=True)
    if not ctx.run.is_done("train"):
        raise CapstoneError(f"run {run_dir} has no trained model yet; run `capstone resume` first")
    return ctx


def _one_line(error: ValueError) -> str:
    """A library error that lists several problems, as one line: the first and how many more."""
    lines = str(error).splitlines() or [""]
    more = f" (and {len(lines) - 1} more problems)" if len(lines) > 1 else ""
    return lines[0] + more


# `finetune` imports the training package only when called, so `capstone --help` stays fast; a
# bad data file becomes one line on stderr (exit 2), not a traceback.
def _cmd_finetune(args: argparse.Namespace) -> None:
    from masterclass.training.finetune import finetune, load_examples

    if args.steps < 1:
        raise CapstoneError(f"--steps must be >= 1, got {args.steps}")
    if args.lora_rank is not None and args.lora_rank < 1:
        raise CapstoneError(f"--lora-rank must be >= 1, got {args.lora_rank}")
    if not args.lr > 0:
        raise CapstoneError(f"--lr must be > 0, got {args.lr}")
    ctx = _trained(args.run_dir)
    try:
        examples = load_examples(args.data, args.method)
    except ValueError as e:
        raise CapstoneError(_one_line(e)) from None
    # Fine-tuning runs on the CPU copy of the trained model; the run's own weights stay as they
    # are, so fine-tuning twice starts from the same model.
    result = finetune(
        ctx.run.load_model("cpu"),
        ctx.run.load_tokenizer(),
        examples,
        args.method,
        steps=args.steps,
        lr=args.lr,
        beta=args.beta,
        lora_rank=args.lora_rank,
        seed=args.seed,
    )
    # The tuned model itself is not kept; the before/after metrics go to finetune/<method>.json.
    result.pop("model", None)
    out = ctx.run.path / "finetune" / f"{args.method}.json"
    out.parent.mkdir(exist_ok=True)
    atomic_write_json(out, result)
    for when in ("before", "after"):
        values = ", ".join(f"{k} {v:.4f}" for k, v in result[when].items())
        print(f"  {when:<6} {values}")
    print(f"capstone: {args.method} on {len(examples)} examples; metrics in {out}")


# `eval` and `serve` follow the same pattern: check the flags, open a trained run, hand the CPU
# model and tokenizer to the other package.
def _cmd_eval(args: argparse.Namespace) -> None:
    from masterclass.safety.harness import evaluate, load_task, report

    if args.shots < 0:
        raise CapstoneError(f"--shots must be >= 0, got {args.shots}")
    ctx = _trained(args.run_dir)
    try:
        task = load_task(args.task)
    except (ValueError, FileNotFoundError) as e:
        raise CapstoneError(_one_line(ValueError(str(e)))) from None
    result = evaluate(
        ctx.run.load_model("cpu"), ctx.run.load_tokenizer(), task, num_fewshot=args.shots
    )
    print(report([result]))


# `serve` blocks until Ctrl-C or SIGTERM; the port is checked here, where the error is clearest.
def _cmd_serve(args: argparse.Namespace) -> None:
    from masterclass.deploy.server import serve

    if not 0 < args.port < 65536:
        raise CapstoneError(f"--port must be in [1, 65535], got {args.port}")
    ctx = _trained(args.run_dir)
    model, tokenizer = ctx.run.load_model("cpu"), ctx.run.load_tokenizer()
    print(f"capstone: serving {args.run_dir} on http://{args.host}:{args.port} (Ctrl-C stops)")
    serve((model, tokenizer), host=args.host, port=args.port, backend=args.backend)


# One function per subcommand; `main` looks the parsed command up here.
_COMMANDS = {
    "finetune": _cmd_finetune,
    "eval": _cmd_eval,
    "serve": _cmd_serve,
    "run": _cmd_run,
    "resume": _cmd_resume,
    "stage": _cmd_stage,
    "report": _cmd_report,
    "generate": _cmd_generate,
    "benchmark": _cmd_benchmark,
}


# `main` makes `run` the default command, then turns each kind of failure into its own exit
# status: 2 bad input or a full disk, 3 a diverged training, 130 Ctrl-C (the run can resume).
def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `capstone` console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["run", *argv]
    args = parser.parse_args(argv)
    # Expected failures become one line on stderr; any other OSError is a bug and keeps its
    # traceback.
    try:
        _COMMANDS[args.command](args)
    except CapstoneError as e:
        print(f"capstone: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except NonFiniteLossError as e:
        print(f"capstone: training stopped: {e}", file=sys.stderr)
        return EXIT_TRAINING_FAILED
    except OSError as e:
        if not is_disk_full(e):
            raise
        print(f"capstone: error: the disk is full ({e.filename or 'writing'})", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("\ncapstone: interrupted; `capstone resume RUN` continues", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0
