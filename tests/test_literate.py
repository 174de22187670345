r"""The literate lint: every source file opens its chapter with a title, every public function
and class says what it is, docstrings survive as written, and exercises sit where they are promised.

A module docstring's first line is a Markdown title (`# Singular value decomposition`); it becomes
the page's heading. Public top-level functions and classes, and the public methods of public classes,
carry docstrings, so the API reference is never empty.

Docstrings hold LaTeX. In a plain string `\tfrac` is a TAB followed by `frac` and `\nabla` a
newline, so a docstring that contains a backslash must be a raw string (`r"..."` with triple quotes), where
`\frac` is written once and means what it says; and no docstring may hold a control character
(a TAB, a form feed, a backspace), the trace such an escape leaves.

A chapter whose exercises file exists (`<package>/exercises/<concept>.py`) ends its docstring with
an `## Exercises` section that says how to check them (`--exercise <pkg>.<concept>`); a chapter
without one has no such section, since exercises without checkers give no verdict.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
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


# Control characters that a plain string's escapes make of LaTeX (`\t`, `\f`, `\b`, `\v`, `\a`,
# `\r`), and any other C0 character but the newline.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _docstring_nodes(tree: ast.Module) -> list[ast.Constant]:
    nodes = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                nodes.append(body[0].value)
    return nodes


def docstring_problems(source: str) -> list[str]:
    """Docstrings that hold a control character, or a backslash without being raw strings."""
    tree = ast.parse(source)
    strings = {
        token.start: token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.STRING
    }
    found = []
    for node in _docstring_nodes(tree):
        if match := CONTROL.search(node.value):
            found.append(
                f"line {node.lineno}: docstring holds control character U+{ord(match.group()):04X} "
                f"near {node.value[max(0, match.start() - 15) : match.end() + 15]!r} "
                '(an escape such as \\t in \\tfrac?): make it a raw string r"""..."""'
            )
        literal = strings.get((node.lineno, node.col_offset), "")
        prefix = literal[: len(literal) - len(literal.lstrip("rRbBuUfF"))]
        if "\\" in literal and "r" not in prefix.lower():
            found.append(
                f"line {node.lineno}: docstring has backslashes but is not a raw string: write "
                'r"""...""" and each LaTeX backslash once (\\frac, not \\\\frac)'
            )
    return found


def exercises_problems(chapter: Path, exercises: Path, key: str) -> list[str]:
    """A chapter ends with `## Exercises` exactly when its exercises file exists."""
    docstring = ast.get_docstring(ast.parse(chapter.read_text())) or ""
    headings = re.findall(r"^## (.+)$", docstring, flags=re.M)
    has_section = "Exercises" in [h.strip() for h in headings]
    if exercises.exists():
        if not has_section:
            return [f"has {exercises.relative_to(ROOT)} but no '## Exercises' section"]
        if headings[-1].strip() != "Exercises":
            return ["'## Exercises' must be the docstring's last section"]
        section = docstring.split("## Exercises", 1)[1]
        if f"--exercise {key}" not in section:
            return [f"'## Exercises' must say how to check them: `uv run pytest --exercise {key}`"]
    elif has_section:
        return [f"has '## Exercises' but no {exercises.relative_to(ROOT)} with checked solutions"]
    return []


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


def test_the_docstring_lint_catches_plain_latex():
    assert docstring_problems('r"""# T\n\n$\\tfrac{1}{2}$"""\n') == []
    assert docstring_problems('"""# T\n\nNo math."""\n') == []
    tab = docstring_problems('"""# T\n\n$\\tfrac{1}{2}$"""\n')
    assert len(tab) == 2 and "U+0009" in tab[0] and "not a raw string" in tab[1]
    doubled = docstring_problems('"""# T"""\ndef f():\n    """$\\\\frac{a}{b}$."""\n')
    assert doubled == [
        "line 3: docstring has backslashes but is not a raw string: write "
        'r"""...""" and each LaTeX backslash once (\\frac, not \\\\frac)'
    ]


