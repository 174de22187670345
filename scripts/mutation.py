r"""Mutation testing for one chapter: do its tests fail when its code is wrong?

    uv run --frozen python scripts/mutation.py packages/llm/src/masterclass/llm/tiny_runs.py \
        packages/llm/tests/test_tiny_runs.py [--only random_batch,evaluate] [--timeout 60]

Each mutant flips one thing in the file's code (never its docstrings): an arithmetic operator
(`+`/`-`, `*`/`/`, `//`/`/`), a comparison (`<`/`<=`, `>`/`>=`, `==`/`!=`), `and`/`or`, a unary
minus dropped, or an integer/float constant nudged (`n -> n + 1`, `0.0 -> 1.0`). The mutant is
written to a temporary folder and loaded IN PLACE OF the real module by a tiny pytest plugin
(an import hook), so the checkout is never touched and other people editing it are not disturbed.
A mutant is *killed* when the tests fail (or time out), *survived* when they pass. The score is
killed / total. Read every survivor: either a test is missing, or the mutant is equivalent.

This is a from-scratch runner rather than mutmut because mutmut 3 rewrites the source tree it is
given and the root pyproject carries no `[tool.mutmut]` section for a workspace of packages.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import subprocess
import sys
import tempfile
from pathlib import Path

_BINOP_SWAP = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
_CMP_SWAP = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}

_PLUGIN = """
import importlib.abc, importlib.util, sys
_NAME, _PATH = {name!r}, {path!r}
class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname == _NAME:
            return importlib.util.spec_from_file_location(fullname, _PATH)
        return None
sys.meta_path.insert(0, _Finder())
"""


def _docstring_ids(tree: ast.AST) -> set[int]:
    """Ids of the Constant nodes that are docstrings (never mutated)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _in_scope(tree: ast.Module, only: set[str] | None) -> list[ast.AST]:
    """The top-level statements to mutate: all, or only the named functions/classes."""
    if not only:
        return list(tree.body)
    return [n for n in tree.body if getattr(n, "name", None) in only]


def mutants(source: str, only: set[str] | None = None) -> list[tuple[str, str]]:
    """Every single-site mutant of `source`, as (description, mutated source)."""
    tree = ast.parse(source)
    skip = _docstring_ids(tree)
    sites: list[tuple[int, str]] = []  # (walk index, description)
    nodes = [n for top in _in_scope(tree, only) for n in ast.walk(top)]
    all_nodes = list(ast.walk(tree))
    index = {id(n): i for i, n in enumerate(all_nodes)}
    for n in nodes:
        i, line = index[id(n)], getattr(n, "lineno", "?")
        if isinstance(n, ast.BinOp) and type(n.op) in _BINOP_SWAP:
            sites.append((i, f"line {line}: {type(n.op).__name__} -> binop swap"))
        elif isinstance(n, ast.Compare) and type(n.ops[0]) in _CMP_SWAP:
            sites.append((i, f"line {line}: {type(n.ops[0]).__name__} -> compare swap"))
        elif isinstance(n, ast.BoolOp):
            sites.append((i, f"line {line}: {type(n.op).__name__} -> and/or swap"))
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.USub):
            sites.append((i, f"line {line}: drop unary minus"))
        elif (
            isinstance(n, ast.Constant)
            and id(n) not in skip
            and type(n.value) in (int, float)
            and not isinstance(n.value, bool)
        ):
            sites.append((i, f"line {line}: constant {n.value!r} -> {n.value + 1!r}"))
    out = []
    for i, desc in sites:
        t = copy.deepcopy(tree)
        n = list(ast.walk(t))[i]
        if isinstance(n, ast.BinOp):
            n.op = _BINOP_SWAP[type(n.op)]()
        elif isinstance(n, ast.Compare):
            n.ops[0] = _CMP_SWAP[type(n.ops[0])]()
        elif isinstance(n, ast.BoolOp):
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
        elif isinstance(n, ast.UnaryOp):
            # Replace -x by +x (same node position, so the walk stays valid).
            n.op = ast.UAdd()
        elif isinstance(n, ast.Constant):
            n.value = n.value + 1
        out.append((desc, ast.unparse(t)))
    return out


def _module_name(path: Path) -> str:
    """`packages/llm/src/masterclass/llm/tiny_runs.py` -> `masterclass.llm.tiny_runs`."""
    parts = path.with_suffix("").parts
    if "src" not in parts:
        raise ValueError(f"file={path}: expected a path under a package's src/ folder")
    return ".".join(parts[parts.index("src") + 1 :])


def run(file: Path, tests: list[str], only: set[str] | None, timeout: float) -> tuple[int, int]:
    """Run every mutant of `file` against `tests`; print survivors; return (killed, total)."""
    name = _module_name(file)
    todo = mutants(file.read_text(), only)
    killed = 0
    with tempfile.TemporaryDirectory() as tmp:
        plugin = Path(tmp) / "mutation_plugin.py"
        mutant_path = Path(tmp) / "mutant.py"
        plugin.write_text(_PLUGIN.format(name=name, path=str(mutant_path)))
        env = {**os.environ, "PYTHONPATH": tmp + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "mutation_plugin"]
        cmd += ["-p", "no:cacheprovider", "-m", "not gpu and not distributed", *tests]
        for k, (desc, src) in enumerate(todo, 1):
            mutant_path.write_text(src)
            try:
                rc = subprocess.run(cmd, env=env, capture_output=True, timeout=timeout).returncode
            except subprocess.TimeoutExpired:
                rc = -1
            dead = rc != 0
            killed += dead
            print(f"[{k}/{len(todo)}] {'killed  ' if dead else 'SURVIVED'} {desc}", flush=True)
    print(f"mutation score {name}: {killed}/{len(todo)} killed", flush=True)
    return killed, len(todo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="the chapter's source file")
    parser.add_argument("tests", nargs="+", help="the test files (or ids) that should kill mutants")
    parser.add_argument("--only", default="", help="comma-separated top-level names to mutate")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per test run")
    args = parser.parse_args()
    only = {s for s in args.only.split(",") if s} or None
    run(args.file, args.tests, only, args.timeout)


if __name__ == "__main__":
    main()
