r"""# Exercises: The `capstone` command

The command's exit statuses, and the rule that options without a command mean `capstone run`,
checked against the command itself (`main`) with a stand-in for the work a command does."""

import argparse
import contextlib
import errno
import io

from masterclass.capstone import cli
from masterclass.capstone.run_folder import CapstoneError, DiskFullError
from masterclass.training.loop import NonFiniteLossError


def solution_1_exit_status(error: BaseException | None) -> int | None:
    """The status `capstone` exits with after `error` (None: success); None if it propagates."""
    if error is None:
        return 0
    if isinstance(error, CapstoneError):
        return 2
    if isinstance(error, NonFiniteLossError):
        return 3
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return 2
    return None


@contextlib.contextmanager
def _command_that(action):
    # Replace the `report` command's work by `action`, for one call of `main`.
    saved = cli._COMMANDS["report"]
    cli._COMMANDS["report"] = lambda args: action(args)
    try:
        yield
    finally:
        cli._COMMANDS["report"] = saved


def _status_of_main(error: BaseException | None):
    def action(args):
        if error is not None:
            raise error

    with _command_that(action), contextlib.redirect_stderr(io.StringIO()):
        try:
            return cli.main(["report", "runs/x"])
        except BaseException as e:
            if e is error:
                return None  # main let it through: a traceback
            raise


def check_1_exit_status(fn) -> None:
    """Against `main`, whose command is made to raise each error."""
    errors = [
        None,
        CapstoneError("data path notes/ does not exist"),
        DiskFullError("stage data: the disk is full"),
        NonFiniteLossError(12, "loss", float("nan"), None),
        KeyboardInterrupt(),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EDQUOT, "Disk quota exceeded"),
        OSError(errno.EACCES, "Permission denied"),
        ValueError("a bug deep inside"),
        RuntimeError("another bug"),
    ]
    for error in errors:
        want = _status_of_main(error)
        got = fn(error)
        assert got == want, (
            f"after {type(error).__name__}({error}) capstone exits with "
            f"{'a traceback (None)' if want is None else want}, got {got!r}"
        )


def solution_2_with_command(argv: list[str]) -> list[str]:
    """`argv` with `run` put first when it is empty or starts with an option other than help."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["run", *argv]
    return list(argv)


def _parsed_by_main(argv: list[str]):
    # What `main` hands to its command, or the status argparse exits with and what it printed
    # (`--help` alone prints the command list; `run --help` the options of `run`).
    seen: list[argparse.Namespace] = []
    saved = dict(cli._COMMANDS)
    out = io.StringIO()
    try:
        cli._COMMANDS.update({name: seen.append for name in saved})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            cli.main(list(argv))
    except SystemExit as e:
        return ("exit", e.code, out.getvalue())
    finally:
        cli._COMMANDS.update(saved)
    return seen[0]


def _parsed(argv: list[str]):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            return cli._parser().parse_args(argv)
    except SystemExit as e:
        return ("exit", e.code, out.getvalue())


def check_2_with_command(fn) -> None:
    """The parser must read `with_command(argv)` as `main` reads `argv`."""
    cases = [
        [],
        ["--preset", "tiny"],
        ["--data", "notes/", "--preset", "tiny"],
        ["run", "--out", "runs/a"],
        ["resume", "runs/a"],
        ["--help"],
        ["-h"],
        ["stage", "train", "runs/a"],
        ["--seed", "3", "--set", "train.lr=1e-3"],
        ["report", "runs/a"],
    ]
    for argv in cases:
        want = _parsed_by_main(argv)
        got = _parsed(list(fn(list(argv))))
        assert got == want, (
            f"capstone {' '.join(argv)}: main reads it as {_show(want)}, the parser reads "
            f"with_command({argv}) as {_show(got)}"
        )


def _show(parsed) -> str:
    if isinstance(parsed, tuple):  # an exit, with the help text it printed
        return f"exit {parsed[1]} after printing {parsed[2].splitlines()[:2]}"
    return str(parsed)
