"""Generate the site from the source, when mkdocs builds it (run by the gen-files plugin).

Every source file becomes a page on which its module docstring and its full-line comment blocks are
prose (Markdown and LaTeX) and the code between them is shown beside that prose with its real line
numbers. Test files become pages the same way, figure scripts are run and their PNGs stored, each
package gets an API page (mkdocstrings), the curriculum map becomes the course's table of contents,
and `SUMMARY.md` lays the navigation out as Part → Module → topic. Nothing here is committed.
"""

from __future__ import annotations

import ast
import io
import posixpath
import re
import sys
import time
import tokenize
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import (
    ORDER,
    READING_ITEM,
    ROOT,
    Package,
    chapters,
    declared_dependencies,
    load_curriculum,
    packages,
    title_of,
)
from griffe_doctest import fence_examples

# Lines whose only token is a comment become prose, except tool pragmas, which stay in the code.
PRAGMAS = ("#!", "# noqa", "# type:", "# fmt:", "# pragma", "# ruff:", "# pyright:")


def comment_lines(source: str) -> dict[int, str]:
    """Map line number → text of every full-line comment (strings never count)."""
    lines = source.splitlines()
    found = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type != tokenize.COMMENT:
            continue
        row, col = token.start
        if lines[row - 1][:col].strip():
            continue  # an end-of-line comment: it belongs to the code
        text = token.string
        if text.startswith(PRAGMAS):
            continue
        found[row] = text[2:] if text.startswith("# ") else text[1:]
    return found


def sections(source: str) -> tuple[str, list[tuple[str, str, int]]]:
    """Split a file into its docstring and (prose, code, first code line) sections."""
    tree = ast.parse(source)
    lines = source.splitlines()
    first = tree.body[0] if tree.body else None
    start = 0
    docstring = ast.get_docstring(tree, clean=True) or ""
    if docstring and isinstance(first, ast.Expr):
        start = first.end_lineno
    comments = comment_lines(source)
    result: list[tuple[str, str, int]] = []
    prose: list[str] = []
    code: list[tuple[int, str]] = []

    def flush() -> None:
        while code and not code[-1][1].strip():
            code.pop()
        while code and not code[0][1].strip():
            code.pop(0)
        text = "\n".join(prose).strip()
        if text or code:
            body = "\n".join(line for _, line in code)
            result.append((text, body, code[0][0] if code else 0))
        prose.clear()
        code.clear()

    for number in range(start + 1, len(lines) + 1):
        line = lines[number - 1]
        if number in comments:
            # A comment after code starts a new section; consecutive comments form one block,
            # and blank lines between them become paragraph breaks.
            if any(text.strip() for _, text in code):
                flush()
            code.clear()
            prose.append(comments[number])
        elif not line.strip() and not code:
            if prose:
                prose.append("")
        else:
            code.append((number, line))
    flush()
    return docstring, result


CHAPTER_FRONT_MATTER = "---\nhide:\n  - toc\n---\n\n"
TEST_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+((?:test_|Test)\w*)")


def anchors_for(code: str) -> list[str]:
    """HTML ids for the tests defined in a code block: `test_x`, and `TestA.test_y` in a class."""
    ids, current_class = [], None
    for line in code.splitlines():
        match = TEST_DEF.match(line)
        if not match:
            if line and not line[0].isspace():
                current_class = None
            continue
        indent, kind, name = match.groups()
        if not indent:
            current_class = name if kind == "class" else None
            ids.append(name)
        elif current_class and kind == "def":
            ids.append(f"{current_class}.{name}")
    return ids


