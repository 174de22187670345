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
import sys
import time
import tokenize
from collections import defaultdict
from pathlib import Path

import mkdocs_gen_files

sys.path.insert(0, str(Path(__file__).resolve().parent))
from course import ROOT, Package, load_curriculum, packages

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


def literate(source: str, title: str, extra: str = "") -> str:
    """Render a Python file as a page: docstring on top, then prose beside code, section by section."""
    docstring, parts = sections(source)
    if not docstring.lstrip().startswith("# "):
        docstring = f"# {title}\n\n{docstring}"
    out = [docstring, "", extra, ""]
    for prose, code, first in parts:
        out.append('<div class="lit" markdown>\n<div class="lit-prose" markdown>\n')
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


def test_link(test_id: str, page: str) -> str:
    """`packages/linalg/tests/test_svd.py::test_x` → a link to that test file's page."""
    path, _, name = test_id.partition("::")
    parts = Path(path).parts
    package = parts[1] if parts[0] == "packages" else parts[0]
    return (
        f"[`{name or Path(path).name}`]({relative(f'{package}/tests/{Path(path).stem}.md', page)})"
    )


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


def source_note(package: Package, path: Path, page: str) -> str:
    """Where the page's code lives, and the test file named after it, if there is one."""
    note = f"*Source: `{path.relative_to(ROOT).as_posix()}`*"
    test_file = package.root / "tests" / f"test_{path.stem}.py"
    if path.parent.name != "tests" and test_file.exists():
        target = relative(package.test_page(test_file), page)
        note += f" · *Tests: [`{test_file.name}`]({target})*"
    return note


def write(path: str, text: str) -> None:
    """Add one generated Markdown page to the site."""
    with mkdocs_gen_files.open(path, "w") as handle:
        handle.write(text)


def figure(package: Package, script: Path) -> None:
    """Run a figure script and store its PNG at `<pkg>/figures/<stem>.png`."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": f"figure_{package.name}_{script.stem}", "__file__": str(script)}
    started = time.perf_counter()
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    fig = namespace["figure"]()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    with mkdocs_gen_files.open(f"{package.name}/figures/{script.stem}.png", "wb") as handle:
        handle.write(buffer.getvalue())
    seconds = time.perf_counter() - started
    print(f"gen_pages: figure {package.name}/{script.stem}.png in {seconds:.1f} s", file=sys.stderr)


def package_pages(package: Package, by_page: dict[str, list[dict]]) -> list[tuple[str, str]]:
    """Write a package's pages; return its topic pages (title, path) in reading order."""
    readme = (package.root / "README.md").read_text()
    init = package.src / "__init__.py"
    write(f"{package.name}/index.md", readme)
    topics = []
    for module in package.modules():
        if module == init:
            continue
        page = package.page(module)
        source = module.read_text()
        extra = "\n\n".join(
            filter(
                None,
                [source_note(package, module, page), curriculum_box(by_page.get(page, []), page)],
            )
        )
        write(page, literate(source, module.stem, extra))
        docstring = ast.get_docstring(ast.parse(source)) or module.stem
        title = docstring.splitlines()[0].lstrip("# ").strip()
        topics.append((title, page))
    # Reading order: the order in which the curriculum map names the pages, then the rest.
    mapped = [entry["page"] for entries in by_page.values() for entry in entries]
    order = {
        page: i for i, page in enumerate(dict.fromkeys(p for p in ORDERED_PAGES if p in mapped))
    }
    topics.sort(key=lambda item: (order.get(item[1], len(order)), item[1]))
    for test_file in package.tests():
        page = package.test_page(test_file)
        write(
            page,
            literate(
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
        if module == init or not public:
            continue
        api.append(f"## `{package.dotted(module)}`\n")
        api.extend(f"::: {package.dotted(module)}.{name}\n" for name in public)
    write(f"{package.name}/api.md", "\n".join(api))
    for script in package.figures():
        figure(package, script)
    return topics


def curriculum_page(entries: list[dict]) -> str:
    """The course's table of contents: every bullet, its status, its page and its tests."""
    done = sum(entry["status"] == "done" for entry in entries)
    out = [
        "# The curriculum map",
        "",
        f"**{done} of {len(entries)} bullets done.** Each line is one bullet of the course: the page "
        "that teaches it and the tests that check it. The map is `curriculum.toml` in the "
        "repository; `tests/test_curriculum.py` checks it against the code.",
    ]
    part = module = section = None
    for entry in entries:
        if entry["part"] != part:
            part = entry["part"]
            out += ["", f"## {part}"]
        if entry["module"] != module:
            module = entry["module"]
            out += ["", f"### {module}"]
        if entry["section"] != section:
            section = entry["section"]
            out += ["", f"**{section}**", "", "| | bullet | page | tests |", "|---|---|---|---|"]
        if entry["status"] == "done":
            status = '<span class="status-done">done</span>'
            page = f"[{entry['page']}]({entry['page']})"
            tests = ", ".join(test_link(t, "curriculum.md") for t in entry["tests"])
        else:
            status, page, tests = '<span class="status-planned">planned</span>', "", ""
        out.append(f"| {entry['id']} {status} | {entry['title']} | {page} | {tests} |")
    return "\n".join(out) + "\n"


def navigation(entries: list[dict], topics: dict[str, list[tuple[str, str]]]) -> str:
    """`SUMMARY.md`: Home, the map, then Part → Module → topic, tests and API last."""
    nav = [
        "- [Home](index.md)",
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
        nav.extend(f"        - [{title}]({page})" for title, page in topics[package_name])
        package = PACKAGES[package_name]
        if package.tests():
            nav.append("        - Tests")
            nav.extend(f"            - [{t.name}]({package.test_page(t)})" for t in package.tests())
        nav.append(f"        - [API reference]({package_name}/api.md)")
    return "\n".join(nav) + "\n"


ENTRIES = load_curriculum()
ORDERED_PAGES = [entry["page"] for entry in ENTRIES if entry["status"] == "done"]
PACKAGES = {package.name: package for package in packages()}
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

_topics = {name: package_pages(package, _by_page) for name, package in PACKAGES.items()}
write("curriculum.md", curriculum_page(ENTRIES))
write("contributing.md", (ROOT / "CONTRIBUTING.md").read_text().replace("](docs/", "]("))
write("SUMMARY.md", navigation(ENTRIES, _topics))
