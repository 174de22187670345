"""A griffe extension: show `>>>` examples in docstrings as Python console code on the API pages.

Docstrings in this project carry executed examples (`tests/test_docs.py` runs them). Left as prose,
their output lines (`[0.5, 1.0]`) would read as Markdown links; fenced as `pycon`, they render as a
console session.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_examples(text: str) -> str:
    """Wrap every run of `>>>` lines and their output in a ```` ```pycon ```` fence."""
    out: list[str] = []
    in_example = False
    indent = ""
    for line in text.splitlines():
        stripped = line.lstrip()
        if not in_example and stripped.startswith(">>>"):
            indent = line[: len(line) - len(stripped)]
            out.append(f"{indent}```pycon")
            in_example = True
        elif in_example and not stripped:
            out.append(f"{indent}```")
            in_example = False
        out.append(line)
    if in_example:
        out.append(f"{indent}```")
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Fence the examples of every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        """Rewrite the object's docstring in place."""
        if obj.docstring is not None and ">>>" in obj.docstring.value:
            obj.docstring.value = fence_examples(obj.docstring.value)
