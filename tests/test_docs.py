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
