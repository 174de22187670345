"""Bad and unusual input, as a table: input -> exit status, the one line, the folder after.

Every case runs the real command line (`cli.main`) and checks three things: the exit status, that
stderr is exactly one line naming the problem (never a traceback), and the state of the folders
afterwards: the user's own files byte for byte, and a run folder that is either absent or
consistent. The cases that need a run start from one tiny run interrupted at step 25 (checkpoints
at steps 10 and 20), copied for each case.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from masterclass.capstone import cli
from masterclass.capstone import corpus as corpus_stage
from masterclass.capstone import train as train_stage


def _run(capsys, args):
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines(), captured.out


def _docs(folder: Path, n: int, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"d{i}.txt").write_text(f"{i} {text}\n")


def _enough_text(folder: Path) -> None:
    # Enough distinct text for the tiny preset: 60 documents of a few kilobytes.
    _docs(folder, 60, "the quick brown fox jumps over the lazy dog; " * 60)


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> bytes), for byte-for-byte comparisons."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _user_project(root: Path) -> dict[str, bytes]:
    # A user's project: source files, and folders named like the stages.
    (root / "data").mkdir(parents=True)
    (root / "report").mkdir()
    (root / "src").mkdir()
    _enough_text(root / "data")
    (root / "report" / "draft.md").write_text("my own report\n")
    (root / "src" / "main.py").write_text("print('hello')\n")
    (root / "metrics.json").write_text('{"mine": true}\n')
    return _snapshot(root)


TINY = ["--preset", "tiny", "--device", "cpu", "--quiet"]


@dataclass
class Case:
    """One input: `setup(tmp)` builds it and returns the arguments; `after(tmp)` checks folders."""

    setup: Callable[[Path], list[str]]
    code: int
    message: str
    after: Callable[[Path], None] = lambda tmp: None
    # Lines expected on stdout (warnings), in addition to stderr's one error line.
    warning: str | None = None
    lines: int = 1
    patch: Callable[[pytest.MonkeyPatch], None] | None = field(default=None)


def _assert(condition: bool) -> None:
    assert condition


def _no_run_folder(tmp: Path) -> None:
    assert not (tmp / "run").exists(), "a refused or failed run must leave no run folder"


def _run_args(tmp: Path, *extra: str, data: str | None = None) -> list[str]:
    args = ["run", *TINY, "--out", str(tmp / "run"), *extra]
    return [*args, "--data", data] if data else args


# ## The user's files are never touched
def _case_out_is_a_project(tmp: Path) -> list[str]:
    _case_out_is_a_project.before = _user_project(tmp / "proj")
    return ["run", *TINY, "--data", str(tmp / "proj" / "data"), "--out", str(tmp / "proj")]


def _after_project(tmp: Path) -> None:
    assert _snapshot(tmp / "proj") == _case_out_is_a_project.before


def _case_out_inside_data(tmp: Path) -> list[str]:
    _enough_text(tmp / "notes")
    _case_out_inside_data.before = _snapshot(tmp / "notes")
    return ["run", *TINY, "--data", str(tmp / "notes"), "--out", str(tmp / "notes" / "run")]


def _after_notes(tmp: Path) -> None:
    assert _snapshot(tmp / "notes") == _case_out_inside_data.before
    assert not (tmp / "notes" / "run").exists()


def _case_out_is_the_data(tmp: Path) -> list[str]:
    _enough_text(tmp / "notes")
    _case_out_inside_data.before = _snapshot(tmp / "notes")
    return ["run", *TINY, "--data", str(tmp / "notes"), "--out", str(tmp / "notes" / ".")]


def _case_out_has_one_file(tmp: Path) -> list[str]:
    (tmp / "run").mkdir()
    (tmp / "run" / "keep.txt").write_bytes(b"\x00precious\xff")
    return _run_args(tmp)


def _after_one_file(tmp: Path) -> None:
    assert _snapshot(tmp / "run") == {"keep.txt": b"\x00precious\xff"}


def _case_empty_out_failing_run(tmp: Path) -> list[str]:
    (tmp / "run").mkdir()
    _docs(tmp / "data", 40, "tiny")
    return _run_args(tmp, data=str(tmp / "data"))


def _after_empty_out(tmp: Path) -> None:
    assert (tmp / "run").is_dir() and not any((tmp / "run").iterdir()), (
        "the user's empty folder stays, empty"
    )


# ## Data
def _fifo_folder(tmp: Path) -> list[str]:
    _enough_text(tmp / "data")
    os.mkfifo(tmp / "data" / "pipe.txt")  # reading it would block forever
    return _run_args(tmp, "--until", "corpus", data=str(tmp / "data"))


def _after_fifo(tmp: Path) -> None:
    m = json.loads((tmp / "run" / "corpus" / "metrics.json").read_text())
    assert m["special_files_skipped"] == 1 and m["files"] == 60


def _fifo_named(tmp: Path) -> list[str]:
    os.mkfifo(tmp / "pipe.txt")
    return _run_args(tmp, data=str(tmp / "pipe.txt"))


def _unreadable(tmp: Path) -> list[str]:
    _enough_text(tmp / "data")
    (tmp / "data" / "secret").mkdir()
    (tmp / "data" / "secret" / "a.txt").write_text("hidden\n")
    return _run_args(tmp, "--until", "corpus", data=str(tmp / "data"))


def _deny_secret(mp: pytest.MonkeyPatch) -> None:
    # The tests may run as root, who can read anything: the permission error is simulated where
    # the corpus stage would meet it, for the sub-folder `secret`.
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        for root, dirs, files in real_walk(top, onerror=onerror, **kw):
            if "secret" in dirs:
                dirs.remove("secret")
                onerror(
                    PermissionError(errno.EACCES, "Permission denied", str(Path(root) / "secret"))
                )
            yield root, dirs, files

    mp.setattr(corpus_stage.os, "walk", walk)


def _after_unreadable(tmp: Path) -> None:
    m = json.loads((tmp / "run" / "corpus" / "metrics.json").read_text())
    assert m["unreadable_skipped"] == 1


def _data(make: Callable[[Path], object], name: str = "") -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        make(tmp / "data")
        return _run_args(tmp, data=str(tmp / "data" / name) if name else str(tmp / "data"))

    return setup


def _jsonl(text: str) -> Callable[[Path], object]:
    def make(folder: Path) -> None:
        folder.mkdir()
        (folder / "d.jsonl").write_text(text)

    return make


# ## Settings
def _sets(*assignments: str, flags: tuple[str, ...] = ()) -> Callable[[Path], list[str]]:
    def setup(tmp: Path) -> list[str]:
        return _run_args(tmp, *flags, *[x for a in assignments for x in ("--set", a)])

    return setup


# ## Disk full
def _enospc(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def _full_in_corpus(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(corpus_stage, "write_split", _enospc)


def _after_full_corpus(tmp: Path) -> None:
    run = tmp / "run"
    record = json.loads((run / "run.json").read_text())
    assert record["stages"] == {} and sorted(p.name for p in run.iterdir()) == ["run.json"]


def _full_in_report(mp: pytest.MonkeyPatch) -> None:
    from masterclass.capstone import report

    mp.setattr(report, "atomic_write_text", _enospc)


def _after_full_report(tmp: Path) -> None:
    run = tmp / "run"
    assert "corpus" in json.loads((run / "run.json").read_text())["stages"]
    assert not (run / "report.md").exists() and not [p for p in run.iterdir() if ".tmp" in p.name]


CASES: dict[str, Case] = {
    # The user's files.
    "out is the user's project holding the data": Case(
        _case_out_is_a_project, 2, "exists and is not empty", _after_project
    ),
    "out inside the data": Case(
        _case_out_inside_data, 2, "lies inside the data path", _after_notes
    ),
    "out is the data folder": Case(_case_out_is_the_data, 2, "is not empty", _after_notes),
    "out inside the standard library (the default data)": Case(
        lambda tmp: ["run", *TINY, "--out", str(Path(corpus_stage.stdlib_root()) / "capstone-run")],
        2,
        "lies inside the data path",
        lambda tmp: _assert(not (corpus_stage.stdlib_root() / "capstone-run").exists()),
    ),
    "out holds one user file": Case(_case_out_has_one_file, 2, "is not empty", _after_one_file),
    "empty out, failing run": Case(
        _case_empty_out_failing_run, 2, "corpus too small", _after_empty_out
    ),
    # Data.
    "empty data folder": Case(_data(lambda p: p.mkdir()), 2, "no text found", _no_run_folder),
    "folder with no text": Case(
        _data(
            lambda p: (
                p.mkdir(),
                (p / "a.bin").write_bytes(b"\0\1"),
                (p / "b.png").write_bytes(b"x"),
            )
        ),
        2,
        "no text found",
        _no_run_folder,
    ),
    "binary file": Case(
        _data(lambda p: (p.mkdir(), (p / "x.txt").write_bytes(b"\x7fELF\0\0\0")), "x.txt"),
        2,
        "is binary",
        _no_run_folder,
    ),
    "corpus smaller than one context": Case(
        _data(lambda p: _docs(p, 40, "tiny")), 2, "corpus too small", _no_run_folder
    ),
    "missing data path": Case(_data(lambda p: None), 2, "does not exist", _no_run_folder),
    "unsupported file named": Case(
        _data(lambda p: (p.mkdir(), (p / "a.csv").write_text("a,b\n")), "a.csv"),
        2,
        "unsupported type .csv",
        _no_run_folder,
    ),
    "jsonl line not JSON": Case(
        _data(_jsonl('{"text": "a"}\n{oops\n')), 2, "d.jsonl:2 is not valid JSON", _no_run_folder
    ),
    "jsonl without text": Case(
        _data(_jsonl('{"body": "a"}\n')), 2, 'has no string "text" field', _no_run_folder
    ),
    "FIFO named explicitly": Case(_fifo_named, 2, "is not a regular file", _no_run_folder),
    "FIFO inside --data": Case(
        _fifo_folder, 0, "", _after_fifo, warning="1 non-regular file", lines=0
    ),
    "unreadable sub-folder": Case(
        _unreadable,
        0,
        "",
        _after_unreadable,
        warning="1 unreadable folder",
        lines=0,
        patch=_deny_secret,
    ),
    # Settings: all refused before any stage starts.
    "n_kv_heads does not divide the heads": Case(
        _sets("model.n_kv_heads=3"), 2, "n_kv_heads (3) must be a positive divisor", _no_run_folder
    ),
    "negative warmup": Case(_sets("train.warmup=-1"), 2, "warmup must be >= 0", _no_run_folder),
    "negative temperature": Case(
        _sets("evaluate.temperature=-0.5"), 2, "evaluate.temperature must be >= 0", _no_run_folder
    ),
    "kn_max_train_bytes zero": Case(
        _sets("evaluate.kn_max_train_bytes=0"),
        2,
        "evaluate.kn_max_train_bytes must be positive",
        _no_run_folder,
    ),
    "negative top_k": Case(
        _sets("evaluate.top_k=-1"), 2, "evaluate.top_k must be >= 0", _no_run_folder
    ),
    "negative seed": Case(_sets(flags=("--seed", "-1")), 2, "seed must be in [0,", _no_run_folder),
    "seed too large": Case(
        _sets(flags=("--seed", str(2**40))), 2, "seed must be in [0,", _no_run_folder
    ),
    "vocabulary under 257": Case(
        _sets("tokenizer.vocab_size=256"), 2, "vocab_size 256 is too small", _no_run_folder
    ),
    "unknown key": Case(
        _sets("train.stepz=3"), 2, "unknown config key train.stepz", _no_run_folder
    ),
    "unknown preset": Case(
        lambda tmp: ["run", "--preset", "huge", "--out", str(tmp / "run")],
        2,
        "unknown preset 'huge'",
        _no_run_folder,
    ),
    "unknown schedule": Case(
        _sets("train.schedule='linear'"), 2, "schedule must be 'cosine' or 'wsd'", _no_run_folder
    ),
    "unknown compile setting": Case(
        _sets("train.compile='yes'"), 2, "train.compile must be auto, on or off", _no_run_folder
    ),
    "decay fraction zero": Case(
        _sets("train.decay_fraction=0"), 2, "decay_fraction must be in (0, 1]", _no_run_folder
    ),
    "negative clip_norm": Case(
        _sets("train.clip_norm=-1"), 2, "clip_norm must be >= 0", _no_run_folder
    ),
    "negative threads": Case(_sets("train.threads=-1"), 2, "threads must be >= 0", _no_run_folder),
    "zero context": Case(
        _sets("model.max_seq_len=0"), 2, "max_seq_len must be a positive int", _no_run_folder
    ),
    "zero batch": Case(_sets("train.batch_size=0"), 2, "batch_size must be >= 1", _no_run_folder),
    "zero tokenizer workers": Case(
        _sets("tokenizer.num_workers=0"), 2, "num_workers must be >= 1", _no_run_folder
    ),
    "zero max_bytes": Case(
        _sets("corpus.max_bytes=0"), 2, "corpus.max_bytes must be positive", _no_run_folder
    ),
    "unknown device": Case(
        _sets(flags=("--device", "tpu")), 2, "device must be auto, cpu or cuda", _no_run_folder
    ),
    "steps below warmup": Case(
        _sets("train.steps=4"), 2, "warmup (5) must be smaller than steps (4)", _no_run_folder
    ),
    "unwritable output folder": Case(
        lambda tmp: (
            tmp.joinpath("file").write_text("x"),
            ["run", *TINY, "--out", str(tmp / "file" / "run")],
        )[1],
        2,
        "not writable",
        lambda tmp: _assert((tmp / "file").read_text() == "x"),
    ),
    # Disk full.
    "disk full in the corpus stage": Case(
        lambda tmp: _run_args(tmp, "--until", "corpus"),
        2,
        "stage corpus: the disk is full",
        _after_full_corpus,
        patch=_full_in_corpus,
    ),
    "disk full writing the report": Case(
        lambda tmp: _run_args(tmp, "--until", "corpus"),
        2,
        "stage report: the disk is full",
        _after_full_report,
        patch=_full_in_report,
    ),
}


# The four data cases the curriculum map names run under `test_bad_data`, the rest here.
DATA_CASES = [
    "empty data folder",
    "folder with no text",
    "binary file",
    "corpus smaller than one context",
]


def _check_case(tmp_path, capsys, monkeypatch, case):
    c = CASES[case]
    args = c.setup(tmp_path)
    if c.patch is not None:
        c.patch(monkeypatch)
    code, err, out = _run(capsys, args)
    assert code == c.code, (code, err)
    assert len(err) == c.lines, err
    if c.lines:
        assert err[0].startswith("capstone: error:") and c.message in err[0], err[0]
        assert "Traceback" not in err[0]
    if c.warning is not None:
        assert any("WARNING" in line and c.warning in line for line in out.splitlines()), out
    monkeypatch.undo()
    c.after(tmp_path)


@pytest.mark.parametrize("case", [k for k in CASES if k not in DATA_CASES])
def test_bad_input(tmp_path, capsys, monkeypatch, case):
    _check_case(tmp_path, capsys, monkeypatch, case)


@pytest.mark.parametrize("case", DATA_CASES)
def test_bad_data(tmp_path, capsys, monkeypatch, case):
    _check_case(tmp_path, capsys, monkeypatch, case)


# ## Cases that need a run: damaged checkpoints, resume, generate
@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A tiny run stopped (as by Ctrl-C) at step 25: checkpoints at steps 10 and 20."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    real = train_stage.train

    def stopping(*args, progress=None, **kwargs):
        def hook(record):
            if progress is not None:
                progress(record)
            if record["kind"] == "step" and record["step"] == 25:
                raise KeyboardInterrupt

        return real(*args, progress=hook, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_stage, "train", stopping)
        assert (
            cli.main(["run", *TINY, "--out", str(out), "--until", "train"]) == cli.EXIT_INTERRUPTED
        )
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _garbage_meta(ckpt: Path) -> None:
    (ckpt / "meta.json").write_bytes(b"\x89garbage{")


def _truncate_optimizer(ckpt: Path) -> None:
    data = (ckpt / "optimizer.pt").read_bytes()
    (ckpt / "optimizer.pt").write_bytes(data[: len(data) // 2])


def _empty_weights(ckpt: Path) -> None:
    (ckpt / "model.safetensors").write_bytes(b"")


def _flip_a_bit(ckpt: Path) -> None:
    data = bytearray((ckpt / "model.safetensors").read_bytes())
    data[len(data) // 2] ^= 0x10
    (ckpt / "model.safetensors").write_bytes(bytes(data))


class _Planted:
    """Unpickling this would run `os.system`: what a malicious checkpoint would plant."""

    def __reduce__(self):
        return (os.system, ("echo planted > /dev/null",))


def _plant_pickle(ckpt: Path) -> None:
    # The attacker also rewrites the checksum, so only the refusal to unpickle can stop it.
    (ckpt / "optimizer.pt").write_bytes(pickle.dumps(_Planted()))
    meta = json.loads((ckpt / "meta.json").read_text())
    meta["files"]["optimizer.pt"] = _sha256(ckpt / "optimizer.pt")
    (ckpt / "meta.json").write_text(json.dumps(meta))


DAMAGE = {
    "garbage metadata": (_garbage_meta, "meta.json is not valid checkpoint metadata"),
    "truncated optimizer state": (_truncate_optimizer, "optimizer.pt is damaged"),
    "empty weights": (_empty_weights, "model.safetensors is damaged"),
    "bit-flipped weights": (_flip_a_bit, "model.safetensors is damaged"),
    "planted pickle": (_plant_pickle, "optimizer.pt holds pickled Python objects"),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_checkpoint_is_named_and_nothing_changes(interrupted, tmp_path, capsys, damage):
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    ckpts = run / "train" / "checkpoints"
    make, message = DAMAGE[damage]
    make(ckpts / "step_000000020")
    before = _snapshot(run)
    code, err, _ = _run(capsys, ["resume", str(run), "--quiet"])
    assert code == 2 and len(err) == 1, err
    assert message in err[0] and "step_000000010 is intact" in err[0], err[0]
    assert "weights_only" not in err[0]
    assert _snapshot(run) == before, "a refused resume must not change the run folder"


@pytest.mark.slow
def test_garbage_latest_pointer_is_repaired(interrupted, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    pointer = run / "train" / "checkpoints" / "latest"
    pointer.write_bytes(b"\xff\xfe../../etc\0")
    code, err, out = _run(capsys, ["resume", str(run), "--quiet", "--until", "train"])
    assert code == 0, err
    assert "checkpoint pointer" in out
    assert json.loads((run / "train" / "metrics.json").read_text())["resumed_from"] == 20


@pytest.mark.slow
def test_disk_full_in_a_checkpoint_keeps_the_last_good_one(
    interrupted, tmp_path, capsys, monkeypatch
):
    # The disk fills up while the step-30 checkpoint is written: one line naming the stage and
    # folder, `latest` still names step 20, and a resume once space is back finishes the run.
    from masterclass.training import loop

    run = tmp_path / "run"
    shutil.copytree(interrupted, run)
    monkeypatch.setattr(loop, "save_checkpoint", _enospc)
    code, err, _ = _run(capsys, ["resume", str(run), "--quiet", "--until", "train"])
    assert code == 2 and len(err) == 1 and "stage train: the disk is full" in err[0], err
    assert str(run / "train") in err[0]
    ckpts = run / "train" / "checkpoints"
    assert (ckpts / "latest").read_text().strip() == "step_000000020"
    assert "train" not in json.loads((run / "run.json").read_text())["stages"]
    monkeypatch.undo()
    assert cli.main(["resume", str(run), "--quiet", "--until", "train"]) == 0


@pytest.mark.slow
def test_kill_after_the_final_checkpoint_resumes_with_finite_metrics(tmp_path, capsys, monkeypatch):
    # Killed after the last checkpoint, before the stage is recorded: the resume trains nothing
    # and must report the real final loss (NaN is not JSON), and the log gains no line.
    out = tmp_path / "run"

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_stage, "save_trained", killed)
    assert cli.main(["run", *TINY, "--out", str(out), "--until", "train"]) == cli.EXIT_INTERRUPTED
    monkeypatch.undo()
    log_before = (out / "train" / "metrics.jsonl").read_text()
    assert cli.main(["resume", str(out), "--quiet", "--until", "evaluate"]) == 0
    assert (out / "train" / "metrics.jsonl").read_text() == log_before

    def strict(name):
        raise ValueError(f"{name} is not JSON")

    metrics = json.loads((out / "metrics.json").read_text(), parse_constant=strict)
    last_train = [json.loads(x) for x in log_before.splitlines() if '"train"' in x][-1]
    assert math.isfinite(metrics["train"]["final_train_loss"])
    assert metrics["train"]["final_train_loss"] == last_train["loss"]  # log_every is 1 here
    training = (out / "report.md").read_text().split("## Training")[1].split("## Evaluation")[0]
    assert "nan" not in training.lower()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--top-k", "-1"], "--top-k must be >= 0"),
        (["--temperature", "-1"], "--temperature must be >= 0"),
        (["--tokens", "0"], "--tokens must be in [1, 63]"),
        (["--seed", "-3"], "--seed must be >= 0"),
        (["--tokens", "8"], "has no trained model yet"),
    ],
)
def test_generate_refuses_bad_options(interrupted, capsys, flags, message):
    code, err, _ = _run(capsys, ["generate", str(interrupted), *flags])
    assert code == 2 and len(err) == 1 and message in err[0], err


def test_run_folder_of_another_format_version(tmp_path, capsys):
    old = tmp_path / "old"
    old.mkdir()
    record = {"format_version": 999, "config": {}, "stages": {}}
    (old / "run.json").write_text(json.dumps(record))
    for command in (["resume", str(old)], ["report", str(old)], ["stage", "evaluate", str(old)]):
        code, err, _ = _run(capsys, command)
        assert code == 2 and len(err) == 1 and "format version 999" in err[0]
    assert json.loads((old / "run.json").read_text()) == record
    assert sorted(p.name for p in old.iterdir()) == ["run.json"]


def test_not_a_run_folder_and_existing_run(tmp_path, capsys):
    code, err, _ = _run(capsys, ["resume", str(tmp_path / "nothing")])
    assert code == 2 and "not a capstone run folder" in err[0]
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "run.json").write_text("{}")
    code, err, _ = _run(capsys, ["run", *TINY, "--out", str(existing)])
    assert code == 2 and "already holds a run" in err[0]
    assert (existing / "run.json").read_text() == "{}"


def test_user_data_of_every_kind_flows_into_shards(tmp_path):
    # The positive counterpart: .txt, .md, .py and .jsonl together, invalid UTF-8 included.
    data = tmp_path / "data"
    data.mkdir()
    for i in range(30):
        body = f"Paragraph {i}: the quick brown fox jumps over the lazy dog. " * 40
        (data / f"p{i}.txt").write_text(body)
        (data / f"n{i}.md").write_text("# " + body)
        (data / f"m{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 40)
    (data / "bad.txt").write_bytes(b"latin-1 caf\xe9 " * 300)
    (data / "more.jsonl").write_text(
        "\n".join(json.dumps({"text": f"record {i} " * 200}) for i in range(20))
    )
    before = _snapshot(data)
    out = tmp_path / "run"
    assert cli.main(["run", *TINY, "--data", str(data), "--out", str(out), "--until", "data"]) == 0
    corpus = json.loads((out / "corpus" / "metrics.json").read_text())
    assert corpus["files"] == 92 and corpus["invalid_utf8_documents"] == 1
    shards = json.loads((out / "data" / "metrics.json").read_text())
    assert shards["train_tokens"] > 0 and shards["heldout_tokens"] > 0
    assert _snapshot(data) == before