def literate(source: str, title: str, extra: str = "", after_docstring: str = "") -> str:
    """Render a Python file as a page: docstring on top, then prose beside code, section by section.

    `extra` goes under the title line (where the code lives, the curriculum box); `after_docstring`
    after the whole docstring (the link to the chapter's exercises, which the docstring ends with).
    """
    docstring, parts = sections(source)
    if not docstring.lstrip().startswith("# "):
        docstring = f"# {title}\n\n{docstring}"
    head, _, body = docstring.lstrip().partition("\n")
    # Worked examples read as console sessions (their output lines, `[0.5, 1.0]`, would otherwise
    # be Markdown reference links).
    body = fence_examples(body)
    out = [head, "", extra, "", body, "", after_docstring, ""]
    for prose, code, first in parts:
        ids = "".join(f'<span id="{name}"></span>' for name in anchors_for(code))
        out.append(f'<div class="lit" markdown>\n<div class="lit-prose" markdown>\n{ids}\n')
        out.append(prose or "&nbsp;")
        out.append('\n</div>\n<div class="lit-code" markdown>\n')
        if code:
            fence = "````" if "```" in code else "```"
            out.append(f'{fence}python linenums="{first}"\n{code}\n{fence}')
        out.append("\n</div>\n</div>\n")
    return "\n".join(out)


def relative(target: str, page: str) -> str:
    """A link from one generated page to another."""
    return posixpath.relpath(target, posixpath.dirname(page))


def test_target(test_id: str) -> str:
    """`packages/linalg/tests/test_svd.py::test_x` → `linalg/tests/test_svd.md#test_x`."""
    path, _, name = test_id.partition("::")
    parts = Path(path).parts
    package = parts[1] if parts[0] == "packages" else parts[0]
    anchor = f"#{name.replace('::', '.')}" if name else ""
    return f"{package}/tests/{Path(path).stem}.md{anchor}"


def test_link(test_id: str, page: str) -> str:
    """`packages/linalg/tests/test_svd.py::test_x` → a link to that test on its file's page."""
    path, _, name = test_id.partition("::")
    label = name.split("::")[-1] if name else Path(path).name
    return f"[`{label}`]({relative(test_target(test_id), page)})"


def api_target(dotted: str) -> str | None:
    """The API-page anchor of an implementing object, or None if the API page does not show it.

    `masterclass.linalg.svd.SVD.fit` → `linalg/api.md#masterclass.linalg.svd.SVD` (the class:
    its methods are on the same entry). Names re-exported by an `__init__` are followed to the
    module that defines them.
    """
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 1, -1):
        found = MODULE_FILES.get(".".join(parts[:cut]))
        if found is None:
            continue
        package, path = found
        top = parts[cut]
        tree = ast.parse(path.read_text())
        defined = {
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
        }
        if path.name != "__init__.py" and top in defined:
            return f"{package.name}/api.md#{'.'.join(parts[:cut])}.{top}"
        for node in tree.body:
            if (
                isinstance(node, ast.ImportFrom)
                and node.level == 1
                and node.module
                and any((alias.asname or alias.name) == top for alias in node.names)
            ):
                return api_target(f"{'.'.join(parts[:cut])}.{node.module}.{top}")
        return None
    return None


def api_link(dotted: str, page: str) -> str:
    """An implementing object as a link to its API entry (plain code if it has none)."""
    short = ".".join(dotted.split(".")[2:])
    target = api_target(dotted)
    return f"[`{short}`]({relative(target, page)})" if target else f"`{short}`"


def curriculum_box(entries: list[dict], page: str) -> str:
    """The box under a chapter's title: which bullets it teaches and which tests check them."""
    if not entries:
        return ""
    lines = ['!!! abstract "In the curriculum"']
    for entry in entries:
        tests = ", ".join(test_link(t, page) for t in entry["tests"])
        lines.append(
            f"    - **{entry['id']} {entry['title']}** ({entry['module']}); checked by {tests}"
        )
    return "\n".join(lines)


def exercises_page(package: Package, module: Path) -> str | None:
    """The page of a chapter's exercises, if the chapter has an exercises file."""
    path = package.root / "exercises" / module.relative_to(package.src).with_suffix(".py")
    if module.name == "__init__.py" or not path.exists():
        return None
    return f"{package.name}/exercises/{path.stem}.md"


