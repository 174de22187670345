"""Shared fixtures for the nlp tests: small, deterministic samples of the default corpus."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest


def stdlib_files() -> list[Path]:
    """The standard library's .py files of the running interpreter, in sorted order."""
    root = Path(sysconfig.get_paths()["stdlib"])
    return sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)


def stdlib_sample(max_chars: int, start: int = 0, step: int = 7) -> list[str]:
    """Every `step`-th stdlib file from `start`, until `max_chars` characters are collected."""
    out, size = [], 0
    for path in stdlib_files()[start::step]:
        text = path.read_text(encoding="utf-8", errors="replace")
        out.append(text)
        size += len(text)
        if size >= max_chars:
            break
    return out


@pytest.fixture(scope="session")
def train_texts() -> list[str]:
    """About 300k characters of Python source for training."""
    return stdlib_sample(300_000, start=0)


@pytest.fixture(scope="session")
def heldout_texts() -> list[str]:
    """About 200k characters of other Python source, for encoding tests."""
    return stdlib_sample(200_000, start=3)