def test_docstrings_are_raw_where_they_hold_backslashes(course):
    report = []
    for package in course.packages():
        files = [*package.modules(), *sorted((package.root / "exercises").glob("*.py"))]
        for path in files:
            report += [
                f"{path.relative_to(ROOT)}: {p}" for p in docstring_problems(path.read_text())
            ]
    assert not report, "\n".join(report)


def test_chapters_end_with_exercises_exactly_where_they_have_them(course):
    report, with_exercises, chapters = [], 0, 0
    for package in course.packages():
        for chapter in course.chapters(package):
            chapters += 1
            exercises = package.root / "exercises" / f"{chapter.stem}.py"
            with_exercises += exercises.exists()
            key = f"{package.name}.{chapter.stem}"
            report += [
                f"{chapter.relative_to(ROOT)}: {p}"
                for p in exercises_problems(chapter, exercises, key)
            ]
        for orphan in sorted((package.root / "exercises").glob("*.py")):
            if not (package.src / orphan.name).exists():
                report.append(
                    f"{orphan.relative_to(ROOT)}: no chapter {package.name}/{orphan.name}"
                )
    print(f"chapters with exercises: {with_exercises} of {chapters}")
    assert not report, "\n".join(report)


def test_every_chapter_has_a_title_and_documented_public_api(course):
    report = []
    for package in course.packages():
        for module in package.modules():
            report += [f"{module.relative_to(ROOT)}: {p}" for p in problems_in(module.read_text())]
    assert not report, "\n".join(report)


def raw_docstrings(source: str) -> str:
    r"""Rewrite every plain docstring that holds a backslash as a raw string, meaning kept.

    `\\frac` becomes `\frac`; a single escape that LaTeX meant (`\tfrac`, `\nabla`, `\beta`) is
    kept as written, which in a raw string is what the author meant. Run it on files with
    `python tests/test_literate.py --fix FILE...`.
    """
    tree = ast.parse(source)
    starts = {(n.lineno, n.col_offset) for n in _docstring_nodes(tree)}
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.STRING or token.start not in starts:
            continue
        literal = token.string
        prefix = literal[: len(literal) - len(literal.lstrip("rRbBuUfF"))]
        if "\\" not in literal or "r" in prefix.lower():
            continue
        quote = literal[len(prefix) : len(prefix) + 3]
        quote = quote if quote in ('"""', "'''") else literal[len(prefix)]
        body = literal[len(prefix) + len(quote) : -len(quote)]
        escapes = [m.group(1) for m in re.finditer(r"\\(.)", body, flags=re.S)]
        if any(e in "\n\"'" for e in escapes):
            continue  # a line continuation or an escaped quote: leave it to a person
        body = re.sub(r"\\(.)", lambda m: "\\" if m.group(1) == "\\" else m.group(0), body)
        start = offsets[token.start[0] - 1] + token.start[1]
        end = offsets[token.end[0] - 1] + token.end[1]
        edits.append((start, end, f"r{prefix}{quote}{body}{quote}"))
    for start, end, text in reversed(edits):
        source = source[:start] + text + source[end:]
    return source


def test_raw_docstrings_keeps_meaning():
    before = '"""# T\n\n$\\\\frac{a}{b}$ and $\\tfrac12$."""\n'
    after = raw_docstrings(before)
    assert after == 'r"""# T\n\n$\\frac{a}{b}$ and $\\tfrac12$."""\n'
    assert docstring_problems(after) == []


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["--fix"]:
        raise SystemExit("usage: python tests/test_literate.py --fix FILE...")
    for name in sys.argv[2:]:
        path = Path(name)
        text = path.read_text()
        fixed = raw_docstrings(text)
        if fixed != text:
            path.write_text(fixed)
            print(f"raw docstrings: {name}")
