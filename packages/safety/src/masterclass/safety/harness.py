r"""# Benchmark suites: an evaluation harness over shipped tasks

A benchmark is a fixed set of documents, a prompt format and a metric; a *harness* runs many of
them the same way on any model, so that numbers are comparable across models and papers. This one
is small but keeps the conventions of EleutherAI's `lm-evaluation-harness`, whose two measurements
are implemented once, in `training.few_shot` (Module 8), and reused here:

- **log-likelihood multiple choice**, `acc` and `acc_norm` (the latter divides each choice's
  log-likelihood by its length in characters);
- **exact match** of the greedy continuation.

This chapter adds what makes a harness: a **task registry** (JSONL files shipped in
`masterclass/safety/data/tasks/`, one document per line, those with `"split": "train"` forming the
pool of few-shot examples), **pass@k** for sampled generation, a **report** table, and
`evaluate_run`, which loads a capstone run folder with `llm` and `nlp` code and evaluates it.

**pass@k, unbiased** (Chen et al., 2021). Draw $n \ge k$ samples per problem, of which $c$ are
correct. The probability that at least one of $k$ samples drawn *without replacement* from these
$n$ is correct is one minus the probability that all $k$ come from the $n - c$ wrong ones:

$$ \text{pass@}k = 1 - \frac{\binom{n-c}{k}}{\binom{n}{k}}
   = 1 - \prod_{i=n-c+1}^{n} \left(1 - \frac{k}{i}\right), $$

averaged over problems. It is unbiased for the pass@k of the model, while the naive
$1 - (1 - c/n)^k$ is biased low. The product form follows from writing both binomials as factorials
and cancelling; it never forms a large binomial, so it is numerically stable.

## References

- L. Gao et al., *A framework for few-shot language model evaluation* (lm-evaluation-harness), [github.com/EleutherAI/lm-evaluation-harness](https://github.com/EleutherAI/lm-evaluation-harness).
- M. Chen et al., *Evaluating Large Language Models Trained on Code*, 2021, [arXiv:2107.03374](https://arxiv.org/abs/2107.03374).
- P. Liang et al., *Holistic Evaluation of Language Models* (HELM), 2022, [arXiv:2211.09110](https://arxiv.org/abs/2211.09110).

Left out: batching, loglikelihood-rolling (perplexity) tasks, code execution for pass@k (our
correctness check is exact match), and contamination checks.

>>> round(pass_at_k(n=10, c=3, k=1), 6), round(pass_at_k(n=10, c=3, k=5), 6)
(0.3, 0.916667)
>>> sorted(task_names())
['arith_gen', 'arith_mc']

## Exercises

1. Write `solution_1_pass_at_k(n, c, k)` with binomial coefficients (`math.comb`) and compare with
   the product form. Check it: `uv run pytest --exercise safety.harness`.
2. Write `solution_2_naive_bias(n, c, k)`: the gap between the naive estimate $1 - (1 - c/n)^k$
   and the unbiased one; show it is never positive.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from masterclass.llm import LanguageModel, LMConfig
from masterclass.llm.generate import generate
from masterclass.nlp import BPETokenizer
from masterclass.safety.fixtures import fixture_path
from masterclass.training.few_shot import (
    Tokenizer,
    exact_match_eval,
    fewshot_prompt,
    multiple_choice_eval,
    select_shots,
)

# ## pass@k


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem from `n` samples with `c` correct."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0  # every k-subset contains a correct sample
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


# ## Tasks
#
# A task is one JSONL file. Documents with `choices` (and an integer `answer`) are multiple choice;
# the others are generation tasks with a string `answer`. The `"split": "train"` documents are the
# shot pool; the first `num_fewshot` of them become the shots (the harness's `first_n` sampler).


@dataclass
class Task:
    """A benchmark: evaluated documents, a pool of shots and the kind of metric."""

    # Name of the task (the file's stem).
    name: str
    # "multiple_choice" or "generation".
    kind: str
    # The evaluated documents.
    docs: list[dict[str, Any]]
    # Documents to draw few-shot examples from.
    shot_pool: list[dict[str, Any]] = field(default_factory=list)


# The shipped tasks are the JSONL files of the fixtures' `tasks` folder.
def task_names() -> list[str]:
    """Names of the shipped tasks."""
    return [
        p.name.removesuffix(".jsonl")
        for p in fixture_path("tasks").iterdir()
        if p.name.endswith(".jsonl")
    ]


# A name without a suffix is a shipped task; anything else is a path to a JSONL file.
def load_task(name_or_path: str | Path) -> Task:
    """A shipped task by name, or a task from a JSONL file path."""
    path = Path(name_or_path)
    if not path.suffix:
        if str(name_or_path) not in task_names():
            raise ValueError(
                f"no task {name_or_path!r}; shipped tasks: {sorted(task_names())}, or give a .jsonl path"
            )
        path = Path(str(fixture_path("tasks") / f"{name_or_path}.jsonl"))
    if not path.is_file():
        raise ValueError(f"task file {path} does not exist")
    # Rows marked `"split": "train"` are the few-shot pool and are never evaluated; the first
    # document's fields decide the task's kind.
    rows = [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    docs = [r for r in rows if r.get("split") != "train"]
    if not docs:
        raise ValueError(f"task {path} has no documents outside the train split")
    kind = "multiple_choice" if "choices" in docs[0] else "generation"
    return Task(path.stem, kind, docs, [r for r in rows if r.get("split") == "train"])


# ## Running a task
#
# Multiple choice and exact match go straight to `training.few_shot`. Sampled generation for
# pass@k draws `n` continuations per document with `llm.generate` at a temperature, cuts them at
# a blank line, and counts exact matches.


def sample_pass_at_k(
    model: LanguageModel,
    tokenizer: Tokenizer,
    task: Task,
    *,
    n: int,
    ks: Sequence[int],
    num_fewshot: int = 0,
    temperature: float = 1.0,
    max_new_tokens: int = 8,
    seed: int = 0,
) -> dict[str, float]:
    """Mean unbiased pass@k over the task's documents, for each k in `ks`."""
    # One generator for the whole task, so the samples are reproducible from `seed`.
    shots = select_shots(task.shot_pool, num_fewshot)
    g = torch.Generator().manual_seed(seed)
    per_k: dict[int, list[float]] = {k: [] for k in ks}
    # Per document: `n` copies of the prompt sampled in one batch, each answer cut at the first
    # blank line; `c` correct of `n` gives the unbiased estimate $1 - \binom{n-c}{k}/\binom{n}{k}$.
    for doc in task.docs:
        prompt = tokenizer.encode(fewshot_prompt(shots, doc))
        idx = torch.tensor([prompt] * n)  # (n, T)
        out = generate(
            model, idx, max_new_tokens, temperature=temperature, generator=g
        )  # (n, T + m)
        texts = [tokenizer.decode(row[len(prompt) :].tolist()).split("\n\n")[0] for row in out]
        c = sum(t.strip() == str(doc["answer"]).strip() for t in texts)
        for k in ks:
            per_k[k].append(pass_at_k(n, c, k))
    return {f"pass@{k}": sum(v) / len(v) for k, v in per_k.items()}


