"""Shared fixture of the capstone tests: one tiny run, trained once per test session.

`tiny_run` runs the `tiny` preset through every stage (under a minute) into a temporary folder;
the end-to-end checks (`test_pipeline.py`) and the Module 12 checks on the trained model
(`test_safety.py`) read it. Tests that change a run make their own.
"""

from __future__ import annotations

import pytest

from masterclass.capstone import cli


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The folder of a finished `tiny` run on the CPU."""
    out = tmp_path_factory.mktemp("capstone") / "run"
    code = cli.main(["run", "--preset", "tiny", "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 0
    return out
