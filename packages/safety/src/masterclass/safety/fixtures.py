"""# Fixtures: the small data sets this module ships

Every chapter of this module runs on data that ships inside the wheel, in
`masterclass/safety/data/`, so that nothing is downloaded and every number can be reproduced:

- `safety_prompts.jsonl`: 54 short prompts, `{"text", "label": "harmful" | "benign", "category"}`,
  including six *borderline* benign prompts that share words with harmful ones ("kill a python
  process"), the probes of over-refusal;
- `jailbreaks.jsonl`: 18 attacks, `{"text", "kind", "category"}`, of four kinds: role-play,
  obfuscation (leetspeak, spaced letters), hypothetical framing and prompt injection;
- `bias_templates.json`: sentence templates and word lists for the templated bias probe;
- `tasks/*.jsonl`: the evaluation harness's benchmark tasks.

The harmful prompts are *requests* only, written to train and test filters; none contains an answer.
This file is the one owner of that folder's layout: chapters ask for a fixture by name.

A fixture is only as good as its hygiene. Every row must have the fields its readers expect, with
values from the stated sets, and no prompt may occur twice: a prompt that lands in both the
examples a filter is fitted on and the ones it is scored on makes the filter look better than it
is, the contamination problem of benchmarks in miniature. And when a chapter holds prompts out, it
holds out the same number from every (label, category) group, so that a per-category rate is
never computed from a category that happens to be missing from the held-out part.

## Exercises

1. Write `invalid_rows(rows)`: the indices of the rows of `safety_prompts.jsonl` (a list of dicts)
   that break its schema: `"text"` a non-blank string, `"label"` exactly `"harmful"` or
   `"benign"`, `"category"` a non-empty string; a row whose text repeats an earlier valid row's
   text (ignoring case and runs of whitespace) is invalid too. Check it:
   `uv run pytest --exercise safety.fixtures`.
2. Write `stratified_holdout(rows, per_group, seed)`: split the rows into `(train, test)`, `test`
   holding `per_group` rows of every `(label, category)` group chosen at random with `seed`
   (the same seed gives the same split), both parts in file order. Check it:
   `uv run pytest --exercise safety.fixtures`.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any


# The data files ship inside the package, so `importlib.resources` finds them wherever (and
# however) it is installed.
def fixture_path(name: str):
    """The shipped file or folder `name` (e.g. `"jailbreaks.jsonl"`, `"tasks"`), as an importlib resource."""
    path = resources.files("masterclass.safety") / "data" / name
    if not (path.is_file() or path.is_dir()):
        raise ValueError(f"no fixture named {name!r}; see masterclass/safety/data/ for the list")
    return path


# JSONL: one JSON object per line; blank lines (a trailing newline) are skipped.
def load_jsonl(name: str) -> list[dict[str, Any]]:
    """The records of the shipped JSONL file `name`, one dict per non-empty line.

    >>> rows = load_jsonl("jailbreaks.jsonl")
    >>> len(rows), sorted(rows[0])
    (18, ['category', 'kind', 'text'])
    """
    text = fixture_path(name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_json(name: str) -> Any:
    """The shipped JSON file `name`."""
    return json.loads(fixture_path(name).read_text(encoding="utf-8"))
