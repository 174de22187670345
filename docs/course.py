"""The course's structure, read from the repository.

The site generator (`docs/gen_pages.py`) and the cross-package tests (`tests/`) need the same facts:
which packages exist, which source file becomes which page, what the curriculum map says and who
may import whom. They read them here, so the site and the tests cannot disagree.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CURRICULUM = ROOT / "curriculum.toml"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# The course's packages in reading order: the twelve modules, with `kernels` after Module 4 (custom
# kernels) and the capstone last.
ORDER = [
    "linalg",
    "autograd",
    "nn",
    "perf",
    "kernels",
    "nlp",
    "transformer",
    "llm",
    "training",
    "infra",
    "deploy",
    "frontiers",
    "safety",
    "capstone",
]


@dataclass(frozen=True)
class Package:
    """One workspace member: `packages/<name>`, `kernels` or `capstone`."""

    name: str
    root: Path

    @property
    def src(self) -> Path:
        """The folder of the import package, `src/masterclass/<name>`."""
        return self.root / "src" / "masterclass" / self.name

    def modules(self) -> list[Path]:
        """Every source file of the package, `__init__.py` included, sorted by path."""
        return sorted(self.src.rglob("*.py"))

    def tests(self) -> list[Path]:
        """The package's test files."""
        return sorted((self.root / "tests").glob("test_*.py"))

    def figures(self) -> list[Path]:
        """Scripts that draw a figure for the site (`figures/<stem>.py`)."""
        return sorted((self.root / "figures").glob("*.py"))

    def dotted(self, module: Path) -> str:
        """The import path of a source file: `masterclass.linalg.svd`."""
        parts = list(module.relative_to(self.src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(["masterclass", self.name, *parts])

    def page(self, module: Path) -> str:
        """The site page of a source file: `linalg/svd.md` (`linalg/index.md` for `__init__`)."""
        rel = module.relative_to(self.src).with_suffix("")
        if rel.name == "__init__":
            return f"{self.name}/{rel.parent.as_posix()}/index.md".replace("/./", "/")
        return f"{self.name}/{rel.as_posix()}.md"

    def test_page(self, test_file: Path) -> str:
        """The site page of a test file: `linalg/tests/test_svd.md`."""
        return f"{self.name}/tests/{test_file.stem}.md"


def packages() -> list[Package]:
    """The workspace members that exist, in the course's reading order."""
    found = {}
    for pyproject in [
        *ROOT.glob("packages/*/pyproject.toml"),
        ROOT / "kernels" / "pyproject.toml",
        ROOT / "capstone" / "pyproject.toml",
    ]:
        if pyproject.exists():
            root = pyproject.parent
            found[root.name] = Package(root.name, root)
    unknown = sorted(set(found) - set(ORDER))
    if unknown:
        raise ValueError(
            f"packages {unknown} are not in the course order; add them to docs/course.py"
        )
    return [found[name] for name in ORDER if name in found]


def declared_dependencies(package: Package) -> set[str]:
    """The masterclass packages that a member's pyproject.toml declares (`masterclass-nlp` → `nlp`)."""
    project = tomllib.loads((package.root / "pyproject.toml").read_text())["project"]
    names = set()
    for requirement in project.get("dependencies", []):
        match = re.match(r"masterclass-([a-z0-9_]+)", requirement)
        if match:
            names.add(match.group(1))
    return names


def load_curriculum() -> list[dict]:
    """The curriculum map's entries, in the course's order."""
    return tomllib.loads(CURRICULUM.read_text())["bullet"]


def layering_table() -> dict[str, set[str] | None]:
    """Who may import whom, read from the table in docs/architecture.md.

    Maps each package to the set of masterclass packages it may import; `None` means any.
    """
    text = ARCHITECTURE.read_text()
    table = text.split("<!-- layering-table -->")[1].split("<!-- /layering-table -->")[0]
    allowed: dict[str, set[str] | None] = {}
    for row in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in row.strip().strip("|").split("|")]
        name, may = cells[0].strip("`"), cells[2]
        if may == "any package":
            allowed[name] = None
        elif may == "—":
            allowed[name] = set()
        else:
            allowed[name] = {part.strip() for part in may.split(",")}
    return allowed


SYLLABUS = ROOT / "docs" / "syllabus.md"


def syllabus() -> list[dict]:
    """Every bullet of the syllabus page, with the id, part, module and section the map uses.

    Ids are `module.section.bullet` (`6.2.1` is Module 6, section 2, first bullet) and `F.n` for
    the final project's bullets.
    """
    bullets: list[dict] = []
    part = module = section = ""
    module_number = section_number = bullet_number = 0
    final = False
    for line in SYLLABUS.read_text().splitlines():
        if match := re.match(r"^## (Part \d+: .*?) \(", line):
            part = match.group(1)
        elif line.startswith("## Final Project"):
            final, part, module, section, bullet_number = (
                True,
                "Final Project",
                "Final project",
                "Final project",
                0,
            )
        elif match := re.match(r"^### Module (\d+): (.*)", line):
            module_number, module = (
                int(match.group(1)),
                f"Module {match.group(1)}: {match.group(2)}",
            )
        elif match := re.match(r"^(\d+)\. (.*)", line):
            section_number, section, bullet_number = int(match.group(1)), match.group(2), 0
        elif match := re.match(r"^\s*- (.*)", line):
            bullet_number += 1
            ident = (
                f"F.{bullet_number}"
                if final
                else f"{module_number}.{section_number}.{bullet_number}"
            )
            bullets.append(
                {
                    "id": ident,
                    "part": part,
                    "module": module,
                    "section": section,
                    "title": match.group(1).strip(),
                }
            )
    return bullets


# ---------------------------------------------------------------------------------------------
# Exercises: `<package>/exercises/<concept>.py` holds `solution_<k>_<slug>` and `check_<k>_<slug>`.

EXERCISE = re.compile(r"^(solution|check)_(\d+)_(\w+)$")


def exercise_files() -> dict[str, Path]:
    """Every exercises file of the course, keyed `<pkg>.<concept>` (`nlp.bpe`), in course order."""
    found = {}
    for package in packages():
        for path in sorted((package.root / "exercises").glob("*.py")):
            if not path.name.startswith("__"):  # `_validation.py` counts, `__init__.py` not
                found[f"{package.name}.{path.stem}"] = path
    return found


def load_exercises(path: Path, name: str | None = None):
    """Import an exercises file (or a learner's solutions file) by path and return the module."""
    import importlib.util
    import sys

    name = name or f"_exercises_{path.parent.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"cannot import {path}: is it a Python file?")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def exercise_functions(source: str) -> dict[int, dict[str, str]]:
    """`{k: {"solution": name, "check": name, "slug": slug}}` read from a file's top-level defs."""
    import ast

    found: dict[int, dict[str, str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef) and (m := EXERCISE.match(node.name)):
            kind, number, slug = m.group(1), int(m.group(2)), m.group(3)
            found.setdefault(number, {})[kind] = node.name
            found[number].setdefault("slug", slug)
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------------
# Reading order: the package README's `## Reading order` section, a numbered list whose items start
# with the chapter's file name in backticks ("1. `kv_cache.py`: ..."). The site follows it.

READING_ITEM = re.compile(r"^\s*\d+\.\s+`([^`]+?\.py)`")


def readme_order(package: Package) -> list[str]:
    """The chapter file names the README's `## Reading order` list names, in its order."""
    readme = package.root / "README.md"
    if not readme.exists():
        return []
    names, inside = [], False
    for line in readme.read_text().splitlines():
        if line.startswith("## "):
            inside = line.strip().lower() == "## reading order"
            continue
        if inside and (match := READING_ITEM.match(line)):
            names.append(match.group(1))
    return names


def chapters(package: Package) -> list[Path]:
    """The package's chapters (every source file but `__init__.py`), in reading order.

    The README's order first; chapters it does not name follow, sorted by path (the docs test
    fails for them, so the README is kept current).
    """
    modules = [m for m in package.modules() if m.name != "__init__.py" and m.stem != "__main__"]
    by_name = {m.relative_to(package.src).as_posix(): m for m in modules}
    ordered = [by_name[name] for name in dict.fromkeys(readme_order(package)) if name in by_name]
    return ordered + [m for m in modules if m not in ordered]


def reading_order_problems(package: Package) -> list[str]:
    """Chapters the README's reading order leaves out, and names in it that are not chapters."""
    modules = [m for m in package.modules() if m.name != "__init__.py" and m.stem != "__main__"]
    names = {m.relative_to(package.src).as_posix() for m in modules}
    listed = readme_order(package)
    root = package.root
    readme = f"{root.relative_to(ROOT).as_posix() if root.is_relative_to(ROOT) else root}/README.md"
    problems = [
        f"{readme}: reading order names {n}, which is not a chapter"
        for n in listed
        if n not in names
    ]
    problems += [
        f"{readme}: reading order does not list `{n}` (add '1. `{n}`: ...' under ## Reading order)"
        for n in sorted(names - set(listed))
        if not Path(n).name.startswith("_")  # private helpers are pages, not chapters
    ]
    return problems


def title_of(source: str, fallback: str) -> str:
    """A chapter's title: the first line of its module docstring without the `# `."""
    import ast

    docstring = ast.get_docstring(ast.parse(source)) or ""
    first = docstring.strip().splitlines()[0] if docstring.strip() else ""
    return first.lstrip("#").strip() or fallback