def source_note(package: Package, path: Path, page: str) -> str:
    """Where the page's code lives, the test file named after it, and its exercises."""
    note = f"*Source: `{path.relative_to(ROOT).as_posix()}`*"
    test_file = package.root / "tests" / f"test_{path.stem}.py"
    if path.parent.name != "tests" and test_file in TESTS.get(package.name, ()):
        target = relative(package.test_page(test_file), page)
        note += f" · *Tests: [`{test_file.name}`]({target})*"
    exercises = exercises_page(package, path) if path.is_relative_to(package.src) else None
    if exercises:
        note += f" · *[Exercises]({relative(exercises, page)})*"
    return note


def exercises_note(package: Package, module: Path, page: str) -> str:
    """Under a chapter's `## Exercises`: where the solutions are and how to get a verdict."""
    target = exercises_page(package, module)
    if not target:
        return ""
    key = f"{package.name}.{module.stem}"
    return (
        f'!!! tip "Check your answers"\n'
        f"    Write your functions in a file, e.g. `my_{module.stem}.py`, named like the "
        f"exercise (`solution_1_<slug>` or just `<slug>`), then run\n"
        f"    `uv run pytest --exercise {key} --solutions my_{module.stem}.py`.\n"
        f"    The checkers and the reference solutions are on the "
        f"[exercises page]({relative(target, page)})."
    )


def neighbours(page: str, sequence: list[tuple[str, str]]) -> str:
    """Previous/next links at the foot of a page of the course's reading sequence."""
    pages = [p for _, p in sequence]
    if page not in pages:
        return ""
    i = pages.index(page)
    links = []
    if i > 0:
        title, target = sequence[i - 1]
        links.append(f'<span class="prev">[← {title}]({relative(target, page)})</span>')
    if i + 1 < len(sequence):
        title, target = sequence[i + 1]
        links.append(f'<span class="next">[{title} →]({relative(target, page)})</span>')
    return '\n\n<nav class="chapter-nav" markdown>\n' + "\n".join(links) + "\n</nav>\n"


def write(path: str, text: str) -> None:
    """Add one generated Markdown page to the site."""
    with mkdocs_gen_files.open(path, "w") as handle:
        handle.write(text)


def _torch_threads(count: int | None) -> int | None:
    """Set torch's intra-op threads (if torch is installed); return the previous count."""
    try:
        import torch
    except ImportError:
        return None
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    return previous


