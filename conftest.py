"""Root pytest hooks: the learner's `--exercise` options, and the curriculum line that ends every run.

`uv run pytest --exercise nlp.bpe --solutions my_bpe.py` runs the checkers of
`packages/nlp/exercises/bpe.py` on the functions of `my_bpe.py` (named like the reference
solutions, `solution_1_<slug>`, or by their slug alone) and nothing else of the suite. Without
`--solutions` it runs them on the reference solutions.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parent
EXERCISES_TEST = ROOT / "tests" / "test_exercises.py"


def pytest_addoption(parser):
    """`--exercise <pkg>.<concept>` and `--solutions PATH`."""
    group = parser.getgroup("masterclass exercises")
    group.addoption(
        "--exercise",
        action="append",
        default=[],
        metavar="PKG.CONCEPT",
        help="run only the checkers of this chapter's exercises, e.g. nlp.bpe (or a whole "
        "package: nlp); may be repeated",
    )
    group.addoption(
        "--solutions",
        default=None,
        metavar="PATH",
        help="a Python file with your solutions (solution_1_<slug> or <slug>); without it the "
        "checkers run on the reference solutions",
    )


def pytest_configure(config):
    """Refuse `--solutions` without `--exercise`: it would silently check nothing of yours."""
    solutions = config.getoption("--solutions")
    if solutions and not config.getoption("--exercise"):
        raise __import__("pytest").UsageError(
            f"--solutions {solutions} needs --exercise <pkg>.<concept> (e.g. --exercise nlp.bpe)"
        )
    if solutions and not Path(solutions).is_file():
        raise __import__("pytest").UsageError(
            f"--solutions {solutions}: no such file; pass the path of your solutions file"
        )


def pytest_ignore_collect(collection_path, config):
    """With `--exercise`, collect only `tests/test_exercises.py` (fast, and nothing else runs)."""
    if not config.getoption("--exercise"):
        return None
    path = Path(collection_path).resolve()
    if path == EXERCISES_TEST or path in EXERCISES_TEST.parents:
        return None
    return True


def pytest_terminal_summary(terminalreporter):
    """Print `curriculum: N/134 bullets done` under the test summary."""
    entries = tomllib.loads((ROOT / "curriculum.toml").read_text())["bullet"]
    done = sum(entry["status"] == "done" for entry in entries)
    terminalreporter.write_line(f"curriculum: {done}/{len(entries)} bullets done")
