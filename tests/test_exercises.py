"""The exercises: every checker passes its reference solution and fails a wrong one.

Each chapter that has exercises keeps them in `<package>/exercises/<concept>.py`: pairs of
`solution_<k>_<slug>` (the reference solution of exercise k) and `check_<k>_<slug>(fn)` (raises
`AssertionError` unless `fn` is right). This file collects them all:

- every solution has a checker and every checker a solution, numbered 1, 2, ... without gaps;
- every checker accepts its reference solution;
- every checker rejects a deliberately wrong candidate: the reference solution with its result
  perturbed (numbers moved, booleans flipped, strings lengthened). A checker that accepts it checks
  nothing. Where a result cannot be perturbed (an object, `None`), that case is skipped.

A learner runs the checkers on their own functions:

    uv run pytest --exercise nlp.bpe --solutions my_bpe.py

where `my_bpe.py` defines `solution_1_<slug>` (or just `<slug>`) for the exercises they did.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _load_course():
    # docs/course.py knows where exercises live and how to import them (tests/conftest.py loads
    # the same file for the `course` fixture; conftest modules cannot be imported by name here).
    import importlib.util
    import sys

    if "course" in sys.modules:
        return sys.modules["course"]
    spec = importlib.util.spec_from_file_location("course", ROOT / "docs" / "course.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["course"] = module
    spec.loader.exec_module(module)
    return module


def _selected(config, course) -> dict[str, Path]:
    files = course.exercise_files()
    wanted = config.getoption("--exercise")
    if not wanted:
        return files
    chosen = {
        key: path
        for key, path in files.items()
        if any(key == w or key.startswith(f"{w}.") for w in wanted)
    }
    if not chosen:
        raise pytest.UsageError(
            f"--exercise {' '.join(wanted)}: no such exercises; there are: {', '.join(files)}"
        )
    return chosen


def _cases(config, course) -> list[tuple[str, int, str, str]]:
    cases = []
    for key, path in _selected(config, course).items():
        for number, names in course.exercise_functions(path.read_text()).items():
            cases.append((key, number, names["slug"], str(path)))
    return cases


def pytest_generate_tests(metafunc):
    """Parametrize over exercises files (`exercise_file`) and single exercises (`exercise`)."""
    course = _load_course()
    if "exercise_file" in metafunc.fixturenames:
        files = _selected(metafunc.config, course)
        metafunc.parametrize("exercise_file", list(files.values()), ids=list(files))
    if "exercise" in metafunc.fixturenames:
        cases = _cases(metafunc.config, course)
        metafunc.parametrize(
            "exercise", cases, ids=[f"{key}:{number}_{slug}" for key, number, slug, _ in cases]
        )


@functools.cache
def _module(path: str):
    return _load_course().load_exercises(Path(path))


def test_every_solution_has_a_checker_and_every_checker_a_solution(exercise_file, course):
    source = exercise_file.read_text()
    found = course.exercise_functions(source)
    where = exercise_file.relative_to(ROOT)
    assert found, f"{where}: no solution_<k>_<slug> / check_<k>_<slug> functions"
    for number, names in found.items():
        assert "solution" in names, f"{where}: check_{number}_{names['slug']} has no solution"
        assert "check" in names, f"{where}: solution_{number}_{names['slug']} has no checker"
        assert names["solution"][len("solution_") :] == names["check"][len("check_") :], (
            f"{where}: exercise {number} is {names['solution']} but {names['check']}: "
            "use one slug for both"
        )
    assert list(found) == list(range(1, len(found) + 1)), (
        f"{where}: exercises must be numbered 1, 2, ... without gaps; found {list(found)}"
    )
    module = _module(str(exercise_file))
    doc = (module.__doc__ or "").lstrip()
    assert doc.startswith("# Exercises: "), (
        f"{where}: the docstring must open with '# Exercises: <the chapter's title>'"
    )
    package, concept = exercise_file.parent.parent.name, exercise_file.stem
    chapter = exercise_file.parent.parent / "src" / "masterclass" / package / f"{concept}.py"
    assert chapter.exists(), (
        f"{where}: no chapter {chapter.relative_to(ROOT)}; name the file after its chapter"
    )


def _candidate(exercise, request):
    """The function under check: the learner's (with --solutions) or the reference solution."""
    _key, number, slug, path = exercise
    reference = getattr(_module(path), f"solution_{number}_{slug}")
    solutions = request.config.getoption("--solutions")
    if not solutions:
        return reference
    mine = _load_course().load_exercises(Path(solutions).resolve(), "_learner_solutions")
    for name in (f"solution_{number}_{slug}", slug):
        if callable(getattr(mine, name, None)):
            return getattr(mine, name)
    pytest.skip(f"{solutions} defines neither solution_{number}_{slug} nor {slug}: not done yet")