def figure(package: Package, script: Path) -> None:
    """Run a figure script and store its PNG at `<pkg>/figures/<stem>.png`."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": f"figure_{package.name}_{script.stem}", "__file__": str(script)}
    started = time.perf_counter()
    # One thread: figures run small tensors, for which a second thread only adds contention; on
    # a busy 2-core machine torch's default took 100-200x longer (mixed_precision_curves: 112 s
    # against 0.6 s).
    threads = _torch_threads(1)
    try:
        exec(compile(script.read_text(), str(script), "exec"), namespace)
        fig = namespace["figure"]()
    finally:
        _torch_threads(threads)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    with mkdocs_gen_files.open(f"{package.name}/figures/{script.stem}.png", "wb") as handle:
        handle.write(buffer.getvalue())
    seconds = time.perf_counter() - started
    print(f"gen_pages: figure {package.name}/{script.stem}.png in {seconds:.1f} s", file=sys.stderr)


def linked_readme(package: Package, titles: dict[str, tuple[str, str]]) -> str:
    """The README as the overview page, each reading-order item linked to its chapter."""
    out, inside = [], False
    for line in (package.root / "README.md").read_text().splitlines():
        if line.startswith("## "):
            inside = line.strip().lower() == "## reading order"
        match = READING_ITEM.match(line) if inside else None
        if match and match.group(1) in titles:
            name = match.group(1)
            title, page = titles[name]
            link = f"[{title}]({relative(page, f'{package.name}/index.md')}) (`{name}`)"
            line = line[: match.start(1) - 1] + link + line[match.end(1) + 1 :]
        out.append(line)
    return "\n".join(out) + "\n"


def package_pages(
    package: Package,
    modules: list[Path],
    by_page: dict[str, list[dict]],
    sequence: list[tuple[str, str]],
) -> None:
    """Write a package's chapters (`modules`, in reading order), exercises, tests, API, figures."""
    for module in modules:
        page = package.page(module)
        source = module.read_text()
        extra = "\n\n".join(
            filter(
                None,
                [source_note(package, module, page), curriculum_box(by_page.get(page, []), page)],
            )
        )
        text = literate(source, module.stem, extra, exercises_note(package, module, page))
        write(page, CHAPTER_FRONT_MATTER + text + neighbours(page, sequence))
        exercises = exercises_page(package, module)
        if exercises:
            path = package.root / "exercises" / f"{module.stem}.py"
            key = f"{package.name}.{module.stem}"
            note = (
                f"*Source: `{path.relative_to(ROOT).as_posix()}`* · "
                f"*Chapter: [{title_of(source, module.stem)}]({relative(page, exercises)})*\n\n"
                f"Each `solution_k` is a reference solution and `check_k` its checker. Write "
                f"your own `solution_k_<slug>` (or `<slug>`) in a file and run "
                f"`uv run pytest --exercise {key} --solutions your_file.py`; "
                f"`tests/test_exercises.py` runs every checker on its reference solution, and on a "
                f"wrong one, in CI."
            )
            write(
                exercises,
                CHAPTER_FRONT_MATTER
                + literate(path.read_text(), f"Exercises: {module.stem}", note),
            )
    for test_file in TESTS[package.name]:
        page = package.test_page(test_file)
        write(
            page,
            CHAPTER_FRONT_MATTER
            + literate(
                test_file.read_text(),
                f"Tests: {test_file.name}",
                source_note(package, test_file, page),
            ),
        )
    api = [f"# API reference: masterclass.{package.name}\n"]
    for module in package.modules():
        public = [
            node.name
            for node in ast.parse(module.read_text()).body
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and not node.name.startswith("_")
        ]
        if module.name == "__init__.py" or not public:
            continue
        api.append(f"## `{package.dotted(module)}`\n")
        api.extend(f"::: {package.dotted(module)}.{name}\n" for name in public)
    write(f"{package.name}/api.md", "\n".join(api))
    for script in package.figures():
        figure(package, script)


def _words(text: str) -> set[str]:
    # Crude stems of the significant words of a title: "Quantization" and "quantized" meet.
    return {w[:6] for w in re.findall(r"[a-z]{4,}", text.lower())} - {
        "with",
        "from",
        "their",
        "model",
        "models",
        "learn",
        "using",
        "basic",
        "techni",
        "and",
        "frameworks",
        "method",
        "system",
        "archit",
    }


def nearest_chapters(entry: dict, chapter_titles: dict[str, str], entries: list[dict]) -> list[str]:
    """Up to two existing chapters nearest a planned bullet: shared title words, then its section."""
    wanted = _words(entry["title"])
    scored = sorted(
        (
            (len(wanted & _words(title + " " + posixpath.basename(page))), page)
            for page, title in chapter_titles.items()
        ),
        key=lambda item: -item[0],
    )
    found = [page for score, page in scored if score > 0][:2]
    if not found:
        found = [
            e["page"]
            for e in entries
            if e["status"] == "done" and e["section"] == entry["section"] and e["page"]
        ][:2]
    if not found:
        found = [
            e["page"]
            for e in entries
            if e["status"] == "done" and e["module"] == entry["module"] and e["page"]
        ][:2]
    return list(dict.fromkeys(found))


