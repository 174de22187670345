"""Who may import whom: the rule of docs/architecture.md, checked against every package's source.

A package imports only masterclass packages that its pyproject.toml declares and that the
architecture's table allows; the declared graph has no cycles; and every member builds a wheel
that installs and imports in a fresh virtual environment with nothing but its declared dependencies.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(source: str) -> set[str]:
    """The masterclass packages a source file imports (`import masterclass.nn`, `from ... import`)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module]
            if node.module == "masterclass":
                modules = [f"masterclass.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "masterclass" and len(parts) > 1:
                names.add(parts[1])
    return names


def test_imported_packages_reads_all_import_forms():
    source = "import masterclass.nn\nfrom masterclass.nlp.bpe import X\nfrom masterclass import llm\nimport numpy\n"
    assert imported_packages(source) == {"nn", "nlp", "llm"}


def test_every_package_is_in_the_table(course):
    table = course.layering_table()
    for package in course.packages():
        assert package.name in table, f"{package.name} is not in docs/architecture.md's table"


def test_declared_dependencies_are_allowed(course):
    table = course.layering_table()
    for package in course.packages():
        allowed = table[package.name]
        declared = course.declared_dependencies(package)
        if allowed is not None:
            assert declared <= allowed, (
                f"{package.name} declares {sorted(declared - allowed)}, "
                f"which docs/architecture.md does not allow (allowed: {sorted(allowed)})"
            )


def test_imports_are_declared(course):
    problems = []
    for package in course.packages():
        declared = course.declared_dependencies(package) | {package.name}
        for module in package.modules():
            extra = imported_packages(module.read_text()) - declared
            if extra:
                problems.append(f"{module.relative_to(ROOT)} imports {sorted(extra)}, not declared")
    assert not problems, "\n".join(problems)


def test_dependency_graph_has_no_cycles(course):
    graph = {p.name: course.declared_dependencies(p) for p in course.packages()}
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == "done":
            return
        assert state.get(node) != "active", f"import cycle: {' -> '.join([*path, node])}"
        state[node] = "active"
        for dep in graph.get(node, ()):
            visit(dep, [*path, node])
        state[node] = "done"

    for name in graph:
        visit(name, [])


def _members(course):
    return [package.name for package in course.packages()]


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory):
    """Every member built once as a wheel, into one folder."""
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is not on PATH")
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [uv, "build", "--all-packages", "--wheel", "--out-dir", str(out), "--quiet"],
        cwd=ROOT,
        check=True,
    )
    return out


def _closure(course, name: str) -> list[str]:
    """A member and every masterclass package it needs, directly or not."""
    graph = {p.name: course.declared_dependencies(p) for p in course.packages()}
    seen, todo = [], [name]
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.append(current)
            todo.extend(sorted(graph[current]))
    return seen


@pytest.mark.slow
def test_every_member_wheel_installs_and_imports_alone(course, wheelhouse, tmp_path):
    uv = shutil.which("uv")
    env = {**os.environ, "VIRTUAL_ENV": ""}
    for name in _members(course):
        venv = tmp_path / f"venv-{name}"
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env
        )
        python = venv / "bin" / "python"
        # The member's wheel and its masterclass dependencies' wheels, named as files so that no
        # index is asked for a masterclass name; third-party dependencies come from the index.
        wheels = [
            str(next(wheelhouse.glob(f"masterclass_{dep}-*.whl"))) for dep in _closure(course, name)
        ]
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), *wheels], check=True, env=env
        )
        result = subprocess.run(
            [str(python), "-c", f"import masterclass.{name} as m; print(m.__name__)"],
            capture_output=True,
            text=True,
            env=env,
        )
        assert result.returncode == 0, f"masterclass.{name} does not import alone:\n{result.stderr}"
        shutil.rmtree(venv)
