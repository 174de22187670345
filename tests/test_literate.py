"""The literate lint: every source file opens its chapter with a title, and every public function
and class says what it is.

A module docstring's first line is a Markdown title (`# Singular value decomposition`); it becomes
the page's heading. Public top-level functions and classes, and the public methods of public classes,
carry docstrings, so the API reference is never empty.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Methods that only fill in a framework hook, whose meaning the framework documents.
FRAMEWORK_HOOKS = {"extra_repr"}


def problems_in(source: str) -> list[str]:
    """What a source file lacks: a title line, or docstrings on public objects."""
    tree = ast.parse(source)
    found = []
    docstring = ast.get_docstring(tree)
    if not docstring:
        found.append("no module docstring")
    elif not docstring.splitlines()[0].startswith("# "):
        found.append(
            f"module docstring does not open with a '# Title' line: {docstring.splitlines()[0]!r}"
        )
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if node.name.startswith("_"):
            continue
        if not ast.get_docstring(node):
            found.append(f"line {node.lineno}: public {node.name} has no docstring")
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if (
                    isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                    and not item.name.startswith("_")
                    and item.name not in FRAMEWORK_HOOKS
                    and not any(_is_overload_or_property_setter(d) for d in item.decorator_list)
                    and not ast.get_docstring(item)
                ):
                    found.append(
                        f"line {item.lineno}: public method {node.name}.{item.name} has no docstring"
                    )
    return found


def _is_overload_or_property_setter(decorator: ast.expr) -> bool:
    # `@x.setter` repeats the getter's docstring; `@overload` stubs have none by design.
    return (isinstance(decorator, ast.Attribute) and decorator.attr in ("setter", "deleter")) or (
        isinstance(decorator, ast.Name) and decorator.id == "overload"
    )


def test_the_lint_catches_what_it_should():
    assert problems_in('"""Title without hash."""\n') == [
        "module docstring does not open with a '# Title' line: 'Title without hash.'"
    ]
    assert problems_in('"""# T"""\ndef f():\n    pass\n') == ["line 2: public f has no docstring"]
    assert problems_in('"""# T"""\nclass A:\n    """A."""\n    def go(self):\n        pass\n') == [
        "line 4: public method A.go has no docstring"
    ]
    assert problems_in('"""# T"""\ndef _private():\n    pass\n') == []


def test_every_chapter_has_a_title_and_documented_public_api(course):
    report = []
    for package in course.packages():
        for module in package.modules():
            report += [f"{module.relative_to(ROOT)}: {p}" for p in problems_in(module.read_text())]
    assert not report, "\n".join(report)