def curriculum_page(entries: list[dict], chapter_titles: dict[str, str]) -> str:
    """The course's table of contents: every bullet, its status, its chapter, API and tests."""
    done = sum(entry["status"] == "done" for entry in entries)
    out = [
        "# The curriculum map",
        "",
        f"**{done} of {len(entries)} bullets done** (counted from `curriculum.toml` when this "
        "site was built). Each line is one bullet of the course: the chapter that teaches it, the "
        "objects that implement it and the tests that check it. A planned bullet points to the "
        "nearest chapters that exist. `tests/test_curriculum.py` checks the map against the code.",
    ]
    part = module = section = None
    page = "curriculum.md"
    for entry in entries:
        if entry["part"] != part:
            part = entry["part"]
            out += ["", f"## {part}"]
        if entry["module"] != module:
            module = entry["module"]
            out += ["", f"### {module}"]
        if entry["section"] != section:
            section = entry["section"]
            out += [
                "",
                f"**{section}**",
                "",
                "| | bullet | chapter | code and tests |",
                "|---|---|---|---|",
            ]
        if entry["status"] == "done":
            status = '<span class="status-done">done</span>'
            title = chapter_titles.get(entry["page"], entry["page"])
            chapter = f"[{title}]({entry['page']})"
            code = ", ".join(api_link(d, page) for d in entry["implements"])
            tests = ", ".join(test_link(t, page) for t in entry["tests"])
            detail = f"{code}<br>tests: {tests}"
        else:
            status = '<span class="status-planned">planned</span>'
            near = nearest_chapters(entry, chapter_titles, entries)
            chapter = (
                ("nearest: " + ", ".join(f"[{chapter_titles.get(p, p)}]({p})" for p in near))
                if near
                else ""
            )
            detail = ""
        out.append(f"| {entry['id']} {status} | {entry['title']} | {chapter} | {detail} |")
    return "\n".join(out) + "\n"


def start_page(sequence_by_package: dict[str, list[tuple[str, str]]]) -> str:
    """ "Start here": what to know first, then each module with what it builds on."""
    out = [
        "# Start here",
        "",
        "**What you need.** Python you can read fluently (functions, classes, list "
        "comprehensions); NumPy arrays; the mathematics of a first university year: vectors and "
        "matrices, derivatives and the chain rule, probabilities. Module 1 re-derives the linear "
        "algebra, calculus and probability the rest uses, so a rusty reader starts there. "
        "No GPU: everything runs on a laptop CPU.",
        "",
        "**How to read a chapter.** Each chapter is one source file. The prose on the left "
        "explains the code on the right, with the file's real line numbers; the worked examples "
        "(`>>>`) are executed by the tests, so they are true. A chapter ends with exercises; "
        "`uv run pytest --exercise <pkg>.<concept> --solutions my_file.py` checks your answers. "
        "Every page has links to the previous and next chapter at its foot.",
        "",
        "**Set up.**",
        "",
        "```",
        "pip install uv",
        "uv run pytest -m 'not slow'    # installs everything, runs the fast tests",
        "uv run mkdocs serve            # this site, locally and offline",
        "```",
        "",
        "## The modules in order",
        "",
        "| module | start with | chapters | builds on |",
        "|---|---|---|---|",
    ]
    for package_name, _part, module in MODULES:
        topics = sequence_by_package.get(package_name, [])
        chapters_only = topics[1:]
        package = PACKAGES[package_name]
        deps = [d for d in ORDER if d in declared_dependencies(package)]
        needs = ", ".join(f"[{d}]({d}/index.md)" for d in deps) or "—"
        first = f"[{chapters_only[0][0]}]({chapters_only[0][1]})" if chapters_only else "—"
        out.append(
            f"| [{module}]({package_name}/index.md) (`{package_name}`) | {first} | "
            f"{len(chapters_only)} | {needs} |"
        )
    out += [
        "",
        '"Builds on" is what the package imports (its `pyproject.toml`, checked by '
        "`tests/test_layering.py`): read those first. Inside a module, follow the overview's "
        "reading order.",
    ]
    return "\n".join(out) + "\n"


