"""Root pytest hooks: every run of the suite ends by saying how much of the curriculum is done."""

from __future__ import annotations

import tomllib
from pathlib import Path


def pytest_terminal_summary(terminalreporter):
    """Print `curriculum: N/134 bullets done` under the test summary."""
    entries = tomllib.loads((Path(__file__).parent / "curriculum.toml").read_text())["bullet"]
    done = sum(entry["status"] == "done" for entry in entries)
    terminalreporter.write_line(f"curriculum: {done}/{len(entries)} bullets done")
