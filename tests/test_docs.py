"""The site's machinery and the examples in docstrings.

Every `>>>` example in a module docstring or a public docstring is executed here, so an example that
a page shows cannot go stale. The page generator's splitting of a file into prose and code is tested
on the cases that matter: comments inside strings stay code, end-of-line comments stay code, and line
numbers are the file's own.
"""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_docstring_examples_run(chapter_module):
    module = importlib.import_module(chapter_module)
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testmod(module, optionflags=flags, verbose=False, report=True)
    assert result.failed == 0, (
        f"{result.failed} docstring example(s) of {chapter_module} failed (see above)"
    )


@pytest.fixture(scope="module")
def generator():
    # gen_pages.py runs inside mkdocs; its functions are plain Python, so load only the definitions
    # (everything above the module-level build at the bottom) to test them.
    source = (ROOT / "docs" / "gen_pages.py").read_text()
    definitions = source.split("\nENTRIES = ")[0]
    namespace: dict = {
        "__file__": str(ROOT / "docs" / "gen_pages.py"),
        "__name__": "gen_pages_test",
    }
    exec(compile(definitions, "gen_pages.py", "exec"), namespace)
    return namespace


SAMPLE = '''"""# A chapter

The idea.
"""

import math

# ## Why
# Because $x^2$ grows.
def square(x):
    """Square.

    # not a comment: this line is inside a string
    """
    return x * x  # (B, T)


# The end.
VALUE = square(3)
'''


def test_sections_split_prose_from_code(generator):
    docstring, parts = generator["sections"](SAMPLE)
    assert docstring == "# A chapter\n\nThe idea."
    assert parts[0] == ("", "import math", 6)
    prose, code, first = parts[1]
    assert prose == "## Why\nBecause $x^2$ grows."
    assert first == 10
    assert "# not a comment: this line is inside a string" in code
    assert "return x * x  # (B, T)" in code
    assert parts[2] == ("The end.", "VALUE = square(3)", 19)


def test_literate_page_keeps_real_line_numbers(generator):
    page = generator["literate"](SAMPLE, "sample")
    assert 'linenums="10"' in page
    assert page.startswith("# A chapter")


def test_page_without_title_gets_one(generator):
    page = generator["literate"]("x = 1\n", "Tests: test_x.py")
    assert page.startswith("# Tests: test_x.py")


def test_every_readme_lists_its_chapters_in_a_reading_order(course):
    # The site's order is the README's `## Reading order` list ("1. `kv_cache.py`: ..."); a
    # chapter it leaves out would be appended at the end of its module, out of place.
    problems = [p for package in course.packages() for p in course.reading_order_problems(package)]
    assert not problems, "\n".join(problems)


def test_reading_order_is_parsed_from_the_readme(course, tmp_path):
    src = tmp_path / "src" / "masterclass" / "demo"
    src.mkdir(parents=True)
    for name in ("a.py", "b.py", "c.py", "__init__.py"):
        (src / name).write_text('"""# T"""\n')
    (tmp_path / "README.md").write_text(
        "# demo\n\n## Reading order\n\n1. `b.py`: first.\n2. `a.py`: then,\n   on two lines.\n\n"
        "## Tests\n\n1. `c.py` is not in the reading order.\n"
    )
    package = course.Package("demo", tmp_path)
    assert [m.name for m in course.chapters(package)] == ["b.py", "a.py", "c.py"]
    assert any("does not list `c.py`" in p for p in course.reading_order_problems(package))


def test_neighbours_link_previous_and_next(generator):
    sequence = [("A", "x/index.md"), ("B", "x/b.md"), ("C", "y/index.md")]
    nav = generator["neighbours"]("x/b.md", sequence)
    assert "[← A](index.md)" in nav and "[C →](../y/index.md)" in nav
    assert "prev" not in generator["neighbours"]("x/index.md", sequence)


def test_test_functions_get_anchors(generator):
    code = "def test_a():\n    pass\nclass TestB:\n    def test_c(self):\n        pass\n"
    assert generator["anchors_for"](code) == ["test_a", "TestB", "TestB.test_c"]


def test_readme_states_an_honest_scope(course):
    # The README must not call the course complete while bullets are planned, and the count it
    # states is a lower bound of the measured one ("at least N of the curriculum's 134"), or all
    # of them only when all are done.
    import re

    text = (ROOT / "README.md").read_text()
    entries = course.load_curriculum()
    done = sum(e["status"] == "done" for e in entries)
    if done < len(entries):
        assert "complete" not in text.split("##")[0].lower(), "the README says 'complete'"
    every = re.search(r"each of the curriculum's (\d+) bullets", text)
    if every:  # "each of the curriculum's 134 bullets has code, tests and a chapter"
        assert int(every.group(1)) == len(entries) == done, "the README claims every bullet"
        return
    match = re.search(r"at least (\d+)\s+of the curriculum's (\d+) bullets", text)
    assert match, "the README must state how many bullets are done"
    assert int(match.group(1)) <= done and int(match.group(2)) == len(entries)


def _python_blocks(text: str) -> list[str]:
    import re

    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_python_snippets_run(course, tmp_path, monkeypatch):
    # A README's ```python block is a promise that it runs as shown: no undefined names. (Blocks
    # that are not meant to run are fenced as plain ``` or ```text.)
    monkeypatch.chdir(tmp_path)
    for package in course.packages():
        readme = package.root / "README.md"
        if not readme.exists():
            continue
        for i, block in enumerate(_python_blocks(readme.read_text())):
            namespace = {"__name__": f"readme_{package.name}_{i}"}
            try:
                exec(compile(block, f"{readme.relative_to(ROOT)} block {i + 1}", "exec"), namespace)
            except Exception as error:
                raise AssertionError(
                    f"{readme.relative_to(ROOT)}: python block {i + 1} fails: {error!r}"
                ) from error
