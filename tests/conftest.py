"""Shared fixtures for the cross-package tests, and the curriculum line at the end of every run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_course():
    # docs/course.py is the one place that knows the course's structure; the site generator uses
    # it too. It is a script beside the docs, not an installed package, so load it by path.
    spec = importlib.util.spec_from_file_location("course", ROOT / "docs" / "course.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["course"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def course():
    """The `docs/course.py` module: packages, pages, curriculum map, layering table."""
    return _load_course()


def pytest_generate_tests(metafunc):
    """Parametrize `chapter_module` over the dotted name of every source file of every package."""
    if "chapter_module" in metafunc.fixturenames:
        course = _load_course()
        names = [
            package.dotted(module) for package in course.packages() for module in package.modules()
        ]
        metafunc.parametrize("chapter_module", names)