# The task's kind picks the scorer: log-likelihood of each choice (acc, and acc_norm with the
# choice's length normalised out), or greedy generation compared to the answer.
def evaluate(
    model: LanguageModel, tokenizer: Tokenizer, task: Task, *, num_fewshot: int = 0
) -> dict[str, Any]:
    """The task's metrics: acc and acc_norm, or exact_match; plus `task`, `kind`, `n`."""
    shots = select_shots(task.shot_pool, num_fewshot) if num_fewshot else []
    if task.kind == "multiple_choice":
        res = multiple_choice_eval(model, tokenizer, task.docs, shots=shots)
        metrics = {"acc": res["acc"], "acc_norm": res["acc_norm"]}
    else:
        res = exact_match_eval(model, tokenizer, task.docs, shots=shots)
        metrics = {"exact_match": res["exact_match"]}
    return {
        "task": task.name,
        "kind": task.kind,
        "n": res["n"],
        "num_fewshot": num_fewshot,
        **metrics,
    }


# The columns are the union of the metrics of all results, so tasks of different kinds share one
# table with empty cells.
def report(results: Sequence[dict[str, Any]]) -> str:
    """A Markdown table of results (one row per task)."""
    metrics = sorted({k for r in results for k in r if k.startswith(("acc", "exact", "pass@"))})
    lines = [
        "| task | n | shots | " + " | ".join(metrics) + " |",
        "|---|---:|---:|" + "---:|" * len(metrics),
    ]
    for r in results:
        cells = [f"{r[m]:.3f}" if m in r else "" for m in metrics]
        lines.append(f"| {r['task']} | {r['n']} | {r['num_fewshot']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ## A capstone run
#
# A run folder holds the trained weights and config in `train/` (`model.safetensors`,
# `model_config.json`) and the tokenizer in `tokenizer/bpe.json`. They load with `llm` and `nlp`
# code alone; safetensors comes with the course's environment.


def load_run(run_dir: str | Path) -> tuple[LanguageModel, BPETokenizer]:
    """The trained model (eval mode) and tokenizer of the capstone run in `run_dir`."""
    from safetensors.torch import load_model

    run = Path(run_dir)
    config_file, weights = run / "train" / "model_config.json", run / "train" / "model.safetensors"
    tok_file = run / "tokenizer" / "bpe.json"
    missing = [str(p) for p in (config_file, weights, tok_file) if not p.is_file()]
    if missing:
        raise ValueError(
            f"{run} is not a finished capstone run (train and tokenizer stages): missing {missing}"
        )
    model = LanguageModel(LMConfig.from_dict(json.loads(config_file.read_text())))
    load_model(model, str(weights), strict=True)
    return model.eval(), BPETokenizer.load(tok_file)


# The capstone's `eval` command in one call: load the run, load the task, evaluate.
def evaluate_run(
    run_dir: str | Path, task_path: str | Path, *, num_fewshot: int = 0
) -> dict[str, Any]:
    """Evaluate the capstone run in `run_dir` on a task (a shipped name or a JSONL path)."""
    model, tokenizer = load_run(run_dir)
    return evaluate(model, tokenizer, load_task(task_path), num_fewshot=num_fewshot)