def navigation(topics: dict[str, list[tuple[str, str]]], modules: dict[str, list[Path]]) -> str:
    """`SUMMARY.md`: Home, start here, the map, then Part → Module → chapters, exercises, tests."""
    nav = [
        "- [Home](index.md)",
        "- [Start here](start.md)",
        "- [Syllabus](syllabus.md)",
        "- [Curriculum map](curriculum.md)",
        "- [Architecture](architecture.md)",
        "- [Writing a chapter](contributing.md)",
    ]
    placed_part = None
    for package_name, part, module in MODULES:
        if package_name not in topics:
            continue
        if part != placed_part:
            nav.append(f"- {part}")
            placed_part = part
        nav.append(f"    - {module}")
        nav.append(f"        - [Overview]({package_name}/index.md)")
        nav.extend(f"        - [{title}]({page})" for title, page in topics[package_name][1:])
        package = PACKAGES[package_name]
        exercises = [
            (title, exercises_page(package, m))
            for m in modules[package_name]
            if exercises_page(package, m)
            for title in [title_of(m.read_text(), m.stem)]
        ]
        if exercises:
            nav.append("        - Exercises")
            nav.extend(f"            - [{title}]({page})" for title, page in exercises)
        if TESTS[package_name]:
            nav.append("        - Tests")
            nav.extend(
                f"            - [{t.name}]({package.test_page(t)})" for t in TESTS[package_name]
            )
        nav.append(f"        - [API reference]({package_name}/api.md)")
    return "\n".join(nav) + "\n"


ENTRIES = load_curriculum()
PACKAGES = {package.name: package for package in packages()}
MODULE_FILES = {
    package.dotted(module): (package, module)
    for package in PACKAGES.values()
    for module in package.modules()
}
# Where each package sits in the navigation: its part of the course and its module's name.
_FIRST = {}
for _entry in ENTRIES:
    _FIRST.setdefault(_entry["package"], (_entry["part"], _entry["module"]))
MODULES = [
    (
        name,
        *_FIRST.get(name, ("Part 2: Deep Learning Foundations", "Kernels: Triton beside PyTorch")),
    )
    for name in PACKAGES
]
MODULES = [(n, p, "Final project: the capstone" if n == "capstone" else m) for n, p, m in MODULES]

_by_page: dict[str, list[dict]] = defaultdict(list)
for _entry in ENTRIES:
    if _entry["status"] == "done":
        _by_page[_entry["page"]].append(_entry)

# The reading sequence: each package's overview, then its chapters in its README's order; the
# packages in the course's order. Every page of it gets previous/next links.
# (The chapters are listed once: a file that appears while the site builds waits for the next.)
_chapters = {name: chapters(package) for name, package in PACKAGES.items()}
TESTS = {name: package.tests() for name, package in PACKAGES.items()}
_topics: dict[str, list[tuple[str, str]]] = {}
for _name, _part, _module in MODULES:
    _package = PACKAGES[_name]
    _topics[_name] = [(f"{_module}: overview", f"{_name}/index.md")] + [
        (title_of(m.read_text(), m.stem), _package.page(m)) for m in _chapters[_name]
    ]
_sequence = [item for items in _topics.values() for item in items]
_chapter_titles = {page: title for items in _topics.values() for title, page in items[1:]}

for _name, _package in PACKAGES.items():
    package_pages(_package, _chapters[_name], _by_page, _sequence)
    _titles = {
        m.relative_to(_package.src).as_posix(): (title_of(m.read_text(), m.stem), _package.page(m))
        for m in _chapters[_name]
    }
    write(
        f"{_name}/index.md",
        linked_readme(_package, _titles) + neighbours(f"{_name}/index.md", _sequence),
    )
write("start.md", start_page(_topics))
write("curriculum.md", curriculum_page(ENTRIES, _chapter_titles))
write("contributing.md", (ROOT / "CONTRIBUTING.md").read_text().replace("](docs/", "]("))
_done = sum(entry["status"] == "done" for entry in ENTRIES)
write(
    "index.md",
    (ROOT / "docs" / "index.md")
    .read_text()
    .replace("<!-- done-count -->", f"{_done} of the {len(ENTRIES)} bullets"),
)
write("SUMMARY.md", navigation(_topics, _chapters))
