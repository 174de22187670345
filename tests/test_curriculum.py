"""The curriculum map against the syllabus, the code, the tests and the site.

`curriculum.toml` has one entry per bullet of the syllabus (`docs/syllabus.md`). An entry marked
done must name objects that import, tests that exist and a page the site builds from a source file.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIELDS = (
    "id",
    "part",
    "module",
    "section",
    "package",
    "title",
    "status",
    "implements",
    "tests",
    "page",
)


def test_map_has_every_syllabus_bullet_and_no_other(course):
    entries = course.load_curriculum()
    wanted = [
        (b["id"], b["part"], b["module"], b["section"], b["title"]) for b in course.syllabus()
    ]
    have = [(e["id"], e["part"], e["module"], e["section"], e["title"]) for e in entries]
    missing = [b for b in wanted if b not in have]
    invented = [e for e in have if e not in wanted]
    assert not missing, f"bullets missing from curriculum.toml: {missing}"
    assert not invented, f"entries of curriculum.toml that are not in the syllabus: {invented}"
    assert have == wanted, "curriculum.toml must list the bullets in the syllabus's order"
    assert len(wanted) == 134  # 129 topic bullets and the final project's 5


def test_entries_are_well_formed(course):
    for entry in course.load_curriculum():
        assert tuple(entry) == FIELDS, f"{entry['id']}: fields must be {FIELDS}"
        assert entry["status"] in ("planned", "done"), f"{entry['id']}: unknown status"
        if entry["status"] == "planned":
            continue
        assert entry["implements"], f"{entry['id']} is done but names no implementing object"
        assert entry["tests"], f"{entry['id']} is done but names no test"
        assert entry["page"], f"{entry['id']} is done but names no page"


def _resolve(dotted: str):
    # The longest importable module prefix, then attributes: `masterclass.linalg.svd.SVD.fit`.
    parts = dotted.split(".")
    for cut in range(len(parts), 1, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ModuleNotFoundError(dotted)


def _test_exists(test_id: str) -> bool:
    path, _, name = test_id.partition("::")
    file = ROOT / path
    if not file.exists() or not name:
        return False
    tree = ast.parse(file.read_text())
    scope = tree.body
    for part in name.split("::"):
        found = [n for n in scope if getattr(n, "name", None) == part]
        if not found:
            return False
        scope = getattr(found[0], "body", [])
    return True


def _done(course):
    return [e for e in course.load_curriculum() if e["status"] == "done"]


def test_done_entries_name_objects_that_import(course):
    problems = []
    for entry in _done(course):
        for dotted in entry["implements"]:
            try:
                _resolve(dotted)
            except (ImportError, AttributeError) as error:
                problems.append(f"{entry['id']}: {dotted} does not import ({error})")
    assert not problems, "\n".join(problems)


def test_done_entries_name_tests_that_exist(course):
    problems = [
        f"{entry['id']}: no test {test_id}"
        for entry in _done(course)
        for test_id in entry["tests"]
        if not _test_exists(test_id)
    ]
    assert not problems, "\n".join(problems)


def test_done_entries_name_pages_the_site_builds(course):
    pages = {package.page(module) for package in course.packages() for module in package.modules()}
    pages |= {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    problems = [
        f"{entry['id']}: page {entry['page']} is not built from any source file"
        for entry in _done(course)
        if entry["page"] not in pages
    ]
    assert not problems, "\n".join(problems)


def test_done_entries_belong_to_their_package(course):
    for entry in _done(course):
        for dotted in entry["implements"]:
            assert dotted.startswith("masterclass."), f"{entry['id']}: {dotted} is not ours"


@pytest.mark.parametrize(
    "bad", ["masterclass.nothing_here.at_all", "masterclass.linalg.__no_such__"]
)
def test_resolve_rejects_what_does_not_exist(bad):
    with pytest.raises((ImportError, AttributeError)):
        _resolve(bad)