def test_checker_accepts_the_solution(exercise, request):
    _key, number, slug, path = exercise
    check = getattr(_module(path), f"check_{number}_{slug}")
    check(_candidate(exercise, request))


class _Unperturbable(Exception):
    pass


def _perturb(value):
    """A wrong answer of the same type and shape as `value`."""
    import numpy as np
    import torch

    if isinstance(value, bool | np.bool_):
        return not value
    if isinstance(value, int | np.integer):
        return value + 1
    if isinstance(value, float | complex | np.floating | np.complexfloating):
        return value * 1.5 + 1.0
    if isinstance(value, str):
        return value + "x" if value else "x"
    if isinstance(value, bytes):
        return value + b"x"
    if isinstance(value, np.ndarray):
        if value.size == 0 or value.dtype == object:
            raise _Unperturbable
        if value.dtype == bool:
            return ~value
        if np.issubdtype(value.dtype, np.integer):
            return value + 1
        return value * 1.5 + 1.0
    if isinstance(value, torch.Tensor):
        if value.numel() == 0:
            raise _Unperturbable
        if value.dtype == torch.bool:
            return ~value
        if value.is_floating_point() or value.is_complex():
            return value * 1.5 + 1.0
        return value + 1
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            try:
                changed = _perturb(item)
            except _Unperturbable:
                continue
            items = [*value[:i], changed, *value[i + 1 :]]
            return type(value)(items) if not hasattr(value, "_fields") else type(value)(*items)
        raise _Unperturbable
    if isinstance(value, dict):
        for k, item in value.items():
            try:
                return {**value, k: _perturb(item)}
            except _Unperturbable:
                continue
    raise _Unperturbable


def test_checker_rejects_a_wrong_answer(exercise, request):
    if request.config.getoption("--solutions"):
        pytest.skip("checking the learner's solutions, not the checkers")
    key, number, slug, path = exercise
    module = _module(path)
    reference = getattr(module, f"solution_{number}_{slug}")
    check = getattr(module, f"check_{number}_{slug}")
    perturbed = []

    @functools.wraps(reference)
    def wrong(*args, **kwargs):
        result = reference(*args, **kwargs)
        try:
            result = _perturb(result)
        except _Unperturbable:
            return result
        perturbed.append(True)
        return result

    try:
        check(wrong)
    except Exception:
        return  # rejected, as it must be
    if not perturbed:
        pytest.skip(f"solution_{number}_{slug} returns nothing a number-level change can perturb")
    pytest.fail(
        f"check_{number}_{slug} ({key}) accepted the reference solution with its result perturbed "
        "(numbers moved by x -> 1.5 x + 1, booleans flipped): it must compare values"
    )


def test_the_perturbation_changes_what_it_returns():
    import numpy as np
    import torch

    assert _perturb(2) == 3 and _perturb(True) is False and _perturb(2.0) == 4.0
    assert _perturb((None, np.zeros(2)))[1].tolist() == [1.0, 1.0]
    assert torch.equal(_perturb([torch.tensor([1, 2])])[0], torch.tensor([2, 3]))
    with pytest.raises(_Unperturbable):
        _perturb(None)
